/**
 * What both consoles (VNC and serial) share on the client: getting a one-time ticket, turning its
 * same-origin path into a ws:// or wss:// URL, the reconnect backoff, and the status words the UI
 * and the e2e tests read (data-testid="vnc-status" / "serial-status").
 */
import type { ConsoleTicket } from '@/lib/schemas/console';
import type { VmView } from '@/lib/schemas';
import { api } from '@/components/api';

/**
 * connecting: first attempt; connected: live; reconnecting: lost, trying again by itself;
 * disconnected: not trying (the VM is not running, or the panel closed).
 */
export type ConsoleStatus = 'connecting' | 'connected' | 'reconnecting' | 'disconnected';

export const STATUS_LABEL: Record<ConsoleStatus, string> = {
  connecting: 'Connecting…',
  connected: 'Connected',
  reconnecting: 'Reconnecting…',
  disconnected: 'Disconnected',
};

export function fetchTicket(vmId: string, kind: 'vnc' | 'serial', signal?: AbortSignal): Promise<ConsoleTicket> {
  return api<ConsoleTicket>('POST', `/api/vms/${encodeURIComponent(vmId)}/console`, { kind }, { signal });
}

/** The ticket's path on this same origin, as a websocket URL (works behind any reverse proxy). */
export function wsUrl(path: string): string {
  const scheme = window.location.protocol === 'https:' ? 'wss' : 'ws';
  return `${scheme}://${window.location.host}${path}`;
}

/** 0.5 s doubling to 8 s, ±20 % jitter so many tabs do not reconnect in lockstep after a server restart. */
export function backoffMs(attempt: number): number {
  const base = Math.min(8000, 500 * 2 ** Math.max(0, attempt - 1));
  return Math.round(base * (0.8 + Math.random() * 0.4));
}

/** A QEMU process exists for the VM: its VNC and serial sockets can be (or soon will be) reached. */
export function hasQemu(vm: Pick<VmView, 'runtime' | 'state'>): boolean {
  return vm.runtime !== null && vm.state !== 'shutoff' && vm.state !== 'crashed';
}

/** `<name>-20261124-215730.png` */
export function screenshotName(vmName: string): string {
  const d = new Date();
  const p = (n: number) => String(n).padStart(2, '0');
  return `${vmName}-${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}.png`;
}
