#!/usr/bin/python3
"""
When did the peer issue each change? An observer for bench/hotplug: it listens to the kernel's process
events (netlink proc connector, root only) and prints one JSON line per exec of a watched program
(`virsh`, `qemu-img`) and per exit of such a process, stamped with the kernel's CLOCK_MONOTONIC time of
the event (the clock Node's process.hrtime uses), e.g.
  {"ev": "exec", "t": 9216756.2, "pid": 14924, "argv": ["virsh", "-c", "qemu:///system", "attach-disk", ...]}
  {"ev": "exit", "t": 9216783.9, "pid": 14924}
It only reads: it never signals, traces or slows the processes it sees (no ptrace, no polling of /proc
beyond reading the new process's cmdline once). First line: {"ev": "ready"} once subscribed, or
{"ev": "error", ...} and exit status 2 when the proc connector is not available.

  /usr/bin/python3 bench/hotplug/execwatch.py [virsh qemu-img]
Stops on SIGTERM/SIGINT.
"""
import json, os, signal, socket, struct, sys

NETLINK_CONNECTOR = 11
CN_IDX_PROC = CN_VAL_PROC = 1
PROC_CN_MCAST_LISTEN, PROC_CN_MCAST_IGNORE = 1, 2
PROC_EVENT_EXEC, PROC_EVENT_EXIT = 0x00000002, 0x80000000
NLMSG_HDR = struct.Struct('=IHHII')          # len, type, flags, seq, pid
CN_HDR = struct.Struct('=IIIIHH')             # idx, val, seq, ack, len, flags
EV_HDR = struct.Struct('=IIQ')                # what, cpu, timestamp_ns (ktime_get_ns: CLOCK_MONOTONIC)
NLMSG_DONE = 3

WATCH = set(sys.argv[1:] or ['virsh', 'qemu-img'])


def out(obj):
    sys.stdout.write(json.dumps(obj) + '\n')
    sys.stdout.flush()


def subscribe(sock, op):
    payload = CN_HDR.pack(CN_IDX_PROC, CN_VAL_PROC, 0, 0, 4, 0) + struct.pack('=I', op)
    sock.send(NLMSG_HDR.pack(NLMSG_HDR.size + len(payload), NLMSG_DONE, 0, 0, os.getpid()) + payload)


def main():
    try:
        sock = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, NETLINK_CONNECTOR)
        sock.bind((os.getpid(), CN_IDX_PROC))
        subscribe(sock, PROC_CN_MCAST_LISTEN)
    except OSError as e:
        out({'ev': 'error', 'error': f'proc connector: {e}'})
        sys.exit(2)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    sock.settimeout(0.2)
    out({'ev': 'ready'})
    tracked = set()
    base = NLMSG_HDR.size + CN_HDR.size
    while not stop:
        try:
            data = sock.recv(8192)
        except socket.timeout:
            continue
        except InterruptedError:
            continue
        if len(data) < base + EV_HDR.size + 8:
            continue
        what, _cpu, ts = EV_HDR.unpack_from(data, base)
        pid, tgid = struct.unpack_from('=II', data, base + EV_HDR.size)
        t = round(ts / 1e6, 3)
        if what == PROC_EVENT_EXEC and pid == tgid:
            try:
                with open(f'/proc/{pid}/cmdline', 'rb') as f:
                    argv = [a.decode('utf-8', 'replace') for a in f.read().split(b'\0') if a]
            except OSError:
                continue
            if argv and os.path.basename(argv[0]) in WATCH:
                tracked.add(pid)
                out({'ev': 'exec', 't': t, 'pid': pid, 'argv': argv})
        elif what == PROC_EVENT_EXIT and pid == tgid and pid in tracked:
            tracked.discard(pid)
            out({'ev': 'exit', 't': t, 'pid': pid})
    try:
        subscribe(sock, PROC_CN_MCAST_IGNORE)
    except OSError:
        pass


if __name__ == '__main__':
    main()
