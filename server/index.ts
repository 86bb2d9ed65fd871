/**
 * The one server process: REST API, websockets (events, VNC, serial) and the Next.js pages on
 * one port. It owns the control plane (QEMU processes over QMP) and reattaches to VMs a previous
 * server left running. Run: `node --import tsx server/index.ts [--dev]` (npm start does this).
 */
import http from 'node:http';
import https from 'node:https';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from './config';
import { Auth } from './auth/auth';
import { openDb } from './store/db';
import { ensureDir } from './store/atomic';
import { VmStore } from './store/vmstore';
import { StoragePools } from './storage/pool';
import { HostService } from './qemu/host';
import { SerialHub } from './serial/hub';
import { TicketStore } from './console/tickets';
import { VmManager } from './vm/manager';
import { z } from 'zod';
import { route, Router, sendJson } from './http/router';
import { buildOpenApi } from './http/openapi';
import { vmRoutes } from './api/vms';
import { hotplugRoutes } from './api/hotplug';
import { authRoutes, hostRoutes, poolRoutes } from './api/system';
import { consoleRoutes } from './api/console';
import { EventHub } from './ws/events';
import { makeUpgradeHandler } from './ws/upgrade';
import { makeOriginCheck, pageNeedsAuth, preparePageRequest, securityHeaders } from './http/security';
import { hasExport, makePagesHandler } from './http/pages';
import { Access } from './auth/access';
import { limits } from './auth/limits';
import { openPathForQemu, qemuIdentity, runningAsRoot } from './auth/qemu-user';
import { AuditLog, recordCall } from './audit/audit';
import { adminRoutes } from './api/admin';
import { auditVmId, makeGuard } from './http/guard';
import { ConsoleRegistry, makeKicker } from './ws/registry';
import { log } from './log';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const VERSION = '0.1.0';

async function main(): Promise<void> {
  const cfg = loadConfig();
  ensureDir(cfg.dataDir, 0o700);
  ensureDir(cfg.logDir, 0o700);
  ensureDir(cfg.runDir, 0o700);

  const db = openDb(cfg.dbPath);
  const auth = new Auth(db);
  const generated = await auth.ensureAdmin(cfg.adminPassword);
  if (generated) {
    log.info('--------------------------------------------------------------');
    log.info(`Created user "admin" with password: ${generated}`);
    log.info('It is shown only this once. Set VMM_ADMIN_PASSWORD to choose it.');
    log.info('--------------------------------------------------------------');
  }

  const host = new HostService({ qemuBinary: cfg.qemuBinary, qemuImg: cfg.qemuImg, dataDir: cfg.dataDir, accelOverride: cfg.accelOverride });
  log.info(`accelerator: ${host.accel.chosen} (${host.accel.reason})`);
  const pools = new StoragePools(cfg.poolsDir, cfg.qemuImg);
  pools.init();
  const store = new VmStore(cfg.vmsDir);
  store.load();
  for (const p of store.problems) log.warn(`VM config ${p.file}: ${p.message}`);
  const serial = new SerialHub({ logDir: cfg.logDir });
  const vms = new VmManager(cfg, store, pools, host, serial);
  const t0 = performance.now();
  const { reattached, crashed } = await vms.reattachAll();
  log.info(`reattached ${reattached.length} running VM(s) in ${Math.round(performance.now() - t0)} ms; ${crashed.length} found dead`);

  if (runningAsRoot()) {
    // QEMU drops to an unprivileged user; it must be able to reach the pool and run dirs.
    try {
      const q = qemuIdentity()!;
      openPathForQemu([cfg.dataDir, cfg.runDir, cfg.poolsDir, pools.poolDir('default')], q);
      log.info(`running as root: each QEMU runs as "${q.name}" (uid ${q.uid}) under its seccomp sandbox`);
    } catch (e) {
      log.warn(`${(e as Error).message}; VMs cannot start until it exists`);
    }
  }

  const tickets = new TicketStore();
  const originAllowed = makeOriginCheck(cfg.allowedOrigins, !!cfg.tls);
  const audit = new AuditLog(db);
  const access = new Access(db, vms);
  vms.on('vm-deleted', (id: string) => access.forgetVm(id));
  const canSeeVm = access.canSeeVm.bind(access);
  const events = new EventHub(vms, canSeeVm);
  const consoles = new ConsoleRegistry();
  const kick = makeKicker(events, consoles);
  const router = new Router({
    authenticate: (req) => auth.authenticate(req),
    originAllowed,
    onError: (err, req) => log.error(`${req.method} ${req.url}: ${(err as Error)?.stack ?? String(err)}`),
    guard: makeGuard({ access, auth, pools, isRunning: (id) => vms.runtimes.has(id), vmVolumes: (id) => vms.store.get(id)?.disks.map((x) => x.volume) ?? [], grantsChanged: (uid) => events.refreshUser(uid) }),
    onFinish: (call) => recordCall(audit, call, auditVmId),
  });
  router.add(...adminRoutes({ auth, access, audit, vms, kick, consoles, refreshEvents: (uid) => events.refreshUser(uid) }));
  router.add(...authRoutes({ auth, secure: !!cfg.tls, canSeeVm, kick }), ...hostRoutes(host), ...hotplugRoutes(vms), ...vmRoutes(vms, serial), ...consoleRoutes(vms, tickets), ...poolRoutes(pools, vms, access));
  // In-flight requests, for a graceful shutdown (SIGTERM drains them before exiting).
  const inflight = new Set<http.ServerResponse>();
  let draining = false;
  router.add(
    route({
      method: 'GET', path: '/api/host/diagnostics', tag: 'host', role: 'admin',
      summary: 'Server health counters for leak hunting (soak runs): RSS, heap (after a GC when the server runs with --expose-gc), open file descriptors, QMP commands waiting per VM, busy VM locks, clients',
      query: z.strictObject({}),
      response: DiagnosticsSchema,
      handler: () => {
        // Started with --expose-gc (soak runs): collect first, so heap and RSS are comparable over time.
        const gc = (globalThis as { gc?: () => void }).gc;
        if (gc) gc();
        const mem = process.memoryUsage();
        let openFds = -1;
        try {
          openFds = fs.readdirSync('/proc/self/fd').length;
        } catch {
          /* not Linux */
        }
        return {
          gcFirst: !!gc,
          pid: process.pid,
          uptimeS: Math.round(process.uptime()),
          rssBytes: mem.rss,
          heapUsedBytes: mem.heapUsed,
          openFds,
          inflightRequests: inflight.size,
          eventClients: events.size,
          vms: vms.store.all().length,
          ...vms.diagnostics(),
        };
      },
    }),
  );
  const openapi = buildOpenApi(router.list(), VERSION);

  // The pages: the static export in out/ (server/http/pages.ts); with --dev, `next dev` in-process.
  type PageHandler = (req: http.IncomingMessage, res: http.ServerResponse) => unknown;
  let pageHandler = null as PageHandler | null;
  let nextUpgrade: ((req: http.IncomingMessage, socket: import('node:stream').Duplex, head: Buffer) => void) | undefined;
  if (cfg.ui && cfg.dev) {
    const { default: next } = await import('next');
    const app = next({ dev: true, dir: ROOT, hostname: cfg.host, port: cfg.port });
    await app.prepare();
    const handle = app.getRequestHandler();
    pageHandler = (req, res) => {
      preparePageRequest(req, res, { dev: true, tls: !!cfg.tls });
      return handle(req, res);
    };
    const up = app.getUpgradeHandler();
    nextUpgrade = (req, socket, head) => void up(req, socket, head);
  } else if (cfg.ui) {
    const dir = path.join(ROOT, 'out');
    if (!hasExport(dir)) log.warn(`the web UI is not built (${dir} has no index.html): run npm run build (npm start does it)`);
    pageHandler = makePagesHandler({ dir, dev: false, tls: !!cfg.tls });
  }

  const onRequest = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    securityHeaders(res, !!cfg.tls);
    if (draining) {
      // A request on a kept-alive connection after SIGTERM: come back to the next server.
      res.setHeader('connection', 'close');
      res.setHeader('retry-after', '2');
      return sendJson(res, 503, { code: 'SHUTTING_DOWN', message: 'The server is restarting; try again in a moment' });
    }
    inflight.add(res);
    res.once('close', () => inflight.delete(res));
    const url = new URL(req.url ?? '/', 'http://localhost');
    try {
      if (url.pathname === '/api/openapi.json') {
        if (!auth.authenticate(req)) return sendJson(res, 401, { code: 'UNAUTHORIZED', message: 'Sign in first' });
        return sendJson(res, 200, openapi);
      }
      if (url.pathname === '/api' || url.pathname.startsWith('/api/')) {
        if (!(await router.handle(req, res))) {
          if (!auth.authenticate(req)) return sendJson(res, 401, { code: 'UNAUTHORIZED', message: 'Sign in first' });
          sendJson(res, 404, { code: 'NOT_FOUND', message: `No API route ${url.pathname}` });
        }
        return;
      }
      if (pageNeedsAuth(url.pathname) && !auth.authenticate(req)) {
        res.writeHead(302, { location: `/login?next=${encodeURIComponent(url.pathname + url.search)}`, 'cache-control': 'no-store' }).end();
        return;
      }
      if (!pageHandler) {
        sendJson(res, 404, { code: 'NOT_FOUND', message: 'The web UI is disabled (VMM_UI=0)' });
        return;
      }
      await pageHandler(req, res);
    } catch (err) {
      router.sendError(res, err, req);
    }
  };

  const server = cfg.tls
    ? https.createServer({ cert: fs.readFileSync(cfg.tls.cert), key: fs.readFileSync(cfg.tls.key) }, onRequest)
    : http.createServer(onRequest);
  server.headersTimeout = 20_000;
  server.requestTimeout = 120_000;
  server.on(
    'upgrade',
    makeUpgradeHandler({
      auth, originAllowed, events, vms, tickets, serial, next: nextUpgrade,
      canSeeVm, consoles, maxConsolesPerUser: limits().maxConsolesPerUser, audit: (r) => audit.record(r),
    }),
  );
  server.on('clientError', (_err, socket) => socket.destroy());

  await new Promise<void>((resolve) => server.listen(cfg.port, cfg.host, resolve));
  const addr = server.address() as import('node:net').AddressInfo;
  log.info(`webvmm listening on ${cfg.tls ? 'https' : 'http'}://${cfg.host}:${addr.port} (data: ${cfg.dataDir})`);

  /**
   * SIGTERM/SIGINT: websocket clients are told to reconnect (`server-restarting`), no new request
   * is accepted (the listener closes; a request on a kept-alive connection gets 503 SHUTTING_DOWN),
   * in-flight requests and VM operations (anything holding a VM lock: a start, a hotplug, a reboot's
   * restart) get up to VMM_SHUTDOWN_DRAIN_MS (10 s) to finish. What is still running then is
   * answered 503 SHUTTING_DOWN (it may or may not have happened: live.json's write-ahead records
   * let the next server sort it out). Then every QMP connection is let go without being taken for
   * QEMU's exit, so the VMs keep running, the database is closed, and the process exits 0.
   */
  let stopping = false;
  const drainMs = Number(process.env.VMM_SHUTDOWN_DRAIN_MS ?? 10_000);
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    const t0 = Date.now();
    log.info(`${signal}: closing; running VMs keep running`);
    draining = true;
    events.shutdown(2000);
    server.close();
    server.closeIdleConnections?.();
    const busy = () => inflight.size > 0 || vms.busyLocks().length > 0;
    while (busy() && Date.now() - t0 < drainMs) await new Promise((r) => setTimeout(r, 20));
    if (busy()) {
      log.warn(`${signal}: stopped waiting after ${drainMs} ms: ${inflight.size} request(s) still running, VM operations in progress: ${vms.busyLocks().join(', ') || 'none'}`);
      for (const res of inflight) {
        if (res.headersSent) continue;
        res.setHeader('connection', 'close');
        sendJson(res, 503, { code: 'SHUTTING_DOWN', message: 'The server restarted before this operation finished; it may or may not have taken effect: check the VM' });
      }
    } else {
      log.info(`${signal}: in-flight work finished after ${Date.now() - t0} ms`);
    }
    server.closeAllConnections?.();
    for (const rt of vms.runtimes.values()) rt.detach();
    serial.close();
    db.close();
    log.info(`${signal}: exiting`);
    setTimeout(() => process.exit(0), 50);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

const DiagnosticsSchema = z.object({
  /** True when the server runs with --expose-gc and collected garbage before measuring. */
  gcFirst: z.boolean(),
  pid: z.int(),
  uptimeS: z.int(),
  rssBytes: z.int(),
  heapUsedBytes: z.int(),
  /** Entries in /proc/self/fd (-1 where that does not exist). */
  openFds: z.int(),
  inflightRequests: z.int(),
  eventClients: z.int(),
  vms: z.int(),
  runtimes: z.int(),
  /** QMP commands sent and not answered yet, over all VMs, and the largest backlog of one VM. */
  qmpPending: z.int(),
  qmpPendingMax: z.int(),
  /** VMs whose QEMU does not answer QMP right now. */
  unresponsive: z.int(),
  busyLocks: z.int(),
});

process.on('unhandledRejection', (e) => log.error(`unhandled rejection: ${(e as Error)?.stack ?? String(e)}`));

main().catch((e) => {
  log.error((e as Error)?.stack ?? String(e));
  process.exit(1);
});
