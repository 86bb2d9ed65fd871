#!/usr/bin/env node
/**
 * Prints the README's benchmark tables (markdown) from bench/results/scale.json and api.json, so the
 * README shows exactly what the last runs wrote:  node bench/lib/summary.mjs
 */
import fs from 'node:fs';
import path from 'node:path';
import { ROOT } from './common.mjs';

const load = (f) => {
  try {
    return JSON.parse(fs.readFileSync(path.join(ROOT, 'bench', 'results', f), 'utf8'));
  } catch {
    return null;
  }
};
const ms = (x) => (x == null ? '—' : x >= 100 ? `${Math.round(x)} ms` : x >= 10 ? `${x.toFixed(1)} ms` : `${x.toFixed(2)} ms`);
const mib = (x) => (x == null ? '—' : `${Math.round(x)} MiB`);
const pct = (x) => (x == null ? '—' : `${x.toFixed(3)} %`);
const rt = (x) => (x == null ? '—' : `${x.toFixed(2)}`);
const met = (m) => (m == null ? 'n/a' : m ? 'met' : '**missed**');

const S = load('scale.json');
if (S) {
  const T = S.targets;
  const O = S.ours;
  const P = S.peers;
  const n = S.options.n;
  console.log(`**bench:scale** — ${S.date.slice(0, 10)}, ${S.machine.cores} cores (${S.machine.cpu}), ${n} VMs per side; load average ${S.load.at_start.join(' / ')} at start\n`);
  console.log('| what | ours | peer (same run) | target | ratio to target | |');
  console.log('|---|---|---|---|---|---|');
  for (const ph of ['defined', 'running']) {
    const t = T[`login_to_${n}_listed_${ph}`];
    console.log(`| click Log in → ${n} VMs listed (${ph}) | ${ms(t.ours_ms)} | Cockpit ${ms(t.cockpit_ms)} | ≤ ⅓ of Cockpit = ${ms(t.target_ms)} | ${rt(t.ratio_to_target)} | ${met(t.met)} |`);
  }
  const r = T.rss_idle_no_browser;
  console.log(`| server RSS, idle, ${n} running, no browser | ${mib(r.ours_mib)} = ${r.ours_mb ?? '?'} MB (API-only, VMM_UI=0: ${mib(r.ours_api_only_mib)}) | libvirtd ${mib(r.libvirtd_mib)} | ≤ 150 MB | ${rt(r.ratio_to_target)} | ${met(r.met)} |`);
  const rd = T.rss_idle_one_dashboard;
  console.log(`| server RSS, idle, ${n} running, one dashboard open | ${mib(rd.ours_mib)} = ${rd.ours_mb ?? "?"} MB | — | ≤ 150 MB | ${rt(rd.ratio_to_target)} | ${met(rd.met)} |`);
  const c = T.idle_cpu_no_browser;
  console.log(`| server CPU, idle, ${n} running, no browser (${S.options.idle_s} s) | ${pct(c.ours_pct_of_core)} of a core | libvirtd ${pct(c.libvirtd_pct_of_core)} | ≤ libvirtd's | ${c.ratio_to_target == null ? '—' : rt(c.ratio_to_target)} | ${met(c.met)} |`);
  const cd = O.idle_50_running_one_dashboard;
  console.log(`| server CPU, idle, ${n} running, one dashboard open | ${pct(cd?.cpu_pct_of_one_core)} of a core | — | — | — | |`);
  const f = T.fanout_100_clients;
  console.log(`| one pause → all ${O.fanout?.clients} /ws/events clients have it (median; max) | ${ms(f.ours_ms)}; ${ms(f.ours_max_ms)} | — | ≤ 50 ms | ${rt(f.ratio_to_target)} | ${met(f.met)} |`);
  const re = T.reattach_50;
  console.log(`| kill -9, restart: reattach ${n} running (server's log, median) | ${ms(re.ours_reattach_ms_logged)} | — | ≤ 1 s | ${rt(re.ratio_to_target)} | ${met(re.met)} |`);
  console.log(`| kill -9, restart: spawn → GET /api/vms lists ${n} running (median) | ${ms(re.ours_spawn_to_all_listed_ms)} | — | — | — | |`);
  console.log(`| start ${n} VMs one after the other | ${O.start?.start_all_s} s | libvirt ${P.libvirt?.start?.start_all_s ?? '—'} s | — | — | |`);
  console.log(`| sum of the ${n} QEMUs' CPU, idle | ${pct(O.qemus_50_running?.cpu_pct_of_one_core)} of a core | ${pct(P.libvirt?.qemus_50_running?.cpu_pct_of_one_core)} | — | — | |`);
  console.log('');
}

const A = load('api.json');
if (A) {
  const T = A.targets;
  const O = A.ours;
  const L = A.peers.libvirt ?? {};
  console.log(`**bench:api** — ${A.date.slice(0, 10)}, ${A.machine.cores} cores; load average ${A.load.at_start.join(' / ')} at start\n`);
  console.log('| what | ours | raw QMP | libvirt (same run) | target | ratio to target | |');
  console.log('|---|---|---|---|---|---|---|');
  const s = T.state_read;
  console.log(`| VM state read, p50 / p99 | ${ms(s.ours_p50_ms)} / ${ms(s.ours_p99_ms)} | ${ms(s.raw_qmp_p50_ms)} / ${ms(s.raw_qmp_p99_ms)} | dom.state() ${ms(s.libvirt_dom_state_p50_ms)} / ${ms(s.libvirt_dom_state_p99_ms)} | — | — | |`);
  console.log(`| … floor: bare node:http, same JSON, same client | ${ms(s.bare_node_http_floor_p50_ms)} / ${ms(s.bare_node_http_floor_p99_ms)} | | | | | |`);
  const st = T.start;
  console.log(`| start, until QEMU runs (median) | ${ms(st.ours_ms)} | — | virsh start ${ms(st.virsh_start_ms)} (API ${ms(st.libvirt_api_create_ms)}) | — | ${rt(st.ours_vs_virsh)} of virsh | |`);
  const p = T.poweroff;
  console.log(`| force power-off (median) | ${ms(p.ours_ms)} | — | virsh destroy ${ms(p.virsh_destroy_ms)} (API ${ms(p.libvirt_api_destroy_ms)}) | ≤ virsh/10 = ${ms(p.target_ms)} | ${rt(p.ratio_to_target)} (${Math.round(p.speedup_vs_virsh)}× faster) | ${met(p.met)} |`);
  const t = T.throughput;
  console.log(`| state reads/s, ${A.options.clients} concurrent clients | wrk ${Math.round(t.ours_wrk_req_per_s ?? 0)}/s (p99 ${ms(O.throughput?.wrk?.latency_p99_ms)}); Node loop ${Math.round(t.ours_node_loop_req_per_s ?? 0)}/s | — | dom.state() ${Math.round(t.libvirt_dom_state_req_per_s ?? 0)}/s (${A.options.clients} threads) | — | — | |`);
  console.log('');
}
