// The routes and policy-routes sections.

import TandemPacket
import TandemRouting
import Yams

extension ConfigLoader {
    /// A `connection` key: required, and the name of a connection of the file.
    func connectionReference(_ f: Fields) -> String? {
        guard let name = f.string("connection") else { return nil }
        usedConnections.insert(name)
        guard connectionNames[name] != nil else {
            f.fail(
                "connection",
                "unknown connection '\(name)'" + ConfigText.suggestion(for: name, among: connectionNames.keys.sorted()))
            return nil
        }
        return name
    }

    func readRoute(_ node: Node, index: Int) {
        guard let f = Fields(node, context: "routes item \(index + 1)", reporter: reporter) else { return }
        if let prefix = f.peek("prefix") { f.context = "route \(prefix)" }
        f.checkKeys(ConfigKeys.route)
        let prefix = f.prefix("prefix")
        let connection = connectionReference(f)
        var source: RouteSource? = .static
        if f.has("source") {
            let names = ["specific", "system", "static"]
            source = nil
            if let text = f.scalar("source", expecting: "specific, system or static") {
                if text == "dynamic" {
                    f.fail(
                        "source",
                        "'source: dynamic' cannot be written: dynamic routes are learned from a routing daemon "
                            + "(see 'learning'); use specific, system or static")
                } else if let value = RouteSource(name: text), value != .dynamic {
                    source = value
                } else {
                    f.fail(
                        "source",
                        "'source' must be specific, system or static, got '\(text)'"
                            + ConfigText.suggestion(for: text, among: names))
                }
            }
        }
        let weight = f.int("weight", in: 0...100, default: GatewayConfig.Route.defaultWeight)
        let metric = f.int("metric", in: 0...Int(UInt32.max), default: 0)
        guard let prefix, let connection, let source, let weight, let metric, !f.failed else { return }
        let key = "\(prefix) \(source) \(metric) \(connection)"
        if let first = routeKeys[key] {
            f.fail(
                "prefix",
                "route \(prefix) via connection '\(connection)' (source \(source), metric \(metric)) is already given "
                    + "at line \(first.line); remove one of them")
            return
        }
        routeKeys[key] = f.valueLocation("prefix")
        routes.append(
            GatewayConfig.Route(
                prefix: prefix, connection: connection, source: source, weight: weight, metric: UInt32(metric),
                location: f.location, keyLocations: f.keyLocations))
    }

    func readPolicyRoute(_ node: Node, index: Int) {
        guard let f = Fields(node, context: "policy route \(index + 1)", reporter: reporter) else { return }
        f.checkKeys(ConfigKeys.policyRoute)
        let source = f.prefix("source")
        let destination = f.prefix("destination")
        if let source, let destination, source.family != destination.family {
            f.fail(
                "destination",
                "'destination' \(destination) is \(destination.family) but 'source' \(source) is \(source.family); "
                    + "a policy route matches one family")
        }
        let family = source?.family ?? destination?.family

        // The protocol: nil is any; the outer optional is nil when the value is wrong.
        var ipProtocol: IPProtocol?? = .some(nil)
        if f.has("protocol") {
            let names = ["any", "tcp", "udp", "icmp", "icmpv6"]
            let expecting = "any, tcp, udp, icmp, icmpv6 or a protocol number from 0 to 255"
            ipProtocol = nil
            if let text = f.scalar("protocol", expecting: expecting) {
                switch text {
                case "any": ipProtocol = .some(nil)
                case "tcp": ipProtocol = .tcp
                case "udp": ipProtocol = .udp
                case "icmp": ipProtocol = .icmp
                case "icmpv6": ipProtocol = .icmpv6
                default:
                    if let number = Fields.integer(text), (0...255).contains(number) {
                        ipProtocol = IPProtocol(rawValue: UInt8(number))
                    } else {
                        f.fail(
                            "protocol",
                            "'protocol' must be \(expecting), got '\(text)'"
                                + ConfigText.suggestion(for: text, among: names))
                    }
                }
            }
        }
        if case .some(.some(let value)) = ipProtocol, let family {
            if value == .icmp && family == .ipv6 {
                f.fail("protocol", "'protocol: icmp' is ICMP for IPv4; an IPv6 policy route matches icmpv6")
            } else if value == .icmpv6 && family == .ipv4 {
                f.fail("protocol", "'protocol: icmpv6' is ICMP for IPv6; an IPv4 policy route matches icmp")
            }
        }

        var ports: ClosedRange<UInt16>?
        var portsFailed = false
        if f.has("destination-ports") {
            let expecting = "a port from 1 to 65535 or a range 'N-M' with N <= M"
            if let text = f.scalar("destination-ports", expecting: expecting) {
                ports = Self.portRange(text)
                if ports == nil {
                    f.fail("destination-ports", "'destination-ports' must be \(expecting), got '\(text)'")
                }
            }
            portsFailed = ports == nil
            if case .some(let value) = ipProtocol, value != .tcp && value != .udp {
                let shown = value.map(GatewayConfig.PolicyRoute.protocolName) ?? "any"
                f.fail(
                    at: f.keyLocation("destination-ports"),
                    "'destination-ports' needs 'protocol: tcp' or 'protocol: udp', but the protocol is \(shown)")
            }
        }
        let priority = f.int("priority", in: 1...100)
        let weight = f.int("weight", in: 0...100, default: GatewayConfig.Route.defaultWeight)
        let connection = connectionReference(f)
        guard let source, let destination, case .some(let matchProtocol) = ipProtocol, !portsFailed,
            let priority, let weight, let connection, !f.failed
        else { return }
        let route = GatewayConfig.PolicyRoute(
            source: source, destination: destination, ipProtocol: matchProtocol, destinationPorts: ports,
            priority: priority, weight: weight, connection: connection, location: f.location,
            keyLocations: f.keyLocations)
        let key = "\(route.match) \(priority) \(connection)"
        if let first = policyKeys[key] {
            f.fail(
                at: f.location,
                "this policy route repeats the one at line \(first.line) (same match, priority and connection); "
                    + "remove one of them")
            return
        }
        policyKeys[key] = f.location
        policyRoutes.append(route)
    }

    /// `N` or `N-M`, with 1 <= N <= M <= 65535.
    static func portRange(_ text: String) -> ClosedRange<UInt16>? {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 1 || parts.count == 2 else { return nil }
        let numbers = parts.map { part -> UInt16? in
            let trimmed = String(part).trimmingSpaces
            guard Fields.isIntegerSyntax(trimmed), let value = Int(trimmed), (1...65535).contains(value) else {
                return nil
            }
            return UInt16(value)
        }
        guard let low = numbers.first ?? nil, let high = numbers.last ?? nil, low <= high else { return nil }
        return low...high
    }
}
