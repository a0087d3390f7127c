// Loading a configuration: the public entry points, and the loader that reads each section, checks every rule
// of docs/config.md and collects all problems before it gives up.

import TandemPacket
import TandemRouting
import Yams

extension GatewayConfig {
    /// Reads and checks a configuration file.
    ///
    /// - Parameters:
    ///   - path: The file's path; diagnostics name the file by this path.
    ///   - kernel: What the kernel offers, for the kernel-mode checks (`ecmp.seed`); the running one by default.
    /// - Returns: The configuration, with its ``warnings``.
    /// - Throws: ``ConfigErrors`` with every problem found, sorted by line. A file that cannot be read gives one
    ///   diagnostic naming the file and the system's reason (`No such file or directory`).
    public static func load(path: String, kernel: KernelFeatures = .running) throws(ConfigErrors) -> GatewayConfig {
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
            return try ConfigLoader(reporter: reporter, kernel: kernel).load(text)
        }
    }

    /// Reads and checks a configuration from text.
    ///
    /// - Parameters:
    ///   - yaml: The YAML text.
    ///   - file: The name to put in diagnostics and source locations.
    ///   - kernel: What the kernel offers, for the kernel-mode checks (`ecmp.seed`); the running one by default.
    /// - Returns: The configuration, with its ``warnings``.
    /// - Throws: ``ConfigErrors`` with every problem found, sorted by line.
    public static func parse(yaml: String, file: String, kernel: KernelFeatures = .running) throws(ConfigErrors)
        -> GatewayConfig
    {
        guard yaml.utf8.count <= YAMLDocument.maximumSize else {
            throw ConfigErrors([
                ConfigDiagnostic(
                    file: file, line: 0, column: 0,
                    message: "cannot read '\(file)': \(YAMLDocument.ReadFailure.tooLarge.text)")
            ])
        }
        return try ConfigLoader(reporter: Reporter(file: file), kernel: kernel).load(yaml)
    }
}

/// The keys of each mapping, as the file writes them.
enum ConfigKeys {
    static let top = [
        "gateway", "ecmp", "limits", "icmp", "tunnels", "connections", "routes", "policy-routes", "learning",
        "linux", "metrics", "advertise",
    ]
    static let icmp = ["source-ipv4", "source-ipv6", "ratelimit", "burst", "msgs-per-sec", "msgs-burst"]
    static let gateway = ["name", "mode", "routing-mode", "local-asn", "ingress"]
    static let ecmp = ["hash", "symmetric", "seed", "buckets"]
    static let limits = ["dynamic-routes", "policy-routes"]
    static let tunnel = [
        "name", "device", "interface", "next-hop-ipv4", "next-hop-ipv6", "peer", "zone", "mtu", "routing", "bgp",
        "health-check", "drained",
    ]
    static let bgp = ["inside-cidr", "local-asn", "peer-asn", "local-address", "peer-address", "bfd"]
    static let healthCheck = [
        "source", "destination", "protocol", "port", "interval", "timeout", "down-count", "up-count",
    ]
    static let connection = ["name", "tunnels", "preempt-delay", "preempt", "damping", "weight"]
    static let damping = ["flaps", "window", "penalty"]
    static let route = ["prefix", "connection", "source", "weight", "metric"]
    static let policyRoute = [
        "source", "destination", "protocol", "destination-ports", "priority", "weight", "connection",
    ]
    static let learning = ["table", "protocols"]
    static let linux = [
        "protocol", "table", "rule-priority", "queues", "tun-queue-length", "tun-queue-delay", "offloads",
        "keep-routes-on-exit", "fail-open",
    ]
    static let metrics = ["listen"]
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
    /// What the kernel offers (kernel mode's checks).
    let kernel: KernelFeatures

    // The gateway's settings, each kept apart so that one bad value does not hide the others' checks.
    var gateway: Gateway?
    /// `nil` when the routing mode is invalid (rule 1 is then not checked).
    var routingMode: Gateway.RoutingMode? = .destination
    var gatewayASN: UInt32?
    var gatewayASNInvalid = false
    var ingress: String? = Gateway.defaultIngress
    var ecmp: GatewayConfig.ECMP? = GatewayConfig.ECMP()
    var limits: GatewayConfig.Limits? = GatewayConfig.Limits()
    var icmp: GatewayConfig.ICMP? = GatewayConfig.ICMP()

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
    /// Routes by (prefix, source, metric, connection), to find the same route written twice.
    var routeKeys: [String: SourceLocation] = [:]
    var policyRoutes: [GatewayConfig.PolicyRoute] = []
    /// Policy routes by (match, priority, connection), to find the same one written twice.
    var policyKeys: [String: SourceLocation] = [:]
    var learning: GatewayConfig.Learning?
    /// The advertised prefixes that are valid, in file order.
    var advertise: [GatewayConfig.Advertisement] = []
    var linux: GatewayConfig.Linux? = GatewayConfig.Linux()
    /// The metrics endpoint; nil when the file has no `metrics` section (or it has an error).
    var metrics: GatewayConfig.Metrics?
    /// The tunnel and where the interface is given, by interface.
    var interfaceOwners: [String: (tunnel: String, location: SourceLocation)] = [:]

    init(reporter: Reporter, kernel: KernelFeatures = .running) {
        self.reporter = reporter
        self.kernel = kernel
    }

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
        if let node = top.node("icmp") { readICMP(node) }
        for (index, node) in (top.list("tunnels") ?? []).enumerated() { readTunnel(node, index: index) }
        for (index, node) in (top.list("connections") ?? []).enumerated() { readConnection(node, index: index) }
        for (index, node) in (top.list("routes") ?? []).enumerated() { readRoute(node, index: index) }
        let policyNodes = top.list("policy-routes") ?? []
        for (index, node) in policyNodes.enumerated() { readPolicyRoute(node, index: index) }
        if let node = top.node("learning") { readLearning(node) }
        if let node = top.node("linux") { readLinux(node) }
        if let node = top.node("metrics") { readMetrics(node) }
        readAdvertise(top)

        checkLearningAgainstLinux()
        checkPolicyRouteLimit(policyNodes)
        if routingMode == .destination { checkOverlappingRoutes() }
        checkLocalASNs()
        checkKernelModeParity()
        warnAboutUnusedParts()
        warnAboutAdvertise()

        if reporter.hasErrors { throw ConfigErrors(reporter.diagnostics) }
        guard let gateway, let ecmp, let limits, let icmp, let linux else {
            // Unreachable: a missing section is an error. Kept as an error rather than a trap.
            reporter.error(SourceLocation(file: reporter.file, line: 0, column: 0), "the configuration is incomplete")
            throw ConfigErrors(reporter.diagnostics)
        }
        var config = GatewayConfig(
            gateway: gateway, ecmp: ecmp, limits: limits, tunnels: tunnels, connections: connections, routes: routes,
            policyRoutes: policyRoutes, learning: learning, warnings: ConfigErrors.sorted(reporter.diagnostics))
        config.icmp = icmp
        config.linux = linux
        config.metrics = metrics
        config.advertise = advertise
        return config
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
