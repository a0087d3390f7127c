import Prometheus
import TandemDaemon
import TandemDataplane
import TandemRouting
import Testing

/// The exposition of a known set of counters, line by line.
@Suite("daemon metrics")
struct DaemonMetricsTests {
    static func snapshot(packets: Int = 42) -> MetricsSnapshot {
        var counters = PipelineCounters(tunnels: 2)
        counters.perTunnel[0].packets = packets
        counters.perTunnel[0].bytes = packets * 100
        counters.perTunnel[1].packets = 7
        counters.perTunnel[1].bytes = 700
        counters.received.packets = 60
        counters.received.bytes = 6000
        counters.drops[DropCounter.index(.noRoute)] = 5
        counters.drops[DropCounter.index(.malformed(.truncated))] = 2
        counters.icmpSent = 4
        counters.icmpRateLimited = 1
        var snapshot = MetricsSnapshot()
        snapshot.pipeline = counters
        snapshot.failedWrites = 3
        snapshot.tunnels = [
            .init(name: "a1", device: "tnd-a1", up: false, linkUp: false),
            .init(name: "b1", device: "tnd-b1", up: true, drained: true),
        ]
        snapshot.connections = [.init(name: "c1", tunnels: ["a1", "b1"], selected: "b1")]
        snapshot.routes = [.static: 12, .dynamic: 1000, .system: 2]
        snapshot.refusedDefaults = 1
        snapshot.refusedOverQuota = 9
        return snapshot
    }

    static func lines(_ metrics: DaemonMetrics) -> Set<String> {
        Set(String(decoding: metrics.exposition(), as: UTF8.self).split(separator: "\n").map(String.init))
    }

    @Test func knownCounters() {
        let metrics = DaemonMetrics()
        metrics.update(Self.snapshot())
        let lines = Self.lines(metrics)
        let expected = [
            #"tandem_tunnel_packets_total{tunnel="a1",device="tnd-a1"} 42"#,
            #"tandem_tunnel_bytes_total{tunnel="a1",device="tnd-a1"} 4200"#,
            #"tandem_tunnel_packets_total{tunnel="b1",device="tnd-b1"} 7"#,
            "tandem_received_packets_total 60",
            "tandem_received_bytes_total 6000",
            #"tandem_dropped_packets_total{reason="no-route"} 5"#,
            #"tandem_dropped_packets_total{reason="malformed-truncated"} 2"#,
            #"tandem_dropped_packets_total{reason="ttl-exceeded"} 0"#,
            "tandem_icmp_errors_sent_total 4",
            "tandem_icmp_errors_rate_limited_total 1",
            "tandem_failed_writes_total 3",
            #"tandem_tunnel_up{tunnel="a1"} 0.0"#,
            #"tandem_tunnel_up{tunnel="b1"} 1.0"#,
            #"tandem_tunnel_link_up{tunnel="a1"} 0.0"#,
            #"tandem_tunnel_link_up{tunnel="b1"} 1.0"#,
            #"tandem_tunnel_drained{tunnel="a1"} 0.0"#,
            #"tandem_tunnel_drained{tunnel="b1"} 1.0"#,
            #"tandem_connection_selected_tunnel{connection="c1",tunnel="a1"} 0.0"#,
            #"tandem_connection_selected_tunnel{connection="c1",tunnel="b1"} 1.0"#,
            #"tandem_routes{source="static"} 12.0"#,
            #"tandem_routes{source="dynamic"} 1000.0"#,
            #"tandem_routes{source="specific"} 0.0"#,
            #"tandem_learned_routes_refused_total{reason="default"} 1"#,
            #"tandem_learned_routes_refused_total{reason="quota"} 9"#,
            "tandem_netlink_errors_total 0",
            "# TYPE tandem_tunnel_packets_total counter",
            "# HELP tandem_tunnel_packets_total Packets forwarded into a tunnel's egress device.",
            "# TYPE tandem_tunnel_up gauge",
        ]
        for line in expected { #expect(lines.contains(line), "missing: \(line)") }
    }

    /// Counters are set from totals at each scrape: they follow the totals, and start over when a total drops.
    @Test func updatesFollowTotals() {
        let metrics = DaemonMetrics()
        metrics.update(Self.snapshot(packets: 42))
        metrics.update(Self.snapshot(packets: 50))
        #expect(Self.lines(metrics).contains(#"tandem_tunnel_packets_total{tunnel="a1",device="tnd-a1"} 50"#))
        metrics.update(Self.snapshot(packets: 10))
        #expect(Self.lines(metrics).contains(#"tandem_tunnel_packets_total{tunnel="a1",device="tnd-a1"} 10"#))
        // Kernel mode: no pipeline, no pipeline counters.
        let kernel = DaemonMetrics()
        var snapshot = Self.snapshot()
        snapshot.pipeline = nil
        kernel.update(snapshot)
        #expect(!Self.lines(kernel).contains { $0.hasPrefix("tandem_tunnel_packets_total") })
        #expect(Self.lines(kernel).contains(#"tandem_tunnel_up{tunnel="b1"} 1.0"#))
    }

    @Test func recorders() {
        let metrics = DaemonMetrics()
        metrics.recordProbe(tunnel: "a1", rtt: .milliseconds(3))
        metrics.recordProbe(tunnel: "a1", rtt: .milliseconds(30))
        metrics.recordProbe(tunnel: "a1", rtt: nil)
        metrics.recordFailover(connection: "c1")
        metrics.recordFailover(connection: "c1")
        metrics.recordNetlinkErrors(3)
        metrics.recordNetlinkErrors(0)
        let lines = Self.lines(metrics)
        let expected = [
            #"tandem_probes_total{tunnel="a1",result="answered"} 2"#,
            #"tandem_probes_total{tunnel="a1",result="lost"} 1"#,
            #"tandem_probe_rtt_seconds_bucket{tunnel="a1",le="0.002"} 0"#,
            #"tandem_probe_rtt_seconds_bucket{tunnel="a1",le="0.005"} 1"#,
            #"tandem_probe_rtt_seconds_bucket{tunnel="a1",le="0.05"} 2"#,
            #"tandem_probe_rtt_seconds_bucket{tunnel="a1",le="+Inf"} 2"#,
            #"tandem_probe_rtt_seconds_sum{tunnel="a1"} 0.033"#,
            #"tandem_probe_rtt_seconds_count{tunnel="a1"} 2"#,
            "# TYPE tandem_probe_rtt_seconds histogram",
            #"tandem_failovers_total{connection="c1"} 2"#,
            "tandem_netlink_errors_total 3",
        ]
        for line in expected { #expect(lines.contains(line), "missing: \(line)\n\(lines.sorted())") }
    }

    @Test func labelValuesAreEscaped() {
        let metrics = DaemonMetrics()
        metrics.recordFailover(connection: "c\"1\\\n")
        #expect(Self.lines(metrics).contains(#"tandem_failovers_total{connection="c\"1\\\n"} 1"#))
    }
}
