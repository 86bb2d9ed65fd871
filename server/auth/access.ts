/**
 * Who may see and touch which VM and volume (Proxmox-style ACLs on /vms/{id}, reduced to what this
 * server needs):
 * - an admin sees everything; operators and viewers see only the VMs granted to them;
 * - a token limited to one VM sees only that VM, whoever owns it;
 * - an operator who creates a VM gets a grant on it marked `owner`, which counts against the
 *   operator's VM quota; how many of their granted VMs may run at once is a second quota;
 * - volumes: the pool is shared, but a volume created by a user (directly or as a new VM disk)
 *   belongs to them, and a volume that an invisible VM uses as a writable disk is off limits, so
 *   one tenant can neither read another's disk (attach it read-only) nor delete it.
 * Grants live in SQLite and are cached per user in memory; every write goes through this class,
 * so the cache cannot go stale within this process.
 */
import type { Db } from '../store/db';
import { ApiError } from '../../lib/errors';
import type { VmManager } from '../vm/manager';
import type { User } from './auth';
import { limits } from './limits';

export interface GrantRecord {
  vmId: string;
  owner: boolean;
  createdAt: string;
}

export interface Quota {
  maxVms: number;
  maxRunning: number;
}

/** Admin accounts see every VM, whatever role their token carries (the role still limits actions). */
export function isAdminAccount(user: User): boolean {
  return (user.accountRole ?? user.role) === 'admin';
}

type VmCatalog = Pick<VmManager, 'store' | 'runtimes'>;

export class Access {
  private readonly cache = new Map<number, Map<string, GrantRecord>>();

  constructor(private readonly db: Db, private readonly vms: VmCatalog) {}

  // ---- VMs ------------------------------------------------------------------------------------

  /** True if the user (and the token, if any) may see this VM. Unknown VMs are never visible to non-admins. */
  canSeeVm(user: User, vmId: string): boolean {
    if (user.vmScope && user.vmScope !== vmId) return false;
    if (isAdminAccount(user)) return true;
    return this.grantsOf(user.id).has(vmId);
  }

  /** Throws VM_NOT_FOUND (the same answer as for a VM that does not exist: nothing leaks). */
  requireVm(user: User, vmId: string): void {
    if (!this.canSeeVm(user, vmId)) throw new ApiError('VM_NOT_FOUND', 'No such VM');
  }

  grantsOf(userId: number): Map<string, GrantRecord> {
    let g = this.cache.get(userId);
    if (!g) {
      const rows = this.db.prepare('SELECT vm_id, owner, created_at FROM vm_grants WHERE user_id = ?').all(userId) as { vm_id: string; owner: number; created_at: string }[];
      g = new Map(rows.map((r) => [r.vm_id, { vmId: r.vm_id, owner: !!r.owner, createdAt: r.created_at }]));
      this.cache.set(userId, g);
    }
    return g;
  }

  grant(userId: number, vmId: string, opts: { owner?: boolean; by?: number | null } = {}): void {
    this.db
      .prepare(
        `INSERT INTO vm_grants (user_id, vm_id, owner, created_at, created_by) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (user_id, vm_id) DO UPDATE SET owner = MAX(owner, excluded.owner)`,
      )
      .run(userId, vmId, opts.owner ? 1 : 0, new Date().toISOString(), opts.by ?? null);
    this.cache.delete(userId);
  }

  /** Returns false if there was no such grant. */
  revoke(userId: number, vmId: string): boolean {
    const n = this.db.prepare('DELETE FROM vm_grants WHERE user_id = ? AND vm_id = ?').run(userId, vmId).changes;
    this.cache.delete(userId);
    return n > 0;
  }

  /** A deleted VM takes its grants with it (a new VM never inherits an old grant). */
  forgetVm(vmId: string): void {
    this.db.prepare('DELETE FROM vm_grants WHERE vm_id = ?').run(vmId);
    this.cache.clear();
  }

  usersWithGrant(vmId: string): number[] {
    return (this.db.prepare('SELECT user_id FROM vm_grants WHERE vm_id = ?').all(vmId) as { user_id: number }[]).map((r) => r.user_id);
  }

  // ---- quotas ---------------------------------------------------------------------------------

  quotaOf(u: { maxVms: number | null; maxRunning: number | null }): Quota {
    const l = limits();
    return { maxVms: u.maxVms ?? l.defaultMaxVms, maxRunning: u.maxRunning ?? l.defaultMaxRunning };
  }

  usage(userId: number): { vms: number; running: number } {
    let vms = 0;
    let running = 0;
    for (const g of this.grantsOf(userId).values()) {
      if (!this.vms.store.get(g.vmId)) continue;
      if (g.owner) vms++;
      if (this.vms.runtimes.has(g.vmId)) running++;
    }
    return { vms, running };
  }

  /** Before an operator creates a VM (and maybe starts it at once). Admins are not limited. */
  checkCreate(user: User, quota: Quota, startsNow: boolean): void {
    if (isAdminAccount(user)) return;
    const use = this.usage(user.id);
    if (use.vms >= quota.maxVms) {
      throw new ApiError('RESOURCE_LIMIT', `Your quota allows ${quota.maxVms} VM(s) and you have ${use.vms}; delete one or ask an admin`, { quota: 'maxVms', limit: quota.maxVms, used: use.vms });
    }
    if (startsNow) this.checkStart(user, quota, null);
  }

  /** Before a non-admin starts a VM: at most maxRunning of their granted VMs may run. */
  checkStart(user: User, quota: Quota, vmId: string | null): void {
    if (isAdminAccount(user)) return;
    let running = 0;
    for (const id of this.grantsOf(user.id).keys()) if (id !== vmId && this.vms.runtimes.has(id) && this.vms.store.get(id)) running++;
    if (running >= quota.maxRunning) {
      throw new ApiError('RESOURCE_LIMIT', `Your quota allows ${quota.maxRunning} running VM(s) at once; stop one first`, { quota: 'maxRunning', limit: quota.maxRunning, used: running });
    }
  }

  // ---- volumes --------------------------------------------------------------------------------

  recordVolumeOwner(ref: string, userId: number): void {
    this.db.prepare('INSERT OR REPLACE INTO volume_owners (ref, user_id, created_at) VALUES (?, ?, ?)').run(ref, userId, new Date().toISOString());
  }

  forgetVolume(ref: string): void {
    this.db.prepare('DELETE FROM volume_owners WHERE ref = ?').run(ref);
  }

  volumeOwner(ref: string): number | null {
    const r = this.db.prepare('SELECT user_id FROM volume_owners WHERE ref = ?').get(ref) as { user_id: number } | undefined;
    return r?.user_id ?? null;
  }

  /** VMs whose config references the volume, and whether as a writable disk. */
  private volumeUse(ref: string): { vmId: string; writable: boolean }[] {
    const out: { vmId: string; writable: boolean }[] = [];
    for (const c of this.vms.store.all()) {
      const disk = c.disks.find((d) => d.volume === ref);
      if (disk) out.push({ vmId: c.id, writable: !disk.readonly });
      else if (c.cdrom === ref || c.kernel?.kernel === ref || c.kernel?.initrd === ref) out.push({ vmId: c.id, writable: false });
    }
    return out;
  }

  /**
   * May this user see / reference / delete this volume? Admins: yes. Others: not if another user
   * owns it (unless it is on a VM they can see), and not if a VM they cannot see writes to it.
   */
  canUseVolume(user: User, ref: string): boolean {
    if (isAdminAccount(user) && !user.vmScope) return true;
    const use = this.volumeUse(ref);
    if (use.some((u) => u.writable && !this.canSeeVm(user, u.vmId))) return false;
    const owner = this.volumeOwner(ref);
    if (owner !== null && owner !== user.id && !use.some((u) => this.canSeeVm(user, u.vmId))) return false;
    return true;
  }

  requireVolume(user: User, ref: string): void {
    if (!this.canUseVolume(user, ref)) throw new ApiError('VOLUME_NOT_FOUND', `Volume "${ref}" does not exist`);
  }
}
