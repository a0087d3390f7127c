// The gateway's Prometheus metrics (swift-prometheus, through a registry that swift-metrics can share). Two kinds:
// - recorded as they happen, by the control thread: probe results, failovers, netlink errors;
// - read at scrape time (``DaemonMetrics/update(_:)``) from what the daemon already keeps: the pipeline counters
//   (plain per-thread memory summed by the forwarder), the health state, the RIB's route counts, whether the
//   configured state is in the kernel and what it refused, the log lines dropped. Nothing is done per packet.

import Prometheus
import Synchronization
import TandemDataplane
import TandemRouting

/// What the daemon knows at one instant, for the metrics read at scrape time.
public struct MetricsSnapshot: Sendable {
    /// A tunnel: its name, egress device and health.
    public struct Tunnel: Sendable {
        public var name: String
        public var device: String
        /// Whether the failover controller takes it for up (its effective state).
        public var up: Bool
        /// Whether its interface can carry traffic (as the last link notification said).
        public var linkUp: Bool
        /// Whether an operator (or the file) drained it.
        public var drained: Bool
        public init(name: String, device: String, up: Bool, linkUp: Bool = true, drained: Bool = false) {
            self.name = name
            self.device = device
            self.up = up
            self.linkUp = linkUp
            self.drained = drained
        }
    }

    /// A connection and its tunnels, with the one selected to carry traffic (nil: none, all down).
    public struct Connection: Sendable {
        public var name: String
        public var tunnels: [String]
        public var selected: String?
        public init(name: String, tunnels: [String], selected: String?) {
            self.name = name
            self.tunnels = tunnels
            self.selected = selected
        }
    }

    /// The tunnels in configuration order (the order of ``PipelineCounters/perTunnel``).
    public var tunnels: [Tunnel] = []
    public var connections: [Connection] = []
    /// The pipelines' counters summed (nil in kernel mode: the kernel forwards).
    public var pipeline: PipelineCounters?
    /// Packets the egress devices did not take, and ICMP errors the ingress device did not take.
    public var failedWrites = 0
    public var failedReplies = 0
    /// Routes in the RIB per source.
    public var routes: [RouteSource: Int] = [:]
    /// Learned routes refused: default routes, and those over the dynamic-routes quota.
    public var refusedDefaults = 0
    public var refusedOverQuota = 0
    /// Learned routes waiting at the quota for room.
    public var waitingLearnedRoutes = 0
    /// Learned prefixes that overlap a configured route of another connection now, and how many were reported.
    public var overlappingLearnedRoutes = 0
    public var overlapsReported = 0
    /// Whether everything configured is in the kernel (`tandem_ready`); nil leaves the gauge out.
    public var ready: Bool?
    /// The changes the kernel refused and Tandem retries, by kind (`rule`, `tunnel-route`, `remote-route`,
    /// `nexthop`).
    public var pendingChanges: [String: Int] = [:]
    /// Log lines dropped so far because standard error could not take them at once (full, blocked or closed).
    public var droppedLogLines = 0
    /// Userspace mode: the packets each queue of the ingress device holds now (`linux.tun-queue-length`, or less
    /// while a standing queue is cut to `linux.tun-queue-delay`); nil leaves the gauge out.
    public var ingressQueueLength: Int?

    public init() {}
}

/// The daemon's metrics in a Prometheus registry, and the exposition text of `GET /metrics`.
///
/// Thread-safe; the daemon calls it from its control thread.
public final class DaemonMetrics: Sendable {
    /// The registry the metrics live in (`tandem run` bootstraps swift-metrics with a factory over it).
    public let registry: PrometheusCollectorRegistry
    /// The buckets of the probe round-trip-time histogram.
    public static let rttBuckets: [Duration] = [
        .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25),
        .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2),
    ]

    /// The last value given to each counter read at scrape time, by name and labels: counters only go up, so an
    /// update adds the difference.
    private let lastTotals = Mutex<[String: Int]>([:])

    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
        _ = registry.makeCounter(descriptor: Self.descriptor(Name.netlinkErrors, Help.netlinkErrors))
    }

    enum Name {
        static let tunnelPackets = "tandem_tunnel_packets_total"
        static let tunnelBytes = "tandem_tunnel_bytes_total"
        static let receivedPackets = "tandem_received_packets_total"
        static let receivedBytes = "tandem_received_bytes_total"
        static let drops = "tandem_dropped_packets_total"
        static let icmpSent = "tandem_icmp_errors_sent_total"
        static let icmpRateLimited = "tandem_icmp_errors_rate_limited_total"
        static let failedWrites = "tandem_failed_writes_total"
        static let failedReplies = "tandem_failed_icmp_writes_total"
        static let tunnelUp = "tandem_tunnel_up"
        static let selected = "tandem_connection_selected_tunnel"
        static let linkUp = "tandem_tunnel_link_up"
        static let drained = "tandem_tunnel_drained"
        static let failovers = "tandem_failovers_total"
        static let probes = "tandem_probes_total"
        static let rtt = "tandem_probe_rtt_seconds"
        static let routes = "tandem_routes"
        static let refused = "tandem_learned_routes_refused_total"
        static let waiting = "tandem_learned_routes_waiting"
        static let overlapping = "tandem_learned_routes_overlapping"
        static let overlapsReported = "tandem_learned_route_overlaps_total"
        static let netlinkErrors = "tandem_netlink_errors_total"
        static let ready = "tandem_ready"
        static let pending = "tandem_kernel_pending_changes"
        static let droppedLogLines = "tandem_log_lines_dropped_total"
        static let ingressQueueLength = "tandem_ingress_queue_length"
    }

    enum Help {
        static let tunnelPackets = "Packets forwarded into a tunnel's egress device."
        static let tunnelBytes = "Bytes forwarded into a tunnel's egress device."
        static let receivedPackets = "Packets read from the ingress device."
        static let receivedBytes = "Bytes read from the ingress device."
        static let drops = "Packets dropped, by reason."
        static let icmpSent = "ICMP errors sent back to the site."
        static let icmpRateLimited = "ICMP errors the rate limit suppressed."
        static let failedWrites = "Forwarded packets an egress device did not take."
        static let failedReplies = "ICMP errors the ingress device did not take."
        static let tunnelUp = "1 if the tunnel is up for the failover controller, 0 if down."
        static let selected = "1 for the tunnel a connection sends its traffic on, 0 for its other tunnels."
        static let linkUp = "1 if the tunnel's interface is up (carrier, admin up, present), 0 if not."
        static let drained = "1 if the tunnel is drained (down for selection, its probes go on), 0 if not."
        static let failovers = "Changes of a connection's selected tunnel."
        static let probes = "Health-check probes decided, by result (answered, lost)."
        static let rtt = "Round-trip time of answered health-check probes."
        static let routes = "Routes in the RIB, by source."
        static let refused = "Learned routes refused, by reason (default, quota)."
        static let waiting = "Learned routes refused at the quota and waiting for room (taken in arrival order)."
        static let overlapping =
            "Learned prefixes that overlap a configured route of another connection (one may not take effect)."
        static let overlapsReported = "Learned prefixes reported as overlapping another connection's route."
        static let netlinkErrors = "Netlink requests the kernel refused."
        static let ready = "1 if everything configured is in the kernel, 0 while a change it refused is retried."
        static let pending = "Changes the kernel refused and Tandem retries, by kind."
        static let droppedLogLines = "Log lines dropped because standard error could not take them at once."
        static let ingressQueueLength =
            "Packets each queue of the ingress device holds now (less than configured while a standing queue is cut)."
    }

    /// A metric's full name and help text (the unit is part of the name: `tandem_probe_rtt_seconds`).
    static func descriptor(_ name: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: name, unitName: "", helpText: help)
    }

    // MARK: Recorded as they happen

    /// One decided health-check probe of `tunnel`: its round-trip time, or nil if it was lost.
    public func recordProbe(tunnel: String, rtt: Duration?) {
        let result = rtt == nil ? "lost" : "answered"
        registry.makeCounter(
            descriptor: Self.descriptor(Name.probes, Help.probes), labels: [("tunnel", tunnel), ("result", result)])
            .increment()
        if let rtt {
            registry.makeDurationHistogram(
                descriptor: Self.descriptor(Name.rtt, Help.rtt), labels: [("tunnel", tunnel)], buckets: Self.rttBuckets
            ).record(rtt)
        }
    }

    /// A change of `connection`'s selected tunnel.
    public func recordFailover(connection: String) {
        registry.makeCounter(
            descriptor: Self.descriptor(Name.failovers, Help.failovers), labels: [("connection", connection)])
            .increment()
    }

    /// Netlink requests that failed (`count` may be 0: nothing is counted).
    public func recordNetlinkErrors(_ count: Int) {
        guard count > 0 else { return }
        registry.makeCounter(descriptor: Self.descriptor(Name.netlinkErrors, Help.netlinkErrors))
            .increment(by: Int64(count))
    }

    // MARK: Read at scrape time

    /// Sets the metrics read at scrape time from `snapshot`.
    public func update(_ snapshot: MetricsSnapshot) {
        if let counters = snapshot.pipeline {
            for (index, tunnel) in snapshot.tunnels.enumerated() where index < counters.perTunnel.count {
                let labels = [("tunnel", tunnel.name), ("device", tunnel.device)]
                let count = counters.perTunnel[index]
                setCounter(Name.tunnelPackets, labels, Help.tunnelPackets, count.packets)
                setCounter(Name.tunnelBytes, labels, Help.tunnelBytes, count.bytes)
            }
            setCounter(Name.receivedPackets, [], Help.receivedPackets, counters.received.packets)
            setCounter(Name.receivedBytes, [], Help.receivedBytes, counters.received.bytes)
            for (index, count) in counters.drops.enumerated() {
                setCounter(Name.drops, [("reason", DropCounter.reason(index).key)], Help.drops, count)
            }
            setCounter(Name.icmpSent, [], Help.icmpSent, counters.icmpSent)
            setCounter(Name.icmpRateLimited, [], Help.icmpRateLimited, counters.icmpRateLimited)
            setCounter(Name.failedWrites, [], Help.failedWrites, snapshot.failedWrites)
            setCounter(Name.failedReplies, [], Help.failedReplies, snapshot.failedReplies)
        }
        for tunnel in snapshot.tunnels {
            let labels = [("tunnel", tunnel.name)]
            registry.makeGauge(descriptor: Self.descriptor(Name.tunnelUp, Help.tunnelUp), labels: labels)
                .set(to: tunnel.up ? 1.0 : 0.0)
            registry.makeGauge(descriptor: Self.descriptor(Name.linkUp, Help.linkUp), labels: labels)
                .set(to: tunnel.linkUp ? 1.0 : 0.0)
            registry.makeGauge(descriptor: Self.descriptor(Name.drained, Help.drained), labels: labels)
                .set(to: tunnel.drained ? 1.0 : 0.0)
        }
        for connection in snapshot.connections {
            for tunnel in connection.tunnels {
                let labels = [("connection", connection.name), ("tunnel", tunnel)]
                registry.makeGauge(descriptor: Self.descriptor(Name.selected, Help.selected), labels: labels)
                    .set(to: connection.selected == tunnel ? 1.0 : 0.0)
            }
        }
        for source in RouteSource.allCases {
            let labels = [("source", "\(source)")]
            registry.makeGauge(descriptor: Self.descriptor(Name.routes, Help.routes), labels: labels)
                .set(to: Double(snapshot.routes[source] ?? 0))
        }
        setCounter(Name.refused, [("reason", "default")], Help.refused, snapshot.refusedDefaults)
        setCounter(Name.refused, [("reason", "quota")], Help.refused, snapshot.refusedOverQuota)
        registry.makeGauge(descriptor: Self.descriptor(Name.waiting, Help.waiting))
            .set(to: Double(snapshot.waitingLearnedRoutes))
        registry.makeGauge(descriptor: Self.descriptor(Name.overlapping, Help.overlapping))
            .set(to: Double(snapshot.overlappingLearnedRoutes))
        setCounter(Name.overlapsReported, [], Help.overlapsReported, snapshot.overlapsReported)
        if let ready = snapshot.ready {
            registry.makeGauge(descriptor: Self.descriptor(Name.ready, Help.ready)).set(to: ready ? 1.0 : 0.0)
        }
        for (kind, count) in snapshot.pendingChanges.sorted(by: { $0.key < $1.key }) {
            registry.makeGauge(descriptor: Self.descriptor(Name.pending, Help.pending), labels: [("kind", kind)])
                .set(to: Double(count))
        }
        setCounter(Name.droppedLogLines, [], Help.droppedLogLines, snapshot.droppedLogLines)
        if let length = snapshot.ingressQueueLength {
            registry.makeGauge(descriptor: Self.descriptor(Name.ingressQueueLength, Help.ingressQueueLength))
                .set(to: Double(length))
        }
    }

    /// Brings a counter to `value`: adds the difference to the last value, or starts over if `value` is lower
    /// (a reload that renumbered tunnels; Prometheus takes a drop for a counter reset).
    private func setCounter(_ name: String, _ labels: [(String, String)], _ help: String, _ value: Int) {
        let counter =
            labels.isEmpty
            ? registry.makeCounter(descriptor: Self.descriptor(name, help))
            : registry.makeCounter(descriptor: Self.descriptor(name, help), labels: labels)
        let key = name + "{" + labels.map { "\($0)=\($1)" }.joined(separator: ",") + "}"
        lastTotals.withLock { last in
            let previous = last[key] ?? 0
            if value >= previous {
                if value > previous { counter.increment(by: Int64(value - previous)) }
            } else {
                counter.reset()
                counter.increment(by: Int64(value))
            }
            last[key] = value
        }
    }

    /// The Prometheus text exposition (format 0.0.4) of every metric.
    public func exposition() -> [UInt8] { registry.emitToBuffer() }
}
