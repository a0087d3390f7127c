"""Tests of tools/lib/failover-analysis.py: what "outage" means, and the failover, backup, flap and ecmp verdicts.

No root, no network: each test builds the datagrams a receiver would have seen, summarizes them with
tools/lib/udp-stream.py's own `summarize` (so the summaries have the shape the receiver writes), writes the summary
and a Tandem event log ("tandem: event: {...}" lines) into a temporary directory, and runs the analysis's command
line in-process. Run: python3 -m unittest discover -s tools/lib -p 'test_*.py' (tools/test does).
"""
import contextlib
import datetime
import io
import json
import os
import tempfile
import unittest

import toolmodules

analysis = toolmodules.load("failover_analysis", "failover-analysis.py")
udp_stream = toolmodules.load("udp_stream", "udp-stream.py")

T0 = 1_800_000_000.0  # the stream's start, seconds since the epoch
MS = 0.001


def stream(count, interface, lost=(), late=None, flow=0, flows=1, duplicates=()):
    """The datagrams of one flow as the receiver records them: (sequence, sent, interface, arrived).

    The sender sends one datagram every ms, round-robin over `flows` flows; datagram `sequence` (from 1) of this flow
    is sent at T0 + ((sequence - 1) * flows + flow) ms. interface(sent) names the interface it arrives on; `lost`
    holds the sequence numbers that never arrive; late[sequence] the delay (s) of those that arrive late (others
    take 0.2 ms); `duplicates` the sequence numbers that arrive twice."""
    late = late or {}
    records = []
    for sequence in range(1, count + 1):
        if sequence in lost:
            continue
        sent = T0 + ((sequence - 1) * flows + flow) * MS
        record = (sequence, sent, interface(sent), sent + late.get(sequence, 0.0002))
        records.append(record)
        if sequence in duplicates:
            records.append(record)
    return records


def at(seconds):
    """Wall time `seconds` after the stream's start."""
    return T0 + seconds


def path(*moves, start="cl-a"):
    """interface(sent): `start`, then each (seconds, interface) from that moment on."""
    def interface(sent):
        current = start
        for seconds, name in moves:
            if sent >= at(seconds):
                current = name
        return current
    return interface


def seqs(start_s, end_s):
    """The sequence numbers of flow 0 (1 flow) sent from start_s (inclusive) to end_s (exclusive) seconds in."""
    return range(round(start_s * 1000) + 1, round(end_s * 1000) + 1)


def event(seconds, name, tunnel="a1", **fields):
    time = datetime.datetime.fromtimestamp(at(seconds), datetime.timezone.utc)
    body = {"time": time.strftime("%Y-%m-%dT%H:%M:%S.") + f"{time.microsecond // 1000:03d}Z", "event": name,
            "connection": "to-cloud", "tunnel": tunnel, "role": "active", "reason": "test", **fields,
            "probes": {"sent": 10, "answered": 7, "lost": 3, "late": 0, "last_rtt_ms": 0.1, "mean_rtt_ms": 0.1,
                       "loss": 0.3}}
    return "tandem: event: " + json.dumps(body, separators=(",", ":"))


class AnalysisTest(unittest.TestCase):
    def setUp(self):
        self.directory = tempfile.TemporaryDirectory()
        self.addCleanup(self.directory.cleanup)

    def path(self, name):
        return os.path.join(self.directory.name, name)

    def summary(self, flows, name="summary.json"):
        """Writes udp-stream.py's summary of {flow: records}; returns its path."""
        with open(self.path(name), "w") as f:
            json.dump(udp_stream.summarize(flows), f)
        return self.path(name)

    def log(self, *lines, name="tandem.log"):
        with open(self.path(name), "w") as f:
            f.write("tandem: ready (test)\n" + "".join(line + "\n" for line in lines))
        return self.path(name)

    def run_analysis(self, *argv):
        """The analysis's output lines as (kind, text)."""
        out = io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
            analysis.main([str(a) for a in argv])
        return [tuple(line.split(" ", 1)) for line in out.getvalue().splitlines() if line]

    def failures(self, lines):
        return [text for kind, text in lines if kind == "FAIL"]

    def assertAllPass(self, lines, minimum):
        self.assertEqual(self.failures(lines), [], "\n".join(" ".join(line) for line in lines))
        self.assertGreaterEqual(sum(1 for kind, _ in lines if kind == "PASS"), minimum)
        self.assertTrue(all(kind in ("PASS", "INFO") for kind, _ in lines), lines)

    def assertFails(self, lines, fragment):
        failures = self.failures(lines)
        self.assertTrue(any(fragment in text for text in failures),
                        f"no FAIL containing {fragment!r}; got:\n" + "\n".join(" ".join(line) for line in lines))


class OutageTest(AnalysisTest):
    """`outage`: the figure bench-failover publishes."""

    def outage(self, records, sent=None):
        argv = ["outage", self.summary({0: records} if records else {})]
        if sent is not None:
            argv += ["--sent", str(sent)]
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            analysis.main(argv)
        return out.getvalue().strip()

    def test_nothing_received_and_no_sender_count_is_none(self):
        self.assertEqual(self.outage([]), "none")

    def test_nothing_received_is_the_whole_stream_when_the_sender_count_is_known(self):
        self.assertEqual(self.outage([], sent=2000), ">2000")

    def test_no_outage(self):
        self.assertEqual(self.outage(stream(2000, path()), sent=2000), "0")

    def test_a_gap(self):
        records = stream(2000, path((0.8, "cl-b")), lost=set(seqs(0.8, 0.87)))
        self.assertEqual(self.outage(records, sent=2000), "70")

    def test_the_longest_of_two_gaps(self):
        records = stream(2000, path(), lost=set(seqs(0.5, 0.53)) | set(seqs(1.0, 1.09)))
        self.assertEqual(self.outage(records, sent=2000), "90")

    def test_late_datagrams_count_as_missing(self):
        # 30 lost, then 40 that were queued on the failed path and came 300 ms late: a 70 ms outage.
        late = {s: 0.3 for s in seqs(0.83, 0.87)}
        records = stream(2000, path((0.87, "cl-b")), lost=set(seqs(0.8, 0.83)), late=late)
        self.assertEqual(self.outage(records, sent=2000), "70")

    def test_datagrams_up_to_100_ms_late_are_on_time(self):
        late = {s: 0.099 for s in seqs(0.8, 0.87)}
        self.assertEqual(self.outage(stream(2000, path(), late=late), sent=2000), "0")

    def test_a_trailing_gap_is_a_lower_bound(self):
        # The traffic never came back: the last 1200 datagrams never arrived; the receiver alone cannot see it.
        records = stream(2000, path(), lost=set(seqs(0.8, 2.0)))
        self.assertEqual(self.outage(records), "0")
        self.assertEqual(self.outage(records, sent=2000), ">1200")

    def test_a_short_trailing_gap_longer_than_the_outage_counts(self):
        # 20 ms outage in the stream, then the last 30 datagrams missing: the longest run is 30, at least.
        records = stream(2000, path(), lost=set(seqs(0.8, 0.82)) | set(seqs(1.97, 2.0)))
        self.assertEqual(self.outage(records, sent=2000), ">30")

    def test_a_trailing_gap_shorter_than_the_outage_does_not_change_it(self):
        records = stream(2000, path(), lost=set(seqs(0.8, 0.87)) | set(seqs(1.99, 2.0)))
        self.assertEqual(self.outage(records, sent=2000), "70")

    def background(self, records):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            analysis.main(["background", self.summary({0: records} if records else {})])
        return out.getvalue().strip()

    def test_background_is_the_longest_gap_but_the_outage(self):
        records = stream(2000, path((0.8, "cl-b")),
                         lost=set(seqs(0.3, 0.304)) | set(seqs(0.5, 0.512)) | set(seqs(0.8, 0.87)))
        self.assertEqual(self.outage(records, sent=2000), "70")
        self.assertEqual(self.background(records), "12")

    def test_background_without_other_loss_is_0(self):
        records = stream(2000, path((0.8, "cl-b")), lost=set(seqs(0.8, 0.87)))
        self.assertEqual(self.background(records), "0")

    def test_background_of_nothing_received_is_none(self):
        self.assertEqual(self.background([]), "none")

    def test_an_unreadable_summary_prints_no_figure_and_exits_1(self):
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = analysis.main(["outage", self.path("missing.json")])
        self.assertEqual((out.getvalue(), status), ("", 1))
        self.assertIn("cannot read", err.getvalue())


class EventsTest(AnalysisTest):
    def test_events_parses_event_lines_only_and_filters_by_time(self):
        log = self.log("tandem: warning: not an event", event(1.06, "healthDown"),
                       'tandem: event: {"time":"not a time","event":"healthUp"}', "tandem: event: {broken json",
                       event(2.0, "healthUp"))
        found = analysis.events(log)
        self.assertEqual([e["event"] for e in found], ["healthDown", "healthUp"])
        self.assertAlmostEqual(found[0]["t"], at(1.06), places=3)
        self.assertEqual([e["event"] for e in analysis.events(log, since=at(1.5))], ["healthUp"])
        self.assertEqual(analysis.events(self.path("no-such.log")), [])


class FailoverTest(AnalysisTest):
    """a1 fails 1.0 s into a 4 s stream and comes back at 2.0 s; bound 100 ms, preempt 500 ms, up 60 ms."""

    def verdict(self, records, log_lines, sent=4000):
        summary = self.summary({0: records} if records else {})
        log = self.log(*log_lines)
        return self.run_analysis("failover", summary, "--log", log, "--what", "test", "--tunnel", "a1",
                                 "--home", "cl-a", "--away", "cl-b", "--broken", at(1.0), "--restored", at(2.0),
                                 "--bound-ms", 100, "--preempt-ms", 500, "--up-ms", 60, "--sent", sent)

    GOOD_LOG = (event(1.06, "healthDown"), event(1.061, "selectionChanged", **{"from": "a1", "to": "a2"}),
                event(2.06, "healthUp"), event(2.56, "selectionChanged", **{"from": "a2", "to": "a1"}))

    def good_records(self, **changes):
        options = dict(lost=set(seqs(1.0, 1.07)))
        options.update(changes)
        return stream(4000, path((1.07, "cl-b"), (2.56, "cl-a")), **options)

    def test_a_failover_within_the_bound_that_comes_back_after_the_preempt_delay_passes(self):
        self.assertAllPass(self.verdict(self.good_records(), self.GOOD_LOG), minimum=8)

    def test_an_outage_over_the_bound_fails(self):
        records = stream(4000, path((1.15, "cl-b"), (2.56, "cl-a")), lost=set(seqs(1.0, 1.15)))
        self.assertFails(self.verdict(records, self.GOOD_LOG), "outage 150 ms")

    def test_no_failback_fails(self):
        records = stream(4000, path((1.07, "cl-b")), lost=set(seqs(1.0, 1.07)))
        self.assertFails(self.verdict(records, self.GOOD_LOG[:2]), "interface changes at the receiver")

    def test_a_failback_before_the_preempt_delay_fails(self):
        records = stream(4000, path((1.07, "cl-b"), (2.1, "cl-a")), lost=set(seqs(1.0, 1.07)))
        lines = self.verdict(records, self.GOOD_LOG[:3] + (
            event(2.1, "selectionChanged", **{"from": "a2", "to": "a1"}),))
        self.assertFails(lines, "failback to cl-a 100 ms after the path came back")
        self.assertFails(lines, "log: healthUp a1 then selectionChanged -> a1 40 ms later")

    def test_loss_at_the_failback_fails(self):
        lines = self.verdict(self.good_records(lost=set(seqs(1.0, 1.07)) | set(seqs(2.56, 2.58))), self.GOOD_LOG)
        self.assertFails(lines, "no loss at the failback: missing 20")
        self.assertFails(lines, "datagrams lost or late outside the outage: 20")

    def test_a_stream_that_stops_arriving_after_the_failback_fails(self):
        # Home again at 2.56 s, then nothing: the receiver's gaps cannot show it, the sender's count does.
        records = self.good_records(lost=set(seqs(1.0, 1.07)) | set(seqs(2.6, 4.0)))
        lines = self.verdict(records, self.GOOD_LOG)
        self.assertFails(lines, "no loss at the failback: missing the last 1400 sent")
        self.assertFails(lines, "datagrams lost or late outside the outage: 1400 (of 4000)")
        # Without the sender's count, as before (the caller did not say how many were sent).
        self.assertAllPass(self.verdict(records, self.GOOD_LOG, sent=0), minimum=8)

    def test_duplicates_fail(self):
        lines = self.verdict(self.good_records(duplicates={3000}), self.GOOD_LOG)
        self.assertFails(lines, "datagrams delivered twice: 1")

    def test_missing_events_fail(self):
        lines = self.verdict(self.good_records(), ())
        self.assertFails(lines, "log: healthDown of a1 and selectionChanged a1 -> ?")
        self.assertFails(lines, "log: no healthUp of a1")

    def test_nothing_received_fails(self):
        lines = self.verdict([], self.GOOD_LOG)
        self.assertEqual(lines, [("FAIL", "test: the receiver got no datagram")])

    def test_an_unreadable_summary_is_one_fail(self):
        lines = self.run_analysis("failover", self.path("missing.json"), "--log", self.path("x"), "--what", "test",
                                  "--tunnel", "a1", "--home", "cl-a", "--away", "cl-b", "--broken", 1, "--restored",
                                  2, "--bound-ms", 100, "--preempt-ms", 500)
        self.assertEqual(len(lines), 1)
        self.assertFails(lines, "cannot read the results")


class BackupTest(AnalysisTest):
    """Both tunnels fail 1.0 s into a 4 s stream; a1 returns at 2.5 s; bound 100 ms."""

    def verdict(self, records, sent=4000):
        return self.run_analysis("backup", self.summary({0: records}), "--log", self.log(), "--what", "test",
                                 "--home", "cl-a", "--backup", "cl-b2", "--broken", at(1.0), "--restored", at(2.5),
                                 "--bound-ms", 100, "--sent", sent)

    def test_the_backup_carries_the_traffic_and_it_comes_home_passes(self):
        records = stream(4000, path((1.08, "cl-b2"), (3.1, "cl-a")), lost=set(seqs(1.0, 1.08)))
        self.assertAllPass(self.verdict(records), minimum=6)

    def test_no_backup_fails(self):
        # Nothing arrives while both tunnels are down; then the traffic is home again.
        records = stream(4000, path(), lost=set(seqs(1.0, 2.6)))
        lines = self.verdict(records)
        self.assertFails(lines, "outage 1600 ms when both tunnels failed")
        self.assertFails(lines, "interface changes: none")
        self.assertFails(lines, "0 datagrams arrived through the backup connection")

    def test_the_backup_before_the_failure_fails(self):
        records = stream(4000, path((0.5, "cl-b2"), (3.1, "cl-a")))
        self.assertFails(self.verdict(records), "the move to the backup came -500 ms after both tunnels failed")

    def test_a_stream_that_stops_arriving_after_coming_home_fails(self):
        records = stream(4000, path((1.08, "cl-b2"), (3.1, "cl-a")), lost=set(seqs(1.0, 1.08)) | set(seqs(3.2, 4.0)))
        self.assertFails(self.verdict(records), "no loss when the traffic came home from the backup; the last 800")


class FlapTest(AnalysisTest):
    """a1 flaps from 1.0 s to 4.2 s of a 5 s stream, damping after 3 flaps."""

    def verdict(self, records, log_lines, sent=5000):
        return self.run_analysis("flap", self.summary({0: records}), "--log", self.log(*log_lines), "--what", "test",
                                 "--tunnel", "a1", "--home", "cl-a", "--away", "cl-b", "--flap-start", at(1.0),
                                 "--flap-end", at(4.2), "--flaps", 3, "--sent", sent)

    # Three times away and back, then away for good when a1 is held down at 2.3 s.
    MOVES = ((1.07, "cl-b"), (1.3, "cl-a"), (1.47, "cl-b"), (1.7, "cl-a"), (1.87, "cl-b"), (2.1, "cl-a"),
             (2.27, "cl-b"))
    LOG = (event(1.06, "healthDown"), event(1.46, "healthDown"), event(1.86, "healthDown"),
           event(2.26, "healthDown"), event(2.265, "heldDown", held_for_ms=5000))

    def test_damping_holds_the_traffic_away_passes(self):
        self.assertAllPass(self.verdict(stream(5000, path(*self.MOVES)), self.LOG), minimum=5)

    def test_a_move_after_the_hold_down_fails(self):
        lines = self.verdict(stream(5000, path(*self.MOVES, (2.5, "cl-a"))), self.LOG)
        self.assertFails(lines, "no move later than 50 ms after heldDown")
        self.assertFails(lines, "the traffic stays on cl-b to the end of the stream (last interface: cl-a)")

    def test_no_held_down_event_fails(self):
        self.assertFails(self.verdict(stream(5000, path(*self.MOVES)), self.LOG[:4]),
                         "log: heldDown of a1 missing (4 healthDown events)")

    def test_too_many_moves_fail(self):
        moves = self.MOVES + ((2.5, "cl-a"), (2.67, "cl-b"))
        lines = self.verdict(stream(5000, path(*moves)), self.LOG[:4] + (event(2.665, "heldDown"),))
        self.assertFails(lines, "9 interface changes at the receiver (at most 7)")

    def test_a_stream_that_stops_arriving_fails(self):
        lines = self.verdict(stream(5000, path(*self.MOVES), lost=set(seqs(3.0, 5.0))), self.LOG)
        self.assertFails(lines, "(last interface: cl-b; the last 2000 of 5000 datagrams sent never came)")


class EcmpTest(AnalysisTest):
    """32 flows over four paths (flow f starts on PATHS[f % 4]); cl-a fails at 1.5 s, comes back at 2.5 s."""

    PATHS = ("cl-a", "cl-b", "cl-a2", "cl-b2")

    def verdict(self, interfaces, lost=None):
        """interfaces(flow) -> interface(sent) of that flow; lost(flow) -> its lost sequence numbers."""
        flows = {f: stream(125, interfaces(f), lost=(lost(f) if lost else ()), flow=f, flows=32) for f in range(32)}
        return self.run_analysis("ecmp", self.summary(flows), "--what", "test", "--failed", "cl-a", "--flows", 32,
                                 "--broken", at(1.5), "--restored", at(2.5))

    def moved(self, f, also=()):
        start = self.PATHS[f % 4]
        if start == "cl-a":
            return path((1.6, "cl-b2" if f % 8 else "cl-b"), start=start)
        if f in also:
            return path((1.6, "cl-a2"), start=start)
        return path(start=start)

    @staticmethod
    def lost(f):
        # Each flow sends every 32 ms: a moved flow misses its datagrams from 1.5 s to 1.6 s.
        return set(range(48, 51)) if f % 4 == 0 else set()

    def test_only_the_failed_paths_flows_move_passes(self):
        lines = self.verdict(self.moved, self.lost)
        self.assertAllPass(lines, minimum=6)
        self.assertIn(("PASS", "test: flows of the failed connection that moved once to another path: 8 of 8"), lines)

    def test_another_paths_flow_moving_fails(self):
        lines = self.verdict(lambda f: self.moved(f, also={1}), self.lost)
        self.assertFails(lines, "flows of the other connections that kept their path: 23 of 24; flow 1 (on cl-b): "
                                "cl-b->cl-a2")

    def test_a_failed_flow_that_does_not_move_fails(self):
        def interfaces(f):
            return path(start="cl-a") if f == 0 else self.moved(f)
        self.assertFails(self.verdict(interfaces, self.lost),
                         "flows of the failed connection that moved once to another path: 7 of 8")

    def test_a_path_without_flows_fails(self):
        lines = self.verdict(lambda f: path(start=self.PATHS[f % 4] if f % 4 != 3 else "cl-b"))
        self.assertFails(lines, "flows per path before the failure: cl-a 8, cl-a2 8, cl-b 16 (all four paths")


if __name__ == "__main__":
    unittest.main()
