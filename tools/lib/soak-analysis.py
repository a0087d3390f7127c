#!/usr/bin/env python3
"""Verdicts on a soak (tools/soak): "PASS text", "FAIL text" and "INFO text" lines for the harness's `verdicts`, and
the figures of the summary as JSON (--figures).

  soak-analysis.py --summary RECV.json --sent N --flaps FLAPS --reloads RELOADS --log TANDEM_LOG --samples SAMPLES.csv
                   --show SHOW.txt --scrape SCRAPE.txt --iperf IPERF.json --figures OUT.json [--tunnel a1]
                   [--growth 5] [--baseline-at 60] [--window 15] [--slack-ms 100]

Inputs, all written by tools/soak:
  RECV.json     tools/lib/udp-stream.py's receiver summary of the 1000 pps stream (flow 0); N: datagrams sent.
  FLAPS         a line per flap of the active tunnel: "INDEX KIND BROKEN RESTORED" (KIND link|blackhole; wall times).
  RELOADS       a line per SIGHUP sent: its wall time.
  TANDEM_LOG    `tandem run`'s standard error ("tandem: event: {...}" lines, "tandem: reloaded: ...").
  SAMPLES.csv   "seconds,rss_kb,fds,threads": Tandem's resident memory, open descriptors and threads every few
                seconds, seconds counted from the moment it was ready; rss_kb "dead" once it is gone.
  SHOW.txt, SCRAPE.txt   a line per `tandem show` / metrics scrape: "OK WHAT SECONDS" or "FAIL WHAT DETAIL".
  IPERF.json    iperf3 -J's output of the TCP client.

Failover windows: a flap's window runs from the moment the path broke to Tandem's selectionChanged event away from
the tunnel (its traffic is on another path from then on) plus --slack-ms (datagrams already inside Tandem's queues
and the kernel's). Every datagram missing (or later than the receiver's --late-ms) is counted in a window when its
whole gap lies in one, else outside; outside must be 0: a SIGHUP, the failback, `show`, a scrape and the BIRD trace
must cost nothing. A flap without a selectionChanged away from the tunnel is a FAIL (the failover did not happen).

Memory and descriptors: the value after the first minute (the median of the samples in [--baseline-at,
--baseline-at + --window) s: start-up, the first loop of the trace and the first reloads are behind) against the
value at the end (the median of the last --window s); growth under --growth % passes. Medians, so that one sample
taken while a `show` client or a scrape held a descriptor, or while a reload's new router stood next to the old one,
does not decide.
"""
import argparse
import csv
import json
import statistics
import sys

import toolmodules


def read_text(path: str) -> str:
    """A file's text, the file closed at once."""
    with open(path, encoding="utf-8") as file:
        return file.read()


def read_json(path: str):
    """A JSON file's value (closed at once: the soak reads a few, and Python warns about files left open)."""
    with open(path, encoding="utf-8") as file:
        return json.load(file)


events = toolmodules.load("failover_analysis", "failover-analysis.py").events


def read_flaps(path):
    flaps = []
    with open(path) as f:
        for line in f:
            fields = line.split()
            if len(fields) == 4:
                flaps.append({"index": int(fields[0]), "kind": fields[1], "broken": float(fields[2]),
                              "restored": float(fields[3])})
    return flaps


def windows(flaps, log_events, tunnel, slack):
    """Per flap: (flap, window start, window end or None when no failover came, the switch event, the failback
    event: the first selectionChanged back to the tunnel after the restore and before the next flap, or None)."""
    result = []
    for number, flap in enumerate(flaps):
        following = flaps[number + 1]["broken"] if number + 1 < len(flaps) else float("inf")
        switch = next((e for e in log_events if e["event"] == "selectionChanged" and e.get("from") == tunnel
                       and flap["broken"] - 0.05 <= e["t"] <= flap["restored"]), None)
        back = next((e for e in log_events if e["event"] == "selectionChanged" and e.get("to") == tunnel
                     and flap["restored"] <= e["t"] < following), None)
        end = switch["t"] + slack if switch else None
        result.append((flap, flap["broken"], end, switch, back))
    return result


def classify(gaps, spans, margin=0.05):
    """Splits the receiver's gaps into those inside a window (its first lost datagram sent after the window began and
    its last before it ended, with `margin` for the send times around it) and the others. spans: [(start, end)]."""
    inside, outside = [], []
    for gap in gaps:
        ok = any(start - margin <= gap["sent_before"] and gap["sent_after"] <= end + margin for start, end in spans)
        (inside if ok else outside).append(gap)
    return inside, outside


def median_in(samples, low, high, key):
    values = [s[key] for s in samples if low <= s["seconds"] < high]
    return statistics.median(values) if values else None


def read_samples(path):
    samples, dead = [], None
    with open(path) as f:
        for row in csv.DictReader(f):
            if row["rss_kb"] == "dead":
                dead = float(row["seconds"])
                break
            samples.append({"seconds": float(row["seconds"]), "rss_kb": int(row["rss_kb"]), "fds": int(row["fds"]),
                            "threads": int(row["threads"])})
    return samples, dead


def growth(samples, baseline_at, window, key):
    """(start, after the first minute, end, growth in %) of a sampled figure; None where there is no sample."""
    if not samples:
        return None, None, None, None
    last = samples[-1]["seconds"]
    start = samples[0][key]
    base = median_in(samples, baseline_at, baseline_at + window, key)
    end = median_in(samples, last - window, last + 1, key)
    pct = (end - base) * 100.0 / base if base and end is not None else None
    return start, base, end, pct


def trend_per_minute(samples, after, key):
    """The least-squares slope of a figure over the samples after `after` s, per minute (0 with fewer than 2)."""
    points = [(s["seconds"], s[key]) for s in samples if s["seconds"] >= after]
    if len(points) < 2:
        return 0.0
    mx = sum(p[0] for p in points) / len(points)
    my = sum(p[1] for p in points) / len(points)
    var = sum((p[0] - mx) ** 2 for p in points)
    return 60.0 * sum((p[0] - mx) * (p[1] - my) for p in points) / var if var else 0.0


def loop_counts(path):
    ok, failed, first_failure = 0, 0, None
    try:
        with open(path) as f:
            for line in f:
                if line.startswith("OK "):
                    ok += 1
                elif line.startswith("FAIL "):
                    failed += 1
                    first_failure = first_failure or line.strip()[:200]
    except OSError:
        pass
    return ok, failed, first_failure


def analyse(args):
    out = []
    figures = {}

    def verdict(ok, text):
        out.append(("PASS " if ok else "FAIL ") + text)

    def info(text):
        out.append("INFO " + text)

    # --- Tandem alive, memory, descriptors -------------------------------------------------------------------------
    samples, dead = read_samples(args.samples)
    verdict(dead is None and samples, f"tandem run alive through the soak ({len(samples)} samples of memory and "
            f"descriptors" + (f"; gone {dead:.0f} s in)" if dead is not None else ")"))
    for key, what, unit in (("rss_kb", "resident memory (VmRSS)", "KiB"), ("fds", "open descriptors", "")):
        start, base, end, pct = growth(samples, args.baseline_at, args.window, key)
        figures[key] = {"start": start, "after_first_minute": base, "end": end, "growth_pct": pct,
                        "trend_per_minute": round(trend_per_minute(samples, args.baseline_at, key), 1)}
        if pct is None:
            verdict(False, f"{what}: no samples after the first minute to compare (a run under 2 minutes?)")
            continue
        verdict(pct < args.growth, f"{what}: {base:g}{unit and ' ' + unit} after the first minute, {end:g}"
                f"{unit and ' ' + unit} at the end: {pct:+.1f} % (under {args.growth:g} %; at start {start:g})")
        info(f"{what}: trend after the first minute {figures[key]['trend_per_minute']:+g}{unit and ' ' + unit} per "
             f"minute (least squares); largest {max(s[key] for s in samples):g}")
    if samples:
        figures["threads"] = {"start": samples[0]["threads"], "end": samples[-1]["threads"]}

    # --- the stream ------------------------------------------------------------------------------------------------
    summary = read_json(args.summary)
    flow = summary.get("flows", {}).get("0")
    log_events = events(args.log)
    flaps = read_flaps(args.flaps)
    spans_all = windows(flaps, log_events, args.tunnel, args.slack_ms / 1000)
    failovers = sum(1 for e in log_events if e["event"] == "selectionChanged")
    figures["flaps"] = len(flaps)
    figures["failovers"] = failovers
    missed = [w[0]["index"] for w in spans_all if w[2] is None]
    verdict(flaps and not missed, f"every flap of {args.tunnel} made a failover: {len(flaps) - len(missed)} of "
            f"{len(flaps)} (a selectionChanged away from it between the break and the restore)"
            + (f"; none for flap(s) {missed[:10]}" if missed else ""))
    switch_ms = [1000 * (w[3]["t"] - w[1]) for w in spans_all if w[3]]
    back = [w for w in spans_all if w[4]]
    verdict(len(back) == len(flaps), f"every flap ended with the traffic back on {args.tunnel}: {len(back)} of "
            f"{len(flaps)} (a selectionChanged to it after the restore)")
    if switch_ms:
        info(f"failovers: from the break to selectionChanged {min(switch_ms):.0f} to {max(switch_ms):.0f} ms "
             f"(median {statistics.median(switch_ms):.0f}); selectionChanged events in all: {failovers}")
    if not flow:
        verdict(False, "the UDP stream: the receiver got no datagram")
        return out, figures
    spans = [(w[1], w[2]) for w in spans_all if w[2] is not None]
    gaps = flow["gaps"]
    verdict(len(gaps) < args.max_gaps, f"the receiver listed every gap ({len(gaps)}, at most {args.max_gaps})")
    inside, outside = classify(gaps, spans)
    lost_inside = sum(g["length"] for g in inside)
    lost_outside = sum(g["length"] for g in outside)
    at_start = flow["first"] - 1
    at_end = max(args.sent - flow["last"], 0)
    lost_outside += at_start + at_end
    figures["stream"] = {"sent": args.sent, "received": flow["received"], "late": flow["late"],
                         "lost_in_windows": lost_inside, "lost_outside_windows": lost_outside,
                         "duplicates": flow["duplicates"], "longest_outage_ms": flow["outage"]}
    details = [f"{g['length']} after #{g['after']} ({reload_distance(g, args.reloads)})" for g in outside[:5]]
    if at_start:
        details.append(f"the first {at_start}")
    if at_end:
        details.append(f"the last {at_end}")
    verdict(lost_outside == 0, f"datagrams lost or late outside failover windows: {lost_outside} of {args.sent}"
            + (": " + ", ".join(details) if details else ""))
    info(f"datagrams lost or late inside the {len(spans)} failover windows: {lost_inside} (longest run "
         f"{max((g['length'] for g in inside), default=0)}); received {flow['received']} of {args.sent}, "
         f"{flow['late']} late (over the receiver's --late-ms)")
    verdict(flow["duplicates"] == 0, f"datagrams delivered twice: {flow['duplicates']}")

    # --- reloads ---------------------------------------------------------------------------------------------------
    reloads = len(read_text(args.reloads).split())
    with open(args.log, errors="replace") as f:
        lines = f.read().splitlines()
    reloaded = sum(1 for line in lines if line.startswith("tandem: reloaded: "))
    refused = [line for line in lines if "reload refused" in line]
    figures["reloads"] = {"sighups": reloads, "reloaded": reloaded, "refused": len(refused)}
    verdict(reloads > 0 and reloaded == reloads and not refused,
            f"SIGHUPs sent {reloads}, 'tandem: reloaded' lines {reloaded}, refused {len(refused)}"
            + (f" (first: {refused[0][:160]})" if refused else ""))

    # --- show, scrape, iperf3 --------------------------------------------------------------------------------------
    for path, what, key in ((args.show, "`tandem show` answers", "show"), (args.scrape, "metrics scrapes", "scrape")):
        ok, failed, first = loop_counts(path)
        figures[key] = {"ok": ok, "failed": failed}
        verdict(ok > 0 and failed == 0, f"{what}: {ok} of {ok + failed} whole" + (f" (first failure: {first})"
                                                                                  if first else ""))
    try:
        result = read_json(args.iperf)
        received = result["end"]["sum_received"]
        figures["iperf3"] = {"bytes": received["bytes"], "mbit_per_s": round(received["bits_per_second"] / 1e6, 1),
                             "retransmits": result["end"].get("sum_sent", {}).get("retransmits")}
        verdict("error" not in result and received["bytes"] > 0,
                f"iperf3 TCP through Tandem: {received['bytes'] / 1e9:.2f} GB, "
                f"{received['bits_per_second'] / 1e6:.1f} Mbit/s over {received['seconds']:.0f} s, "
                f"{figures['iperf3']['retransmits']} retransmits" + (f"; error: {result['error']}"
                                                                    if "error" in result else ""))
    except (OSError, ValueError, KeyError) as error:
        verdict(False, f"iperf3 TCP through Tandem: no result ({type(error).__name__}: {error})")
    return out, figures


def reload_distance(gap, reloads_path):
    """How far a gap lies from the nearest SIGHUP: a loss right after one points at the reload."""
    times = [float(t) for t in read_text(reloads_path).split()]
    if not times:
        return "no SIGHUP"
    nearest = min(times, key=lambda t: abs(gap["sent_before"] - t))
    return f"{gap['sent_before'] - nearest:+.2f} s from a SIGHUP"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    for name in ("--summary", "--flaps", "--reloads", "--log", "--samples", "--show", "--scrape", "--iperf",
                 "--figures"):
        parser.add_argument(name, required=True)
    parser.add_argument("--sent", type=int, required=True)
    parser.add_argument("--tunnel", default="a1")
    parser.add_argument("--growth", type=float, default=5.0)
    parser.add_argument("--baseline-at", type=float, default=60.0)
    parser.add_argument("--window", type=float, default=15.0)
    parser.add_argument("--slack-ms", type=float, default=100.0)
    parser.add_argument("--max-gaps", type=int, default=100000)
    args = parser.parse_args(argv)
    try:
        lines, figures = analyse(args)
    except (OSError, ValueError, KeyError, TypeError) as error:
        print(f"FAIL soak analysis: cannot read the results: {type(error).__name__}: {error}", flush=True)
        return 1
    print("\n".join(lines), flush=True)
    with open(args.figures, "w") as out:
        json.dump(figures, out, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
