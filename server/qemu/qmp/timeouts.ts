/**
 * Default timeout of every QMP command, with the reason beside it. The mapped type makes the
 * compiler insist on an entry for each command in QmpCommands, so nobody adds a command without
 * thinking about how long QEMU may legitimately take to answer it.
 *
 * A timeout measures QEMU's answer, not the work the command starts: device_del, balloon and
 * system_powerdown return as soon as the request is made and their effect is awaited separately
 * (events or polling). The clock starts when the command is written to the socket, not when it is
 * queued, so a command waiting behind a slow one is not charged for it.
 *
 * Almost everything QMP does runs on QEMU's main loop; under TCG on a 2-core host the loop is also
 * busy emulating, so even "instant" commands get a few seconds rather than milliseconds.
 */
import type { QmpCommandName } from './types';

export interface CommandTimeout {
  ms: number;
  why: string;
}

const QUICK = 5_000;

export const COMMAND_TIMEOUTS: { readonly [K in QmpCommandName]: CommandTimeout } = {
  qmp_capabilities: { ms: QUICK, why: 'answered by the monitor itself; no answer means a wedged QEMU' },
  'query-version': { ms: QUICK, why: 'static data' },
  'human-monitor-command': {
    ms: 60_000,
    why: 'HMP can run anything (savevm blocks the main loop while writing RAM); callers should pass their own',
  },

  'query-status': { ms: QUICK, why: 'reads the run state, no I/O' },
  stop: { ms: 10_000, why: 'waits for every vCPU to leave the guest and drains in-flight block I/O' },
  cont: { ms: 10_000, why: 're-activates block nodes (may reopen images) before resuming vCPUs' },
  system_powerdown: { ms: QUICK, why: 'only presses the ACPI button; the guest reacts asynchronously (SHUTDOWN)' },
  system_reset: { ms: 10_000, why: 'resets every device, which drains block I/O first' },
  quit: { ms: QUICK, why: 'QEMU answers, then exits; the socket closing counts as success' },

  'query-hotpluggable-cpus': { ms: QUICK, why: 'walks the CPU slot list, no guest involvement' },
  'query-cpus-fast': { ms: QUICK, why: 'unlike query-cpus it does not interrupt the vCPUs' },

  device_add: {
    ms: 15_000,
    why: 'realize opens backends, maps BARs and raises the ACPI/PCIe hotplug event; slow on a busy TCG main loop',
  },
  device_del: { ms: QUICK, why: 'returns at once: it only asks the guest; DEVICE_DELETED is awaited separately' },
  'object-add': { ms: 30_000, why: 'a memory backend may be allocated (or preallocated page by page) here' },
  'object-del': { ms: 10_000, why: 'unmaps and frees a memory backend' },
  'qom-get': { ms: QUICK, why: 'property read' },
  'qom-set': { ms: QUICK, why: 'property write; effects such as virtio-mem resizing happen asynchronously' },
  'qom-list': { ms: QUICK, why: 'lists children of one QOM path' },

  'query-memory-devices': { ms: QUICK, why: 'walks the DIMM/virtio-mem list' },
  'query-memory-size-summary': { ms: QUICK, why: 'two counters' },
  balloon: { ms: QUICK, why: 'sets the target only; the guest (de)inflates later and reports BALLOON_CHANGE' },
  'query-balloon': { ms: QUICK, why: 'returns the last value the guest reported, no round trip' },

  'blockdev-add': { ms: 30_000, why: 'opens the image (maybe on NFS), takes its lock and reads qcow2 metadata' },
  'blockdev-del': { ms: 30_000, why: 'flushes caches and closes the image' },
  'query-named-block-nodes': { ms: 10_000, why: 'walks every node; waits behind in-flight block I/O' },
  'query-block': { ms: 10_000, why: 'per device state; waits behind in-flight block I/O' },
  'query-blockstats': { ms: 10_000, why: 'per node counters; waits behind in-flight block I/O' },
  'blockdev-open-tray': { ms: QUICK, why: 'with force the tray opens immediately' },
  'blockdev-close-tray': { ms: QUICK, why: 'flips the tray state' },
  'blockdev-remove-medium': { ms: 10_000, why: 'detaches the node, which drains its I/O' },
  'blockdev-insert-medium': { ms: QUICK, why: 'attaches an already opened node' },

  'query-jobs': { ms: QUICK, why: 'lists job states' },
  'job-dismiss': { ms: QUICK, why: 'frees a concluded job id' },

  netdev_add: { ms: 10_000, why: 'opens a tap device or sets up slirp' },
  netdev_del: { ms: 10_000, why: 'tears the backend down; succeeds even if a NIC still uses it (pitfall 8)' },
  set_link: { ms: QUICK, why: 'flips the link bit and notifies the guest' },

  set_password: { ms: QUICK, why: 'stores the VNC secret' },
  expire_password: { ms: QUICK, why: 'stores an expiry time' },
  screendump: { ms: 30_000, why: 'renders, PNG-compresses and writes a whole framebuffer on the main loop' },
  'query-vnc': { ms: QUICK, why: 'lists the listener and its clients' },
};
