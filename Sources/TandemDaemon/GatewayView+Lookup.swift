// `tandem lookup ADDRESS` against the running gateway: the forwarding plane's own decision for a packet of the
// given flow (policy routes first, then the longest destination prefix), hashed with the configuration's flow
// hash, and the route, group, connection and tunnel behind it.

import TandemConfig
import TandemControl
import TandemJSON
import TandemPacket
import TandemRouting

extension GatewayView {
    /// What the plane decides for a flow, explained.
    func lookup(_ flow: ControlRequest.Flow, json: Bool) throws(ControlRequestError) -> String {
        let hasher = FlowHasher(config.flowHashPolicy)
        let decision: ForwardingDecision
        let hash: UInt32
        var matched: RoutePrefix?
        let source: String
        if let destination = try? IPv4Address(flow.destination) {
            let from: IPv4Address
            do { from = try IPv4Address(flow.source ?? "0.0.0.0") } catch {
                throw ControlRequestError("--from \(flow.source ?? ""): not an IPv4 address (the destination is one)")
            }
            source = from.description
            hash = hasher.hashIPv4(
                source: from.rawValue, destination: destination.rawValue, protocol: flow.protocol,
                sourcePort: flow.sourcePort, destinationPort: flow.destinationPort)
            decision = router.plane.decide(
                ipv4: destination, source: from, protocol: flow.protocol, destinationPort: flow.destinationPort,
                flowHash: hash)
            matched = router.plane.ipv4.longestMatch(destination).map { .v4($0.prefix) }
        } else if let destination = try? IPv6Address(flow.destination) {
            let from: IPv6Address
            do { from = try IPv6Address(flow.source ?? "::") } catch {
                throw ControlRequestError("--from \(flow.source ?? ""): not an IPv6 address (the destination is one)")
            }
            source = from.description
            hash = hasher.hashIPv6(
                source: from.rawValue, destination: destination.rawValue, protocol: flow.protocol,
                sourcePort: flow.sourcePort, destinationPort: flow.destinationPort)
            decision = router.plane.decide(
                ipv6: destination, source: from, protocol: flow.protocol, destinationPort: flow.destinationPort,
                flowHash: hash)
            matched = router.plane.ipv6.longestMatch(destination).map { .v6($0.prefix) }
        } else {
            throw ControlRequestError("'\(flow.destination)' is neither an IPv4 nor an IPv6 address")
        }

        let outcome: String =
            switch decision.outcome {
            case .forward: "forward"
            case .noRoute: "no-route"
            case .connectionDown: "connection-down"
            }
        var origin = "none"
        var route: String?
        switch decision.origin {
        case .policy:
            origin = "policy"
            let policy = matchingPolicy(flow, source: source, connection: decision.connection)
            route = policy.map { "from \($0.match.source) to \($0.match.destination) priority \($0.priority)" }
        case .destination(let routeSource):
            origin = routeSource.description
            route = matched?.description
        case .none:
            route = matched?.description
        }
        let known = decision.outcome != .noRoute
        let group = known && decision.origin != .none ? Int(decision.group.rawValue) : nil
        let connection = known && decision.origin != .none ? router.name(of: decision.connection) : nil
        let tunnel = decision.outcome == .forward ? config.tunnels[decision.tunnel.index] : nil
        if json {
            var object = JSONObject()
            object.add("destination", flow.destination)
            object.add("source", source)
            object.add("protocol", flow.protocol)
            object.add("sourcePort", flow.sourcePort)
            object.add("destinationPort", flow.destinationPort)
            object.add("flowHash", hash)
            object.add("outcome", outcome)
            object.add("origin", origin)
            object.add("route", route)
            if let group { object.add("group", group) } else { object.add("group", raw: "null") }
            object.add("connection", connection)
            object.add("tunnel", tunnel?.name)
            object.add("device", tunnel?.device)
            object.add("interface", tunnel?.interface)
            return object.rendered + "\n"
        }
        var line = "\(flow.destination) from \(source)"
        if flow.protocol != 0 { line += " proto \(flow.protocol)" }
        if flow.sourcePort != 0 { line += " sport \(flow.sourcePort)" }
        if flow.destinationPort != 0 { line += " dport \(flow.destinationPort)" }
        line += ": \(outcome)"
        if decision.origin == .policy { line += " policy \(route ?? "?")" } else if let route { line += " route \(route) \(origin)" }
        if let group { line += " group \(group)" }
        if let connection { line += " connection \(connection)" }
        if decision.outcome == .connectionDown, decision.origin == .none {
            line += " (no connection of the route has a tunnel up)"
        }
        if let tunnel {
            line += " tunnel \(tunnel.name) device \(tunnel.device)"
            if let interface = tunnel.interface { line += " interface \(interface)" }
        }
        return line + " hash 0x" + String(hash, radix: 16) + "\n"
    }

    /// The first policy route (by priority, then configuration order) that matches the flow through `connection`.
    func matchingPolicy(_ flow: ControlRequest.Flow, source: String, connection: ConnectionID) -> PolicyRoute? {
        guard let destination = try? ControlRequest.prefix(flow.destination),
            let from = try? ControlRequest.prefix(source)
        else { return nil }
        return router.configuration.policyRoutes.enumerated()
            .sorted { ($0.element.priority, $0.offset) < ($1.element.priority, $1.offset) }.map(\.element)
            .first { route in
                route.connection == connection && route.match.source.contains(from)
                    && route.match.destination.contains(destination)
                    && (route.match.protocol.map { $0 == flow.protocol } ?? true)
                    && (route.match.destinationPorts.map { $0.contains(flow.destinationPort) } ?? true)
            }
    }
}
