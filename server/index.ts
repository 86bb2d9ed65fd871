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
import { Router, sendJson } from './http/router';
import { buildOpenApi } from './http/openapi';
import { vmRoutes } from './api/vms';
import { hotplugRoutes } from './api/hotplug';
import { authRoutes, hostRoutes, poolRoutes } from './api/system';
import { consoleRoutes } from './api/console';
import { EventHub } from './ws/events';
import { makeUpgradeHandler } from './ws/upgrade';
import { makeOriginCheck, pageNeedsAuth, preparePageRequest, securityHeaders } from './http/security';
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
  const openapi = buildOpenApi(router.list(), VERSION);

  type PageHandler = (req: http.IncomingMessage, res: http.ServerResponse) => Promise<void>;
  let nextHandler = null as PageHandler | null;
  let nextUpgrade: ((req: http.IncomingMessage, socket: import('node:stream').Duplex, head: Buffer) => void) | undefined;
  if (cfg.ui) {
    const { default: next } = await import('next');
    const app = next({ dev: cfg.dev, dir: ROOT, hostname: cfg.host, port: cfg.port });
    await app.prepare();
    nextHandler = app.getRequestHandler() as unknown as PageHandler;
    const up = app.getUpgradeHandler();
    nextUpgrade = (req, socket, head) => void up(req, socket, head);
  }

  const onRequest = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    securityHeaders(res, !!cfg.tls);
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
      if (!nextHandler) {
        sendJson(res, 404, { code: 'NOT_FOUND', message: 'The web UI is disabled (VMM_UI=0)' });
        return;
      }
      preparePageRequest(req, res, { dev: cfg.dev, tls: !!cfg.tls });
      await nextHandler(req, res);
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

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info(`${signal}: closing; running VMs keep running`);
    events.shutdown(2000);
    server.close();
    server.closeAllConnections?.();
    for (const rt of vms.runtimes.values()) rt.detach();
    serial.close();
    db.close();
    setTimeout(() => process.exit(0), 200).unref();
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

process.on('unhandledRejection', (e) => log.error(`unhandled rejection: ${(e as Error)?.stack ?? String(e)}`));

main().catch((e) => {
  log.error((e as Error)?.stack ?? String(e));
  process.exit(1);
});
