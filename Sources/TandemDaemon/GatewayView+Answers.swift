// The answers of `tandem show` and `tandem lookup`, as text (one line per object, in the style of iproute2) or
// JSON (one object; keys documented in docs/run.md and stable). `show routes` is produced in chunks.

import TandemConfig
import TandemControl
import TandemDataplane
import TandemJSON
import TandemPacket
import TandemRouting

extension GatewayView {
    /// How many prefixes `show routes` renders per chunk.
    static let prefixesPerChunk = 512

    /// The answer to a request.
    func answer(_ request: ControlRequest) -> ControlAnswer {
        switch request.query {
        case .routes(let prefix?, _): return ControlAnswer(text: routes(of: prefix, json: request.json))
        case .routes(nil, let limit): return allRoutes(limit: limit, json: request.json)
        case .groups: return ControlAnswer(text: groups(json: request.json))
        case .connections: return ControlAnswer(text: connections(json: request.json))
        case .tunnels: return ControlAnswer(text: tunnels(json: request.json))
        case .counters: return ControlAnswer(text: countersAnswer(json: request.json))
        case .status: return ControlAnswer(text: status(json: request.json))
        case .lookup(let flow):
            do { return ControlAnswer(text: try lookup(flow, json: request.json)) } catch {
                return .error(error.description)
            }
        case .drain, .undrain:
            // The gateway answers these (Gateway+Drain); a view only reads.
            return .error("drain and undrain need the running gateway")
        }
    }

    // MARK: Routes

    /// One route: text line or JSON object.
    func routeRecord(_ route: Route, _ status: RouteStatus, json: Bool) -> String {
        let connection = router.name(of: route.connection)
        let origin = origin(of: route)
        // A derived system route leaves through its own tunnel, whichever the connection selects.
        let tunnel = status.state == .selected ? origin.pinnedTo ?? carryingTunnel(of: route.connection) : nil
        if json {
            var object = JSONObject()
            object.add("prefix", route.prefix.description)
            object.add("source", route.source.description)
            object.add("priority", route.source.priority)
            object.add("metric", route.metric)
            object.add("connection", connection)
            object.add("weight", route.weight)
            object.add("state", status.state.rawValue)
            object.add("reason", status.reason)
            object.add("tunnel", tunnel)
            object.add("learnedVia", origin.learnedVia)
            object.add("pinnedTo", origin.pinnedTo)
            object.add("overlaps", origin.overlaps)
            return object.rendered
        }
        var text = "\(route.prefix) source \(route.source) priority \(route.source.priority) metric \(route.metric) "
            + "via \(connection) weight \(route.weight) \(status.text)" + (tunnel.map { " tunnel \($0)" } ?? "")
        if let via = origin.learnedVia { text += " learned-via \(via)" }
        if let pinned = origin.pinnedTo { text += " derived: inside /30 of tunnel \(pinned), out of its interface" }
        if let overlaps = origin.overlaps { text += " (may not take effect: overlaps \(overlaps))" }
        return text
    }

    /// The policy routes with their status: selected (active), standby (weight 0), down.
    func policyRecords(json: Bool) -> [String] {
        let routes = router.configuration.policyRoutes.enumerated()
            .sorted { ($0.element.priority, $0.offset) < ($1.element.priority, $1.offset) }.map(\.element)
        return routes.map { route in
            let up = router.isUp(route.connection)
            let weightedUp = routes.contains {
                $0.match == route.match && $0.priority == route.priority && $0.weight > 0 && router.isUp($0.connection)
            }
            let status =
                !up
                ? RouteStatus(state: .down, reason: "connection \(router.name(of: route.connection)) has no tunnel up")
                : route.weight == 0 && weightedUp ? RouteStatus(state: .standby, reason: "weight 0")
                : RouteStatus(state: .selected)
            let connection = router.name(of: route.connection)
            let tunnel = status.state == .selected ? carryingTunnel(of: route.connection) : nil
            if json {
                var object = JSONObject()
                object.add("source", route.match.source.description)
                object.add("destination", route.match.destination.description)
                object.add("protocol", route.match.protocol.map { Int($0) } ?? -1)
                object.add(
                    "destinationPorts",
                    route.match.destinationPorts.map { "\($0.lowerBound)-\($0.upperBound)" })
                object.add("priority", route.priority)
                object.add("connection", connection)
                object.add("weight", route.weight)
                object.add("state", status.state.rawValue)
                object.add("reason", status.reason)
                object.add("tunnel", tunnel)
                return object.rendered
            }
            var text = "policy from \(route.match.source) to \(route.match.destination)"
            if let proto = route.match.protocol { text += " proto \(proto)" }
            if let ports = route.match.destinationPorts { text += " dport \(ports.lowerBound)-\(ports.upperBound)" }
            return text + " priority \(route.priority) via \(connection) weight \(route.weight) \(status.text)"
                + (tunnel.map { " tunnel \($0)" } ?? "")
        }
    }

    /// The routes of one prefix, or of the most specific RIB prefix that covers it.
    func routes(of prefix: RoutePrefix, json: Bool) -> String {
        let covering = router.coveringPrefix(of: prefix)
        let records = covering.map { covering in
            explainedRoutes(of: covering).map { routeRecord($0.route, $0.status, json: json) }
        } ?? []
        if json {
            var object = JSONObject()
            object.add("query", prefix.description)
            object.add("prefix", covering?.description)
            object.add("installed", covering.flatMap { router.isInstalled($0) } ?? false)
            object.add("routes", raw: JSONObject.array(records))
            return object.rendered + "\n"
        }
        guard let covering else { return "# no route in the RIB covers \(prefix)\n" }
        let note = covering == prefix ? "" : "# \(prefix) is covered by \(covering)\n"
        return note + records.map { $0 + "\n" }.joined()
    }

    /// Every route: the policy routes, then the RIB's prefixes in order (IPv4 first), `prefixesPerChunk` at a time.
    /// The prefixes are sorted a run per part first (empty parts), so a full table never holds the control thread,
    /// which also times the health checks, for longer than one run's sort.
    func allRoutes(limit: Int?, json: Bool) -> ControlAnswer {
        let (v4, v6) = router.ribPrefixes()
        var sorted4 = SlicedSort(v4) { ($0.address.rawValue, $0.length) < ($1.address.rawValue, $1.length) }
        var sorted6 = SlicedSort(v6) { ($0.address.rawValue, $0.length) < ($1.address.rawValue, $1.length) }
        let total = sorted4.count + sorted6.count
        let shown = min(total, limit ?? total)
        var next = 0
        var started = false
        var firstRecord = true
        return ControlAnswer { buffer in
            if !sorted4.isSorted { sorted4.sortNextRun(); return false }
            if !sorted6.isSorted { sorted6.sortNextRun(); return false }
            var text = ""
            if !started {
                started = true
                let policies = policyRecords(json: json)
                if json {
                    text += "{\"policyRoutes\":" + JSONObject.array(policies) + ",\n\"routes\":["
                } else {
                    text += policies.map { $0 + "\n" }.joined()
                }
            }
            let end = min(shown, next + Self.prefixesPerChunk)
            while next < end {
                guard let prefix = sorted4.next().map(RoutePrefix.v4) ?? sorted6.next().map(RoutePrefix.v6) else { break }
                next += 1
                // Learning may have withdrawn it since the answer began: then it has no routes and is skipped.
                for (route, status) in explainedRoutes(of: prefix) {
                    let record = routeRecord(route, status, json: json)
                    if json {
                        text += (firstRecord ? "\n" : ",\n") + record
                        firstRecord = false
                    } else {
                        text += record + "\n"
                    }
                }
            }
            let done = next >= shown
            if done {
                if json {
                    text += "\n],\"prefixes\":\(total),\"shown\":\(shown),\"truncated\":\(shown < total)}\n"
                } else if shown < total {
                    text += "# \(shown) of \(total) prefixes shown\n"
                }
            }
            buffer += Array(text.utf8)
            return done
        }
    }

    // MARK: Groups, connections, tunnels

    func groups(json: Bool) -> String {
        let records = router.groupViews().map { group in
            if json {
                var object = JSONObject()
                object.add("id", group.id.rawValue)
                object.add("live", group.isLive)
                object.add(
                    "members",
                    raw: JSONObject.array(
                        group.members.map { member in
                            var item = JSONObject()
                            item.add("connection", router.name(of: member.connection))
                            item.add("weight", member.weight)
                            item.add("up", router.isUp(member.connection))
                            return item.rendered
                        }))
                object.add("chains", group.chains)
                object.add("policySets", group.policySets)
                return object.rendered
            }
            let members = group.members.map {
                "\(router.name(of: $0.connection)) weight \($0.weight) \(router.isUp($0.connection) ? "up" : "down")"
            }
            return "group \(group.id.rawValue) \(group.isLive ? "live" : "dead") members "
                + members.joined(separator: ", ") + " chains \(group.chains) policy-sets \(group.policySets)"
        }
        return json ? "{\"groups\":" + JSONObject.array(records) + "}\n" : records.map { $0 + "\n" }.joined()
    }

    func connections(json: Bool) -> String {
        let records = router.configuration.connections.enumerated().map { (index, connection) in
            let id = ConnectionID(index)
            let carrying = carryingTunnel(of: id)
            let tunnels = connection.tunnels.map { tunnel in
                (name: router.name(of: tunnel), health: health(of: tunnel))
            }
            if json {
                var object = JSONObject()
                object.add("name", connection.name)
                object.add("up", router.isUp(id))
                object.add("tunnel", carrying)
                object.add(
                    "tunnels",
                    raw: JSONObject.array(
                        tunnels.map { tunnel in
                            var item = JSONObject()
                            item.add("name", tunnel.name)
                            item.add("role", tunnel.health?.role.description)
                            item.add("state", tunnel.health?.state.description)
                            item.add("carrying", tunnel.name == carrying)
                            return item.rendered
                        }))
                return object.rendered
            }
            let list = tunnels.map { tunnel in
                "\(tunnel.name) \(tunnel.health?.role.description ?? "?") \(tunnel.health?.state.description ?? "?")"
                    + (tunnel.name == carrying ? " carrying" : "")
            }
            return "\(connection.name) \(router.isUp(id) ? "up" : "down") tunnels " + list.joined(separator: ", ")
        }
        return json ? "{\"connections\":" + JSONObject.array(records) + "}\n" : records.map { $0 + "\n" }.joined()
    }

    func tunnels(json: Bool) -> String {
        let records = config.tunnels.enumerated().map { (index, tunnel) in
            let id = TunnelID(index)
            let health = health(of: id)
            let connection = health.map { router.name(of: $0.connection) }
            let carrying = health.map { carryingTunnel(of: $0.connection) == tunnel.name } ?? false
            let probes = probes(index)
            let probed = tunnel.healthCheck != nil
            let linkDown = controller?.isLinkDown(id) ?? false
            let drained = controller?.isDrained(id) ?? false
            if json {
                var object = JSONObject()
                object.add("name", tunnel.name)
                object.add("device", tunnel.device)
                object.add("interface", tunnel.interface)
                object.add("zone", tunnel.zone)
                object.add("connection", connection)
                object.add("role", health?.role.description)
                object.add("state", health?.state.description)
                object.add("heldDown", health?.heldDown ?? false)
                object.add("linkDown", linkDown)
                object.add("drained", drained)
                object.add("carrying", carrying)
                var figures = JSONObject()
                figures.add("healthCheck", probed)
                figures.add("sent", probes.sent)
                figures.add("answered", probes.answered)
                figures.add("lost", probes.lost)
                figures.add("late", probes.late)
                figures.add("lastRttMicroseconds", raw: probes.lastRTT.map { String(Self.microseconds($0)) } ?? "null")
                figures.add("meanRttMicroseconds", raw: probes.meanRTT.map { String(Self.microseconds($0)) } ?? "null")
                object.add("probes", raw: figures.rendered)
                return object.rendered
            }
            var line = "\(tunnel.name) device \(tunnel.device) interface \(tunnel.interface ?? "-") "
                + "zone \(tunnel.zone ?? "-") connection \(connection ?? "-") \(health?.role.description ?? "-") "
                + (health?.state.description ?? "-") + (health?.heldDown == true ? " held-down" : "")
                + (linkDown ? " link-down" : "") + (drained ? " drained" : "") + (carrying ? " carrying" : "")
            if probed {
                line += " probes sent \(probes.sent) answered \(probes.answered) lost \(probes.lost) late \(probes.late)"
                    + " rtt last \(probes.lastRTT.map(Self.milliseconds) ?? "-")"
                    + " mean \(probes.meanRTT.map(Self.milliseconds) ?? "-")"
            } else {
                line += " probes none"
            }
            return line
        }
        return json ? "{\"tunnels\":" + JSONObject.array(records) + "}\n" : records.map { $0 + "\n" }.joined()
    }

    static func microseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds * 1_000_000 + attoseconds / 1_000_000_000_000
    }

    /// "1.250ms".
    static func milliseconds(_ duration: Duration) -> String {
        let micros = microseconds(duration)
        let fraction = String(micros % 1000)
        return "\(micros / 1000).\(String(repeating: "0", count: 3 - fraction.count))\(fraction)ms"
    }

    // MARK: Counters

    func countersAnswer(json: Bool) -> String {
        guard let totals = counters else {
            let reason = "no pipeline counters: in \(config.gateway.mode) mode Tandem does not forward packets itself"
            if json {
                var object = JSONObject()
                object.add("mode", config.gateway.mode.rawValue)
                object.add("counters", raw: "null")
                return object.rendered + "\n"
            }
            return "# \(reason)\n"
        }
        let counters = totals.pipeline
        let tunnelName = { (index: Int) in index < config.tunnels.count ? config.tunnels[index].name : "#\(index)" }
        let drops = counters.drops.indices.map { (key: DropCounter.reason($0).key, count: counters.drops[$0]) }
        if json {
            func traffic(_ count: TrafficCount) -> String {
                var object = JSONObject()
                object.add("packets", count.packets)
                object.add("bytes", count.bytes)
                return object.rendered
            }
            var object = JSONObject()
            object.add("mode", config.gateway.mode.rawValue)
            object.add("received", raw: traffic(counters.received))
            var tunnels = JSONObject()
            for (index, count) in counters.perTunnel.enumerated() { tunnels.add(tunnelName(index), raw: traffic(count)) }
            object.add("tunnels", raw: tunnels.rendered)
            var origins = JSONObject()
            for (index, count) in counters.perOrigin.enumerated() {
                origins.add(PipelineCounters.originNames[index], raw: traffic(count))
            }
            object.add("origins", raw: origins.rendered)
            var dropObject = JSONObject()
            for drop in drops { dropObject.add(drop.key, drop.count) }
            object.add("drops", raw: dropObject.rendered)
            object.add("dropsTotal", counters.totalDrops)
            object.add("icmpSent", counters.icmpSent)
            object.add("icmpRateLimited", counters.icmpRateLimited)
            object.add("fragmented", counters.fragmented)
            object.add("fragmentsMade", counters.fragmentsMade)
            object.add("failedWrites", totals.failedWrites)
            object.add("failedReplies", totals.failedReplies)
            object.add("readErrors", totals.readErrors)
            return object.rendered + "\n"
        }
        var lines = ["received packets \(counters.received.packets) bytes \(counters.received.bytes)"]
        for (index, count) in counters.perTunnel.enumerated() {
            lines.append("tunnel \(tunnelName(index)) packets \(count.packets) bytes \(count.bytes)")
        }
        for (index, count) in counters.perOrigin.enumerated() {
            lines.append("origin \(PipelineCounters.originNames[index]) packets \(count.packets) bytes \(count.bytes)")
        }
        for drop in drops where drop.count > 0 { lines.append("drop \(drop.key) \(drop.count)") }
        lines.append("drops total \(counters.totalDrops)")
        lines.append("icmp sent \(counters.icmpSent) rate-limited \(counters.icmpRateLimited)")
        lines.append("fragmented packets \(counters.fragmented) fragments \(counters.fragmentsMade)")
        lines.append(
            "writes failed \(totals.failedWrites) replies-failed \(totals.failedReplies) read-errors \(totals.readErrors)")
        return lines.map { $0 + "\n" }.joined()
    }
}
