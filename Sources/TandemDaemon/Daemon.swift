// `tandem run`: the gateway on a Linux router. The daemon is the effects around the gateway's core (Gateway.swift,
// which holds the state and talks to the kernel through KernelPort): it owns the TUN devices, the pipeline threads,
// the probe sockets, the route-notification socket, the control socket and the metrics endpoint, and feeds their
// events to the core. Start: read the configuration, take the locks, make the devices, let the core reconcile the
// kernel, learn, drop privileges, start the pipeline threads. Then the control thread (tandem-ctl) runs one event
// loop: signals (SIGHUP reloads, SIGTERM and SIGINT stop), route notifications, probe answers, control requests,
// scrapes, timers. Stop: the threads end, and Tandem removes what it installed unless told to keep it.

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
    /// The core: state, and the kernel changes it makes.
    let gateway: Gateway
    let clock = SystemMonotonicClock()

    var config: GatewayConfig { gateway.config }
    var router: Router { gateway.router }

    /// Userspace mode: the devices and the threads.
    var ingress: TunDevice?
    var egress: [String: TunDevice] = [:]
    var forwarder: Forwarder?
    /// The device indices as made, to notice a device deleted or made again by someone else (Daemon+Devices).
    var deviceIndices: [String: UInt32] = [:]
    var tunnelInterfaceIndices: [String: UInt32] = [:]
    var nextDeviceCheck: UInt64 = 0
    /// The ingress device's queue length under overload, and when it is looked at next (Daemon+IngressQueue).
    var ingressQueue: IngressQueueGovernor?
    var nextIngressQueueLook: UInt64 = 0
    /// The kernel refused the governor's last change (warned once until one goes through).
    var ingressQueueRefused = false

    /// One gateway per namespace and ingress device, table and rule priority (see Daemon+Locks).
    var locks: [InstanceLock] = []

    /// The control socket (`tandem show`, `tandem lookup`); its path, if not the default /run/tandem/<name>.sock.
    var control: ControlServer?
    public var controlSocketPath: String?

    /// The health-check probes, and their sockets in the event loop.
    var probes: HealthProbes?
    var polledProbes: Set<CInt> = []

    /// Learning: the notification socket, and the dump of the watched table under way after it overflowed.
    var monitor: RouteMonitor?
    var tableDump: BackgroundJob<Result<WatchedTableDump, SystemError>>?
    /// Link notifications of the tunnels' interfaces (Daemon+Links).
    var links: LinkMonitor?

    /// Metrics: the Prometheus values, and the endpoint of the `metrics` section (see Daemon+Metrics).
    let metrics = DaemonMetrics.shared
    var metricsServer: MetricsServer?

    /// The process's exit status when the loop ends: non-zero when the daemon could not keep its state (a device
    /// it cannot make again).
    var exitStatus: Int32 = 0
    var loop: EventLoop?
    /// A turn of the control thread this long (ns) gets a warning; when the last one was written.
    static let slowTurn: UInt64 = 50_000_000
    var lastSlowTurnWarning: UInt64 = 0
    /// The control thread's processor time when its last turn ended.
    var turnCPUStart: UInt64 = 0

    /// systemd's notifications (READY=1, RELOADING=1, STOPPING=1, STATUS=, WATCHDOG=1; see Daemon+Service).
    let service: ServiceNotifications
    /// The start is over (READY=1 waits for it); the last STATUS= and failover it names.
    var startFinished = false
    var lastServiceStatus: ServiceStatus?
    var lastFailover: ServiceStatus.Failover?

    /// Makes the daemon: reads and checks the configuration; nothing is changed yet.
    ///
    /// - Parameters:
    ///   - signals: Made by the caller before any other thread started (see ``SignalSource``).
    ///   - serviceManager: systemd's notification socket ($NOTIFY_SOCKET), or nil when not run by systemd.
    ///   - watchdogMicroseconds: systemd's watchdog interval for this process ($WATCHDOG_USEC), or nil.
    public init(
        configPath: String, signals: SignalSource, log: EventLog,
        serviceManager: (any ServiceManagerChannel)? = nil, watchdogMicroseconds: UInt64? = nil
    ) throws(DaemonError) {
        self.configPath = configPath
        self.signals = signals
        self.log = log
        service = ServiceNotifications(
            channel: serviceManager, watchdogMicroseconds: watchdogMicroseconds, clock: clock, log: log)
        let config: GatewayConfig
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
        gateway = try Gateway(
            config: config, kernel: LinuxKernel(netlink: netlink), clock: clock, log: log, metrics: metrics)
        gateway.keepAlive = { [service] in service.keepAlive() }
        gateway.onFailover = { [unowned self] in recordFailover(connection: $0, from: $1, to: $2) }
        gateway.kernelAside = { [log] plan, work in Self.reconcileAside(plan, work, log: log) }
    }

    /// Runs a reconcile on a thread of its own (tandem-kernel), with a netlink socket of its own, while the control
    /// thread goes on (``Gateway/kernelAside``); what it returns waits for the summary.
    static func reconcileAside(
        _ plan: KernelPlan, _ work: @escaping @Sendable (KernelSync) throws(SystemError) -> SyncSummary,
        log: EventLog
    ) -> AsideSummary? {
        do {
            let job = try JoinableJob(name: "tandem-kernel") {
                Result { () throws(SystemError) -> SyncSummary in
                    try work(KernelSync(kernel: LinuxKernel(netlink: try RouteNetlink()), plan: plan))
                }
            }
            return { job.wait() }
        } catch {
            log.warning("\(error): reconciling on the control thread instead")
            return nil
        }
    }

    /// Starts, serves until SIGTERM or SIGINT, and stops. Returns the process's exit status.
    public func run() -> Int32 {
        SystemThread.nameCallingThread("tandem-ctl")
        do {
            try start()
        } catch {
            log.error("\(error)")
            stop()
            return 1
        }
        serve()
        stop()
        return exitStatus
    }

    // MARK: Start

    /// Each step pings systemd's watchdog if a ping is due (learning a full table takes seconds; Gateway pings
    /// within it too), so a start that moves on is not taken for a hung one, and one that hangs is.
    func start() throws(DaemonError) {
        service.keepAlive()
        try takeLocks()
        try startControl()
        try startMetrics()
        try gateway.checkHost()
        // The watched table is dumped on a thread of its own while the devices are made (a full table's dump takes
        // about a second, three tunnels' devices half of one), and learned here as it comes.
        let startDump = try startLearning()
        if config.gateway.mode == .userspace { try makeDevices() }
        service.keepAlive()
        tunnelInterfaceIndices = gateway.tunnelInterfaces(of: config)
        try gateway.learnInitialRoutes(from: startDump)
        service.keepAlive()
        gateway.probeFigures = { [unowned self] in probes?.statistics(of: $0) ?? ProbeStatistics() }
        gateway.onReady = { [unowned self] in
            log.info("ready: \(config.gateway.mode) mode, " + devicesSummary + $0)
            gatewayReady()
        }
        try startLinkMonitor()
        try gateway.start(ingressIndex: deviceIndices[config.gateway.ingress] ?? 0)
        service.keepAlive()
        try startProbes()
        try dropPrivileges()
        try forwarder?.start()
        startEnded()
    }

    /// What the ready line says of the devices.
    var devicesSummary: String {
        guard config.gateway.mode == .userspace, let ingress else { return "" }
        return "ingress \(ingress.name) with \(ingress.queues.count) queue(s)"
            + ", offloads \(ingress.offloads.isEmpty ? "off" : "\(ingress.offloads)"), "
    }

    /// After setup: the control thread keeps only CAP_NET_ADMIN (netlink, devices) and CAP_NET_RAW (probes), and
    /// no thread can gain a privilege again; the pipeline threads drop every capability themselves (Forwarder).
    func dropPrivileges() throws(DaemonError) {
        do {
            try ProcessCapabilities.forbidNewPrivileges()
            let left = try ProcessCapabilities.restrictCallingThread(to: [.netAdmin, .netRaw])
            if !left.isEmpty {
                // No CAP_SETPCAP (a supervisor's bounding set without it): the thread's own sets are narrowed all
                // the same, and with no_new_privs nothing can gain what is left in the bounding set.
                let names = left.map { number in Capability(rawValue: number).map { "\($0)" } ?? "\(number)" }
                log.warning(
                    "capabilities: without CAP_SETPCAP the bounding set keeps " + names.joined(separator: ", ")
                        + " (not held by any thread); set CapabilityBoundingSet= to narrow it")
            }
            log.info("capabilities: kept only CAP_NET_ADMIN and CAP_NET_RAW (control thread); no new privileges")
        } catch {
            throw DaemonError("dropping capabilities: \(error)")
        }
    }

    // MARK: Serve

    func serve() {
        let loop: EventLoop
        do {
            loop = try EventLoop(capacity: 64, now: { [clock] in clock.now().nanoseconds })
            self.loop = loop
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
            try watchRouteNotifications(in: loop)
            try watchLinks(in: loop)
            try registerControl(in: loop)
            try metricsServer?.register(in: loop) { [log] in log.warning("metrics: \($0)") }
            polledProbes = []
            watchProbeSockets(in: loop)
        } catch {
            log.error("the event loop cannot start: \(error)")
            exitStatus = 1
            return
        }
        turnCPUStart = SystemThread.callingThreadCPUTime
        while !loop.isStopped {
            do { try loop.runOnce(timeoutMilliseconds: pollTimeout(now: clock.now().nanoseconds)) } catch {
                log.error("\(error)")
                exitStatus = 1
                return
            }
            if loop.isStopped { return }
            runTimers()
            serviceTurn()
            measureTurn(since: loop.wokeAt, cpuSince: turnCPUStart)
            turnCPUStart = SystemThread.callingThreadCPUTime
        }
    }

    /// A turn, from the end of its wait: what it held the probes up by. One of ``slowTurn`` or more gets a warning
    /// (at most one a second): probes went out late, or an answer was taken for lost, because of Tandem itself.
    ///
    /// - Parameter cpuStart: The thread's processor time when the last turn ended (the wait uses none): the warning
    ///   says how much of the turn was work and how much was waiting for a core (another process, on a small box).
    func measureTurn(since start: UInt64, cpuSince cpuStart: UInt64) {
        let now = clock.now().nanoseconds
        let took = now &- start
        metrics.recordControlTurn(.nanoseconds(Int64(took)))
        guard took >= Self.slowTurn, now &- lastSlowTurnWarning >= 1_000_000_000 else { return }
        lastSlowTurnWarning = now
        let worked = SystemThread.callingThreadCPUTime &- cpuStart
        log.warning(
            "the control thread took \(took / 1_000_000) ms over one turn (\(worked / 1_000_000) ms of it working, the "
                + "rest waiting for a core): health-check probes waited")
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
        service.stopping()
        // Without the locks another instance runs: what is in the kernel is its own, not to be touched.
        guard !locks.isEmpty else { return }
        control = nil
        tableDump = nil
        forwarder?.stop()
        let keep = config.linux.keepRoutesOnExit
        if keep {
            log.info("keep-routes-on-exit: routes, rules and devices stay in the kernel for the next run")
        } else {
            service.keepAlive()
            gateway.removeEverything()
            service.keepAlive()
        }
        if let forwarder { logSummary(forwarder.summary) }
        forwarder = nil
        // A device that is not persistent goes with its last queue.
        for device in [ingress].compactMap({ $0 }) + Array(egress.values) { try? device.setPersistent(keep) }
        ingress = nil
        egress.removeAll()
        locks.removeAll()
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
