/**
 * The peers, through ../shared/anchors: libvirt 9.0 (libvirt-up.sh / libvirt-down.sh), Cockpit with
 * cockpit-machines (cockpit-up.sh / cockpit-down.sh / cockpit-measure.mjs), plus our own libvirt
 * helper (libvirt_peer.py) for the domains the benches define.
 *
 * Each bench gives the anchor scripts their own ANCHOR_STATE dir (/tmp/anchors-webvmm-<bench>), so
 * the "what did I start" lists are ours alone: if libvirtd or cockpit-ws was already running when the
 * bench began (someone else's), the scripts record nothing, and we do not run the *-down scripts, so
 * we stop only what we started and never touch other anchor-* domains.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { ANCHORS, ROOT, log, sh } from './common.mjs';

export const PY = '/usr/bin/python3';
export const PEER_PY = path.join(ROOT, 'bench', 'lib', 'libvirt_peer.py');

export function peerState(bench) {
  const dir = `/tmp/anchors-webvmm-${bench}`;
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

/** Removes the bench's ANCHOR_STATE dir once the *-down scripts have undone (and unrecorded) what it started. */
export function removePeerState(state) {
  const left = ['started.list', 'cockpit-started.list'].filter((f) => recorded(path.join(state, f)).length);
  if (left.length) {
    log(`peers: keeping ${state}: ${left.join(', ')} still lists what was started (stop it with the anchors' *-down.sh, ANCHOR_STATE=${state})`);
    return;
  }
  fs.rmSync(state, { recursive: true, force: true });
}

function anchorEnv(state) {
  return { ...process.env, ANCHOR_STATE: state, DEBIAN_FRONTEND: 'noninteractive' };
}

function dpkgSet() {
  return new Set(sh('dpkg-query', ['-W', '-f', '${Package}\\n']).stdout.split('\n').filter(Boolean));
}

function recorded(file) {
  try {
    return fs.readFileSync(file, 'utf8').trim().split('\n').filter(Boolean);
  } catch {
    return [];
  }
}

/** libvirt-up.sh; returns { ok, started: [...what it recorded], packagesInstalled, error? }. */
export function libvirtUp(state) {
  if (!fs.existsSync(path.join(ANCHORS, 'libvirt-up.sh'))) return { ok: false, error: `${ANCHORS}/libvirt-up.sh not found` };
  log(`peers: ${ANCHORS}/libvirt-up.sh (ANCHOR_STATE=${state})`);
  const before = dpkgSet();
  const r = sh('bash', [path.join(ANCHORS, 'libvirt-up.sh')], { env: anchorEnv(state), timeout: 900_000 });
  const added = [...dpkgSet()].filter((p) => !before.has(p));
  if (added.length) log(`peers: libvirt-up.sh installed ${added.length} Debian package(s) (left installed, as the anchors do)`);
  const out = (r.stdout + r.stderr).trim();
  if (r.code !== 0) return { ok: false, error: out.slice(-1500), packagesInstalled: added };
  log(out.split('\n').filter((l) => /started|already|kvm/.test(l)).join('\n'));
  return { ok: true, started: recorded(path.join(state, 'started.list')), packagesInstalled: added, version: /Running hypervisor: (.*)/.exec(out)?.[1] ?? null, libvirt: /Using library: (.*)/.exec(out)?.[1] ?? null };
}

export function libvirtDown(state) {
  const list = recorded(path.join(state, 'started.list'));
  if (!list.length) {
    log('peers: libvirt-down.sh not needed (this bench started nothing of libvirt: it was already up)');
    return;
  }
  log(`peers: ${ANCHORS}/libvirt-down.sh (stops: ${list.map((l) => l.split(' ')[0]).join(', ')})`);
  const r = sh('bash', [path.join(ANCHORS, 'libvirt-down.sh')], { env: anchorEnv(state), timeout: 120_000 });
  if ((r.stdout + r.stderr).trim()) log((r.stdout + r.stderr).trim());
}

export function portOpen(port, host = '127.0.0.1') {
  return new Promise((resolve) => {
    const s = net.connect(port, host);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
    setTimeout(() => {
      s.destroy();
      resolve(false);
    }, 1000);
  });
}

export async function cockpitUp(state) {
  if (!fs.existsSync(path.join(ANCHORS, 'cockpit-up.sh'))) return { ok: false, error: `${ANCHORS}/cockpit-up.sh not found` };
  if ((await portOpen(9090)) && !fs.existsSync(path.join(state, 'cockpit-ws.pid'))) {
    log('peers: cockpit-ws already listens on 127.0.0.1:9090 (not ours): using it as it is');
    return { ok: true, alreadyRunning: true };
  }
  log(`peers: ${ANCHORS}/cockpit-up.sh (ANCHOR_STATE=${state})`);
  const before = dpkgSet();
  const r = sh('bash', [path.join(ANCHORS, 'cockpit-up.sh')], { env: anchorEnv(state), timeout: 900_000 });
  const added = [...dpkgSet()].filter((p) => !before.has(p));
  const out = (r.stdout + r.stderr).trim();
  if (r.code !== 0) return { ok: false, error: out.slice(-1500), packagesInstalled: added };
  if (!(await portOpen(9090))) return { ok: false, error: `cockpit-up.sh ran but nothing listens on 9090:\n${out.slice(-1000)}` };
  log(out.split('\n').filter((l) => /^cockpit-ws:/.test(l)).join('\n'));
  return { ok: true, packagesInstalled: added };
}

export function cockpitDown(state) {
  if (!recorded(path.join(state, 'cockpit-started.list')).length) {
    log('peers: cockpit-down.sh not needed (this bench did not start cockpit-ws)');
    return;
  }
  log(`peers: ${ANCHORS}/cockpit-down.sh`);
  const r = sh('bash', [path.join(ANCHORS, 'cockpit-down.sh')], { env: anchorEnv(state), timeout: 60_000 });
  if ((r.stdout + r.stderr).trim()) log((r.stdout + r.stderr).trim());
}

/** cockpit-measure.mjs --prefix P --count N: click Log in → the Machines page lists all N. */
export function cockpitMeasure({ prefix, count, runs, out, shot }) {
  log(`peers: cockpit-measure.mjs --runs ${runs} --prefix ${prefix} --count ${count}`);
  const r = sh(process.execPath, [path.join(ANCHORS, 'cockpit-measure.mjs'), '--runs', String(runs), '--prefix', prefix, '--count', String(count), '--out', out, '--shot', shot], {
    cwd: ROOT, // playwright-core resolves from our package.json
    env: { ...process.env, PW_TOOLS: path.join(ROOT, 'package.json') },
    timeout: 900_000,
  });
  if (r.stderr.trim()) log(r.stderr.trim());
  try {
    const j = JSON.parse(fs.readFileSync(out, 'utf8'));
    return {
      click_login_to_all_listed: j.click_login_to_vm_listed,
      click_login_to_shell: j.click_login_to_shell,
      click_login_to_machines_frame: j.click_login_to_machines_frame,
      per_run_ms: j.results.map((x) => (x.listed_ms == null ? null : Math.round(x.listed_ms))),
      errors: j.results.map((x) => x.err).filter(Boolean),
      screenshot: shot,
    };
  } catch (e) {
    return { error: `cockpit-measure.mjs failed (${r.code}): ${(r.stderr || r.stdout).trim().slice(-1500)}` };
  }
}

/** Runs libvirt_peer.py <args>; returns its JSON (throws with its stderr on failure). */
export function libvirtPeer(args, timeout = 1_200_000) {
  const r = sh(PY, [PEER_PY, ...args], { timeout });
  if (r.stderr.trim()) log(r.stderr.trim().split('\n').slice(-20).join('\n'));
  if (r.code !== 0) throw new Error(`libvirt_peer.py ${args[0]} failed (${r.code}): ${r.stderr.trim().slice(-1500)}`);
  return JSON.parse(r.stdout.trim().split('\n').at(-1));
}

export function libvirtdPid() {
  const r = sh('pidof', ['libvirtd']);
  const pid = Number(r.stdout.trim().split(/\s+/)[0]);
  return pid > 1 ? pid : null;
}
