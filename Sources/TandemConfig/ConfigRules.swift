// The rules that look at several items at once: overlapping routes in destination routing mode (rule 1), one
// local ASN for all BGP tunnels (rule 4), the policy route limit, and the warnings about unused parts.

import TandemPacket
import Yams

/// A static destination route as the overlap check sees it.
struct OverlapCandidate<Prefix: IPPrefix> {
    let prefix: Prefix
    let connection: String
    let location: SourceLocation
}

/// Finds static routes of different connections where one prefix strictly holds the other.
///
/// Sorted by address, then length, a prefix comes before every prefix it holds, so one pass with a stack of
/// the prefixes that hold the current one finds, for each route, the nearest holding route of another
/// connection. The stack holds one entry per distinct prefix on the path (at most 33 or 129), each with at most
/// two routes: the first, and the first of another connection (enough to find "a different connection" for
/// any route). The cost is the sort, O(n log n), plus O(n × depth).
///
/// - Parameter routes: Static routes of one family.
/// - Returns: For each route held by a route of another connection, that pair (outer, inner), once per inner.
func overlappingRoutes<Prefix: IPPrefix>(_ routes: [OverlapCandidate<Prefix>])
    -> [(outer: OverlapCandidate<Prefix>, inner: OverlapCandidate<Prefix>)]
{
    let sorted = routes.sorted {
        ($0.prefix.address, $0.prefix.length, $0.location.line, $0.location.column)
            < ($1.prefix.address, $1.prefix.length, $1.location.line, $1.location.column)
    }
    var found: [(outer: OverlapCandidate<Prefix>, inner: OverlapCandidate<Prefix>)] = []
    var stack: [(prefix: Prefix, routes: [OverlapCandidate<Prefix>])] = []
    var start = 0
    while start < sorted.count {
        let prefix = sorted[start].prefix
        var end = start + 1
        while end < sorted.count && sorted[end].prefix == prefix { end += 1 }
        while let top = stack.last, !top.prefix.contains(prefix) { stack.removeLast() }
        for route in sorted[start..<end] {
            search: for holder in stack.reversed() {
                if let outer = holder.routes.first(where: { $0.connection != route.connection }) {
                    found.append((outer, route))
                    break search
                }
            }
        }
        var representatives = [sorted[start]]
        if let other = sorted[start..<end].first(where: { $0.connection != sorted[start].connection }) {
            representatives.append(other)
        }
        stack.append((prefix, representatives))
        start = end
    }
    return found
}

extension ConfigLoader {
    /// Rule 1: in destination routing mode, static routes of different connections must not overlap.
    func checkOverlappingRoutes() {
        var ipv4: [OverlapCandidate<IPv4Prefix>] = []
        var ipv6: [OverlapCandidate<IPv6Prefix>] = []
        for route in routes where route.source == .static {
            switch route.prefix {
            case .v4(let prefix):
                ipv4.append(
                    OverlapCandidate(
                        prefix: prefix, connection: route.connection, location: route.location(of: "prefix")))
            case .v6(let prefix):
                ipv6.append(
                    OverlapCandidate(
                        prefix: prefix, connection: route.connection, location: route.location(of: "prefix")))
            }
        }
        func report<Prefix>(_ pairs: [(outer: OverlapCandidate<Prefix>, inner: OverlapCandidate<Prefix>)]) {
            for (outer, inner) in pairs {
                reporter.error(
                    inner.location,
                    "routes \(outer.prefix) (line \(outer.location.line), connection \(outer.connection)) and "
                        + "\(inner.prefix) (line \(inner.location.line), connection \(inner.connection)) overlap; "
                        + "in destination routing mode the more specific route may not take effect; "
                        + "use the same connection, or routing-mode: policy")
            }
        }
        report(overlappingRoutes(ipv4))
        report(overlappingRoutes(ipv6))
    }

    /// Rule 4: every BGP tunnel uses the same local ASN.
    func checkLocalASNs() {
        var first: GatewayConfig.Tunnel?
        for tunnel in tunnels {
            guard let bgp = tunnel.bgp else { continue }
            guard let reference = first, let expected = reference.bgp?.localASN else {
                first = tunnel
                continue
            }
            if bgp.localASN != expected {
                reporter.error(
                    bgp.keyLocations["local-asn"] ?? tunnel.location(of: "bgp"),
                    "tunnel '\(tunnel.name)' uses local ASN \(bgp.localASN) but tunnel '\(reference.name)' "
                        + "(line \(reference.location.line)) uses \(expected); all BGP tunnels use the same local ASN")
            }
        }
    }

    /// The number of policy routes against `limits.policy-routes`.
    func checkPolicyRouteLimit(_ nodes: [Node]) {
        guard let limit = limits?.policyRoutes, nodes.count > limit else { return }
        let source = limits?.keyLocations["policy-routes"].map { " (line \($0.line))" } ?? " (default)"
        reporter.error(
            reporter.location(nodes[limit].mark),
            "there are \(nodes.count) policy routes, more than the limit of \(limit)\(source); "
                + "raise 'policy-routes' in 'limits' (at most 1024) or remove policy routes")
    }

    /// Warnings: tunnels in no connection, connections no route uses, BGP without learning.
    func warnAboutUnusedParts() {
        let learns = learning != nil
        for tunnel in tunnels where tunnelOwners[tunnel.name] == nil {
            reporter.warning(
                tunnel.location(of: "name"),
                "tunnel '\(tunnel.name)' is in no connection; no traffic will use it")
        }
        for connection in connections where !usedConnections.contains(connection.name) {
            let hasBGP = connection.tunnels.contains { name in tunnels.first { $0.name == name }?.routing == .bgp }
            if hasBGP && learns { continue }
            reporter.warning(
                connection.location(of: "name"),
                "connection '\(connection.name)' is not used by any route or policy route; no traffic will use it")
        }
        if !learns, let tunnel = tunnels.first(where: { $0.routing == .bgp }) {
            reporter.warning(
                tunnel.location(of: "routing"),
                "tunnel '\(tunnel.name)' uses BGP but there is no 'learning' section, so the routes its peer "
                    + "announces are never used; add 'learning:' (defaults: table 254, protocols bird and bgp)")
        }
    }
}
