#!/usr/bin/env python3
"""When the gateway sends its health-check probes, seen from outside Tandem (for tools/lib/check-faults-load).

  probe-gaps.py capture --out FILE
      Run inside the gateway's network namespace (ip netns exec): a packet socket on every interface records each
      IPv4 probe the namespace sends (ICMP echo request, or UDP to port 7), with the kernel's timestamp, as a line
      "SECONDS INTERFACE" (wall time, seconds since the epoch) in FILE, flushed per line, until SIGTERM. Prints
      "listening" once the socket is open.

  probe-gaps.py report FILE --from T0 --to T1 [--over MS] [--interface NAME]...
      Per interface (or the named ones): the probes sent between T0 and T1 (wall time), the largest gap between two
      in a row (the edges of the window count as probes, so a silence at either end counts too) and how many gaps
      were longer than MS (default 60). One line each: "INTERFACE probes N largest-gap-ms G at T over K" (T: the
      largest gap's end, seconds after T0).

A probe that is not sent is not timed: the control thread held up shows as a gap, whatever Tandem's own counters say
(after a stall it sends the probes it owes back to back, so its counters catch up).
"""

import argparse
import signal
import socket
import struct
import sys
import time

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
SO_TIMESTAMPNS = 35


def is_probe(frame: bytes) -> bool:
    if len(frame) < 14 + 20 or frame[12:14] != b"\x08\x00":
        return False
    ip = frame[14:]
    header = (ip[0] & 0x0F) * 4
    protocol = ip[9]
    if protocol == 1:  # ICMP: echo request
        return len(ip) > header and ip[header] == 8
    if protocol == 17:  # UDP: to the echo port
        return len(ip) >= header + 4 and struct.unpack("!H", ip[header + 2 : header + 4])[0] == 7
    return False


def capture(out_path: str) -> None:
    stop = False

    def on_term(*_):
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    sock.settimeout(0.2)
    print("listening", flush=True)
    with open(out_path, "w") as out:
        while not stop:
            try:
                frame, ancillary, _, address = sock.recvmsg(128, socket.CMSG_SPACE(16))
            except socket.timeout:
                continue
            except InterruptedError:
                continue
            if address[2] != PACKET_OUTGOING or not is_probe(frame):
                continue
            stamp = None
            for level, kind, data in ancillary:
                if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                    seconds, nanoseconds = struct.unpack("qq", data[:16])
                    stamp = seconds + nanoseconds / 1e9
            if stamp is None:
                stamp = time.time()
            out.write("%.6f %s\n" % (stamp, address[0]))
            out.flush()


def report(path: str, start: float, end: float, over_ms: float, interfaces: list[str]) -> None:
    times: dict[str, list[float]] = {name: [] for name in interfaces}
    with open(path) as lines:
        for line in lines:
            parts = line.split()
            try:
                stamp, name = float(parts[0]), parts[1]
            except (IndexError, ValueError):
                continue  # a line cut short when the capture stopped
            if start <= stamp <= end and (not interfaces or name in interfaces):
                times.setdefault(name, []).append(stamp)
    for name in sorted(times):
        stamps = sorted(times[name])
        edges = [start] + stamps + [end]
        gaps = [(b - a, b) for a, b in zip(edges, edges[1:])]
        gap, at = max(gaps, key=lambda pair: pair[0])
        over = sum(1 for g, _ in gaps if g * 1000 > over_ms)
        print("%s probes %d largest-gap-ms %.0f at %.2f over %d" % (name, len(stamps), gap * 1000, at - start, over))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    capture_parser = commands.add_parser("capture")
    capture_parser.add_argument("--out", required=True)
    report_parser = commands.add_parser("report")
    report_parser.add_argument("file")
    report_parser.add_argument("--from", dest="start", type=float, required=True)
    report_parser.add_argument("--to", dest="end", type=float, required=True)
    report_parser.add_argument("--over", type=float, default=60)
    report_parser.add_argument("--interface", action="append", default=[])
    arguments = parser.parse_args()
    if arguments.command == "capture":
        capture(arguments.out)
    else:
        report(arguments.file, arguments.start, arguments.end, arguments.over, arguments.interface)


if __name__ == "__main__":
    sys.exit(main())
