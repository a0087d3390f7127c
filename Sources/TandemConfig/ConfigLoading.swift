// Loading a configuration: the public entry points, and the loader that reads each section, checks every rule
// of docs/config.md and collects all problems before it gives up.

import TandemPacket
import TandemRouting
import Yams

extension GatewayConfig {
    /// Reads and checks a configuration file.
    ///
    /// - Parameter path: The file's path; diagnostics name the file by this path.
    /// - Returns: The configuration, with its ``warnings``.
    /// - Throws: ``ConfigErrors`` with every problem found, sorted by line. A file that cannot be read gives one
    ///   diagnostic naming the file and the system's reason (`No such file or directory`).
    public static func load(path: String) throws(ConfigErrors) -> GatewayConfig {
        switch YAMLDocument.readFile(path) {
        case .failure(let error):
            throw ConfigErrors([
                ConfigDiagnostic(
                    file: path, line: 0, column: 0,
                    message: "cannot read '\(path)': \(error.text)")
            ])
        case .success(let bytes):
            let reporter = Reporter(file: path)
            guard let text = YAMLDocument.decode(bytes, reporter: reporter) else {
                throw ConfigErrors(reporter.diagnostics)
            }
            return try ConfigLoader(reporter: reporter).load(text)
        }
    }

    /// Reads and checks a configuration from text.
    ///
    /// - Parameters:
    ///   - yaml: The YAML text.
    ///   - file: The name to put in diagnostics and source locations.
    /// - Returns: The configuration, with its ``warnings``.
    /// - Throws: ``ConfigErrors`` with every problem found, sorted by line.
    public static func parse(yaml: String, file: String) throws(ConfigErrors) -> GatewayConfig {
        try ConfigLoader(reporter: Reporter(file: file)).load(yaml)
    }
}

/// The keys of each mapping, as the file writes them.
enum ConfigKeys {
    static let top = ["gateway", "ecmp", "limits", "tunnels", "connections", "routes", "policy-routes", "learning"]
    static let gateway = ["name", "mode", "routing-mode", "local-asn", "ingress"]
    static let ecmp = ["hash", "symmetric", "seed", "buckets"]
    static let limits = ["dynamic-routes", "policy-routes"]
    static let tunnel = ["name", "device", "peer", "zone", "mtu", "routing", "bgp", "health-check"]
    static let bgp = ["inside-cidr", "local-asn", "peer-asn"]
    static let healthCheck = [
        "source", "destination", "protocol", "port", "interval", "timeout", "down-count", "up-count",
    ]
    static let connection = ["name", "tunnels", "preempt-delay", "damping"]
    static let damping = ["flaps", "window", "penalty"]
    static let route = ["prefix", "connection", "source", "weight", "metric"]
    static let policyRoute = [
        "source", "destination", "protocol", "destination-ports", "priority", "weight", "connection",
    ]
    static let learning = ["table", "protocols"]
}

/// Reads one file. Each section is read in a fixed order (gateway, ecmp, limits, tunnels, connections, routes,
/// policy routes, learning) whatever the file's order, so that references can be checked as they are read.
/// An item with a problem is reported and left out; its name still counts, so that references to it do not
/// add a second, misleading error.
final class ConfigLoader {
    typealias Gateway = GatewayConfig.Gateway
    typealias Tunnel = GatewayConfig.Tunnel
    typealias Connection = GatewayConfig.Connection

    let reporter: Reporter

    // The gateway's settings, each kept apart so that one bad value does not hide the others' checks.
    var gateway: Gateway?
    /// `nil` when the routing mode is invalid (rule 1 is then not checked).
    var routingMode: Gateway.RoutingMode? = .destination
    var gatewayASN: UInt32?
    var gatewayASNInvalid = false
    var ingress: String? = Gateway.defaultIngress
    var ecmp: GatewayConfig.ECMP? = GatewayConfig.ECMP()
    var limits: GatewayConfig.Limits? = GatewayConfig.Limits()

    var tunnels: [Tunnel] = []
    /// Where each tunnel name is first given (valid tunnels or not).
    var tunnelNames: [String: SourceLocation] = [:]
    /// The tunnel and where the device is given, by device.
    var deviceOwners: [String: (tunnel: String, location: SourceLocation)] = [:]
    var insideCIDROwners: [IPv4Prefix: (tunnel: String, location: SourceLocation)] = [:]
    /// The connection each tunnel is in, and where.
    var tunnelOwners: [String: (connection: String, location: SourceLocation)] = [:]

    var connections: [Connection] = []
    var connectionNames: [String: SourceLocation] = [:]
    /// Connections that some route or policy route names.
    var usedConnections: Set<String> = []

    var routes: [GatewayConfig.Route] = []
    var policyRoutes: [GatewayConfig.PolicyRoute] = []
    var learning: GatewayConfig.Learning?

    init(reporter: Reporter) { self.reporter = reporter }

    /// Reads and checks `text`.
    func load(_ text: String) throws(ConfigErrors) -> GatewayConfig {
        // After a syntax error there is no tree; after duplicate keys there is one (without the duplicates) and
        // the rest of the file is still checked.
        let root = YAMLDocument.compose(text, reporter: reporter)
        if root == nil && reporter.hasErrors { throw ConfigErrors(reporter.diagnostics) }
        guard let root, !root.isNull else {
            reporter.error(
                SourceLocation(file: reporter.file, line: 0, column: 0),
                "the file is empty; a configuration needs at least a 'gateway' section with a 'name'")
            throw ConfigErrors(reporter.diagnostics)
        }
        guard let top = Fields(root, context: "the top level", reporter: reporter) else {
            throw ConfigErrors(reporter.diagnostics)
        }
        top.checkKeys(ConfigKeys.top)

        if let node = top.node("gateway") {
            readGateway(node)
        } else {
            top.missing("gateway", hint: "; every configuration names its gateway (gateway: {name: site-a})")
        }
        if let node = top.node("ecmp") { readECMP(node) }
        if let node = top.node("limits") { readLimits(node) }
        for (index, node) in (top.list("tunnels") ?? []).enumerated() { readTunnel(node, index: index) }
        for (index, node) in (top.list("connections") ?? []).enumerated() { readConnection(node, index: index) }
        for (index, node) in (top.list("routes") ?? []).enumerated() { readRoute(node, index: index) }
        let policyNodes = top.list("policy-routes") ?? []
        for (index, node) in policyNodes.enumerated() { readPolicyRoute(node, index: index) }
        if let node = top.node("learning") { readLearning(node) }

        checkPolicyRouteLimit(policyNodes)
        if routingMode == .destination { checkOverlappingRoutes() }
        checkLocalASNs()
        warnAboutUnusedParts()

        if reporter.hasErrors { throw ConfigErrors(reporter.diagnostics) }
        guard let gateway, let ecmp, let limits else {
            // Unreachable: a missing section is an error. Kept as an error rather than a trap.
            reporter.error(SourceLocation(file: reporter.file, line: 0, column: 0), "the configuration is incomplete")
            throw ConfigErrors(reporter.diagnostics)
        }
        return GatewayConfig(
            gateway: gateway, ecmp: ecmp, limits: limits, tunnels: tunnels, connections: connections, routes: routes,
            policyRoutes: policyRoutes, learning: learning, warnings: ConfigErrors.sorted(reporter.diagnostics))
    }

    // MARK: - gateway, ecmp, limits

    func readGateway(_ node: Node) {
        guard let f = Fields(node, context: "'gateway'", reporter: reporter) else {
            gateway = nil
            return
        }
        f.checkKeys(ConfigKeys.gateway)
        let name = f.name("name")
        let mode = f.choice("mode", default: Gateway.Mode.userspace)
        routingMode = f.choice("routing-mode", default: Gateway.RoutingMode.destination)
        if f.has("local-asn") {
            gatewayASN = f.int("local-asn", in: 1...Int(UInt32.max)).map { UInt32($0) }
            gatewayASNInvalid = gatewayASN == nil
        }
        ingress = f.interfaceName("ingress", default: Gateway.defaultIngress)
        guard let name, let mode, let routingMode, let ingress, !f.failed else { return }
        gateway = Gateway(
            name: name, mode: mode, routingMode: routingMode, localASN: gatewayASN, ingress: ingress,
            location: f.location, keyLocations: f.keyLocations)
    }

    func readECMP(_ node: Node) {
        guard let f = Fields(node, context: "'ecmp'", reporter: reporter) else {
            ecmp = nil
            return
        }
        f.checkKeys(ConfigKeys.ecmp)
        let hash = f.choice("hash", default: GatewayConfig.ECMP.Hash.l3l4)
        let symmetric = f.bool("symmetric", default: false)
        var seed: UInt64? = 0
        if f.has("seed") {
            let expecting = "an unsigned 64-bit integer, decimal or 0x hex"
            seed = nil
            if let text = f.scalar("seed", expecting: expecting) {
                let lowered = text.lowercased()
                seed = lowered.hasPrefix("0x") ? UInt64(lowered.dropFirst(2), radix: 16) : UInt64(text)
                if seed == nil || lowered == "0x" || text.hasPrefix("+") {
                    seed = nil
                    f.fail("seed", "'seed' must be \(expecting) (at most 18446744073709551615), got '\(text)'")
                }
            }
        }
        var buckets = f.int("buckets", in: 64...65536, default: GatewayConfig.ECMP.defaultBuckets)
        if let value = buckets, value.nonzeroBitCount != 1 {
            let below = 1 << (Int.bitWidth - 1 - value.leadingZeroBitCount)
            let nearest = value - below < below * 2 - value ? below : below * 2
            f.fail("buckets", "'buckets' must be a power of two between 64 and 65536, got \(value); try \(nearest)")
            buckets = nil
        }
        guard let hash, let symmetric, let seed, let buckets, !f.failed else {
            ecmp = nil
            return
        }
        ecmp = GatewayConfig.ECMP(
            hash: hash, symmetric: symmetric, seed: seed, buckets: buckets, location: f.location,
            keyLocations: f.keyLocations)
    }

    func readLimits(_ node: Node) {
        guard let f = Fields(node, context: "'limits'", reporter: reporter) else {
            limits = nil
            return
        }
        f.checkKeys(ConfigKeys.limits)
        let dynamic = f.int(
            "dynamic-routes", in: 0...10_000_000, default: GatewayConfig.Limits.defaultDynamicRoutes)
        let policy = f.int("policy-routes", in: 1...1024, default: GatewayConfig.Limits.defaultPolicyRoutes)
        guard let dynamic, let policy, !f.failed else {
            limits = nil
            return
        }
        limits = GatewayConfig.Limits(
            dynamicRoutes: dynamic, policyRoutes: policy, location: f.location, keyLocations: f.keyLocations)
    }

    // MARK: - tunnels

    func readTunnel(_ node: Node, index: Int) {
        guard let f = Fields(node, context: "tunnels item \(index + 1)", reporter: reporter) else { return }
        if let name = f.peek("name") { f.context = "tunnel '\(name)'" }
        f.checkKeys(ConfigKeys.tunnel)
        let name = f.name("name")
        let device = f.interfaceName("device")
        let peer = f.address("peer")
        let zone = f.has("zone") ? f.string("zone") : nil
        let mtu =
            peer?.family == .ipv6
            ? f.int("mtu", in: 1280...65535, default: Tunnel.defaultMTU, why: " for an IPv6 peer")
            : f.int("mtu", in: 576...65535, default: Tunnel.defaultMTU, why: peer == nil ? "" : " for an IPv4 peer")
        let routing = f.choice("routing", default: Tunnel.Routing.static)
        let label = name.map { "tunnel '\($0)'" } ?? "this tunnel"

        var bgp: GatewayConfig.BGP?
        var bgpFailed = false
        if let bgpNode = f.node("bgp") {
            if routing == .static {
                f.fail(
                    at: f.keyLocation("bgp"),
                    "'bgp' is set but 'routing' is static; add 'routing: bgp' to \(label), or remove the 'bgp' block")
            }
            bgp = readBGP(bgpNode, tunnel: name, label: label)
            bgpFailed = bgp == nil
        } else if routing == .bgp {
            f.fail(
                "routing",
                "'routing: bgp' needs a 'bgp' block with 'inside-cidr' and 'peer-asn' in \(label)")
        }

        var healthCheck: GatewayConfig.HealthCheck?
        var healthFailed = false
        if let healthNode = f.node("health-check") {
            healthCheck = readHealthCheck(healthNode, label: label)
            healthFailed = healthCheck == nil
        }

        if let name {
            if let first = tunnelNames[name] {
                f.fail(
                    "name",
                    "duplicate tunnel name '\(name)' (first at line \(first.line)); "
                        + "tunnel names must be unique")
            } else {
                tunnelNames[name] = f.valueLocation("name")
            }
        }
        if let device {
            if let owner = deviceOwners[device] {
                f.fail(
                    "device",
                    "device '\(device)' is already used by tunnel '\(owner.tunnel)' (line \(owner.location.line)); "
                        + "each tunnel needs its own device")
            } else {
                deviceOwners[device] = (name ?? "?", f.valueLocation("device"))
            }
            if device == ingress {
                f.fail(
                    "device",
                    "device '\(device)' is the gateway's ingress device; a tunnel needs a device of its own")
            }
        }

        guard let name, let device, let peer, let mtu, let routing, !bgpFailed, !healthFailed, !f.failed else {
            return
        }
        if f.has("zone") && zone == nil { return }
        tunnels.append(
            Tunnel(
                name: name, device: device, peer: peer, zone: zone, mtu: mtu, routing: routing, bgp: bgp,
                healthCheck: healthCheck, location: f.location, keyLocations: f.keyLocations))
    }

    /// The link-local range that BGP inside CIDRs come from.
    static let linkLocal = try! IPv4Prefix("169.254.0.0/16")
    /// Inside CIDRs that may not be used.
    static let reservedInsideCIDRs: Set<IPv4Prefix> = Set(
        [
            "169.254.0.0/30", "169.254.1.0/30", "169.254.2.0/30", "169.254.3.0/30", "169.254.4.0/30",
            "169.254.5.0/30", "169.254.169.252/30",
        ].map { try! IPv4Prefix($0) })

    func readBGP(_ node: Node, tunnel: String?, label: String) -> GatewayConfig.BGP? {
        guard let f = Fields(node, context: "the 'bgp' of \(label)", reporter: reporter) else { return nil }
        f.checkKeys(ConfigKeys.bgp)
        var inside: IPv4Prefix?
        if let prefix = f.prefix("inside-cidr") {
            inside = checkInsideCIDR(prefix, fields: f, tunnel: tunnel)
        }
        var localASN: UInt32?
        if f.has("local-asn") {
            localASN = f.int("local-asn", in: 1...Int(UInt32.max)).map { UInt32($0) }
        } else if let gatewayASN {
            localASN = gatewayASN
        } else if !gatewayASNInvalid {
            f.missing("local-asn", hint: "; set it here or as 'local-asn' in 'gateway'")
        }
        let peerASN = f.int("peer-asn", in: 1...Int(UInt32.max)).map { UInt32($0) }
        guard let inside, let localASN, let peerASN, !f.failed else { return nil }
        return GatewayConfig.BGP(
            insideCIDR: inside, localASN: localASN, peerASN: peerASN, location: f.location,
            keyLocations: f.keyLocations)
    }

    /// Rule 3: a /30 in 169.254.0.0/16, not reserved, not another tunnel's.
    func checkInsideCIDR(_ prefix: RoutePrefix, fields f: Fields, tunnel: String?) -> IPv4Prefix? {
        guard case .v4(let inside) = prefix else {
            f.fail("inside-cidr", "'inside-cidr' must be an IPv4 /30 in 169.254.0.0/16, got \(prefix)")
            return nil
        }
        guard inside.length == 30 else {
            f.fail(
                "inside-cidr",
                "'inside-cidr' must be a /30 in 169.254.0.0/16, got \(inside) (a /\(inside.length))")
            return nil
        }
        guard Self.linkLocal.contains(inside) else {
            f.fail(
                "inside-cidr",
                "'inside-cidr' \(inside) is not in 169.254.0.0/16; BGP inside addresses are link-local, "
                    + "e.g. 169.254.10.0/30")
            return nil
        }
        guard !Self.reservedInsideCIDRs.contains(inside) else {
            f.fail(
                "inside-cidr",
                "'inside-cidr' \(inside) is reserved (169.254.0.0/30 to 169.254.5.0/30 and 169.254.169.252/30 "
                    + "are); choose another /30 in 169.254.0.0/16")
            return nil
        }
        if let owner = insideCIDROwners[inside] {
            f.fail(
                "inside-cidr",
                "'inside-cidr' \(inside) is already used by tunnel '\(owner.tunnel)' (line \(owner.location.line)); "
                    + "each tunnel needs its own inside CIDR")
            return nil
        }
        insideCIDROwners[inside] = (tunnel ?? "?", f.valueLocation("inside-cidr"))
        return inside
    }

    func readHealthCheck(_ node: Node, label: String) -> GatewayConfig.HealthCheck? {
        typealias HealthCheck = GatewayConfig.HealthCheck
        guard let f = Fields(node, context: "the 'health-check' of \(label)", reporter: reporter) else { return nil }
        f.checkKeys(ConfigKeys.healthCheck)
        let source = f.address("source")
        let destination = f.address("destination")
        if let source, let destination, source.family != destination.family {
            f.fail(
                "destination",
                "'destination' \(destination) is \(destination.family) but 'source' \(source) is \(source.family); "
                    + "both must be of the same family")
        }
        let probe = f.choice("protocol", default: HealthCheck.ProbeProtocol.icmp)
        var port: UInt16? = HealthCheck.defaultPort
        if f.has("port") {
            if probe == .icmp {
                f.fail(
                    at: f.keyLocation("port"),
                    "'port' applies only to 'protocol: udp'; remove it, or set 'protocol: udp'")
            } else {
                port = f.int("port", in: 1...65535).map { UInt16($0) }
            }
        }
        let interval = f.duration(
            "interval", in: .milliseconds(10)...(.seconds(3600)), rangeText: "between 10ms and 1h",
            default: HealthCheck.defaultInterval)
        let timeout = f.duration(
            "timeout", in: .nanoseconds(1)...(.seconds(3600)), rangeText: "more than 0s and at most 1h",
            default: HealthCheck.defaultInterval)
        let down = f.int("down-count", in: 1...100, default: HealthCheck.defaultCount)
        let up = f.int("up-count", in: 1...100, default: HealthCheck.defaultCount)
        guard let source, let destination, let probe, let port, let interval, let timeout, let down, let up,
            !f.failed
        else { return nil }
        return HealthCheck(
            source: source, destination: destination, probeProtocol: probe, port: port, interval: interval,
            timeout: timeout, downCount: down, upCount: up, location: f.location, keyLocations: f.keyLocations)
    }

    // MARK: - connections

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

        guard let name, let preempt, !dampingFailed, !f.failed else { return }
        connections.append(
            Connection(
                name: name, tunnels: tunnelNamesListed, preemptDelay: preempt, damping: damping,
                location: f.location, keyLocations: f.keyLocations))
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
        }
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

    // MARK: - routes

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

    /// Routes by (prefix, source, metric, connection), to find the same route written twice.
    var routeKeys: [String: SourceLocation] = [:]

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

    /// Policy routes by (match, priority, connection), to find the same one written twice.
    var policyKeys: [String: SourceLocation] = [:]

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

    // MARK: - learning

    func readLearning(_ node: Node) {
        typealias Learning = GatewayConfig.Learning
        guard let f = Fields(node, context: "'learning'", reporter: reporter) else { return }
        f.checkKeys(ConfigKeys.learning)
        let table = f.int("table", in: 1...Int(UInt32.max), default: Int(Learning.defaultTable))
        var protocols: [UInt8] = Learning.defaultProtocols
        if f.has("protocols") {
            protocols = []
            if let items = f.list("protocols") {
                if items.isEmpty {
                    f.fail("protocols", "'protocols' must name at least one routing protocol, e.g. [bird, bgp]")
                }
                let names = Learning.protocolNames.map(\.name)
                for item in items {
                    let location = reporter.location(item.mark)
                    guard case .scalar(let scalar) = item, !item.isNull else {
                        f.fail(
                            at: location,
                            "each item of 'protocols' must be a protocol name or number, got \(item.shownAs)")
                        continue
                    }
                    let text = scalar.string
                    let number: UInt8
                    if let known = Learning.protocolNames.first(where: { $0.name == text }) {
                        number = known.number
                    } else if let value = Fields.integer(text), (0...255).contains(value) {
                        number = UInt8(value)
                    } else {
                        f.fail(
                            at: location,
                            "unknown routing protocol '\(text)' in 'protocols'; use a name (bird, bgp, zebra, static, "
                                + "kernel, ...) or a number from 0 to 255"
                                + ConfigText.suggestion(for: text, among: names))
                        continue
                    }
                    if protocols.contains(number) {
                        reporter.warning(location, "'\(text)' is listed twice in 'protocols' (protocol \(number))")
                        continue
                    }
                    protocols.append(number)
                }
            }
        }
        guard let table, !f.failed else { return }
        learning = Learning(
            table: UInt32(table), protocols: protocols, location: f.location, keyLocations: f.keyLocations)
    }
}

extension String {
    /// The text without leading and trailing spaces and tabs.
    var trimmingSpaces: String {
        var scalars = Substring(self)
        while let first = scalars.first, first == " " || first == "\t" { scalars.removeFirst() }
        while let last = scalars.last, last == " " || last == "\t" { scalars.removeLast() }
        return String(scalars)
    }
}
