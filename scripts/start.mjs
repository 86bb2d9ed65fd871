#!/usr/bin/env node
/**
 * `npm start`: preflight (QEMU), npm dependencies, build, then serve with the embedded default
 * data dir (./data unless VMM_DATA_DIR is set). Each step is skipped when already done.
 */
import path from 'node:path';
import { spawn } from 'node:child_process';
import { ROOT, ensureBuild, ensureDeps, mustRun } from './lib.mjs';
import { SERVER_BUNDLE, SERVER_ENV } from './build-server.mjs';

mustRun(process.execPath, [path.join(ROOT, 'scripts', 'preflight.mjs')]);
ensureDeps();
ensureBuild();

const env = { ...SERVER_ENV, ...process.env, NODE_ENV: 'production', NEXT_TELEMETRY_DISABLED: '1', VMM_DATA_DIR: process.env.VMM_DATA_DIR ?? path.join(ROOT, 'data') };
// The bundled server (scripts/build-server.mjs): plain node, no TypeScript loader in the process.
const child = spawn(process.execPath, [SERVER_BUNDLE], { stdio: 'inherit', cwd: ROOT, env });
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
