// The short summary of a configuration that `tandem check-config` prints.

import TandemPacket
import TandemRouting

extension GatewayConfig {
    /// The summary `tandem check-config` prints for a valid file.
    ///
    /// ```
    /// gw.yaml: OK
    ///   gateway     site-a (userspace, destination routing)
    ///   tunnels     2 (a1 -> 198.18.10.1 on tnd-a1, a2 -> 198.18.10.2 on tnd-a2)
    ///   ...
    /// ```
    /// - Parameter file: The file name for the first line.
    /// - Returns: The lines, joined with newlines, without a final newline.
    public func summary(file: String) -> String {
        func list(_ items: [String], limit: Int = 4) -> String {
            guard items.count > limit else { return items.joined(separator: ", ") }
            return items.prefix(limit).joined(separator: ", ") + ", ... \(items.count - limit) more"
        }
        func row(_ title: String, _ text: String) -> String {
            "  " + title + String(repeating: " ", count: max(1, 12 - title.count)) + text
        }
        var lines = ["\(file): OK"]

        var gatewayText = "\(gateway.name) (\(gateway.mode.rawValue), \(gateway.routingMode.rawValue) routing"
        if let asn = gateway.localASN { gatewayText += ", local ASN \(asn)" }
        lines.append(row("gateway", gatewayText + ")"))

        let tunnelItems = tunnels.map { "\($0.name) -> \($0.peer) on \($0.device)" }
        lines.append(row("tunnels", "\(tunnels.count)" + (tunnels.isEmpty ? "" : " (\(list(tunnelItems)))")))

        func weight(_ connection: Connection) -> String {
            connection.learnedWeight == Route.defaultWeight ? "" : ", learned weight \(connection.learnedWeight)"
        }
        let connectionItems = connections.map { connection in
            if let standby = connection.standby {
                let failback =
                    connection.preempt ? "preempt \(ConfigDuration.format(connection.preemptDelay))" : "no preempt"
                return "\(connection.name): dual \(connection.active)/\(standby), \(failback)" + weight(connection)
            }
            return "\(connection.name): single \(connection.active)" + weight(connection)
        }
        lines.append(
            row("connections", "\(connections.count)" + (connections.isEmpty ? "" : " (\(list(connectionItems)))")))

        let bySource = { (source: RouteSource) in routes.count { $0.source == source } }
        let ipv4 = routes.count { $0.prefix.family == .ipv4 }
        lines.append(
            row(
                "routes",
                "\(bySource(.static)) static, \(bySource(.specific)) specific, \(bySource(.system)) system "
                    + "(IPv4 \(ipv4), IPv6 \(routes.count - ipv4))"
                    + (derivedSystemRoutes.isEmpty ? "" : "; \(derivedSystemRoutes.count) system derived (BGP inside /30s)")))
        lines.append(row("policy", policyRoutes.count == 1 ? "1 route" : "\(policyRoutes.count) routes"))

        let groups = nextHopSetCount
        lines.append(row("groups", groups == 1 ? "1 next-hop group" : "\(groups) next-hop groups"))

        var ecmpText = "\(ecmp.hash.rawValue) hash, \(ecmp.buckets) buckets"
        if ecmp.symmetric { ecmpText += ", symmetric" }
        lines.append(row("ecmp", ecmpText))
        if let learning {
            let names = learning.protocols.map(Learning.protocolName).joined(separator: ", ")
            lines.append(row("learning", "table \(learning.table), protocols \(names)"))
        }
        if !advertise.isEmpty {
            let count = advertise.count == 1 ? "1 prefix" : "\(advertise.count) prefixes"
            lines.append(row("advertise", "\(count) (\(list(advertise.map(\.prefix.description))))"))
        }
        return lines.joined(separator: "\n")
    }

    /// How many distinct next-hop sets the routes lead to, as the router will group them: destination routes by
    /// (prefix, source, metric), policy routes by (match, priority); a group's (connection, weight) pairs are its
    /// set, and equal sets count once over both kinds.
    var nextHopSetCount: Int {
        struct Hop: Hashable {
            let connection: String
            let weight: Int
        }
        struct DestinationKey: Hashable {
            let prefix: RoutePrefix
            let source: RouteSource
            let metric: UInt32
        }
        struct PolicyKey: Hashable {
            let match: PolicyRoute.Match
            let priority: Int
        }
        let destinations = Dictionary(grouping: routes) {
            DestinationKey(prefix: $0.prefix, source: $0.source, metric: $0.metric)
        }
        let policies = Dictionary(grouping: policyRoutes) { PolicyKey(match: $0.match, priority: $0.priority) }
        let destinationSets = destinations.values.map { group in
            Set(group.map { Hop(connection: $0.connection, weight: $0.weight) })
        }
        let policySets = policies.values.map { group in
            Set(group.map { Hop(connection: $0.connection, weight: $0.weight) })
        }
        return Set(destinationSets + policySets).count
    }
}
