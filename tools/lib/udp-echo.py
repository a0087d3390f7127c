#!/usr/bin/env python3
"""A UDP echo service (RFC 862) for health-check probes in the test namespaces.

  udp-echo.py [--port 7]

Sends every datagram that arrives on the port, over IPv4 or IPv6, back to where it came from, unchanged, until
it is stopped (SIGTERM). One socket per family, bound to the wildcard address; the answer leaves from the
address the probe was sent to (the kernel picks it: the probe's destination is a local address of this host).
"""
import argparse
import select
import signal
import socket
import sys


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=7)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    sockets = []
    v4 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    v4.bind(("0.0.0.0", args.port))
    sockets.append(v4)
    v6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    v6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    v6.bind(("::", args.port))
    sockets.append(v6)
    print(f"udp-echo: listening on port {args.port} (IPv4 and IPv6)", flush=True)
    while True:
        readable, _, _ = select.select(sockets, [], [])
        for s in readable:
            try:
                data, peer = s.recvfrom(65535)
                s.sendto(data, peer)
            except OSError:
                pass


if __name__ == "__main__":
    sys.exit(main())
