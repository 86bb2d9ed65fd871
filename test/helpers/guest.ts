/**
 * Reading what the test guest itself reports: it prints
 * `GUEST-STATE cpus=N mem_kb=N disks=vda,vdb, nics=lo,eth0,` on serial whenever its hardware
 * changes. Tests assert on these lines, not on what our own code believes.
 */
import type { TestServer } from './server';

export interface GuestState {
  cpus: number;
  memKb: number;
  disks: string[];
  nics: string[];
}

const STATE_RE = /GUEST-STATE cpus=(\d+) mem_kb=(\d+) disks=([a-z0-9,]*) nics=([a-z0-9,]*)/g;

/** The latest state line in `text`, or null if there is none yet. */
export function lastGuestState(text: string): GuestState | null {
  let last: RegExpExecArray | null = null;
  for (const m of text.matchAll(STATE_RE)) last = m;
  if (!last) return null;
  const list = (x: string) => x.split(',').filter(Boolean);
  return { cpus: Number(last[1]), memKb: Number(last[2]), disks: list(last[3]), nics: list(last[4]) };
}

/** Waits until the guest's latest state line satisfies `pred`; the error names `what` and the last state. */
export async function waitGuest(s: TestServer, vmId: string, pred: (g: GuestState) => boolean, what: string, timeoutMs = 30_000): Promise<GuestState> {
  const deadline = Date.now() + timeoutMs;
  let g: GuestState | null = null;
  while (Date.now() < deadline) {
    g = lastGuestState(await s.serial(vmId));
    if (g && pred(g)) return g;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`guest never reported ${what}; last: ${JSON.stringify(g)}`);
}
