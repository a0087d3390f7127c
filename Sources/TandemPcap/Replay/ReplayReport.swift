// What a replay prints: what tcpreplay users expect (packets, bytes, duration, rates, flows), then where the
// packets went (per egress, per phase of the what-if run), drops by reason, ICMP errors, and the pipeline's
// latency per packet. As text, or as one JSON object.

import TandemDataplane
import TandemJSON
import TandemRouting

/// The figures of one replay.
public struct ReplayReport: Sendable {
    public var tunnelNames: [String]
    /// Records read from the capture (every loop), and how many carried no IP packet or were too long.
    public var captureRecords = 0
    public var notIP = 0
    public var tooLong = 0
    /// Distinct 5-tuples, estimated (HyperLogLog, about 0.8% standard error).
    public var flows = 0
    public var wallSeconds = 0.0
    public var captureSeconds = 0.0
    public var firstTimestamp: UInt64 = 0
    public var counters = PipelineCounters(tunnels: 0)
    /// Nanoseconds a packet spent in the pipeline (its batch's processing time): p50, p99, p99.9, max.
    public var latency: (p50: UInt64, p99: UInt64, p999: UInt64, max: UInt64) = (0, 0, 0, 0)
    /// The what-if phases: from a capture time, packets per tunnel until the next event or timer.
    public var phases: [(start: UInt64, end: UInt64, perTunnel: [Int])] = []
    /// Events, timers and state changes, one line each.
    public var log: [String] = []
    /// Packets per egress and drops per 10 ms of capture time, and what changed when (for `--report`).
    public var timeline: EgressTimeline

    public init(tunnelNames: [String]) {
        self.tunnelNames = tunnelNames
        counters = PipelineCounters(tunnels: tunnelNames.count)
        timeline = EgressTimeline(egressNames: tunnelNames)
    }

    /// Ends the current phase at `time` (if it forwarded anything) and starts the next. The first phase starts
    /// at the first packet.
    mutating func closePhase(at time: UInt64, counts: inout [Int]) {
        let start = phases.last?.end ?? firstTimestamp
        if counts.contains(where: { $0 > 0 }) || phases.isEmpty {
            phases.append((start, time, counts))
        } else if let last = phases.indices.last {
            phases[last].end = time
        }
        for index in counts.indices { counts[index] = 0 }
    }

    /// Packets per second of wall time.
    public var packetsPerSecond: Double { wallSeconds > 0 ? Double(counters.received.packets) / wallSeconds : 0 }

    /// The report as text.
    public var text: String {
        let received = counters.received
        var lines: [String] = []
        lines.append("Actual: \(received.packets) packets (\(received.bytes) bytes) sent in \(format(wallSeconds, 3)) seconds")
        lines.append(
            "Rated: \(format(Double(received.bytes) / max(wallSeconds, 1e-9), 1)) Bps, "
                + "\(format(Double(received.bytes) * 8 / max(wallSeconds, 1e-9) / 1e6, 2)) Mbps, "
                + "\(format(packetsPerSecond / 1e6, 3)) Mpps")
        lines.append("Flows: about \(flows) flows (HyperLogLog estimate, ±1%); capture span \(format(captureSeconds, 3)) s")
        if notIP > 0 || tooLong > 0 { lines.append("Skipped: \(notIP) records without IP, \(tooLong) too long") }
        lines.append("Forwarded per egress:")
        for (index, name) in tunnelNames.enumerated() {
            let count = counters.perTunnel[index]
            lines.append("  \(pad(name, 16)) \(pad(String(count.packets), 10, right: true)) packets \(pad(String(count.bytes), 12, right: true)) bytes")
        }
        lines.append("Forwarded per route origin:")
        for (index, name) in PipelineCounters.originNames.enumerated() where counters.perOrigin[index].packets > 0 {
            lines.append("  \(pad(name, 16)) \(pad(String(counters.perOrigin[index].packets), 10, right: true)) packets")
        }
        lines.append("ICMP errors sent: \(counters.icmpSent) (rate limited: \(counters.icmpRateLimited)); fragmented: \(counters.fragmented) packets into \(counters.fragmentsMade)")
        lines.append("Drops: \(counters.totalDrops)")
        for index in counters.drops.indices where counters.drops[index] > 0 {
            lines.append("  \(pad(DropCounter.reason(index).key, 40)) \(counters.drops[index])")
        }
        lines.append(
            "Pipeline latency per packet (its batch): p50 \(micro(latency.p50)) us, p99 \(micro(latency.p99)) us, "
                + "p99.9 \(micro(latency.p999)) us, max \(micro(latency.max)) us")
        if phases.count > 1 {
            lines.append("Phases (capture time after the first packet):")
            for phase in phases {
                let parts = tunnelNames.indices.filter { phase.perTunnel[$0] > 0 }
                    .map { "\(tunnelNames[$0]) \(phase.perTunnel[$0])" }
                lines.append(
                    "  \(seconds(phase.start))-\(seconds(phase.end)): " + (parts.isEmpty ? "nothing forwarded" : parts.joined(separator: ", ")))
            }
        }
        if !log.isEmpty {
            lines.append("Events:")
            lines += log.map { "  " + $0 }
        }
        return lines.joined(separator: "\n")
    }

    /// The report as one JSON object.
    public var json: String {
        var object = JSONObject()
        object.add("packets", counters.received.packets)
        object.add("bytes", counters.received.bytes)
        object.add("seconds", JSONValue.double(wallSeconds))
        object.add("mpps", JSONValue.double(packetsPerSecond / 1e6))
        object.add("mbps", JSONValue.double(Double(counters.received.bytes) * 8 / max(wallSeconds, 1e-9) / 1e6))
        object.add("flows", flows)
        object.add("captureSeconds", JSONValue.double(captureSeconds))
        object.add("notIP", notIP)
        var egress = JSONObject()
        for (index, name) in tunnelNames.enumerated() {
            var count = JSONObject()
            count.add("packets", counters.perTunnel[index].packets)
            count.add("bytes", counters.perTunnel[index].bytes)
            egress.add(name, raw: count.rendered)
        }
        object.add("egress", raw: egress.rendered)
        var origins = JSONObject()
        for (index, name) in PipelineCounters.originNames.enumerated() { origins.add(name, counters.perOrigin[index].packets) }
        object.add("origins", raw: origins.rendered)
        var drops = JSONObject()
        for index in counters.drops.indices where counters.drops[index] > 0 {
            drops.add(DropCounter.reason(index).key, counters.drops[index])
        }
        object.add("drops", raw: drops.rendered)
        object.add("icmpSent", counters.icmpSent)
        object.add("icmpRateLimited", counters.icmpRateLimited)
        object.add("fragmented", counters.fragmented)
        var percentiles = JSONObject()
        percentiles.add("p50", latency.p50)
        percentiles.add("p99", latency.p99)
        percentiles.add("p99.9", latency.p999)
        percentiles.add("max", latency.max)
        object.add("latencyNanoseconds", raw: percentiles.rendered)
        let phaseObjects = phases.map { phase in
            var entry = JSONObject()
            entry.add("start", JSONValue.double(Double(phase.start &- firstTimestamp) / 1e9))
            entry.add("end", JSONValue.double(Double(phase.end &- firstTimestamp) / 1e9))
            var perTunnel = JSONObject()
            for (index, name) in tunnelNames.enumerated() { perTunnel.add(name, phase.perTunnel[index]) }
            entry.add("egress", raw: perTunnel.rendered)
            return entry.rendered
        }
        object.add("phases", raw: JSONObject.array(phaseObjects))
        object.add("events", raw: JSONObject.array(log.map(JSONObject.quote)))
        return object.rendered
    }

    private func seconds(_ time: UInt64) -> String { format(Double(time &- firstTimestamp) / 1e9, 3) + "s" }
    private func micro(_ nanoseconds: UInt64) -> String { format(Double(nanoseconds) / 1000, 2) }
}

func format(_ value: Double, _ decimals: Int) -> String {
    guard value.isFinite else { return "0" }
    var scale = 1.0
    for _ in 0..<decimals { scale *= 10 }
    let rounded = (value * scale).rounded() / scale
    var text = String(rounded)
    if let dot = text.firstIndex(of: ".") {
        let have = text.distance(from: dot, to: text.endIndex) - 1
        if have < decimals { text += String(repeating: "0", count: decimals - have) }
        if decimals == 0 { text = String(text[..<dot]) }
    } else if decimals > 0 {
        text += "." + String(repeating: "0", count: decimals)
    }
    return text
}

func pad(_ text: String, _ width: Int, right: Bool = false) -> String {
    guard text.count < width else { return text }
    let space = String(repeating: " ", count: width - text.count)
    return right ? space + text : text + space
}
