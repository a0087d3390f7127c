// The connections section: tunnel pairs (rule 2), preempt delay, damping and the weight of learned routes.

import TandemPacket
import TandemRouting
import Yams

extension ConfigLoader {
    func readConnection(_ node: Node, index: Int) {
        guard let f = Fields(node, context: "connections item \(index + 1)", reporter: reporter) else { return }
        if let name = f.peek("name") { f.context = "connection '\(name)'" }
        f.checkKeys(ConfigKeys.connection)
        let name = f.name("name")
        let label = name.map { "connection '\($0)'" } ?? "this connection"
        if let name {
            if let first = connectionNames[name] {
                f.fail(
                    "name",
                    "duplicate connection name '\(name)' (first at line \(first.line)); "
                        + "connection names must be unique")
            } else {
                connectionNames[name] = f.valueLocation("name")
            }
        }

        let shape = "1 tunnel (single-tunnel) or 2 (dual-tunnel: active first, standby second)"
        var tunnelNamesListed: [String] = []
        var tunnelLocations: [SourceLocation] = []
        if !f.has("tunnels") {
            f.missing("tunnels", hint: "; list \(shape)")
        } else if let items = f.list("tunnels") {
            if items.isEmpty {
                f.fail("tunnels", "\(label) has no tunnels; list \(shape)")
            } else if items.count > 2 {
                f.fail(
                    at: reporter.location(items[2].mark),
                    "\(label) lists \(items.count) tunnels; a connection has \(shape)")
            }
            for item in items {
                let location = reporter.location(item.mark)
                guard case .scalar(let scalar) = item, !item.isNull else {
                    f.fail(at: location, "each item of 'tunnels' must be a tunnel name, got \(item.shownAs)")
                    continue
                }
                let tunnel = scalar.string
                if tunnelNames[tunnel] == nil {
                    f.fail(
                        at: location,
                        "unknown tunnel '\(tunnel)' in \(label)"
                            + ConfigText.suggestion(for: tunnel, among: tunnelNames.keys.sorted()))
                } else if tunnelNamesListed.contains(tunnel) {
                    f.fail(
                        at: location,
                        "tunnel '\(tunnel)' is listed twice in \(label); the two tunnels of a connection must differ")
                } else if let owner = tunnelOwners[tunnel] {
                    f.fail(
                        at: location,
                        "tunnel '\(tunnel)' is already in connection '\(owner.connection)' "
                            + "(line \(owner.location.line)); a tunnel belongs to one connection only")
                } else {
                    tunnelOwners[tunnel] = (name ?? "?", location)
                }
                tunnelNamesListed.append(tunnel)
                tunnelLocations.append(location)
            }
        }

        let preempt = f.duration(
            "preempt-delay", in: .zero...(.seconds(3600)), rangeText: "between 0s and 1h", default: .zero)
        let revertive = f.bool("preempt", default: true)
        if revertive == false, tunnelNamesListed.count == 1 {
            reporter.warning(
                f.valueLocation("preempt"),
                "'preempt: false' has no effect on \(label), which has one tunnel; it keeps a dual-tunnel "
                    + "connection on its standby after a failover")
        }
        var damping: GatewayConfig.Damping?
        var dampingFailed = false
        if let dampingNode = f.node("damping") {
            damping = readDamping(dampingNode, label: label)
            dampingFailed = damping == nil
        }

        if tunnelNamesListed.count == 2 {
            checkTunnelPair(
                connection: label, names: tunnelNamesListed, locations: tunnelLocations, fields: f)
        }

        // The weight of the routes learned through the connection: how a prefix learned through several
        // connections (BGP ECMP) spreads over them.
        let weight = f.int("weight", in: 1...100, default: GatewayConfig.Route.defaultWeight)

        checkDrained(connection: label, names: tunnelNamesListed)

        guard let name, let preempt, let revertive, let weight, !dampingFailed, !f.failed else { return }
        connections.append(
            Connection(
                name: name, tunnels: tunnelNamesListed, preemptDelay: preempt, preempt: revertive, damping: damping,
                learnedWeight: weight, location: f.location, keyLocations: f.keyLocations))
    }

    /// Rule 2 (same routing on both tunnels), and the warnings about a pair that cannot fail over well.
    func checkTunnelPair(connection label: String, names: [String], locations: [SourceLocation], fields f: Fields) {
        guard let active = tunnels.first(where: { $0.name == names[0] }),
            let standby = tunnels.first(where: { $0.name == names[1] })
        else { return }
        if active.routing != standby.routing {
            f.fail(
                at: locations[1],
                "tunnels '\(active.name)' (\(active.routing)) and '\(standby.name)' (\(standby.routing)) of \(label) "
                    + "use different routing; both tunnels of a dual-tunnel connection use the same routing, "
                    + "static or bgp")
        }
        if let zone = active.zone, zone == standby.zone {
            reporter.warning(
                f.valueLocation("tunnels"),
                "tunnels '\(active.name)' and '\(standby.name)' of \(label) are both in zone '\(zone)'; "
                    + "one zone's failure takes both down (allowed, but a standby in another zone is safer)")
        }
        if active.healthCheck == nil {
            let who =
                standby.healthCheck == nil
                ? "neither '\(active.name)' nor '\(standby.name)' has a health-check"
                : "active tunnel '\(active.name)' has no health-check"
            reporter.warning(
                f.valueLocation("tunnels"),
                "\(label) is dual-tunnel but \(who); without one a tunnel always counts as up, "
                    + "so traffic never fails over to '\(standby.name)'")
        } else if standby.healthCheck == nil {
            reporter.warning(
                f.valueLocation("tunnels"),
                "standby tunnel '\(standby.name)' of \(label) has no health-check; without one it always counts as "
                    + "up, so traffic fails over to it even when it is down; give it a health-check like "
                    + "'\(active.name)'s")
        }
    }

    /// A connection whose every tunnel the file drains carries nothing until an operator undrains one: allowed (a
    /// connection kept out of service), but worth a warning at the `drained` key.
    func checkDrained(connection label: String, names: [String]) {
        let listed = names.compactMap { name in tunnels.first { $0.name == name } }
        guard !listed.isEmpty, listed.count == names.count, listed.allSatisfy(\.drained),
            let location = listed[0].keyLocations["drained"]
        else { return }
        let who = listed.count == 1 ? "its only tunnel '\(listed[0].name)' is" : "both its tunnels are"
        reporter.warning(
            location,
            "\(label) carries no traffic: \(who) drained; undrain with 'tandem undrain TUNNEL' or remove "
                + "'drained: true'")
    }

    func readDamping(_ node: Node, label: String) -> GatewayConfig.Damping? {
        guard let f = Fields(node, context: "the 'damping' of \(label)", reporter: reporter) else { return nil }
        f.checkKeys(ConfigKeys.damping)
        let flaps = f.int("flaps", in: 1...100)
        let window = f.duration("window", in: .seconds(1)...(.seconds(86400)), rangeText: "between 1s and 24h")
        let penalty = f.duration("penalty", in: .seconds(1)...(.seconds(86400)), rangeText: "between 1s and 24h")
        guard let flaps, let window, let penalty, !f.failed else { return nil }
        return GatewayConfig.Damping(
            flaps: flaps, window: window, penalty: penalty, location: f.location, keyLocations: f.keyLocations)
    }
}
