#!/usr/bin/env python3
"""A UDP stream with sequence numbers, to watch a failover from the outside.

  udp-stream.py send --to ADDR --port P --rate PPS --seconds S [--flows N] [--source-port-base B]
  udp-stream.py receive --port P --seconds S --out FILE.json [--bind ADDR] [--late-ms MS] [--progress SECONDS]
                        [--max-gaps N]

The sender sends PPS datagrams per second (spread round-robin over N flows: N source ports), each carrying
(flow, sequence number, send time). The receiver records, for every datagram, its flow, sequence number, arrival
time and the interface it came in on (IP_PKTINFO / IPV6_RECVPKTINFO: in the test topology, the interface says
which zone, so which tunnel, carried it), and writes a summary: per flow received, duplicates, missing, the
longest run of missing sequence numbers as an outage in milliseconds (its length x the interval), and the
interfaces seen with their counts and the sequence numbers where a flow changed interface.

A datagram that arrives more than --late-ms (100) after it was sent (sender and receiver share the host's clock in
the test namespaces) is late: held in a queue while its path was down (a neighbour entry waiting for ARP keeps up to
unres_qlen_bytes of packets and sends them when the link returns), it came far too late to count. "outage" is the
longest run of sequence numbers not delivered on time (missing or late), in milliseconds at 1 ms each; "late" and
"max_latency_ms" count them; "gaps" lists the runs not delivered on time (at most --max-gaps, default 200, per
flow: tools/soak's hour with a failover every 30 s has more; each with how many of them came late) and "changes" the
interface changes among the datagrams delivered on time. Changes and gaps carry the sender's wall-clock send times
around them ("sent", "sent_before", "sent_after": seconds since the epoch), so that a failover can be set against the
gateway's event log and the moments a test failed or restored a path.
"""
import argparse
import json
import socket
import struct
import sys
import time

HEADER = struct.Struct("!4sIQd")  # magic, flow, sequence, send time
# Linux's IP_PKTINFO; Python's socket module names it only from 3.12 on.
IP_PKTINFO = getattr(socket, "IP_PKTINFO", 8)
MAGIC = b"TSEQ"


def send(args):
    family = socket.AF_INET6 if ":" in args.to else socket.AF_INET
    sockets = []
    for flow in range(args.flows):
        s = socket.socket(family, socket.SOCK_DGRAM)
        s.bind(("::" if family == socket.AF_INET6 else "0.0.0.0", args.source_port_base + flow))
        sockets.append(s)
    interval = 1.0 / args.rate
    total = int(args.rate * args.seconds)
    start = time.monotonic()
    sequences = [0] * args.flows
    payload_pad = b"\0" * max(0, args.size - HEADER.size)
    for index in range(total):
        flow = index % args.flows
        sequences[flow] += 1
        packet = HEADER.pack(MAGIC, flow, sequences[flow], time.time()) + payload_pad
        try:
            sockets[flow].sendto(packet, (args.to, args.port))
        except OSError:
            pass  # no route for a moment: the datagram is missing at the receiver, which is what we measure
        deadline = start + (index + 1) * interval
        pause = deadline - time.monotonic()
        if pause > 0:
            time.sleep(pause)
    print(json.dumps({"sent": sequences, "interval_ms": interval * 1000 * args.flows}))


def receive(args):
    family = socket.AF_INET6 if ":" in args.bind else socket.AF_INET
    s = socket.socket(family, socket.SOCK_DGRAM)
    if family == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVPKTINFO, 1)
    else:
        s.setsockopt(socket.IPPROTO_IP, IP_PKTINFO, 1)
    s.bind((args.bind, args.port))
    s.settimeout(0.2)
    names = {index: name for index, name in socket.if_nameindex()}
    flows = {}
    start = time.monotonic()
    deadline = start + args.seconds
    progress_at = start + args.progress if args.progress else None
    window = {}
    if args.progress:
        s.settimeout(min(0.2, args.progress / 2))
    while time.monotonic() < deadline:
        if progress_at is not None and time.monotonic() >= progress_at:
            if window or not flows:
                counts = ", ".join(f"{name} {count}" for name, count in sorted(window.items())) or "nothing yet"
                print(f"receiver +{progress_at - start:4.1f} s: {counts} (last {args.progress:g} s)", flush=True)
            window = {}
            progress_at += args.progress
        try:
            data, ancillary, _, _ = s.recvmsg(2048, 256)
        except socket.timeout:
            continue
        if len(data) < HEADER.size or data[:4] != MAGIC:
            continue
        _, flow, sequence, sent = HEADER.unpack_from(data)
        interface = "?"
        for level, kind, value in ancillary:
            if level == socket.IPPROTO_IP and kind == IP_PKTINFO:
                interface = names.get(struct.unpack_from("I", value, 0)[0], "?")
            elif level == socket.IPPROTO_IPV6 and kind == socket.IPV6_PKTINFO:
                interface = names.get(struct.unpack_from("I", value, 16)[0], "?")
        flows.setdefault(flow, []).append((sequence, sent, interface, time.time()))
        window[interface] = window.get(interface, 0) + 1
    summary = summarize(flows, args.late_ms, args.max_gaps)
    with open(args.out, "w") as out:
        json.dump(summary, out, indent=1)


def summarize(flows, late_ms=100, max_gaps=200):
    """The receiver's summary (the module's docstring) of {flow: [(sequence, sent, interface, arrived), ...]}, the
    datagrams in the order they came; sent and arrived in seconds since the epoch."""
    summary = {"flows": {}}
    for flow, records in sorted(flows.items()):
        seen = {}
        sent_at = {}
        latency = {}
        duplicates = 0
        for sequence, sent, interface, arrived in records:
            if sequence in seen:
                duplicates += 1
                continue
            seen[sequence] = interface
            sent_at[sequence] = sent
            latency[sequence] = arrived - sent
        ordered = sorted(seen)
        first, last = ordered[0], ordered[-1]
        missing = (last - first + 1) - len(ordered)
        longest = 0
        longest_after = None
        for a, b in zip(ordered, ordered[1:]):
            if b - a - 1 > longest:
                longest, longest_after = b - a - 1, a
        late_limit = late_ms / 1000
        on_time = [q for q in ordered if latency[q] <= late_limit]
        late = len(ordered) - len(on_time)
        outage, outage_after, gaps = 0, None, []
        for a, b in zip(on_time, on_time[1:]):
            if b - a > 1:
                if b - a - 1 > outage:
                    outage, outage_after = b - a - 1, a
                if len(gaps) < max_gaps:
                    gaps.append({"after": a, "length": b - a - 1,
                                 "late": sum(1 for q in range(a + 1, b) if q in seen),
                                 "sent_before": sent_at[a], "sent_after": sent_at[b]})
        interfaces = {}
        for sequence in ordered:
            interfaces[seen[sequence]] = interfaces.get(seen[sequence], 0) + 1
        changes = []
        previous = None
        for sequence in on_time:
            interface = seen[sequence]
            if previous is not None and interface != previous:
                changes.append({"sequence": sequence, "from": previous, "to": interface, "sent": sent_at[sequence]})
            previous = interface
        summary["flows"][str(flow)] = {
            "received": len(ordered), "first": first, "last": last, "duplicates": duplicates,
            "missing": missing, "longest_gap": longest, "longest_gap_after": longest_after,
            "late": late, "max_latency_ms": round(max(latency.values()) * 1000, 3),
            "outage": outage, "outage_after": outage_after,
            "interfaces": interfaces, "changes": changes, "gaps": gaps,
            "first_sent": sent_at[first], "last_sent": sent_at[last],
        }
    return summary


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    sender = commands.add_parser("send")
    sender.add_argument("--to", required=True)
    sender.add_argument("--port", type=int, default=5555)
    sender.add_argument("--rate", type=float, default=1000)
    sender.add_argument("--seconds", type=float, default=5)
    sender.add_argument("--flows", type=int, default=1)
    sender.add_argument("--source-port-base", type=int, default=40000)
    sender.add_argument("--size", type=int, default=64)
    receiver = commands.add_parser("receive")
    receiver.add_argument("--port", type=int, default=5555)
    receiver.add_argument("--seconds", type=float, default=6)
    receiver.add_argument("--bind", default="0.0.0.0")
    receiver.add_argument("--out", required=True)
    receiver.add_argument("--late-ms", type=float, default=100)
    receiver.add_argument("--max-gaps", type=int, default=200, help="gaps listed per flow, at most")
    receiver.add_argument("--progress", type=float, default=0,
                          help="every this many seconds, print the datagrams per interface since the last line")
    args = parser.parse_args()
    if args.command == "send":
        send(args)
    else:
        receive(args)


if __name__ == "__main__":
    sys.exit(main())
