/**
 * The libvirt side of bench/hotplug: ../shared/anchors/libvirt-bench.py on the same test guest ISO,
 * with libvirt brought up (and down again) through the anchors' scripts (bench/lib/anchors.mjs).
 *
 * libvirt-bench.py defines a TCG q35 domain (256 MiB, 1 vCPU of 3, 8 PCIe root ports) from the ISO,
 * and per run: virsh start, wait for GUEST-READY, 0.3 s, `setvcpus 2 --live`, 0.2 s, `attach-disk vdb`,
 * 0.2 s, `detach-disk vdb`, 0.2 s, `attach-device` a user-mode virtio NIC, 0.2 s, `detach-interface`,
 * 0.2 s, `attach-device` a 128 MiB DIMM, virsh destroy. Each figure runs from just before the virsh
 * process is spawned until the guest's serial log (virtlogd) shows the changed GUEST-STATE line.
 * It also runs a few control round trips and one vCPU unplug at the end (QEMU 7.2 fails that one;
 * we do not use it).
 *
 * Leaves the machine as it found it: the domain is destroyed and undefined, its per-domain QEMU log
 * under /var/log/libvirt/qemu is removed if it was not there before, the ANCHOR_STATE dir (ISO copy,
 * disks, serial log) is removed, and libvirt-down.sh stops exactly what libvirt-up.sh started.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ANCHORS, log, sh } from '../lib/common.mjs';
import { PEER_PY, PY, libvirtDown, libvirtUp, peerState, removePeerState } from '../lib/anchors.mjs';

export const PEER_DOM = 'anchor-webvmm-hotplug';

/** Our change names → libvirt-bench.py's metric names (`<name>_cmd`, `<name>_visible`). */
export const LIBVIRT_KEYS = { vcpu: 'vcpu_plug', diskAttach: 'disk_attach', diskDetach: 'disk_detach', nicAttach: 'nic_attach', nicDetach: 'nic_detach', dimm: 'dimm_attach' };

/** Runs a command asynchronously, prefixing its stderr lines into ours; resolves { code, stdout, stderr }. */
function run(cmd, args, { env, timeoutMs }) {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.setEncoding('utf8').on('data', (d) => (stdout += d));
    p.stderr.setEncoding('utf8').on('data', (d) => {
      stderr += d;
      for (const l of d.split('\n').filter(Boolean)) log(`libvirt-bench.py: ${l}`);
    });
    const timer = setTimeout(() => {
      log(`libvirt-bench.py: no result after ${timeoutMs / 1000} s: killing it (pid ${p.pid})`);
      p.kill('SIGKILL');
    }, timeoutMs);
    p.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr });
    });
  });
}

/**
 * Brings libvirt up, runs libvirt-bench.py --runs N on `iso`, brings libvirt down (only what this
 * bench started) and returns { up, bench (its JSON), error? }. `cleanup` is a bench/lib Cleanup:
 * every undo step is registered there first, so a failure or Ctrl-C mid-way still undoes it.
 */
export async function libvirtHotplug({ iso, runs, rtt, cleanup }) {
  const mark = cleanup.mark();
  const out = {};
  try {
    const state = peerState('hotplug');
    const qemuLog = `/var/log/libvirt/qemu/${PEER_DOM}.log`;
    const hadQemuLog = fs.existsSync(qemuLog);
    cleanup.add('anchor state dir', () => removePeerState(state));
    cleanup.add('libvirt-down.sh', () => libvirtDown(state));
    const up = libvirtUp(state);
    out.up = up;
    if (!up.ok) throw new Error(`libvirt could not be brought up: ${up.error}`);
    cleanup.add(`destroy+undefine ${PEER_DOM}`, () => {
      const r = sh(PY, [PEER_PY, 'cleanup', '--n', '0', '--dom', PEER_DOM], { timeout: 120_000 });
      if (r.code !== 0) log(`peers: cleanup of ${PEER_DOM} failed: ${r.stderr.trim().slice(-500)}`);
      if (!hadQemuLog) fs.rmSync(qemuLog, { force: true });
    });
    const jsonFile = path.join(state, 'libvirt-bench.json');
    const args = [
      path.join(ANCHORS, 'libvirt-bench.py'), '--iso', iso, '--runs', String(runs), '--rtt', String(rtt),
      '--state', state, '--dom', PEER_DOM, '--ready', 'GUEST-READY', '--state-prefix', 'GUEST-STATE ', '--out', jsonFile,
    ];
    out.command = `${PY} ${args.map((a) => (/[\s]/.test(a) ? `'${a}'` : a)).join(' ')}`;
    log(`peers: ${out.command}`);
    const t0 = Date.now();
    const r = await run(PY, args, { env: { ...process.env, ANCHOR_STATE: state }, timeoutMs: 20 * 60_000 });
    out.seconds = Math.round((Date.now() - t0) / 1000);
    if (r.code !== 0) throw new Error(`libvirt-bench.py failed (${r.code}): ${r.stderr.trim().slice(-1500)}`);
    out.bench = JSON.parse(fs.readFileSync(jsonFile, 'utf8'));
  } catch (e) {
    out.error = String(e?.message ?? e);
    log(`peers: ERROR ${out.error}`);
  } finally {
    cleanup.runSince(mark); // libvirt is down again before ours is measured
  }
  return out;
}
