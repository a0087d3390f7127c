// Two ways to show a configuration: the short summary `tandem check-config` prints, and the canonical YAML
// with every default written out (what the gateway will actually use; reading it back gives the same values).

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

        let connectionItems = connections.map { connection in
            if let standby = connection.standby {
                return "\(connection.name): dual \(connection.active)/\(standby), "
                    + "preempt \(ConfigDuration.format(connection.preemptDelay))"
            }
            return "\(connection.name): single \(connection.active)"
        }
        lines.append(
            row("connections", "\(connections.count)" + (connections.isEmpty ? "" : " (\(list(connectionItems)))")))

        let bySource = { (source: RouteSource) in routes.count { $0.source == source } }
        let ipv4 = routes.count { $0.prefix.family == .ipv4 }
        lines.append(
            row(
                "routes",
                "\(bySource(.static)) static, \(bySource(.specific)) specific, \(bySource(.system)) system "
                    + "(IPv4 \(ipv4), IPv6 \(routes.count - ipv4))"))
        lines.append(row("policy", policyRoutes.count == 1 ? "1 route" : "\(policyRoutes.count) routes"))

        let groups = nextHopSets().count
        lines.append(row("groups", groups == 1 ? "1 next-hop group" : "\(groups) next-hop groups"))

        var ecmpText = "\(ecmp.hash.rawValue) hash, \(ecmp.buckets) buckets"
        if ecmp.symmetric { ecmpText += ", symmetric" }
        lines.append(row("ecmp", ecmpText))
        if let learning {
            let names = learning.protocols.map(Learning.protocolName).joined(separator: ", ")
            lines.append(row("learning", "table \(learning.table), protocols \(names)"))
        }
        return lines.joined(separator: "\n")
    }

    /// The configuration as YAML with every key written, defaults included, in the order of docs/config.md.
    ///
    /// Parsing the text gives the same values (but new source locations).
    public func canonicalYAML() -> String {
        var out: [String] = []
        func quoted(_ text: String) -> String {
            var escaped = ""
            for scalar in text.unicodeScalars {
                switch scalar {
                case "\"": escaped += "\\\""
                case "\\": escaped += "\\\\"
                case "\n": escaped += "\\n"
                case "\t": escaped += "\\t"
                default: escaped.unicodeScalars.append(scalar)
                }
            }
            return "\"\(escaped)\""
        }
        func duration(_ value: Duration) -> String { ConfigDuration.format(value) }

        out.append("gateway:")
        out.append("  name: \(quoted(gateway.name))")
        out.append("  mode: \(gateway.mode.rawValue)")
        out.append("  routing-mode: \(gateway.routingMode.rawValue)")
        if let asn = gateway.localASN { out.append("  local-asn: \(asn)") }
        out.append("  ingress: \(quoted(gateway.ingress))")

        out.append("ecmp:")
        out.append("  hash: \(ecmp.hash.rawValue)")
        out.append("  symmetric: \(ecmp.symmetric)")
        out.append("  seed: \(ecmp.seed)")
        out.append("  buckets: \(ecmp.buckets)")

        out.append("limits:")
        out.append("  dynamic-routes: \(limits.dynamicRoutes)")
        out.append("  policy-routes: \(limits.policyRoutes)")
        out.append("icmp:")
        if let source = icmp.sourceIPv4 { out.append("  source-ipv4: \(source)") }
        if let source = icmp.sourceIPv6 { out.append("  source-ipv6: \(source)") }
        out.append("  ratelimit: \(ConfigDuration.format(icmp.rateLimit))")
        out.append("  burst: \(icmp.burst)")
        out.append("  msgs-per-sec: \(icmp.messagesPerSecond)")
        out.append("  msgs-burst: \(icmp.messagesBurst)")

        out.append(tunnels.isEmpty ? "tunnels: []" : "tunnels:")
        for tunnel in tunnels {
            out.append("  - name: \(quoted(tunnel.name))")
            out.append("    device: \(quoted(tunnel.device))")
            out.append("    peer: \(tunnel.peer)")
            if let zone = tunnel.zone { out.append("    zone: \(quoted(zone))") }
            out.append("    mtu: \(tunnel.mtu)")
            out.append("    routing: \(tunnel.routing.rawValue)")
            if let bgp = tunnel.bgp {
                out.append("    bgp:")
                out.append("      inside-cidr: \(bgp.insideCIDR)")
                out.append("      local-asn: \(bgp.localASN)")
                out.append("      peer-asn: \(bgp.peerASN)")
            }
            if let check = tunnel.healthCheck {
                out.append("    health-check:")
                out.append("      source: \(check.source)")
                out.append("      destination: \(check.destination)")
                out.append("      protocol: \(check.probeProtocol.rawValue)")
                if check.probeProtocol == .udp { out.append("      port: \(check.port)") }
                out.append("      interval: \(duration(check.interval))")
                out.append("      timeout: \(duration(check.timeout))")
                out.append("      down-count: \(check.downCount)")
                out.append("      up-count: \(check.upCount)")
            }
        }

        out.append(connections.isEmpty ? "connections: []" : "connections:")
        for connection in connections {
            out.append("  - name: \(quoted(connection.name))")
            out.append("    tunnels: [\(connection.tunnels.map(quoted).joined(separator: ", "))]")
            out.append("    preempt-delay: \(duration(connection.preemptDelay))")
            if let damping = connection.damping {
                out.append("    damping:")
                out.append("      flaps: \(damping.flaps)")
                out.append("      window: \(duration(damping.window))")
                out.append("      penalty: \(duration(damping.penalty))")
            }
        }

        out.append(routes.isEmpty ? "routes: []" : "routes:")
        for route in routes {
            out.append("  - prefix: \(route.prefix)")
            out.append("    connection: \(quoted(route.connection))")
            out.append("    source: \(route.source)")
            out.append("    weight: \(route.weight)")
            out.append("    metric: \(route.metric)")
        }

        out.append(policyRoutes.isEmpty ? "policy-routes: []" : "policy-routes:")
        for route in policyRoutes {
            out.append("  - source: \(route.source)")
            out.append("    destination: \(route.destination)")
            out.append("    protocol: \(route.ipProtocol.map(PolicyRoute.protocolName) ?? "any")")
            if let ports = route.destinationPorts {
                let text =
                    ports.lowerBound == ports.upperBound
                    ? "\(ports.lowerBound)" : "\"\(ports.lowerBound)-\(ports.upperBound)\""
                out.append("    destination-ports: \(text)")
            }
            out.append("    priority: \(route.priority)")
            out.append("    weight: \(route.weight)")
            out.append("    connection: \(quoted(route.connection))")
        }

        if let learning {
            out.append("learning:")
            out.append("  table: \(learning.table)")
            out.append("  protocols: [\(learning.protocols.map(Learning.protocolName).joined(separator: ", "))]")
        }
        return out.joined(separator: "\n") + "\n"
    }
}
