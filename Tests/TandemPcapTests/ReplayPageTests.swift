import Foundation
import TandemDataplane
import TandemPcap
import Testing

/// `tandem replay --report`: the page has its charts and tables, escapes what comes from input, and is the same
/// for the same replay.
@Suite struct ReplayPageTests {
    static let ms: UInt64 = 1_000_000

    /// A report as a replay of 2 egresses with a failover at 20 ms would give, with an event text that tries to
    /// run a script and a tunnel name with an ampersand.
    static func report() -> ReplayReport {
        var report = ReplayReport(tunnelNames: ["a1", "a2&b"])
        report.firstTimestamp = 1_000
        var counters = PipelineCounters(tunnels: 2)
        counters.perTunnel[0].packets = 30
        counters.perTunnel[1].packets = 20
        counters.received.packets = 53
        counters.drops[DropCounter.index(.noRoute)] = 2
        counters.drops[DropCounter.index(.malformed(.truncated))] = 1
        report.counters = counters
        report.captureSeconds = 0.05
        report.latency = (1_500, 9_000, 12_000, 40_000)
        var timeline = EgressTimeline(egressNames: report.tunnelNames)
        timeline.begin(at: 1_000)
        for bin in 0..<5 {
            for _ in 0..<10 {
                timeline.countForwarded(egress: bin < 3 ? 0 : 1, at: 1_000 + UInt64(bin) * 10 * ms + 5)
            }
        }
        for _ in 0..<3 { timeline.countDrop(at: 1_000 + 41 * ms) }
        timeline.mark(.whatIf, "<script>alert(1)</script>", at: 1_000 + 30 * ms)
        timeline.mark(.selection, "to-cloud: a1 -> a2&b (active tunnel down)", at: 1_000 + 30 * ms)
        timeline.mark(.health, "a1 health down (forced)", at: 1_000 + 30 * ms)
        report.timeline = timeline
        report.phases = [(1_000, 1_000 + 30 * ms, [30, 0]), (1_000 + 30 * ms, 1_000 + 50 * ms, [0, 20])]
        return report
    }

    static let inputs = ReplayPage.Inputs(
        configuration: "examples/dual-tunnel.yaml", capture: "out/<b>traffic</b>.pcap", events: "a'1.events")

    static func count(_ needle: String, in text: String) -> Int { text.components(separatedBy: needle).count - 1 }

    @Test func inputTextIsEscapedAndNoScriptIsWritten() {
        let html = ReplayPage(report: Self.report(), inputs: Self.inputs).html
        #expect(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"))
        #expect(!html.lowercased().contains("<script"), "the page has no script, from input or otherwise")
        #expect(html.contains("out/&lt;b&gt;traffic&lt;/b&gt;.pcap") && !html.contains("<b>traffic"))
        #expect(html.contains("a&#39;1.events"))
        #expect(html.contains("to-cloud: a1 -&gt; a2&amp;b (active tunnel down)"))
        #expect(!html.contains("a2&b"), "a tunnel name is escaped everywhere it appears")
    }

    @Test func thePageHasAnSVGPerChartALinePerEgressAndEveryTable() {
        let html = ReplayPage(report: Self.report(), inputs: Self.inputs).html
        #expect(html.hasPrefix("<!DOCTYPE html>"))
        #expect(Self.count("<svg ", in: html) == 3)
        for chart in ["traffic-chart", "drops-chart", "latency-chart"] {
            #expect(html.contains("<svg id=\"\(chart)\""))
        }
        #expect(Self.count("<polyline class=\"series egress\"", in: html) == 2)
        #expect(Self.count("<polyline class=\"series drops\"", in: html) == 1)
        // The what-if event and the selection change are drawn; the health change is only listed.
        #expect(Self.count("<g class=\"marker what-if\">", in: html) == 1)
        #expect(Self.count("<g class=\"marker selection\">", in: html) == 1)
        #expect(html.contains("0.030 s  &lt;script&gt;"))
        for table in ["summary-table", "egress-table", "events-table", "phases-table", "drops-table", "latency-table"] {
            #expect(Self.count("<table id=\"\(table)\">", in: html) == 1, "missing \(table)")
        }
        #expect(html.contains("a1 health down (forced)"))
        // The legend's totals, and the drops by reason, most first.
        #expect(html.contains("a1: 30 packets") && html.contains("drops: 3 packets"))
        let noRoute = html.range(of: "<td>no-route</td>")
        let truncated = html.range(of: "<td>malformed-truncated</td>")
        #expect(noRoute != nil && truncated != nil && noRoute!.lowerBound < truncated!.lowerBound)
        // The bins: 10 per bin at 5 points, 3 drops in bin 4 (no other values).
        #expect(html.contains("packets per 10 ms"))
    }

    @Test func aReportWithoutPacketsStillMakesAPage() {
        let html = ReplayPage(report: ReplayReport(tunnelNames: ["a1"]), inputs: Self.inputs).html
        #expect(Self.count("<svg ", in: html) == 3 && html.contains("no drops") && html.contains("no events"))
    }

    @Test func theSamePageForTheSameReplayAndTheFileHoldsIt() throws {
        try withTemporaryDirectory { directory in
            let capture = directory + "/in.pcap"
            try ReplayTests.writeCapture(capture, count: 30_000)  // 30 ms of capture time: 3 bins
            let events = try ReplayEvent.parse("12ms tunnel a1 down\n", file: "ev")
            var pages: [String] = []
            for run in 0..<2 {
                var report = try Replayer(
                    settings: ReplaySettings(capture: capture, events: events), gateway: try ReplayTests.gateway()
                ).run()
                let timeline = report.timeline
                #expect(timeline.binCount == 3)
                #expect(timeline.packets[0][0] > 0 && timeline.packets[1][0] == 0, "a1 until 12 ms")
                #expect(timeline.packets[0][2] == 0 && timeline.packets[1][2] > 0, "a2 after")
                #expect(timeline.packets.map { $0.reduce(0, +) } == report.counters.perTunnel.map(\.packets))
                #expect(timeline.drops.reduce(0, +) == report.counters.totalDrops)
                #expect(
                    timeline.marks.contains { $0 == .init(offset: 12 * Self.ms, kind: .whatIf, text: "tunnel a1 down") }
                )
                #expect(
                    timeline.marks.contains {
                        $0.kind == .selection && $0.text == "to-cloud: a1 -> a2 (active tunnel down)"
                            && $0.offset == 12 * Self.ms
                    })
                // Only the wall-clock figures differ from run to run.
                report.wallSeconds = 0
                report.latency = (0, 0, 0, 0)
                let page = ReplayPage(report: report, inputs: Self.inputs)
                let path = directory + "/report-\(run).html"
                try page.write(to: path)
                #expect(try String(contentsOfFile: path, encoding: .utf8) == page.html)
                pages.append(page.html)
            }
            #expect(pages[0] == pages[1])
        }
    }
}
