/**
 * Server settings, read once from the environment and validated. Everything that a deployment may
 * change lives here, so the README's configuration table has one source.
 */
import path from 'node:path';
import { z } from 'zod';

const EnvSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  /** Bind address: loopback unless the operator decides otherwise. */
  VMM_HOST: z.string().min(1).default('127.0.0.1'),
  VMM_DATA_DIR: z.string().min(1).default('./data'),
  /** Private run dir for QEMU sockets; default <data>/run. Must be short: unix socket paths cap at 107 bytes. */
  VMM_RUN_DIR: z.string().min(1).optional(),
  VMM_ACCEL: z.enum(['kvm', 'tcg']).optional(),
  VMM_ADMIN_PASSWORD: z.string().min(8).optional(),
  VMM_QEMU: z.string().min(1).default('qemu-system-x86_64'),
  VMM_QEMU_IMG: z.string().min(1).default('qemu-img'),
  /** Seconds an ACPI shutdown may take before the UI offers a force power-off. */
  VMM_SHUTDOWN_TIMEOUT: z.coerce.number().int().min(1).max(3600).default(60),
  /** Extra origins allowed for state-changing requests and websocket upgrades (comma-separated). */
  VMM_ALLOWED_ORIGINS: z.string().default(''),
  VMM_UI: z.enum(['0', '1']).default('1'),
  VMM_LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
  VMM_TLS_CERT: z.string().optional(),
  VMM_TLS_KEY: z.string().optional(),
});

export interface ServerConfig {
  port: number;
  host: string;
  dataDir: string;
  runDir: string;
  poolsDir: string;
  vmsDir: string;
  logDir: string;
  dbPath: string;
  accelOverride: 'kvm' | 'tcg' | null;
  adminPassword: string | null;
  qemuBinary: string;
  qemuImg: string;
  shutdownTimeoutMs: number;
  allowedOrigins: string[];
  ui: boolean;
  dev: boolean;
  logLevel: 'debug' | 'info' | 'warn' | 'error';
  tls: { cert: string; key: string } | null;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env, argv: string[] = process.argv): ServerConfig {
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new Error(`Invalid environment:\n${lines.join('\n')}`);
  }
  const e = parsed.data;
  const dataDir = path.resolve(e.VMM_DATA_DIR);
  return {
    port: e.PORT,
    host: e.VMM_HOST,
    dataDir,
    runDir: path.resolve(e.VMM_RUN_DIR ?? path.join(dataDir, 'run')),
    poolsDir: path.join(dataDir, 'pools'),
    vmsDir: path.join(dataDir, 'vms'),
    logDir: path.join(dataDir, 'logs'),
    dbPath: path.join(dataDir, 'vmm.sqlite'),
    accelOverride: e.VMM_ACCEL ?? null,
    adminPassword: e.VMM_ADMIN_PASSWORD ?? null,
    qemuBinary: e.VMM_QEMU,
    qemuImg: e.VMM_QEMU_IMG,
    shutdownTimeoutMs: e.VMM_SHUTDOWN_TIMEOUT * 1000,
    allowedOrigins: e.VMM_ALLOWED_ORIGINS.split(',').map((s) => s.trim()).filter(Boolean),
    ui: e.VMM_UI === '1',
    dev: argv.includes('--dev'),
    logLevel: e.VMM_LOG_LEVEL,
    tls: e.VMM_TLS_CERT && e.VMM_TLS_KEY ? { cert: e.VMM_TLS_CERT, key: e.VMM_TLS_KEY } : null,
  };
}
