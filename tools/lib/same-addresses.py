#!/usr/bin/env python3
"""Whether two lists of routes hold the same addresses: `ip route show` lines (or bare prefixes) on stdin, the two
lists separated by a line "--". Prints "same", or "different" with each side's count of merged ranges (Python's
collapse_addresses). Tandem's table is aggregated (docs/run.md), so tests compare address ranges, not routes.
Lines that do not start with a prefix or an address (a multipath route's "nexthop" lines, a "default" route) are
skipped."""
import ipaddress
import sys

sides, side = ([], []), 0
for line in sys.stdin:
    word = line.split()[0] if line.split() else ""
    if word == "--":
        side = 1
        continue
    if "." in word or ":" in word:
        sides[side].append(ipaddress.ip_network(word if "/" in word else word + ("/128" if ":" in word else "/32")))
merged = [[list(ipaddress.collapse_addresses([n for n in s if n.version == v])) for v in (4, 6)] for s in sides]
if merged[0] == merged[1]:
    print("same")
else:
    print("different: %d and %d merged ranges" % tuple(sum(map(len, m)) for m in merged))
