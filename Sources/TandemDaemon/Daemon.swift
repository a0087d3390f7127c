// `tandem run`: the gateway on a Linux router. Start: read the configuration, make the TUN devices, put the
// rules, tunnel tables and remote routes in the kernel (reconciling with what a previous run left), learn the
// routes a routing daemon installed, drop every capability but CAP_NET_ADMIN and CAP_NET_RAW, start the pipeline
// threads. Then one control thread waits for signals (SIGHUP reloads, SIGTERM and SIGINT stop) and route
// notifications. Stop: the threads end, and Tandem removes what it installed unless told to keep it.

import TandemConfig
import TandemDataplane
import TandemLinux
import TandemPacket
import TandemRouting

#if canImport(Glibc)
import Glibc
#endif

/// The running gateway. Everything but the pipeline threads runs on the thread that calls ``run()``.
public final class Daemon {
    let configPath: String
    let log: EventLog
    let signals: SignalSource
    let netlink: RouteNetlink

    var config: GatewayConfig
    var router: Router
    var controller: FailoverController
    var sync: KernelSync { KernelSync(netlink: netlink, marker: config.linux.protocol) }
    var plan: KernelPlan { KernelPlan(config: config) }

    /// Userspace mode: the devices and the threads.
    var ingress: TunDevice?
    var egress: [String: TunDevice] = [:]
    var forwarder: Forwarder?
    var ingressIndex: UInt32 = 0

    /// One gateway per namespace and ingress device.
    var instanceLock: InstanceLock?

    /// The control socket (`tandem show`, `tandem lookup`); its path, if not the default /run/tandem/<name>.sock.
    var control: ControlServer?
    public var controlSocketPath: String?

    /// Kernel mode: the nexthop objects of the current state.
    var kernelMode: KernelModeState?

    /// The health-check probes, and their sockets in the event loop's poll.
    var probes: HealthProbes?
    var polledProbes: Set<CInt> = []

    /// Learning: the socket, and each learned prefix with the tunnel it was learned through.
    var monitor: RouteMonitor?
    var learned: [RoutePrefix: String] = [:]
    /// Many routes at once: one log line for all of them (see logLearning).
    var learningFlood = false
    /// The tunnels' interface indices, for mapping learned routes, and when they were looked up.
    var interfaceIndicesCache: [String: UInt32] = [:]
    var interfaceIndicesTime: UInt64 = 0
    /// The prefixes routed into Tandem now (the configuration's and the learned ones) ...
    var remotePrefixes: Set<RoutePrefix> = []
    /// ... and the target of each route in Tandem's table, as last installed.
    var installedRemote: [RoutePrefix: KernelRoute.Target] = [:]
    /// Remote prefixes without a route now (kernel mode: their chain has no group yet).
    var unrouted: Set<RoutePrefix> = []

    /// Metrics: the Prometheus values, and the endpoint of the `metrics` section (see Daemon+Metrics).
    let metrics = DaemonMetrics.shared
    var metricsServer: MetricsServer?

    /// Makes the daemon: reads and checks the configuration; nothing is changed yet.
    ///
    /// - Parameter signals: Made by the caller before any other thread started (see ``SignalSource``).
    public init(configPath: String, signals: SignalSource, log: EventLog) throws(DaemonError) {
        self.configPath = configPath
        self.signals = signals
        self.log = log
        do {
            config = try GatewayConfig.load(path: configPath)
        } catch {
            throw DaemonError(
                "\(configPath) has errors:\n" + error.errors.map { "  \($0)" }.joined(separator: "\n"))
        }
        for warning in config.warnings { log.warning("\(warning)") }
        do {
            netlink = try RouteNetlink()
        } catch {
            throw DaemonError("\(error)")
        }
        (router, controller) = try Self.makeRouter(config)
    }

    static func makeRouter(_ config: GatewayConfig) throws(DaemonError) -> (Router, FailoverController) {
        do {
            return try config.makeRouter(at: MonotonicInstant(nanoseconds: Forwarder.now()))
        } catch {
            throw DaemonError("building the routing table: \(error)")
        }
    }

    /// Starts, serves until SIGTERM or SIGINT, and stops. Returns the process's exit status.
    public func run() -> Int32 {
        do {
            try start()
        } catch {
            log.error("\(error)")
            stop()
            return 1
        }
        serve()
        stop()
        return 0
    }

    // MARK: Start

    func start() throws(DaemonError) {
        do {
            instanceLock = try InstanceLock(name: "tandem-\(config.gateway.ingress)")
        } catch where error.code == EADDRINUSE {
            throw DaemonError(
                "another tandem run serves ingress \(config.gateway.ingress) in this network namespace; stop it first")
        } catch {
            throw DaemonError("\(error)")
        }
        try startControl()
        try startMetrics()
        let interfaces = try checkHost()
        switch config.gateway.mode {
        case .userspace: try makeDevices()
        case .kernel: tuneKernelForKernelMode()
        }
        remotePrefixes = Self.configuredPrefixes(of: config, log: log)
        try startLearning()
        try install(interfaces: interfaces)
        try startProbes()
        try dropCapabilities()
        try forwarder?.start()
        let counts = router.prefixCounts
        log.info(
            "ready: \(config.gateway.mode) mode, "
                + (config.gateway.mode == .userspace
                    ? "ingress \(config.gateway.ingress) with \(ingress?.queues.count ?? 0) queue(s)"
                        + ", offloads \(ingress.map { $0.offloads.isEmpty ? "off" : "\($0.offloads)" } ?? "off"), "
                    : "")
                + "\(config.tunnels.count) tunnel(s), \(remotePrefixes.count) remote prefix(es) in table "
                + "\(config.linux.table) proto \(config.linux.protocol) "
                + "(RIB: \(counts.ipv4) IPv4, \(counts.ipv6) IPv6 prefixes; \(learned.count) learned)")
    }

    /// What the host must offer: each tunnel's interface, and forwarding on. Returns the interfaces' indices.
    func checkHost() throws(DaemonError) -> [String: UInt32] {
        let interfaces = Self.interfaceIndices(of: config)
        let problems = KernelPlan.check(config, interfaceIndex: { interfaces[$0] })
        guard problems.isEmpty else { throw DaemonError(problems.joined(separator: "\n")) }
        // The kernel forwards what Tandem writes to an egress device (and everything in kernel mode).
        if (try? KernelSetting("net", "ipv4", "ip_forward").read()) != "1" {
            throw DaemonError(
                "IPv4 forwarding is off in this network namespace (net.ipv4.ip_forward is not 1), so the kernel "
                    + "would drop what Tandem forwards; turn it on: sysctl -w net.ipv4.ip_forward=1")
        }
        if (try? KernelSetting("net", "ipv6", "conf", "all", "forwarding").read()) != "1" {
            log.warning(
                "IPv6 forwarding is off (net.ipv6.conf.all.forwarding is not 1): IPv6 traffic will not cross; "
                    + "turn it on with sysctl -w net.ipv6.conf.all.forwarding=1")
        }
        if (try? KernelSetting("net", "ipv4", "conf", "all", "rp_filter").read()) == "1" {
            log.warning(
                "net.ipv4.conf.all.rp_filter is 1 (strict): the kernel drops packets from an egress device whose "
                    + "source is not routed back through it; use 0 or 2 (loose)")
        }
        return interfaces
    }

    static func interfaceIndices(of config: GatewayConfig) -> [String: UInt32] {
        var indices: [String: UInt32] = [:]
        for tunnel in config.tunnels {
            guard let name = tunnel.interface else { continue }
            let index = if_nametoindex(name)
            if index != 0 { indices[name] = index }
        }
        return indices
    }

    /// The queues: the configured number, or one per core.
    var queueCount: Int {
        config.linux.queues > 0 ? config.linux.queues : max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    }

    /// Userspace mode: the ingress device, one egress device per tunnel, the pipeline threads (not started).
    func makeDevices() throws(DaemonError) {
        let vnet = config.linux.offloads ? TunDevice.VnetHeader() : nil
        do {
            let ingress = try TunDevice(
                name: config.gateway.ingress, queueCount: queueCount, vnetHeader: vnet,
                batchCapacity: Forwarder.batchCapacity)
            try ingress.setPersistent(config.linux.keepRoutesOnExit)
            self.ingress = ingress
            for tunnel in config.tunnels {
                egress[tunnel.device] = try makeEgressDevice(tunnel.device, linux: config.linux)
            }
            ingressIndex = try bringUp([ingress])[0]
            // Tandem's ICMP errors come from the gateway's own address: the kernel must take them from the device.
            try KernelSetting("net", "ipv4", "conf", ingress.name, "accept_local").write("1")
        } catch let error as DaemonError {
            throw error
        } catch {
            throw DaemonError("\(error)")
        }
        forwarder = Forwarder(ingress: ingress!, setup: forwardingSetup(), log: log)
    }

    /// One egress device, up, with reverse-path filtering off (its packets come from the site, which is not
    /// routed through it) and local sources accepted (the gateway's own traffic to a remote prefix crosses Tandem
    /// and comes back in through it).
    func makeEgressDevice(_ name: String, linux: GatewayConfig.Linux) throws(DaemonError) -> TunDevice {
        let vnet = linux.offloads ? TunDevice.VnetHeader() : nil
        do {
            let device = try TunDevice(
                name: name, queueCount: queueCount, vnetHeader: vnet, batchCapacity: Forwarder.batchCapacity)
            try device.setPersistent(linux.keepRoutesOnExit)
            _ = try bringUp([device])
            try KernelSetting("net", "ipv4", "conf", device.name, "rp_filter").write("0")
            try KernelSetting("net", "ipv4", "conf", device.name, "accept_local").write("1")
            return device
        } catch let error as DaemonError {
            throw error
        } catch {
            throw DaemonError("\(error)")
        }
    }

    /// Packets the kernel may queue for a pipeline thread (TUN's default is 500): a burst that comes while the thread
    /// waits for a core is queued, not dropped. At most 64 KiB each (offload packets): bounded memory.
    static let transmitQueueLength: UInt32 = 2048

    /// Sets devices up with the largest MTU (Tandem applies each tunnel's MTU itself) and a longer queue; returns
    /// their indices.
    func bringUp(_ devices: [TunDevice]) throws(DaemonError) -> [UInt32] {
        var changes: [LinkChange] = []
        for device in devices {
            let index = if_nametoindex(device.name)
            guard index != 0 else { throw DaemonError("TUN device \(device.name) vanished right after it was made") }
            changes.append(
                LinkChange(
                    index: index, name: device.name, up: true, mtu: 65_535, transmitQueueLength: Self.transmitQueueLength))
        }
        let failures: [SystemError]
        do { failures = try netlink.apply(changes) } catch { throw DaemonError("\(error)") }
        if let failure = failures.first { throw DaemonError("\(failure)") }
        return changes.map(\.index)
    }

    /// What the pipeline threads need now.
    func forwardingSetup() -> ForwardingSetup {
        ForwardingSetup(
            plane: router.plane,
            pipeline: config.pipelineConfiguration(),
            egress: config.tunnels.map { egress[$0.device]! })
    }

    /// The prefixes a configuration routes into Tandem: its destination routes, and the destinations of its policy
    /// routes except default routes (a default route in Tandem's table would pull in all traffic, the return
    /// traffic to the site included).
    static func configuredPrefixes(of config: GatewayConfig, log: EventLog?) -> Set<RoutePrefix> {
        var prefixes = Set(config.routes.map(\.prefix))
        for route in config.policyRoutes {
            if route.destination.isDefault {
                log?.warning(
                    "policy route \(route.match) (\(route.location)): its destination is a default route, which "
                        + "Tandem does not put in the kernel; it applies to traffic to the remote prefixes only")
            } else {
                prefixes.insert(route.destination)
            }
        }
        return prefixes
    }

    /// Puts rules, tunnel tables and remote routes in the kernel, reconciling with what is there.
    func install(interfaces: [String: UInt32]) throws(DaemonError) {
        do {
            let rules = try sync.reconcileRules(desired: plan.rules)
            // The tunnel tables before the nexthops: the kernel checks a nexthop's gateway through them.
            let tunnelTables = plan.tables.filter { $0 != config.linux.table }
            let tunnelRoutes = try sync.reconcileRoutes(
                tables: tunnelTables, desired: plan.tunnelRoutes(interfaceIndex: interfaces))
            if config.gateway.mode == .kernel { try installNexthops(interfaces: interfaces) }
            log.info("kernel rules: \(rules); tunnel tables: \(tunnelRoutes)")
            for failure in (rules + tunnelRoutes).failures { log.error("\(failure)") }
            metrics.recordNetlinkErrors((rules + tunnelRoutes).failures.count)
            try syncAllRemoteRoutes()
            if let failure = (rules + tunnelRoutes).failures.first { throw DaemonError("\(failure)") }
        } catch let error as DaemonError {
            throw error
        } catch {
            throw DaemonError("\(error)")
        }
    }

    /// The routes of Tandem's table for the current prefixes.
    func desiredRemoteRoutes() -> [KernelRoute] {
        remotePrefixes.sorted().compactMap { prefix in remoteTarget(for: prefix).map { plan.remoteRoute(prefix, to: $0) } }
    }

    /// Where a remote prefix's kernel route leads: into Tandem, or (kernel mode) to its nexthop group.
    func remoteTarget(for prefix: RoutePrefix) -> KernelRoute.Target? {
        switch config.gateway.mode {
        case .userspace: .device(ingressIndex)
        case .kernel: kernelMode?.target(for: prefix, router: router)
        }
    }

    func dropCapabilities() throws(DaemonError) {
        do {
            try ProcessCapabilities.restrictCallingThread(to: [.netAdmin, .netRaw])
            log.info("capabilities: kept only CAP_NET_ADMIN and CAP_NET_RAW")
        } catch {
            throw DaemonError("dropping capabilities: \(error)")
        }
    }

    // MARK: Serve

    func serve() {
        let loop: EventLoop
        do {
            loop = try EventLoop(capacity: 64, now: { Forwarder.now() })
            try loop.register(FileDescriptor(rawValue: signals.descriptor)) { [unowned self, unowned loop] _ in
                for signal in (try? signals.pending()) ?? [] {
                    switch signal {
                    case SIGHUP:
                        reload()
                        watchProbeSockets(in: loop)
                    default:
                        log.info("signal \(signal == SIGINT ? "SIGINT" : "SIGTERM"): stopping")
                        loop.stop()
                        return
                    }
                }
            }
            if let monitor {
                try loop.register(FileDescriptor(rawValue: monitor.descriptor)) { [unowned self] _ in
                    readRouteNotifications()
                }
            }
            try registerControl(in: loop)
            try metricsServer?.register(in: loop) { [log] in log.warning("metrics: \($0)") }
            polledProbes = []
            watchProbeSockets(in: loop)
        } catch {
            log.error("the event loop cannot start: \(error)")
            return
        }
        while !loop.isStopped {
            do { try loop.runOnce(timeoutMilliseconds: pollTimeout(now: Forwarder.now())) } catch {
                log.error("\(error)")
                return
            }
            if loop.isStopped { return }
            runHealthTimers()
        }
    }

    /// After a reload: the probe sockets in the loop are the current ones (the loop forgets the closed ones; the
    /// kernel dropped them from epoll when they closed, and a reused number is registered afresh).
    func watchProbeSockets(in loop: EventLoop) {
        for descriptor in polledProbes { try? loop.deregister(FileDescriptor(rawValue: descriptor)) }
        polledProbes = []
        for descriptor in probes?.descriptors ?? [] {
            do {
                try loop.register(FileDescriptor(rawValue: descriptor)) { [unowned self] _ in
                    readProbeAnswers(on: descriptor)
                }
                polledProbes.insert(descriptor)
            } catch {
                log.error("\(error)")
            }
        }
    }

    // MARK: Stop

    func stop() {
        // Without the lock another instance runs: what is in the kernel is its own, not to be touched.
        guard instanceLock != nil else { return }
        control = nil
        forwarder?.stop()
        if config.linux.keepRoutesOnExit {
            log.info("keep-routes-on-exit: routes, rules and devices stay in the kernel for the next run")
        } else {
            do {
                let removed = try sync.removeEverything(tables: plan.tables)
                if config.gateway.mode == .kernel { try removeNexthops() }
                log.info("removed Tandem's routes and rules: \(removed)")
            } catch {
                log.error("removing Tandem's routes and rules: \(error)")
            }
        }
        if let forwarder { logSummary(forwarder.summary) }
        forwarder = nil
        // Closing the last queue removes a device that is not persistent.
        ingress = nil
        egress.removeAll()
    }

    func logSummary(_ totals: ForwarderTotals) {
        let counters = totals.pipeline
        var parts = ["received \(counters.received.packets)"]
        for (index, tunnel) in config.tunnels.enumerated() where index < counters.perTunnel.count {
            parts.append("\(tunnel.name) \(counters.perTunnel[index].packets)")
        }
        parts.append("dropped \(counters.totalDrops)")
        parts.append("icmp sent \(counters.icmpSent)")
        if totals.failedWrites > 0 { parts.append("failed writes \(totals.failedWrites)") }
        log.info("packets: " + parts.joined(separator: ", "))
    }
}
