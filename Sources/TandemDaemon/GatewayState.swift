// The gateway's state, one value: the configuration in force, the router and failover controller built from it,
// what was learned, what is routed into Tandem, what the kernel holds of it and what it refused. No OS call reads
// or writes it; ``Gateway`` changes it in answer to events (configuration, route notifications, probe outcomes,
// timers) and talks to the kernel through ``KernelPort``. A reload builds a new value aside; a failed one keeps the
// old value whole.

import TandemConfig
import TandemLinux
import TandemPacket
import TandemRouting

/// Everything the gateway knows, as one value.
struct GatewayState {
    /// The configuration in force.
    var config: GatewayConfig
    /// The RIB and the forwarding plane the pipeline threads read (a class: a reload makes a new one).
    var router: Router
    /// The tunnels' health and the connections' selections.
    var controller: FailoverController
    /// Each learned prefix, with the tunnels it was learned through (one per connection).
    var learned: [RoutePrefix: LearnedPaths] = [:]
    /// Learned routes refused at the dynamic-route quota, waiting for room.
    var overQuota = PendingLearnedRoutes()
    /// Learned prefixes that overlap a configured route of another connection, with what they overlap (reported once
    /// each; `show routes` marks them).
    var overlaps: [RoutePrefix: String] = [:]
    /// The derived system routes (each BGP tunnel's inside /30), with the tunnel whose interface each goes out of.
    let systemRouteTunnels: [RoutePrefix: String]
    /// The prefixes the configuration routes into Tandem (its routes, the derived system routes, the policy routes'
    /// destinations).
    let configuredPrefixes: Set<RoutePrefix>
    /// The prefixes routed into Tandem now: the configuration's and the learned ones ...
    var remotePrefixes: RemotePrefixes { RemotePrefixes(configured: configuredPrefixes, learned: learned) }
    /// ... where each one's traffic goes, aggregated into the routes of Tandem's table (a full table's million
    /// prefixes into one device are some 213,000 routes) ...
    var remoteRoutes = AggregatedTable<KernelRoute.Target>()
    /// ... those routes as the kernel holds them, by their (aggregated) prefixes ...
    var installedRemote: [RoutePrefix: KernelRoute.Target] = [:]
    /// ... and the remote prefixes that go nowhere now (kernel mode: their chain has no group yet).
    var unrouted: Set<RoutePrefix> = []
    /// Kernel mode: the nexthop objects in the kernel.
    var kernelMode: KernelModeState?
    /// Userspace mode: the ingress device's index, which the remote routes point at.
    var ingressIndex: UInt32 = 0
    /// What the kernel refused and is retried.
    var pending = PendingChanges()
    /// Learning's progress through a resync after lost notifications.
    var learning = LearningProgress()

    /// What the kernel should hold for this configuration.
    var plan: KernelPlan { KernelPlan(config: config) }

    /// Builds the router and controller of a configuration.
    init(config: GatewayConfig, now: UInt64) throws(DaemonError) {
        self.config = config
        do {
            (router, controller) = try config.makeRouter(at: MonotonicInstant(nanoseconds: now))
        } catch {
            throw DaemonError("building the routing table: \(error)")
        }
        configuredPrefixes = KernelPlan.configuredPrefixes(of: config)
        systemRouteTunnels = Dictionary(
            config.derivedSystemRoutes.map { ($0.prefix, $0.tunnel) }, uniquingKeysWith: { first, _ in first })
        reserveForLearnedRoutes()
    }

    /// The most learned routes the per-prefix tables are sized for at start: a full Internet table (1.06 M in
    /// 2024). Room costs memory whether used or not; a larger quota grows past this as usual.
    static let largestLearningReservation = 1_100_000

    /// Sizes the per-prefix tables for the dynamic-route quota at once. A Swift dictionary that outgrows its
    /// capacity rehashes every entry in one call, on the thread that times the probes: under check-faults-load's
    /// 500,000 routes, perf found these rehashes (learned, remote and RIB tables) among its long turns. The
    /// Internet table is about 85 % IPv4, so IPv6 gets a quarter; past that it grows as usual.
    mutating func reserveForLearnedRoutes() {
        guard config.learning != nil else { return }
        let prefixes = min(config.limits.dynamicRoutes, Self.largestLearningReservation) + configuredPrefixes.count
        learned.reserveCapacity(prefixes)
        // Aggregated, an Internet table is a fifth of its prefixes.
        installedRemote.reserveCapacity(prefixes / 4)
        router.reserveCapacity(ipv4Prefixes: prefixes, ipv6Prefixes: prefixes / 4)
    }

    /// The connection a tunnel belongs to, by the tunnel's name.
    func connection(ofTunnel name: String) -> ConnectionID? {
        config.connections.firstIndex { $0.tunnels.contains(name) }.map(ConnectionID.init)
    }

    /// Whether the tunnel of this name is down now.
    func isDown(tunnelNamed name: String) -> Bool {
        guard let index = config.tunnels.firstIndex(where: { $0.name == name }),
            let (connection, role) = controller.placement(of: TunnelID(index))
        else { return false }
        return controller.monitor(of: connection).healthState(of: role) == .down
    }
}

/// Kernel changes that were refused (a foreign route in the way, an unreachable gateway, a device not ready): the
/// gateway retries them with a growing back-off, and is not ready while any is missing.
struct PendingChanges {
    /// Rules not in the kernel.
    var rules: Set<RoutingRule> = []
    /// Tunnel-table routes not in the kernel.
    var tunnelRoutes: [KernelRoute] = []
    /// Remote prefixes whose route in Tandem's table is not as wanted.
    var remote: Set<RoutePrefix> = []
    /// Kernel mode: nexthop objects or groups not as wanted.
    var nexthops: Set<UInt32> = []
    /// The last refusal, for `tandem show` and the log.
    var lastError: SystemError?
    /// Retries so far since the last time everything was in place.
    var attempts = 0
    /// When to retry next (monotonic nanoseconds), while something is pending.
    var retryAt: UInt64?

    var isEmpty: Bool { rules.isEmpty && tunnelRoutes.isEmpty && remote.isEmpty && nexthops.isEmpty }
    var count: Int { rules.count + tunnelRoutes.count + remote.count + nexthops.count }

    /// The back-off after `attempts` failed tries: 1 s, 2 s, 4 s, ... at most 30 s.
    static func backoff(attempts: Int) -> UInt64 {
        min(30, UInt64(1) << UInt64(min(attempts, 5))) * 1_000_000_000
    }

    /// "3 missing: 1 rule(s), 2 remote route(s)".
    var missingSummary: String {
        var parts: [String] = []
        if !rules.isEmpty { parts.append("\(rules.count) rule(s)") }
        if !tunnelRoutes.isEmpty { parts.append("\(tunnelRoutes.count) tunnel-table route(s)") }
        if !remote.isEmpty { parts.append("\(remote.count) remote route(s)") }
        if !nexthops.isEmpty { parts.append("\(nexthops.count) nexthop object(s)") }
        return "\(count) missing: " + parts.joined(separator: ", ")
    }

    /// "3 missing: 1 rule(s), 2 remote route(s); last refusal: adding route ...: File exists".
    var summary: String { missingSummary + (lastError.map { "; last refusal: \($0)" } ?? "") }
}
