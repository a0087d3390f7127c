"""Tests of tools/lib/probe-gaps.py: which frames are probes, and the gaps it reports (no root, no network)."""

import contextlib
import io
import os
import struct
import tempfile
import unittest

import toolmodules

probe_gaps = toolmodules.load("probe_gaps", "probe-gaps.py")


def frame(protocol: int, payload: bytes, ethertype: bytes = b"\x08\x00") -> bytes:
    ip = bytes([0x45, 0]) + struct.pack("!H", 20 + len(payload)) + bytes(5) + bytes([protocol]) + bytes(10)
    return bytes(12) + ethertype + ip + payload


class IsProbe(unittest.TestCase):
    def test_icmp_echo_request(self):
        self.assertTrue(probe_gaps.is_probe(frame(1, bytes([8, 0]) + bytes(6))))

    def test_icmp_echo_reply_is_not(self):
        self.assertFalse(probe_gaps.is_probe(frame(1, bytes([0, 0]) + bytes(6))))

    def test_udp_to_the_echo_port(self):
        self.assertTrue(probe_gaps.is_probe(frame(17, struct.pack("!HHHH", 40000, 7, 8, 0))))
        self.assertFalse(probe_gaps.is_probe(frame(17, struct.pack("!HHHH", 7, 40000, 8, 0))))

    def test_not_ipv4(self):
        self.assertFalse(probe_gaps.is_probe(frame(1, bytes([8, 0]) + bytes(6), ethertype=b"\x86\xdd")))
        self.assertFalse(probe_gaps.is_probe(b"\x00" * 10))


class Report(unittest.TestCase):
    def report(self, lines, start, end, over=60, interfaces=()):
        with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as out:
            out.write("".join(lines))
        try:
            text = io.StringIO()
            with contextlib.redirect_stdout(text):
                probe_gaps.report(out.name, start, end, over, list(interfaces))
            return text.getvalue().splitlines()
        finally:
            os.unlink(out.name)

    def test_regular_probes(self):
        lines = ["%.6f gw-a\n" % (100 + i * 0.02) for i in range(51)]
        [line] = self.report(lines, 100.0, 101.0)
        self.assertRegex(line, r"^gw-a probes 51 largest-gap-ms 20 at [01]\.[0-9]{2} over 0$")

    def test_a_stall_in_the_middle(self):
        stamps = [100.0, 100.02, 100.04, 100.54, 100.56]
        lines = ["%.6f gw-a\n" % t for t in stamps]
        self.assertEqual(self.report(lines, 100.0, 100.56), ["gw-a probes 5 largest-gap-ms 500 at 0.54 over 1"])

    def test_silence_at_the_end_counts(self):
        lines = ["100.000000 gw-a\n", "100.020000 gw-a\n"]
        self.assertEqual(self.report(lines, 100.0, 101.0), ["gw-a probes 2 largest-gap-ms 980 at 1.00 over 1"])

    def test_outside_the_window_and_other_interfaces(self):
        lines = ["99.000000 gw-a\n", "100.010000 gw-a\n", "100.015000 gw-b\n", "bad line\n"]
        self.assertEqual(
            self.report(lines, 100.0, 100.02, interfaces=["gw-a"]), ["gw-a probes 1 largest-gap-ms 10 at 0.01 over 0"])

    def test_an_interface_without_probes(self):
        self.assertEqual(self.report([], 100.0, 100.5, interfaces=["gw-b"]),
                         ["gw-b probes 0 largest-gap-ms 500 at 0.50 over 1"])


if __name__ == "__main__":
    unittest.main()
