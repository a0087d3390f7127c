"""Tests of tools/lib/soak-analysis.py: which losses fall in a failover window, memory and descriptor growth, and the
verdicts of a whole soak's files.

No root, no network: each test writes what tools/soak would have written (the receiver's summary through
tools/lib/udp-stream.py's own `summarize`, Tandem's event lines, the samples, the loops' lines) into a temporary
directory and runs the analysis in-process. Run: python3 -m unittest discover -s tools/lib -p 'test_*.py'.
"""
import contextlib
import datetime
import io
import json
import os
import pathlib
import tempfile
import unittest

import toolmodules

soak = toolmodules.load("soak_analysis", "soak-analysis.py")
udp_stream = toolmodules.load("udp_stream", "udp-stream.py")

T0 = 1_800_000_000.0
SECONDS = 180


def event(seconds, name, **fields):
    time = datetime.datetime.fromtimestamp(T0 + seconds, datetime.timezone.utc)
    body = {"time": time.strftime("%Y-%m-%dT%H:%M:%S.") + f"{time.microsecond // 1000:03d}Z", "event": name,
            "connection": "to-cloud", "tunnel": "a1", "reason": "test", **fields}
    return "tandem: event: " + json.dumps(body, separators=(",", ":"))


class SoakTest(unittest.TestCase):
    """A 180 s soak: a1 broken at 13 s past each half minute for 4 s (the traffic leaves it 300 ms after the break
    and comes back 900 ms after the restore), a SIGHUP every 10 s; by default nothing else is lost."""

    def setUp(self):
        self.directory = tempfile.TemporaryDirectory()
        self.addCleanup(self.directory.cleanup)
        self.flaps = [13 + 30 * k for k in range(6)]
        self.reloads = list(range(10, SECONDS, 10))
        self.lost = set()
        for broken in self.flaps:
            self.lost.update(range(broken * 1000 + 1, broken * 1000 + 300))
        self.rss = lambda seconds: 50_000 + min(seconds, 60) * 100   # grows during the first minute only
        self.fds = lambda seconds: 40
        self.show_lines = ["OK show-status 0.010"] * 100
        self.dead_at = None
        self.silent_flaps = set()   # flaps Tandem logs no selectionChanged for
        self.refused_reloads = 0    # SIGHUPs with no "reloaded" line

    def path(self, name):
        return os.path.join(self.directory.name, name)

    def write(self, name, text):
        with open(self.path(name), "w") as f:
            f.write(text)
        return self.path(name)

    def run_soak(self):
        sent = SECONDS * 1000
        records = [(q, T0 + (q - 1) / 1000, "cl-a", T0 + (q - 1) / 1000 + 0.0002)
                   for q in range(1, sent + 1) if q not in self.lost]
        self.write("stream.json", json.dumps(udp_stream.summarize({0: records}, 1000, 100000)))
        self.write("flaps.txt", "".join(f"{k} blackhole {T0 + b} {T0 + b + 4}\n" for k, b in enumerate(self.flaps)))
        self.write("reloads.txt", "".join(f"{T0 + r}\n" for r in self.reloads))
        log = ["tandem: ready (test)"]
        for broken in self.flaps:
            if broken in self.silent_flaps:
                continue
            log.append(event(broken + 0.3, "selectionChanged", **{"from": "a1", "to": "a2"}))
            log.append(event(broken + 4.9, "selectionChanged", **{"from": "a2", "to": "a1"}))
        log += ["tandem: reloaded: 3 tunnel(s)"] * (len(self.reloads) - self.refused_reloads)
        self.write("tandem.log", "\n".join(log) + "\n")
        self.write("samples.csv", "seconds,rss_kb,fds,threads\n" + "".join(
            f"{t},{self.rss(t)},{self.fds(t)},5\n" for t in range(0, SECONDS, 5))
            + (f"{self.dead_at},dead,,\n" if self.dead_at else ""))
        self.write("show.txt", "\n".join(self.show_lines) + "\n")
        self.write("scrape.txt", "OK metrics 9000\n" * 90)
        self.write("iperf3.json", json.dumps({"end": {"sum_received": {"bytes": 2e9, "bits_per_second": 9e7,
                                                                        "seconds": 178},
                                                      "sum_sent": {"retransmits": 3}}}))
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            soak.main(["--summary", self.path("stream.json"), "--sent", str(sent), "--flaps", self.path("flaps.txt"),
                       "--reloads", self.path("reloads.txt"), "--log", self.path("tandem.log"),
                       "--samples", self.path("samples.csv"), "--show", self.path("show.txt"),
                       "--scrape", self.path("scrape.txt"), "--iperf", self.path("iperf3.json"),
                       "--figures", self.path("figures.json")])
        self.figures = json.loads(pathlib.Path(self.path("figures.json")).read_text())
        return [tuple(line.split(" ", 1)) for line in out.getvalue().splitlines() if line]

    def failures(self, lines):
        return [text for kind, text in lines if kind == "FAIL"]

    def test_a_clean_soak_passes(self):
        lines = self.run_soak()
        self.assertEqual(self.failures(lines), [], "\n".join(" ".join(line) for line in lines))
        self.assertEqual(self.figures["stream"]["lost_in_windows"], 6 * 299)
        self.assertEqual(self.figures["stream"]["lost_outside_windows"], 0)
        self.assertEqual(self.figures["rss_kb"]["after_first_minute"], 56_000)
        self.assertEqual(self.figures["reloads"], {"sighups": 17, "reloaded": 17, "refused": 0})

    def test_a_loss_at_a_reload_fails(self):
        self.lost.update(range(40_001, 40_011))   # 10 datagrams just after the SIGHUP at 40 s
        failures = self.failures(self.run_soak())
        self.assertTrue(any("outside failover windows: 10 of" in f and "0.00 s from a SIGHUP" in f for f in failures),
                        failures)

    def test_a_loss_at_the_failback_fails(self):
        self.lost.update(range(17_901, 17_905))   # the failback of the first flap is at 17.9 s
        self.assertTrue(any("outside failover windows: 4 of" in f for f in self.failures(self.run_soak())))

    def test_a_loss_after_the_window_fails(self):
        # The traffic left a1 at 13.3 s (+ 100 ms of slack): datagrams lost until 13.6 s are not the failover's.
        self.lost.update(range(13_300, 13_601))
        self.assertTrue(any("outside failover windows" in f for f in self.failures(self.run_soak())))

    def test_the_last_datagrams_missing_fail(self):
        self.lost.update(range(SECONDS * 1000 - 49, SECONDS * 1000 + 1))
        self.assertTrue(any("the last 50" in f for f in self.failures(self.run_soak())))

    def test_memory_growing_after_the_first_minute_fails(self):
        self.rss = lambda seconds: 50_000 + seconds * 100   # 56 MB at 1 min, 67.5 MB at the end
        failures = self.failures(self.run_soak())
        self.assertTrue(any(f.startswith("resident memory") for f in failures), failures)

    def test_one_descriptor_more_in_a_sample_passes_but_a_leak_fails(self):
        self.fds = lambda seconds: 41 if seconds == 100 else 40
        self.assertEqual(self.failures(self.run_soak()), [])
        self.fds = lambda seconds: 40 + seconds // 30   # one a flap
        self.assertTrue(any(f.startswith("open descriptors") for f in self.failures(self.run_soak())))

    def test_a_flap_without_failover_fails(self):
        self.silent_flaps.add(163)   # the last flap: broken, the traffic stays on a1 and is lost
        self.lost.update(range(163_001, 167_001))
        failures = self.failures(self.run_soak())
        self.assertTrue(any("made a failover: 5 of 6" in f for f in failures), failures)

    def test_a_refused_reload_or_a_failed_show_fails(self):
        self.show_lines.append("FAIL show-tunnels status 1: error: timeout")
        self.refused_reloads = 1
        failures = self.failures(self.run_soak())
        self.assertTrue(any("SIGHUPs sent 17, 'tandem: reloaded' lines 16" in f for f in failures), failures)
        self.assertTrue(any(f.startswith("`tandem show` answers: 100 of 101") for f in failures), failures)

    def test_tandem_gone_fails(self):
        self.dead_at = 178
        self.assertTrue(any(f.startswith("tandem run alive through the soak") for f in self.failures(self.run_soak())))

if __name__ == "__main__":
    unittest.main()
