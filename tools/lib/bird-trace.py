#!/usr/bin/env python3
"""Replays a BGP update trace into BIRD 2, time-compressed, for tools/soak.

  bird-trace.py --trace FILE --routes FILE --socket BIRD_CTL --next-hop ADDR... --loop-seconds S --seconds S
                --out FILE.json

The trace has lines `<unix time> <a|w> <prefix> <next hop>` (../shared/data/linx-updates-2014-v4.txt.gz, gzip or
plain; or what `tandem gen-updates` writes). Played at a speed that runs the whole trace in --loop-seconds, and
again from the start as long as --seconds lasts (the routes stay: the next loop's announcements and withdrawals
apply on top, as a BGP session's would). Every --tick seconds (0.5) the updates now due are applied to the table
this script keeps; when it changed, the table is written to --routes (BIRD's static protocol includes it: one
`route PREFIX via NEXT_HOP;` per line, replaced whole by a rename) and `birdc -s BIRD_CTL configure` makes BIRD
apply the difference (its static protocol announces and withdraws only the routes that changed; its kernel
protocol puts them into the kernel table Tandem learns from).

Next hops: the trace's routers (the LINX route servers' peers) are mapped onto --next-hop addresses (the test's
tunnels' next hops), each trace next hop to one of them, by their order of first appearance, so that a trace next hop
change can move a prefix to another tunnel. Prefixes that overlap the test's own ranges (198.18.0.0/15,
2001:db8::/32) and default routes are left out: they would reroute the test's own traffic; so are prefixes BIRD would
not put into the kernel (0/8, loopback, link-local, multicast, reserved), so that its table and the kernel's match.

Ends after --seconds (or at SIGTERM) with a JSON summary in --out: updates applied (announcements, withdrawals),
loops, changes of the table, `birdc configure` runs and failures, routes in the table at the end, the speed.
"""
import argparse
import gzip
import ipaddress
import json
import os
import signal
import subprocess
import sys
import time

OURS = [ipaddress.ip_network("198.18.0.0/15"), ipaddress.ip_network("2001:db8::/32")]
THIS_NETWORK = ipaddress.ip_network("0.0.0.0/8")


def unicast(network):
    """Whether BIRD puts a route to `network` into the kernel: not 0/8, loopback, link-local, multicast or reserved
    (a real BGP trace has none of these; the trace `tandem gen-updates` makes has new /24s anywhere)."""
    return not (network.is_multicast or network.is_reserved or network.is_loopback or network.is_link_local
                or (network.version == 4 and network.subnet_of(THIS_NETWORK)))


def load(path, next_hops):
    """[(offset in seconds from the first update, announce?, prefix, next hop)] and the trace's length in seconds."""
    opener = gzip.open if path.endswith(".gz") else open
    mapping = {}
    updates = []
    first = None
    with opener(path, "rt") as f:
        for line in f:
            fields = line.split()
            if len(fields) != 4 or fields[0].startswith("#"):
                continue
            stamp, kind, prefix, hop = int(fields[0]), fields[1], fields[2], fields[3]
            network = ipaddress.ip_network(prefix, strict=False)
            if network.prefixlen == 0 or any(network.version == o.version and network.overlaps(o) for o in OURS):
                continue
            if not unicast(network):
                continue
            first = stamp if first is None else first
            via = None
            if kind == "a":
                via = mapping.setdefault(hop, next_hops[len(mapping) % len(next_hops)])
            updates.append((stamp - first, kind == "a", str(network), via))
    span = max(updates[-1][0], 1) if updates else 1
    return updates, span


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trace", required=True)
    parser.add_argument("--routes", required=True, help="the file BIRD's static protocol includes")
    parser.add_argument("--socket", required=True, help="BIRD's control socket")
    parser.add_argument("--next-hop", action="append", required=True)
    parser.add_argument("--loop-seconds", type=float, default=60)
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--tick", type=float, default=0.5)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))

    updates, span = load(args.trace, args.next_hop)
    speed = span / args.loop_seconds
    table = {}
    figures = {"updates": 0, "announcements": 0, "withdrawals": 0, "loops": 0, "changes": 0, "configures": 0,
               "configure_failures": 0, "first_failure": None, "trace_updates": len(updates),
               "trace_seconds": span, "speed": round(speed, 1)}
    print(f"bird-trace: {len(updates)} updates over {span} s, played at x{speed:.1f} "
          f"(a loop every {args.loop_seconds:g} s)", flush=True)
    start = time.monotonic()
    index = 0
    loop_start = 0.0  # seconds after start at which the current loop began
    while not stopping and time.monotonic() - start < args.seconds and updates:
        now = time.monotonic() - start
        changed = False
        while True:
            if index == len(updates):
                index = 0
                figures["loops"] += 1
                loop_start += span / speed
            due = loop_start + updates[index][0] / speed
            if due > now:
                break
            _, announce, prefix, via = updates[index]
            index += 1
            figures["updates"] += 1
            if announce:
                figures["announcements"] += 1
                changed |= table.get(prefix) != via
                table[prefix] = via
            else:
                figures["withdrawals"] += 1
                changed |= table.pop(prefix, None) is not None
        if changed:
            figures["changes"] += 1
            temporary = args.routes + ".new"
            with open(temporary, "w") as out:
                out.writelines(f"route {p} via {v};\n" for p, v in table.items())
            os.rename(temporary, args.routes)
            result = subprocess.run(["birdc", "-s", args.socket, "configure"], capture_output=True, text=True)
            figures["configures"] += 1
            if result.returncode != 0 or "Reconfigur" not in result.stdout:
                figures["configure_failures"] += 1
                figures["first_failure"] = figures["first_failure"] or (result.stdout + result.stderr).strip()[:300]
        time.sleep(max(0.0, args.tick - (time.monotonic() - start - now)))
    figures["routes"] = len(table)
    with open(args.out, "w") as out:
        json.dump(figures, out)
    print(f"bird-trace: {json.dumps(figures)}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
