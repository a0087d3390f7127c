#!/usr/bin/env python3
"""Verdicts on a failover, from a receiver's summary (tools/lib/udp-stream.py receive --out) and Tandem's event log.

Used by tools/lib/check-failover, tools/bench-failover and tools/demo. Each check prints lines "PASS text",
"FAIL text" or "INFO text" (the caller counts them); `outage` prints one number. Tested by
tools/lib/test_failover_analysis.py (tools/test runs it); import it by its path (importlib) to use its functions.

  failover-analysis.py failover SUMMARY --log LOG --what TEXT --tunnel a1 --home cl-a --away cl-b
                       --broken T --restored T --bound-ms N --preempt-ms N [--up-ms N] [--sent N]
      one flow; the active tunnel failed at wall time --broken and came back at --restored: the traffic left
      --home for --away within --bound-ms, came back after the preempt delay without loss, nothing twice.
  backup SUMMARY --log LOG --what TEXT --home cl-a --backup cl-b2 --broken T --restored T --bound-ms N [--sent N]
      both tunnels of the connection failed: the traffic took the backup connection, and came home.
  flap SUMMARY --log LOG --what TEXT --tunnel a1 --home cl-a --away cl-b --flap-start T --flap-end T --flaps N
       [--sent N]
      the active tunnel flapped with damping: a heldDown event, then no more moves, at most 2 x flaps + 1 moves.
  ecmp SUMMARY --what TEXT --failed cl-a --flows N --broken T --restored T
      flows over four connections; the connection whose traffic arrives on --failed failed: only its flows moved.
  outage SUMMARY [--sent N]: the longest run of datagrams of flow 0 missing or late (ms at 1000 pps); ">N" when the
      last N datagrams the sender sent never came and no run inside the stream is longer (the traffic had not
      recovered when the stream ended: N is a lower bound), also when none came at all; "none" when the receiver
      got nothing and the sender's count is not given (nothing to measure).
  background SUMMARY: the longest run of flow 0 missing or late other than the outage's (ms at 1000 pps): the loss
      the stream meets away from the failover (a load above the no-loss rate), which widens the outage by the
      losses that happen to border it; "none" when the receiver got nothing.
  events LOG [--follow]: Tandem's event lines, readably (tools/demo); --follow prints them as they are written.

--sent N is what the sender sent of flow 0 (its output's "sent"[0]). The receiver cannot see datagrams missing after
the last one it got; with the sender's count, the checks count that trailing run as loss too (without it, a stream
that stopped arriving after the failback would pass).
"""
import argparse
import datetime
import json
import re
import sys

EVENT = re.compile(r"^tandem: event: (\{.*\})\s*$")


def load(path):
    with open(path) as f:
        return json.load(f)


def events(log, since=0.0):
    """Tandem's event lines as dicts with a "t" (seconds since the epoch), in order."""
    found = []
    try:
        with open(log, errors="replace") as f:
            lines = f.read().splitlines()
    except OSError:
        return found
    for line in lines:
        match = EVENT.match(line)
        if not match:
            continue
        try:
            event = json.loads(match.group(1))
            event["t"] = datetime.datetime.strptime(event["time"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(
                tzinfo=datetime.timezone.utc).timestamp()
        except (ValueError, KeyError):
            continue
        if event["t"] >= since:
            found.append(event)
    return found


def first(items, predicate):
    return next((item for item in items if predicate(item)), None)


class Verdict:
    """Prints the lines of a check; keeps them in `lines` as (kind, text), kind PASS, FAIL or INFO."""

    def __init__(self, what):
        self.what = what
        self.lines = []

    def check(self, ok, text):
        self.lines.append(("PASS" if ok else "FAIL", f"{self.what}: {text}"))
        print(("PASS " if ok else "FAIL ") + f"{self.what}: {text}", flush=True)
        return ok

    def info(self, text):
        self.lines.append(("INFO", f"{self.what}: {text}"))
        print(f"INFO {self.what}: {text}", flush=True)


def flow0(verdict, summary):
    flow = summary.get("flows", {}).get("0")
    if not flow or flow["received"] == 0:
        verdict.check(False, "the receiver got no datagram")
        return None
    return flow


def ms(seconds):
    return f"{seconds * 1000:.0f} ms"


def trailing(flow, sent):
    """Datagrams of the flow sent after the last one the receiver got (0 when the sender's count is unknown)."""
    return max(sent - flow["last"], 0) if sent else 0


def missing_at_end(flow, sent):
    """"" or, when datagrams never came after the last one received, a clause that says how many."""
    n = trailing(flow, sent)
    return f"; the last {n} of {sent} datagrams sent never came" if n else ""


def check_failover(args):
    v = Verdict(args.what)
    flow = flow0(v, load(args.summary))
    if flow is None:
        return
    log = events(args.log, since=args.broken - 0.5)
    gap = flow["outage"]
    bound = args.bound_ms
    v.check(gap <= bound, f"outage {gap} ms (longest run of datagrams missing or later than 100 ms, at 1 ms each; "
                          f"bound {bound} ms)")
    if flow["late"]:
        v.info(f"{flow['late']} datagram(s) came late (up to {flow['max_latency_ms']:.0f} ms after they were sent): "
               f"queued on the failed path and delivered when it returned; counted in the outage")
    v.check(flow["duplicates"] == 0, f"datagrams delivered twice: {flow['duplicates']}")
    changes = flow["changes"]
    moves = " ".join(f"{c['from']}->{c['to']}@{c['sequence']}" for c in changes) or "none"
    v.check(len(changes) == 2 and changes[0]["from"] == args.home and changes[0]["to"] == args.away
            and changes[1]["to"] == args.home,
            f"interface changes at the receiver: {moves} (expected {args.home}->{args.away}, then back)")
    down = first(log, lambda e: e["event"] == "healthDown" and e["tunnel"] == args.tunnel)
    switch = first(log, lambda e: e["event"] == "selectionChanged" and e.get("from") == args.tunnel
                   and e["t"] < args.restored)
    if down:
        v.info(f"healthDown {args.tunnel} logged {ms(down['t'] - args.broken)} after the failure "
               f"(reason: {down.get('reason')}; probes {json.dumps(down.get('probes'))})")
    v.check(down is not None and switch is not None,
            f"log: healthDown of {args.tunnel} and selectionChanged {args.tunnel} -> "
            f"{switch.get('to') if switch else '?'}")
    # The outage is the failover: it starts after the failure.
    longest = max(flow["gaps"], key=lambda g: g["length"], default=None)
    if longest:
        v.info(f"outage from {ms(longest['sent_before'] - args.broken)} to {ms(longest['sent_after'] - args.broken)} "
               f"after the failure")
    if len(changes) < 2:
        return
    back = changes[1]
    up = first(log, lambda e: e["event"] == "healthUp" and e["tunnel"] == args.tunnel and e["t"] >= args.restored)
    delay = back["sent"] - args.restored
    # A datagram sent just before the switch may still reach the old path: 1 interval of slack.
    low = args.preempt_ms / 1000 - 0.001
    high = (args.preempt_ms + args.up_ms) / 1000 + 0.5
    v.check(low <= delay <= high,
            f"failback to {args.home} {ms(delay)} after the path came back (preempt delay {args.preempt_ms} ms, "
            f"up-count x interval {args.up_ms} ms; allowed {ms(low)} to {ms(high)})")
    if up:
        switch_back = first(log, lambda e: e["event"] == "selectionChanged" and e.get("to") == args.tunnel
                            and e["t"] >= up["t"])
        if switch_back:
            v.check(switch_back["t"] - up["t"] >= args.preempt_ms / 1000 - 0.002,
                    f"log: healthUp {args.tunnel} then selectionChanged -> {args.tunnel} "
                    f"{ms(switch_back['t'] - up['t'])} later (preempt delay {args.preempt_ms} ms)")
        else:
            v.check(False, f"log: no selectionChanged back to {args.tunnel} after its healthUp")
    else:
        v.check(False, f"log: no healthUp of {args.tunnel} after the path came back")
    late = [g for g in flow["gaps"] if g["sent_after"] >= back["sent"] - 0.1]
    end = trailing(flow, args.sent)
    lost = [f"{g['length']} after #{g['after']}" for g in late] + ([f"the last {end} sent"] if end else [])
    v.check(not lost, "no loss at the failback: "
            + ("no datagram missing from 100 ms before the failback to the end" if not lost else
               "missing " + ", ".join(lost)))
    other = sum(g["length"] for g in flow["gaps"]) - gap + end
    total = args.sent or flow["received"] + flow["missing"]
    v.check(other == 0, f"datagrams lost or late outside the outage: {other} (of {total})")


def check_backup(args):
    v = Verdict(args.what)
    flow = flow0(v, load(args.summary))
    if flow is None:
        return
    gap = flow["outage"]
    v.check(gap <= args.bound_ms, f"outage {gap} ms when both tunnels failed (bound {args.bound_ms} ms)")
    v.check(flow["duplicates"] == 0, f"datagrams delivered twice: {flow['duplicates']}")
    changes = flow["changes"]
    moves = " ".join(f"{c['from']}->{c['to']}@{c['sequence']}" for c in changes) or "none"
    v.check([c["to"] for c in changes] == [args.backup, args.home] and changes[0]["from"] == args.home,
            f"interface changes: {moves} (expected {args.home}->{args.backup}, then back to {args.home})")
    via_backup = flow["interfaces"].get(args.backup, 0)
    v.check(via_backup > 0, f"{via_backup} datagrams arrived through the backup connection ({args.backup}) "
                            f"while both tunnels were down")
    if changes:
        v.check(changes[0]["sent"] >= args.broken - 0.001,
                f"the move to the backup came {ms(changes[0]['sent'] - args.broken)} after both tunnels failed")
    if len(changes) >= 2:
        back = changes[-1]
        v.check(back["sent"] >= args.restored - 0.001,
                f"back on {args.home} {ms(back['sent'] - args.restored)} after the active tunnel returned")
        late = [g for g in flow["gaps"] if g["sent_after"] >= back["sent"] - 0.1]
        end = missing_at_end(flow, args.sent)
        v.check(not late and not end, "no loss when the traffic came home from the backup"
                + ("" if not late else ": missing " + ", ".join(f"{g['length']} after #{g['after']}" for g in late))
                + end)


def check_flap(args):
    v = Verdict(args.what)
    flow = flow0(v, load(args.summary))
    if flow is None:
        return
    log = events(args.log, since=args.flap_start - 0.5)
    held = first(log, lambda e: e["event"] == "heldDown" and e["tunnel"] == args.tunnel)
    downs = [e for e in log if e["event"] == "healthDown" and e["tunnel"] == args.tunnel
             and (held is None or e["t"] <= held["t"])]
    v.check(held is not None, f"log: heldDown of {args.tunnel}"
            + (f" {ms(held['t'] - args.flap_start)} into the flapping, after {len(downs)} healthDown event(s), "
               f"held for {held.get('held_for_ms')} ms" if held else f" missing ({len(downs)} healthDown events)"))
    changes = flow["changes"]
    moves = " ".join(f"{c['from']}->{c['to']}@{c['sequence']}" for c in changes) or "none"
    limit = 2 * args.flaps + 1
    v.check(len(changes) <= limit, f"{len(changes)} interface changes at the receiver (at most {limit}): {moves}")
    v.check(flow["duplicates"] == 0, f"datagrams delivered twice: {flow['duplicates']}")
    if held:
        after = [c for c in changes if c["sent"] > held["t"] + 0.05]
        v.check(not after, f"no move later than 50 ms after heldDown (the flapping went on for "
                           f"{ms(args.flap_end - held['t'])} more)"
                + ("" if not after else ": " + " ".join(f"{c['from']}->{c['to']}@{c['sequence']}" for c in after)))
    last = changes[-1]["to"] if changes else None
    end = missing_at_end(flow, args.sent)
    v.check(last == args.away and not end,
            f"the traffic stays on {args.away} to the end of the stream (last interface: {last}{end})")
    v.info(f"longest outage {flow['outage']} ms; missing in all {flow['missing']}, late {flow['late']}")


def check_ecmp(args):
    v = Verdict(args.what)
    summary = load(args.summary)
    flows = summary.get("flows", {})
    v.check(len(flows) == args.flows, f"datagrams of {len(flows)} of {args.flows} flows arrived")
    start = {}
    for name, flow in flows.items():
        # The interface of the flow's first datagram (before any change).
        start[name] = flow["changes"][0]["from"] if flow["changes"] else next(iter(flow["interfaces"]))
    spread = {}
    for name, interface in start.items():
        spread[interface] = spread.get(interface, 0) + 1
    v.check(len(spread) == 4, "flows per path before the failure: "
            + ", ".join(f"{k} {spread[k]}" for k in sorted(spread)) + " (all four paths carry flows)")
    on_failed = [n for n in flows if start[n] == args.failed]
    v.check(len(on_failed) > 0, f"{len(on_failed)} flow(s) on the failed connection's path ({args.failed})")
    moved_ok, kept_ok, bad = 0, 0, []
    for name, flow in flows.items():
        before = [c for c in flow["changes"] if c["sent"] < args.restored]
        if name in on_failed:
            if len(before) == 1 and before[0]["to"] != args.failed and before[0]["sent"] >= args.broken - 0.05:
                moved_ok += 1
            else:
                bad.append(f"flow {name} (on {args.failed}): "
                           + (" ".join(f"{c['from']}->{c['to']}" for c in before) or "did not move"))
        else:
            if not before:
                kept_ok += 1
            else:
                bad.append(f"flow {name} (on {start[name]}): " + " ".join(f"{c['from']}->{c['to']}" for c in before))
    v.check(moved_ok == len(on_failed), f"flows of the failed connection that moved once to another path: "
                                        f"{moved_ok} of {len(on_failed)}")
    v.check(kept_ok == len(flows) - len(on_failed),
            f"flows of the other connections that kept their path: {kept_ok} of {len(flows) - len(on_failed)}"
            + ("" if not bad else "; " + "; ".join(bad[:8])))
    duplicates = sum(f["duplicates"] for f in flows.values())
    v.check(duplicates == 0, f"datagrams delivered twice: {duplicates}")
    gaps = [f["outage"] for n, f in flows.items() if n in on_failed]
    if gaps:
        v.info(f"longest gap of a moved flow: {max(gaps)} datagrams (each flow sends every "
               f"{args.flows} ms: about {max(gaps) * args.flows} ms)")
    # After the restore: informational (a resilient group may move flows back only when their buckets are idle).
    after = {n: [c for c in f["changes"] if c["sent"] >= args.restored] for n, f in flows.items()}
    back = sum(1 for n in on_failed if after[n] and after[n][-1]["to"] == args.failed)
    others = sum(1 for n in flows if n not in on_failed and after[n])
    v.info(f"after the restore: {back} of {len(on_failed)} moved flows came back to {args.failed}; "
           f"{others} other flow(s) changed path")


def outage_of(summary, sent=0):
    """The outage figure of flow 0 (see `outage` in the module's docstring), as text."""
    flow = summary.get("flows", {}).get("0")
    if not flow or not flow["received"]:
        # Nothing came: the whole stream is the outage, when we know how long it was.
        return f">{sent}" if sent else "none"
    # A stream that did not recover before it ended has a trailing gap the receiver cannot see: the sender's count.
    # It is a run of missing datagrams like any other (a lower bound: the stream ended during it).
    end = trailing(flow, sent)
    return f">{end}" if end > flow["outage"] else str(flow["outage"])


def outage(args):
    print(outage_of(load(args.summary), args.sent))


def background(args):
    flow = load(args.summary).get("flows", {}).get("0")
    if not flow or not flow["received"]:
        print("none")
        return
    others = [gap["length"] for gap in flow["gaps"] if gap["after"] != flow["outage_after"]]
    print(max(others, default=0))


def show_events(args):
    if args.follow:
        # Follow the log as Tandem writes it (until stopped), each event printed as it comes.
        import time
        with open(args.log, errors="replace") as f:
            pending = ""
            while True:
                chunk = f.readline()
                if not chunk:
                    time.sleep(0.05)
                    continue
                pending += chunk
                if not pending.endswith("\n"):
                    continue
                match = EVENT.match(pending)
                pending = ""
                if match:
                    try:
                        print_event(json.loads(match.group(1)))
                    except ValueError:
                        pass
    for e in events(args.log):
        print_event(e)


def print_event(e):
    if e["event"] == "selectionChanged":
        what = f"traffic moves {e.get('from')} -> {e.get('to')} ({e.get('reason')})"
    elif e["event"] == "heldDown":
        what = f"held down for {e.get('held_for_ms')} ms ({e.get('reason')})"
    else:
        what = e.get("reason", "")
    probes = e.get("probes") or {}
    rtt = probes.get("last_rtt_ms")
    print(f"tandem {e['time'][11:23]}Z  {e['event']:<16} {e['connection']}/{e['tunnel']}: {what}"
          f"  [probes sent {probes.get('sent')}, lost {probes.get('lost')}"
          + (f", last rtt {rtt:.2f} ms]" if isinstance(rtt, (int, float)) else "]"), flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sent_help = "datagrams of flow 0 the sender sent (its output's 'sent'[0]); 0: unknown"
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("failover")
    p.add_argument("summary")
    for name in ("--log", "--what", "--tunnel", "--home", "--away"):
        p.add_argument(name, required=True)
    for name in ("--broken", "--restored"):
        p.add_argument(name, type=float, required=True)
    p.add_argument("--bound-ms", type=int, required=True)
    p.add_argument("--preempt-ms", type=int, required=True)
    p.add_argument("--up-ms", type=int, default=60)
    p.add_argument("--sent", type=int, default=0, help=sent_help)
    p.set_defaults(run=check_failover)
    p = sub.add_parser("backup")
    p.add_argument("summary")
    for name in ("--log", "--what", "--home", "--backup"):
        p.add_argument(name, required=True)
    for name in ("--broken", "--restored"):
        p.add_argument(name, type=float, required=True)
    p.add_argument("--bound-ms", type=int, required=True)
    p.add_argument("--sent", type=int, default=0, help=sent_help)
    p.set_defaults(run=check_backup)
    p = sub.add_parser("flap")
    p.add_argument("summary")
    for name in ("--log", "--what", "--tunnel", "--home", "--away"):
        p.add_argument(name, required=True)
    for name in ("--flap-start", "--flap-end"):
        p.add_argument(name, type=float, required=True)
    p.add_argument("--flaps", type=int, required=True)
    p.add_argument("--sent", type=int, default=0, help=sent_help)
    p.set_defaults(run=check_flap)
    p = sub.add_parser("ecmp")
    p.add_argument("summary")
    p.add_argument("--what", required=True)
    p.add_argument("--failed", required=True)
    p.add_argument("--flows", type=int, required=True)
    for name in ("--broken", "--restored"):
        p.add_argument(name, type=float, required=True)
    p.set_defaults(run=check_ecmp)
    p = sub.add_parser("outage")
    p.add_argument("summary")
    p.add_argument("--sent", type=int, default=0, help=sent_help)
    p.set_defaults(run=outage)
    p = sub.add_parser("background")
    p.add_argument("summary")
    p.set_defaults(run=background)
    p = sub.add_parser("events")
    p.add_argument("log")
    p.add_argument("--follow", action="store_true")
    p.set_defaults(run=show_events)
    args = parser.parse_args(argv)
    try:
        args.run(args)
    except (OSError, ValueError, KeyError, TypeError) as error:
        # (A summary or log missing or of another shape: one line that says so, not a traceback of many lines.)
        text = f"cannot read the results: {type(error).__name__}: {error}"
        if args.command in ("outage", "background"):
            # No figure on standard output: the caller's `|| echo none` gives the figure "none".
            print(f"error: {text}", file=sys.stderr, flush=True)
        else:
            print(f"FAIL {getattr(args, 'what', 'analysis')}: {text}", flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
