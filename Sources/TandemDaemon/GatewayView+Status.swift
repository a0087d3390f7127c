// `tandem show status`: whether the configured state is in the kernel ("ready"), and if not, what the kernel refused
// and Tandem retries (rules, tunnel-table routes, remote routes, nexthops: counts and a few of each), the last
// refusal with its errno, and when the next retry comes. The metrics say the same in numbers
// (`tandem_ready`, `tandem_kernel_pending_changes`; MetricsSnapshot.add).

import TandemConfig
import TandemJSON
import TandemLinux
import TandemPacket
import TandemRouting

/// The kernel side of a running gateway, as `show status` and the metrics see it: a copy, taken on the control
/// thread.
struct KernelStatus {
    /// Whether everything configured is in the kernel now.
    var ready: Bool
    /// What the kernel refused and is retried, with the last refusal and the retries so far.
    var pending: PendingChanges
    /// Nanoseconds until the next retry; nil when none is due.
    var nextRetryIn: UInt64?
    /// Learning's counts (nil without a `learning` section).
    var learning: LearningCounts?

    /// What learning holds, waits for and refused.
    struct LearningCounts {
        /// Learned prefixes, and their paths (dynamic routes: one per connection a prefix is learned through).
        var learned: Int
        var paths: Int
        /// Learned prefixes that overlap a configured route of another connection.
        var overlapping: Int
        /// Refused at the quota and waiting for room.
        var waiting: Int
        var quota: Int
        var refusedDefaults: Int
        var refusedOverQuota: Int
    }

    /// The pending changes of each kind, by the names the metrics' `kind` label and the JSON keys use.
    var pendingCounts: [(kind: String, count: Int)] {
        [
            ("rule", pending.rules.count), ("tunnel-route", pending.tunnelRoutes.count),
            ("remote-route", pending.remote.count), ("nexthop", pending.nexthops.count),
        ]
    }
}

extension MetricsSnapshot {
    /// `tandem_ready` and `tandem_kernel_pending_changes` from the kernel status.
    mutating func add(_ status: KernelStatus) {
        ready = status.ready
        for (kind, count) in status.pendingCounts { pendingChanges[kind] = count }
    }
}

extension Gateway {
    /// The kernel side now: ready or not, what is pending, the next retry.
    var kernelStatus: KernelStatus {
        let now = self.now
        let learning = config.learning.map { _ in
            KernelStatus.LearningCounts(
                learned: state.learned.count, paths: router.routeCount(.dynamic), overlapping: state.overlaps.count,
                waiting: state.overQuota.count,
                quota: router.configuration.dynamicRouteQuota, refusedDefaults: router.counters.refusedDynamicDefaults,
                refusedOverQuota: router.counters.refusedDynamicOverQuota)
        }
        return KernelStatus(
            ready: isReady && state.pending.isEmpty, pending: state.pending,
            nextRetryIn: state.pending.retryAt.map { $0 > now ? $0 - now : 0 }, learning: learning)
    }
}

extension GatewayView {
    /// How many pending changes of each kind `show status` names.
    static let pendingExamples = 5

    /// The answer to `show status`.
    func status(json: Bool) -> String {
        guard let status = kernel else { return json ? "{\"ready\":null}\n" : "# no kernel status\n" }
        let pending = status.pending
        let examples = pendingExamples(pending)
        if json {
            var object = JSONObject()
            object.add("ready", status.ready)
            object.add("mode", config.gateway.mode.rawValue)
            object.add("missing", pending.count)
            var counts = JSONObject()
            counts.add("rules", pending.rules.count)
            counts.add("tunnelRoutes", pending.tunnelRoutes.count)
            counts.add("remoteRoutes", pending.remote.count)
            counts.add("nexthops", pending.nexthops.count)
            object.add("pending", raw: counts.rendered)
            object.add(
                "examples",
                raw: JSONObject.array(
                    examples.map { example in
                        var item = JSONObject()
                        item.add("kind", example.kind)
                        item.add("change", example.text)
                        return item.rendered
                    }))
            if let error = pending.lastError {
                var refusal = JSONObject()
                refusal.add("errno", error.code)
                refusal.add("name", error.codeName)
                refusal.add("reason", error.reason)
                refusal.add("operation", error.operation)
                object.add("lastRefusal", raw: refusal.rendered)
            } else {
                object.add("lastRefusal", raw: "null")
            }
            object.add("retries", pending.attempts)
            object.add(
                "nextRetryMilliseconds", raw: status.nextRetryIn.map { String($0 / 1_000_000) } ?? "null")
            if let learning = status.learning {
                var counts = JSONObject()
                counts.add("learned", learning.learned)
                counts.add("paths", learning.paths)
                counts.add("overlapping", learning.overlapping)
                counts.add("waiting", learning.waiting)
                counts.add("quota", learning.quota)
                counts.add("refusedDefaults", learning.refusedDefaults)
                counts.add("refusedOverQuota", learning.refusedOverQuota)
                object.add("learning", raw: counts.rendered)
            }
            return object.rendered + "\n"
        }
        var lines: [String] = []
        if status.ready {
            lines.append("ready: \(config.gateway.mode) mode, nothing missing in the kernel")
        } else if pending.isEmpty {
            lines.append("not ready: starting")
        } else {
            lines.append("not ready: " + pending.missingSummary)
        }
        for example in examples { lines.append("missing \(example.kind) \(example.text)") }
        for (kind, count) in status.pendingCounts {
            let shown = examples.filter { $0.kind == kind }.count
            if count > shown { lines.append("missing \(kind) ... and \(count - shown) more") }
        }
        if let error = pending.lastError {
            lines.append("last refusal \(error.codeName) (errno \(error.code)): \(error)")
        }
        if let wait = status.nextRetryIn {
            lines.append("next retry in \(Self.milliseconds(.nanoseconds(wait))) (retries so far \(pending.attempts))")
        }
        if let learning = status.learning {
            lines.append(
                "learning: \(learning.learned) learned, \(learning.waiting) waiting for room under the quota of "
                    + "\(learning.quota) (limits.dynamic-routes); refused so far: \(learning.refusedDefaults) default, "
                    + "\(learning.refusedOverQuota) over the quota; \(learning.paths) path(s) (a prefix learned "
                    + "through several connections has one each, each counted in the quota); "
                    + "\(learning.overlapping) overlapping another connection's route")
        }
        return lines.map { $0 + "\n" }.joined()
    }

    /// A few of the pending changes of each kind, in a stable order, described with names where the view knows them.
    func pendingExamples(_ pending: PendingChanges) -> [(kind: String, text: String)] {
        let limit = Self.pendingExamples
        var examples: [(kind: String, text: String)] = []
        for rule in pending.rules.map(\.description).sorted().prefix(limit) { examples.append(("rule", rule)) }
        let routes = pending.tunnelRoutes.sorted { ($0.table, $0.prefix) < ($1.table, $1.prefix) }
        for route in routes.prefix(limit) { examples.append(("tunnel-route", describe(tunnelRoute: route))) }
        for prefix in pending.remote.sorted().prefix(limit) {
            examples.append(("remote-route", "\(prefix) table \(config.linux.table)"))
        }
        for id in pending.nexthops.sorted().prefix(limit) { examples.append(("nexthop", describe(nexthop: id))) }
        return examples
    }

    /// "0.0.0.0/0 via 198.18.2.2 dev gw-b table 202 (tunnel a2)": the tunnel's interface named, not its index.
    func describe(tunnelRoute route: KernelRoute) -> String {
        let index = config.tunnels.indices.first { config.linux.table(ofTunnel: $0) == route.table }
        let tunnel = index.map { config.tunnels[$0] }
        let device = tunnel?.interface
        let path =
            switch route.target {
            case .device(let number): "dev \(device ?? "#\(number)")"
            case .gateway(let gateway, let number): "via \(gateway) dev \(device ?? "#\(number)")"
            default: "\(route.target)"
            }
        return "\(route.prefix) \(path) table \(route.table)" + (tunnel.map { " (tunnel \($0.name))" } ?? "")
    }

    /// "id 1413742594 (tunnel a2, IPv4)" or "id 1414529025 (group of chain 0, IPv6)".
    func describe(nexthop id: UInt32) -> String {
        func family(_ offset: UInt32) -> String { offset % 2 == 0 ? "IPv4" : "IPv6" }
        if id >= KernelModeState.chainBase {
            let offset = id - KernelModeState.chainBase
            return "id \(id) (group of chain \(offset / 2), \(family(offset)))"
        }
        if id >= KernelModeState.tunnelBase {
            let offset = id - KernelModeState.tunnelBase
            let index = Int(offset / 2)
            let name = index < config.tunnels.count ? config.tunnels[index].name : "#\(index)"
            return "id \(id) (tunnel \(name), \(family(offset)))"
        }
        return "id \(id)"
    }
}
