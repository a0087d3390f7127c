#!/usr/bin/env python3
"""A UDP stream with sequence numbers, to watch a failover from the outside.

  udp-stream.py send --to ADDR --port P --rate PPS --seconds S [--flows N] [--source-port-base B]
  udp-stream.py receive --port P --seconds S --out FILE.json [--bind ADDR]

The sender sends PPS datagrams per second (spread round-robin over N flows: N source ports), each carrying
(flow, sequence number, send time). The receiver records, for every datagram, its flow, sequence number, arrival
time and the interface it came in on (IP_PKTINFO / IPV6_RECVPKTINFO: in the test topology, the interface says
which zone, so which tunnel, carried it), and writes a summary: per flow received, duplicates, missing, the
longest run of missing sequence numbers as an outage in milliseconds (its length x the interval), and the
interfaces seen with their counts and the sequence numbers where a flow changed interface.
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
    deadline = time.monotonic() + args.seconds
    while time.monotonic() < deadline:
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
        flows.setdefault(flow, []).append((sequence, time.monotonic(), interface))
    summary = {"flows": {}}
    for flow, records in sorted(flows.items()):
        seen = {}
        duplicates = 0
        for sequence, _, interface in records:
            if sequence in seen:
                duplicates += 1
            seen[sequence] = interface
        ordered = sorted(seen)
        first, last = ordered[0], ordered[-1]
        missing = (last - first + 1) - len(ordered)
        longest = 0
        longest_after = None
        for a, b in zip(ordered, ordered[1:]):
            if b - a - 1 > longest:
                longest, longest_after = b - a - 1, a
        interfaces = {}
        changes = []
        previous = None
        for sequence in ordered:
            interface = seen[sequence]
            interfaces[interface] = interfaces.get(interface, 0) + 1
            if previous is not None and interface != previous:
                changes.append({"sequence": sequence, "from": previous, "to": interface})
            previous = interface
        summary["flows"][str(flow)] = {
            "received": len(ordered), "first": first, "last": last, "duplicates": duplicates,
            "missing": missing, "longest_gap": longest, "longest_gap_after": longest_after,
            "interfaces": interfaces, "changes": changes,
        }
    with open(args.out, "w") as out:
        json.dump(summary, out, indent=1)


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
    args = parser.parse_args()
    if args.command == "send":
        send(args)
    else:
        receive(args)


if __name__ == "__main__":
    sys.exit(main())
