/** Where a VM's pages live: the details page (`/vm?id=…&tab=…`) and the pop-out console. */
export function vmHref(id: string, tab?: string): string {
  const q = new URLSearchParams({ id });
  if (tab && tab !== 'overview') q.set('tab', tab);
  return `/vm?${q}`;
}

export function vmConsoleHref(id: string): string {
  return `/vm/console?${new URLSearchParams({ id })}`;
}
