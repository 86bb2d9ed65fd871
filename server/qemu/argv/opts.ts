/**
 * Rendering of QEMU option strings. Two forms are used, never a shell:
 * - key=value ("QemuOpts") for -device, -netdev, -chardev, -machine, ...: every value goes
 *   through `kv`, which doubles commas (QEMU's own escape, so "a,b" reaches QEMU as one value)
 *   and refuses characters no legitimate value here contains. Values in these options come from
 *   validated config fields (ids, MACs, names) or from server-controlled run paths.
 * - JSON for -blockdev, whose values are file paths resolved from user-chosen volumes: JSON needs
 *   no escaping convention at all, so a path can never inject an option.
 */

export type OptValue = string | number | boolean;

/** Reject control characters (newline, NUL, ...): nothing we pass may contain them, and QEMU would mis-parse some. */
const CONTROL_RE = /[\x00-\x1f\x7f]/;

function render(v: OptValue): string {
  if (typeof v === 'boolean') return v ? 'on' : 'off';
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v) || v < 0) throw new Error(`QEMU option values must be non-negative integers, got ${v}`);
    return String(v);
  }
  if (v === '' || CONTROL_RE.test(v)) throw new Error(`Invalid QEMU option value ${JSON.stringify(v)}`);
  return v.replaceAll(',', ',,');
}

/**
 * `kv('virtio-blk-pci', {id: 'disk0', bootindex: 1})` → `virtio-blk-pci,id=disk0,bootindex=1`.
 * Entries whose value is undefined are left out, which keeps optional properties readable at the
 * call sites. The head (a driver or backend name, or an implied first value) is escaped too.
 */
export function kv(head: string | null, props: Record<string, OptValue | undefined>): string {
  const parts: string[] = head === null ? [] : [render(head)];
  for (const [k, v] of Object.entries(props)) {
    if (v === undefined) continue;
    if (!/^[a-z][a-z0-9_.-]*$/i.test(k)) throw new Error(`Invalid QEMU option key ${k}`);
    parts.push(`${k}=${render(v)}`);
  }
  return parts.join(',');
}

/** `-device <driver>,<props>` as two argv elements. */
export function device(driver: string, props: Record<string, OptValue | undefined>): string[] {
  return ['-device', kv(driver, props)];
}

/** `-blockdev <json>` as two argv elements; key order is the insertion order, so output is stable. */
export function blockdev(options: Record<string, unknown>): string[] {
  return ['-blockdev', JSON.stringify(options)];
}

/** PCI address property value: `0x10` for function 0, `0x10.3` otherwise. */
export function pciAddr(slot: number, fn = 0): string {
  const s = `0x${slot.toString(16)}`;
  return fn === 0 ? s : `${s}.${fn}`;
}
