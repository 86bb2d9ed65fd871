#!/usr/bin/python3
"""The libvirt side of bench/scale and bench/api, measured through python3-libvirt and virsh.

Run with Debian's python (/usr/bin/python3: python3-libvirt lives there), after
../shared/anchors/libvirt-up.sh. Every subcommand prints one JSON object on stdout; progress goes to stderr.

  libvirt_peer.py scale-define  --prefix anchor-s --n 50          define N tiny domains (no boot media)
  libvirt_peer.py scale-start   --prefix anchor-s --n 50          start them (running, NOT paused: like ours)
  libvirt_peer.py cleanup       --prefix anchor-s --n 50          destroy + undefine those N (only those)
  libvirt_peer.py api --dom anchor-webvmm-api --iso GUEST.iso --state DIR [--runs 5] [--rtt 2000]
                      [--settle 2] [--tput-seconds 10] [--tput-clients 50]

The domains mirror what the webvmm bench creates on our side:
  scale: 128 MiB, 1 vCPU, q35, TCG, no disk, no NIC, no CD: SeaBIOS finds nothing to boot and idles
         ("No bootable device", retry every 60 s). VNC on 127.0.0.1, std VGA, no balloon.
  api:   256 MiB, 1 vCPU (3 max), q35, TCG, a 64 MiB qcow2 disk, the test guest ISO as CD-ROM, one
         virtio user-mode NIC, serial, VNC, 8 PCIe root ports (the hotplug headroom ours also has).
"""
import argparse, json, os, shutil, statistics, subprocess, sys, threading, time

URI = 'qemu:///system'


def now():
    return time.perf_counter()


def log(*m):
    print(*m, file=sys.stderr, flush=True)


def sh(*args, check=True):
    r = subprocess.run(list(args), capture_output=True, text=True)
    if check and r.returncode != 0:
        raise RuntimeError(f'{args}: rc={r.returncode} {r.stderr.strip()}')
    return r


def virsh(*args, check=True):
    return sh('virsh', '-c', URI, *args, check=check)


def pct(sorted_vals, p):
    if not sorted_vals:
        return None
    k = min(len(sorted_vals) - 1, max(0, int(round(p / 100.0 * len(sorted_vals) + 0.5)) - 1))
    return sorted_vals[k]


def summ(vals_s):
    v = sorted(x for x in vals_s if x is not None)
    if not v:
        return {'n': 0, 'failed': len(vals_s)}
    ms = lambda x: round(x * 1000, 3)
    return {'median_ms': ms(statistics.median(v)), 'p50_ms': ms(pct(v, 50)), 'p99_ms': ms(pct(v, 99)),
            'min_ms': ms(v[0]), 'max_ms': ms(v[-1]), 'mean_ms': ms(statistics.fmean(v)), 'n': len(v),
            'failed': len(vals_s) - len(v)}


def names(prefix, n):
    return [f'{prefix}{i:02d}' for i in range(1, n + 1)]


def scale_xml(name):
    return f"""<domain type='qemu'><name>{name}</name><memory unit='MiB'>128</memory><vcpu>1</vcpu>
<os><type arch='x86_64' machine='q35'>hvm</type><boot dev='hd'/></os><features><acpi/><apic/></features>
<devices><emulator>/usr/bin/qemu-system-x86_64</emulator>
<graphics type='vnc' autoport='yes' listen='127.0.0.1'/><video><model type='vga'/></video>
<memballoon model='none'/></devices></domain>"""


def api_xml(name, disk, iso):
    ports = "\n".join("    <controller type='pci' model='pcie-root-port'/>" for _ in range(8))
    return f"""<domain type='qemu'>
  <name>{name}</name>
  <memory unit='MiB'>256</memory>
  <vcpu placement='static' current='1'>3</vcpu>
  <os><type arch='x86_64' machine='q35'>hvm</type><boot dev='hd'/><boot dev='cdrom'/></os>
  <features><acpi/><apic/></features>
  <cpu mode='custom' match='exact' check='none'><model fallback='allow'>qemu64</model></cpu>
  <on_poweroff>destroy</on_poweroff><on_reboot>restart</on_reboot><on_crash>destroy</on_crash>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='{disk}'/><target dev='vda' bus='virtio'/></disk>
    <disk type='file' device='cdrom'><driver name='qemu' type='raw'/><source file='{iso}'/><target dev='sda' bus='sata'/><readonly/></disk>
    <controller type='pci' model='pcie-root'/>
{ports}
    <interface type='user'><model type='virtio'/></interface>
    <serial type='pty'><target port='0'/></serial>
    <console type='pty'><target type='serial' port='0'/></console>
    <graphics type='vnc' autoport='yes' listen='127.0.0.1'><listen type='address' address='127.0.0.1'/></graphics>
    <video><model type='vga' vram='16384' heads='1'/></video>
    <memballoon model='virtio'/>
  </devices>
</domain>
"""


def conn():
    import libvirt
    return libvirt.open(URI)


def cmd_scale_define(a):
    c = conn()
    t0 = now()
    for n in names(a.prefix, a.n):
        c.defineXML(scale_xml(n))
    return {'defined': a.n, 'define_all_s': round(now() - t0, 3)}


def cmd_scale_start(a):
    c = conn()
    per = []
    t0 = now()
    for n in names(a.prefix, a.n):
        d = c.lookupByName(n)
        t = now()
        d.create()
        per.append(now() - t)
    total = now() - t0
    pids = {}
    for n in names(a.prefix, a.n):
        try:
            pids[n] = int(open(f'/run/libvirt/qemu/{n}.pid').read().strip())
        except Exception:
            pass
    return {'started': a.n, 'start_all_s': round(total, 3), 'per_start': summ(per), 'qemu_pids': pids}


def cmd_cleanup(a):
    import libvirt
    c = conn()
    done = []
    for n in names(a.prefix, a.n) if a.n else [a.dom]:
        try:
            d = c.lookupByName(n)
        except libvirt.libvirtError:
            continue
        try:
            if d.isActive():
                d.destroy()
        except libvirt.libvirtError as e:
            log(f'destroy {n}: {e}')
        try:
            d.undefineFlags(libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE | libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA)
        except libvirt.libvirtError as e:
            log(f'undefine {n}: {e}')
        done.append(n)
    return {'cleaned': done}


def cmd_api(a):
    import libvirt
    os.makedirs(a.state, exist_ok=True)
    iso = os.path.join(a.state, 'guest.iso')            # private copy: libvirt relabels/chowns what it is given
    shutil.copyfile(a.iso, iso)
    disk = os.path.join(a.state, f'{a.dom}.qcow2')
    c = conn()
    try:
        old = c.lookupByName(a.dom)
        if old.isActive():
            old.destroy()
        old.undefine()
    except libvirt.libvirtError:
        pass
    sh('qemu-img', 'create', '-q', '-f', 'qcow2', disk, '64M')
    d = c.defineXML(api_xml(a.dom, disk, iso))
    R = {k: [] for k in ['virsh_start', 'virsh_destroy', 'api_create', 'api_destroy']}
    rtt = {}
    tput = None
    try:
        for i in range(a.runs):
            log(f'libvirt: run {i + 1}/{a.runs}')
            # `virsh start`: a process, like the anchor's 393 ms figure; it returns once QEMU runs the guest.
            t = now(); virsh('start', a.dom); R['virsh_start'].append(now() - t)
            st = d.state()[0]
            if st != libvirt.VIR_DOMAIN_RUNNING:
                raise RuntimeError(f'after virsh start the domain state is {st}')
            time.sleep(a.settle)
            if i == 0:
                N = a.rtt
                def loop(fn, n):
                    out = []
                    for _ in range(n):
                        t = now(); fn(); out.append(now() - t)
                    return out
                for _ in range(50):
                    d.state()            # warm-up
                rtt['pylibvirt_dom_state'] = summ(loop(lambda: d.state(), N))
                rtt['pylibvirt_dom_info'] = summ(loop(lambda: d.info(), N))
                import libvirt_qemu
                rtt['pylibvirt_qemu_monitor_query_status'] = summ(loop(lambda: libvirt_qemu.qemuMonitorCommand(d, '{"execute":"query-status"}', 0), min(N, 500)))
                rtt['virsh_domstate_process'] = summ(loop(lambda: virsh('domstate', a.dom), 30))
                if a.tput_seconds > 0:
                    tput = throughput(a.dom, a.tput_clients, a.tput_seconds)
            t = now(); virsh('destroy', a.dom); R['virsh_destroy'].append(now() - t)
            # the same two operations through the API on a long-lived connection (no virsh process)
            t = now(); d.create(); R['api_create'].append(now() - t)
            time.sleep(a.settle)
            t = now(); d.destroy(); R['api_destroy'].append(now() - t)
    finally:
        try:
            if d.isActive():
                d.destroy()
        except libvirt.libvirtError:
            pass
        d.undefine()
        for f in (disk, iso):
            try:
                os.unlink(f)
            except FileNotFoundError:
                pass
    return {
        'libvirt': sh('virsh', '-c', URI, 'version', check=False).stdout.strip().replace('\n', '; '),
        'domain': '256 MiB, 1 vCPU (3 max), q35 TCG, 64 MiB qcow2 virtio disk, guest ISO CD-ROM, virtio user NIC, VNC, 8 PCIe root ports',
        'runs': a.runs, 'settle_s': a.settle,
        'virsh_start': summ(R['virsh_start']), 'virsh_destroy': summ(R['virsh_destroy']),
        'pylibvirt_create': summ(R['api_create']), 'pylibvirt_destroy': summ(R['api_destroy']),
        'rtt': rtt, 'throughput_dom_state': tput,
        'raw_s': {k: [round(x, 4) for x in v] for k, v in R.items()},
    }


def throughput(dom, clients, seconds):
    """dom.state() as fast as it goes from `clients` threads, each on its own libvirt connection."""
    import libvirt
    counts = [0] * clients
    errors = [0] * clients
    lat = [[] for _ in range(clients)]
    start = threading.Barrier(clients + 1)
    stop_at = [0.0]

    def worker(i):
        cc = libvirt.open(URI)
        dd = cc.lookupByName(dom)
        start.wait()
        while True:
            t = now()
            if t >= stop_at[0]:
                break
            try:
                dd.state()
                counts[i] += 1
                lat[i].append(now() - t)
            except libvirt.libvirtError:
                errors[i] += 1
        cc.close()

    ths = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(clients)]
    for t in ths:
        t.start()
    stop_at[0] = now() + 1e9
    start.wait()
    t0 = now()
    stop_at[0] = t0 + seconds
    for t in ths:
        t.join()
    el = now() - t0
    all_lat = [x for l in lat for x in l]
    return {'clients': clients, 'seconds': round(el, 2), 'requests': sum(counts), 'errors': sum(errors),
            'req_per_s': round(sum(counts) / el, 1), 'latency': summ(all_lat),
            'client': 'python3-libvirt, one thread and one connection per client (the GIL is released during the RPC)'}


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest='cmd', required=True)
    for name in ('scale-define', 'scale-start', 'cleanup'):
        p = sub.add_parser(name)
        p.add_argument('--prefix', default='anchor-s')
        p.add_argument('--n', type=int, default=50)
        p.add_argument('--dom', default=None)
    p = sub.add_parser('api')
    p.add_argument('--dom', default='anchor-webvmm-api')
    p.add_argument('--iso', required=True)
    p.add_argument('--state', required=True)
    p.add_argument('--runs', type=int, default=5)
    p.add_argument('--rtt', type=int, default=2000)
    p.add_argument('--settle', type=float, default=2.0)
    p.add_argument('--tput-seconds', type=float, default=10)
    p.add_argument('--tput-clients', type=int, default=50)
    a = ap.parse_args()
    fn = {'scale-define': cmd_scale_define, 'scale-start': cmd_scale_start, 'cleanup': cmd_cleanup, 'api': cmd_api}[a.cmd]
    print(json.dumps(fn(a)))


if __name__ == '__main__':
    main()
