// `tandem replay --report R.html`: the replay's report as a page to look at. One self-contained HTML file: the
// traffic per egress over capture time with the what-if events marked, then the tables (summary, egresses,
// events, phases, drops, latency) with a bar chart each where a picture helps. No script: the charts are SVG
// laid out here, so the page shows the same in any browser, offline, and runs nothing from the capture.
// The same report gives the same bytes (the page says nothing of when it was made).

import TandemDataplane

/// The HTML page of a ``ReplayReport``.
public struct ReplayPage {
    /// What the replay read, as the command line named it (shown escaped).
    public struct Inputs: Sendable {
        public var configuration: String
        public var capture: String
        public var events: String?
        public var loops: Int

        public init(configuration: String, capture: String, events: String?, loops: Int = 1) {
            self.configuration = configuration
            self.capture = capture
            self.events = events
            self.loops = loops
        }
    }

    public var report: ReplayReport
    public var inputs: Inputs

    public init(report: ReplayReport, inputs: Inputs) {
        self.report = report
        self.inputs = inputs
    }

    /// The whole page.
    public var html: String {
        var body = "<header>\n<h1>Tandem replay report</h1>\n"
        body += "<p class=\"note\">\(escapeHTML(inputs.capture)) through \(escapeHTML(inputs.configuration))"
        body += inputs.events.map { " with the events of \(escapeHTML($0))" } ?? ""
        body += "</p>\n</header>\n"
        body += PageDocument.section(id: "summary", heading: "Summary", summaryTable.html)
        let binMilliseconds = format(Double(report.timeline.binNanoseconds) / 1e6, 0)
        body += PageDocument.section(
            id: "traffic", heading: "Traffic per egress over capture time",
            "<p class=\"note\">Packets forwarded into each egress, and packets dropped, per \(binMilliseconds) ms of "
                + "capture time. Dashed vertical lines: the what-if events (red) and the changes of a connection's "
                + "selected tunnel (purple).</p>\n" + TrafficChart(timeline: report.timeline).svg)
        body += PageDocument.section(id: "egress", heading: "Forwarded per egress", egressTable.html)
        body += PageDocument.section(id: "events", heading: "Events", eventsTable.html)
        body += PageDocument.section(
            id: "phases", heading: "Phases",
            "<p class=\"note\">Each stretch of capture time between events and timers, and the packets each egress "
                + "carried in it.</p>\n" + phasesTable.html)
        body += PageDocument.section(id: "drops", heading: "Drops by reason", dropsChart.svg + dropsTable.html)
        body += PageDocument.section(
            id: "latency", heading: "Pipeline latency per packet",
            "<p class=\"note\">The time a packet spent in the pipeline: its batch's processing time (wall clock, so "
                + "it differs from run to run).</p>\n" + latencyChart.svg + latencyTable.html)
        return PageDocument.page(title: "Tandem replay: \(inputs.capture)", body: body)
    }

    /// Writes the page to `path` (created or truncated, like the replay's other outputs).
    public func write(to path: String) throws(PcapError) {
        let file = try BufferedTextFile(path: path)
        try file.write(html)
        try file.close()
    }

    // MARK: Tables and charts

    var forwarded: Int { report.counters.perTunnel.reduce(0) { $0 + $1.packets } }

    var summaryTable: PageTable {
        let counters = report.counters
        var rows: [[String]] = [
            ["configuration", inputs.configuration],
            ["capture", inputs.capture + (inputs.loops > 1 ? " (\(inputs.loops) loops)" : "")],
            ["events", inputs.events ?? "none"],
            ["packets", grouped(counters.received.packets) + " (\(grouped(counters.received.bytes)) bytes)"],
            ["capture duration", format(report.captureSeconds, 3) + " s"],
            ["flows", "about " + grouped(report.flows)],
            ["forwarded", grouped(forwarded) + " (" + percentText(forwarded, of: counters.received.packets) + ")"],
            [
                "dropped",
                grouped(counters.totalDrops) + " (" + percentText(counters.totalDrops, of: counters.received.packets)
                    + ")",
            ],
            ["ICMP errors sent", grouped(counters.icmpSent) + " (rate limited: \(grouped(counters.icmpRateLimited)))"],
        ]
        if report.notIP > 0 || report.tooLong > 0 {
            rows.append(["records skipped", "\(grouped(report.notIP)) without IP, \(grouped(report.tooLong)) too long"])
        }
        rows.append([
            "replay time",
            format(report.wallSeconds, 3) + " s (" + format(report.packetsPerSecond / 1e6, 3) + " Mpps)",
        ])
        return PageTable(id: "summary-table", headers: ["figure", "value"], rows: rows)
    }

    var egressTable: PageTable {
        let rows = report.tunnelNames.enumerated().map { index, name in
            let count = report.counters.perTunnel[index]
            return [name, grouped(count.packets), grouped(count.bytes), percentText(count.packets, of: forwarded)]
        }
        return PageTable(
            id: "egress-table", headers: ["egress", "packets", "bytes", "share"], rows: rows, numeric: [1, 2, 3])
    }

    var eventsTable: PageTable {
        let rows = report.timeline.marks.map { [secondsText($0.offset), $0.kind.rawValue, $0.text] }
        return PageTable(
            id: "events-table", headers: ["capture time", "kind", "what"],
            rows: rows.isEmpty ? [["-", "-", "no events"]] : rows, numeric: [0])
    }

    var phasesTable: PageTable {
        let first = report.firstTimestamp
        let rows = report.phases.map { phase in
            [secondsText(phase.start &- first), secondsText(phase.end &- first)] + phase.perTunnel.map(grouped)
        }
        return PageTable(
            id: "phases-table", headers: ["from", "to"] + report.tunnelNames, rows: rows,
            numeric: Set(0..<(2 + report.tunnelNames.count)))
    }

    /// Drop reasons with at least one drop, most first (ties by name, so the order does not vary).
    var drops: [(reason: String, count: Int)] {
        report.counters.drops.indices.filter { report.counters.drops[$0] > 0 }
            .map { (DropCounter.reason($0).key, report.counters.drops[$0]) }
            .sorted { ($1.count, $0.reason) < ($0.count, $1.reason) }
    }

    var dropsChart: BarChart {
        BarChart(
            id: "drops-chart", title: "Packets dropped by reason",
            rows: drops.map { ($0.reason, Double($0.count), grouped($0.count)) }, barClass: "bar drop",
            emptyText: "no drops")
    }

    var dropsTable: PageTable {
        let received = report.counters.received.packets
        return PageTable(
            id: "drops-table", headers: ["reason", "packets", "share of received"],
            rows: drops.map { [$0.reason, grouped($0.count), percentText($0.count, of: received)] }
                + [
                    [
                        "total", grouped(report.counters.totalDrops),
                        percentText(report.counters.totalDrops, of: received),
                    ]
                ],
            numeric: [1, 2])
    }

    var percentiles: [(name: String, nanoseconds: UInt64)] {
        [
            ("p50", report.latency.p50), ("p99", report.latency.p99), ("p99.9", report.latency.p999),
            ("max", report.latency.max),
        ]
    }

    var latencyChart: BarChart {
        BarChart(
            id: "latency-chart", title: "Pipeline latency percentiles (microseconds)",
            rows: percentiles.map {
                ($0.name, Double($0.nanoseconds), format(Double($0.nanoseconds) / 1000, 2) + " µs")
            },
            emptyText: "no packets")
    }

    var latencyTable: PageTable {
        PageTable(
            id: "latency-table", headers: percentiles.map(\.name),
            rows: [percentiles.map { format(Double($0.nanoseconds) / 1000, 2) + " µs" }], numeric: [0, 1, 2, 3])
    }
}
