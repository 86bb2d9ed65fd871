/**
 * /ws/events: every connected client gets a `hello` with the VMs its user may see, then each such
 * VM's whole new snapshot when it changes. The JSON for one change is serialised once and sent to
 * every client allowed to see it; a client is told `vm-deleted` for a VM it saw that is gone or no
 * longer visible (grant revoked: `refreshUser`).
 * A heartbeat (ping every 15 s) drops clients that stopped answering, and a client that cannot
 * keep up (too much buffered) is dropped rather than letting the server buffer without bound.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { EventMessage } from '../../lib/schemas/events';
import type { User } from '../auth/auth';
import type { VmManager } from '../vm/manager';

const HEARTBEAT_MS = 15_000;
const MAX_BUFFERED = 4 * 1024 * 1024;
const CPU_SAMPLE_MS = 2000;

interface Client {
  ws: WebSocket;
  user: User;
  alive: boolean;
  /** VM ids this client has been sent and not told are gone. */
  seen: Set<string>;
}

/** May this user see this VM? Default: everyone sees everything (single-user setups, tests). */
export type CanSee = (user: User, vmId: string) => boolean;

export class EventHub {
  private readonly wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: 4096 });
  private readonly clients = new Set<Client>();
  private heartbeat: NodeJS.Timeout | null = null;
  private sampler: NodeJS.Timeout | null = null;

  constructor(private readonly vms: VmManager, private readonly canSee: CanSee = () => true) {
    vms.on('vm', (vm) => this.broadcast({ type: 'vm', vm }));
    vms.on('vm-deleted', (id: string) => this.broadcast({ type: 'vm-deleted', id }));
    vms.on('notice', (n) => this.broadcast({ type: 'notice', ...n }));
  }

  get size(): number {
    return this.clients.size;
  }

  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, user: User): void {
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      const client: Client = { ws, user, alive: true, seen: new Set() };
      this.clients.add(client);
      ws.on('pong', () => (client.alive = true));
      ws.on('message', () => {}); // clients have nothing to say; ignore rather than error
      ws.on('error', () => ws.terminate());
      ws.on('close', () => {
        this.clients.delete(client);
        this.updateTimers();
      });
      const vms = this.vms.views().filter((v) => this.canSee(user, v.id));
      for (const v of vms) client.seen.add(v.id);
      this.send(client, JSON.stringify({ type: 'hello', vms, serverTime: new Date().toISOString() } satisfies EventMessage));
      this.updateTimers();
    });
  }

  broadcast(msg: EventMessage): void {
    if (this.clients.size === 0) return;
    const text = JSON.stringify(msg);
    for (const c of this.clients) {
      if (msg.type === 'vm') {
        if (!this.canSee(c.user, msg.vm.id)) {
          if (c.seen.delete(msg.vm.id)) this.send(c, JSON.stringify({ type: 'vm-deleted', id: msg.vm.id } satisfies EventMessage));
          continue;
        }
        c.seen.add(msg.vm.id);
      } else if (msg.type === 'vm-deleted') {
        if (!c.seen.delete(msg.id)) continue;
      } else if (msg.type === 'notice' && msg.vmId !== null && !c.seen.has(msg.vmId)) {
        continue;
      }
      this.send(c, text);
    }
  }

  /** After a user's grants changed: each of their clients is told what appeared and what went. */
  refreshUser(userId: number): void {
    for (const c of this.clients) {
      if (c.user.id !== userId) continue;
      const visible = this.vms.views().filter((v) => this.canSee(c.user, v.id));
      const now = new Set(visible.map((v) => v.id));
      for (const id of [...c.seen]) {
        if (!now.has(id)) {
          c.seen.delete(id);
          this.send(c, JSON.stringify({ type: 'vm-deleted', id } satisfies EventMessage));
        }
      }
      for (const v of visible) {
        if (c.seen.has(v.id)) continue;
        c.seen.add(v.id);
        this.send(c, JSON.stringify({ type: 'vm', vm: v } satisfies EventMessage));
      }
    }
  }

  /** Closes every client whose user matches (a disabled user, a revoked token, an ended session). */
  closeWhere(pred: (u: User) => boolean, reason: string): number {
    let n = 0;
    for (const c of this.clients) {
      if (!pred(c.user)) continue;
      n++;
      c.ws.close(4001, reason.slice(0, 120));
      // Cut off a peer that does not finish the close handshake.
      setTimeout(() => c.ws.terminate(), 1000).unref();
    }
    return n;
  }

  private send(c: Client, text: string): void {
    if (c.ws.readyState !== c.ws.OPEN) return;
    if (c.ws.bufferedAmount > MAX_BUFFERED) {
      c.ws.terminate();
      return;
    }
    c.ws.send(text);
  }

  /** Timers run only while someone listens, so an unwatched server is idle. */
  private updateTimers(): void {
    if (this.clients.size > 0 && !this.heartbeat) {
      this.heartbeat = setInterval(() => {
        for (const c of this.clients) {
          if (!c.alive) {
            c.ws.terminate();
            continue;
          }
          c.alive = false;
          c.ws.ping();
        }
      }, HEARTBEAT_MS);
      this.sampler = setInterval(() => this.vms.sampleCpu(), CPU_SAMPLE_MS);
    } else if (this.clients.size === 0 && this.heartbeat) {
      clearInterval(this.heartbeat);
      if (this.sampler) clearInterval(this.sampler);
      this.heartbeat = this.sampler = null;
    }
  }

  /** SIGTERM: tell clients to come back shortly, then close. */
  shutdown(retryMs: number): void {
    this.broadcast({ type: 'server-restarting', retryMs });
    for (const c of this.clients) c.ws.close(1012, 'server restarting');
    if (this.heartbeat) clearInterval(this.heartbeat);
    if (this.sampler) clearInterval(this.sampler);
  }
}
