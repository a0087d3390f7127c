// The gateway's core: its state (GatewayState) and what it does with it when something happens. Inputs are events:
// the configuration loaded (start) or reloaded, route notifications and a resync (Gateway+Learning), probe outcomes
// and timers (Gateway+Health), the ingress device made again (a deleted TUN device), stop. Each answer is a set of
// kernel changes made through the kernel seam (KernelPort) and log events; time comes from an injected clock. No OS
// call is made here: the daemon (Daemon.swift) owns the devices, sockets and threads and feeds this type, and the
// tests feed it with a fake kernel and a manual clock.

import TandemConfig
import TandemLinux
import TandemPacket
import TandemRouting

#if canImport(Glibc)
import Glibc
#endif

/// What waits for a reconcile done aside (``Gateway/kernelAside``): its summary, or nil if the work never returned.
typealias AsideSummary = () -> Result<SyncSummary, SystemError>?

/// A gateway's state and the logic that keeps the kernel in line with it.
final class Gateway {
    /// The state; replaced whole by a reload.
    var state: GatewayState
    let kernel: any KernelPort
    let clock: any MonotonicClock
    let log: EventLog
    let metrics: DaemonMetrics
    /// A tunnel's probe figures, for the failover events (the daemon's probes; zeros in tests).
    var probeFigures: (TunnelID) -> ProbeStatistics = { _ in ProbeStatistics() }
    /// Said once the configured state is in the kernel (the daemon adds its devices; systemd's READY=1 goes here).
    var onReady: (String) -> Void = { _ in }
    /// A connection's traffic moved: its name, and the tunnels it left and took ("none" for no tunnel). The daemon's
    /// STATUS= line names the last one.
    var onFailover: (_ connection: String, _ from: String, _ to: String) -> Void = { _, _, _ in }
    /// Called between the steps of long work on the control thread (learning a full table at start), so the daemon
    /// can ping systemd's watchdog while the work goes on; a step that hangs stops the pings.
    var keepAlive: () -> Void = {}

    /// Whether everything configured has been in the kernel since start (false again never: a later refusal is
    /// logged and retried, and `tandem show kernel` says what is missing).
    private(set) var isReady = false
    /// Many routes at once: one log line for all of them (see logLearning) ...
    var learningFlood = false {
        // The level is asked once a flood: asking the log handler for it costs a copy of the handler, and a full
        // table's million lines are nearly always below the level.
        didSet { if learningFlood && !oldValue { learningFloodIsLogged = log.level <= .debug } }
    }
    /// Whether a flood's lines are written (the log's level is debug).
    private(set) var learningFloodIsLogged = false
    /// ... and at most one such summary a second: when the last one was written, and whether one is held back.
    var learningSummaryTime: UInt64?
    var learningSummaryOwed = false
    /// Dumps the watched table off the control thread and hands the result to ``dumpFinished(_:)`` (the daemon's
    /// BackgroundJob); nil: the dump is made at once, on the calling thread (tests).
    var dumpWatchedTable: ((GatewayConfig.Learning) -> Void)?
    /// Runs a reconcile on a thread of its own, with a kernel port of its own, while this thread goes on, and returns
    /// what waits for its summary (nil if the thread could not start: the caller reconciles itself then). The daemon
    /// sets it; nil, everything is reconciled on the calling thread (the tests). Used at start, for the rules (see
    /// ``startRulesAside()``) and for a full sync of Tandem's table (``syncAllRemoteRoutes(chains:)``).
    var kernelAside: ((KernelPlan, @escaping @Sendable (KernelSync) throws(SystemError) -> SyncSummary) -> AsideSummary?)?
    /// What waits for the rules reconciled aside at start, and whether they were.
    var rulesAside: AsideSummary?
    var rulesAsideTried = false
    /// Learned prefixes reported as overlapping another connection's route since start (a counter: reloads keep it).
    var overlapsReported = 0
    /// The tunnels' interface indices, for mapping learned routes, and when they were looked up.
    var interfaceIndicesCache: [String: UInt32] = [:]
    var interfaceIndicesTime: UInt64?
    /// The last hop a learned route's tunnel was looked up for, and where its tunnel is in `config.tunnels`
    /// (forgotten with the indices, so after a reload too).
    var lastHopTunnel: (gateway: AnyIPAddress?, device: UInt32, tunnel: Int?)?

    init(
        config: GatewayConfig, kernel: any KernelPort, clock: any MonotonicClock, log: EventLog,
        metrics: DaemonMetrics
    ) throws(DaemonError) {
        self.kernel = kernel
        self.clock = clock
        self.log = log
        self.metrics = metrics
        state = try GatewayState(config: config, now: clock.now().nanoseconds)
        for warning in KernelPlan.defaultPolicyWarnings(of: config) { log.warning(warning) }
    }

    var config: GatewayConfig { state.config }
    var router: Router { state.router }
    var now: UInt64 { clock.now().nanoseconds }
    var sync: KernelSync { KernelSync(kernel: kernel, plan: state.plan) }

    /// The indices of the tunnels' interfaces that exist now.
    func tunnelInterfaces(of config: GatewayConfig) -> [String: UInt32] {
        kernel.interfaceIndices(of: config.tunnels.compactMap(\.interface))
    }

    // MARK: Start

    /// What the host must offer: each tunnel's interface and forwarding on; warnings for what may hurt.
    func checkHost() throws(DaemonError) {
        let interfaces = tunnelInterfaces(of: config)
        let problems = KernelPlan.check(config, interfaceIndex: { interfaces[$0] })
        guard problems.isEmpty else { throw DaemonError(problems.joined(separator: "\n")) }
        // The kernel forwards what Tandem writes to an egress device (and everything in kernel mode).
        if (try? kernel.read(KernelSetting("net", "ipv4", "ip_forward"))) != "1" {
            throw DaemonError(
                "IPv4 forwarding is off in this network namespace (net.ipv4.ip_forward is not 1), so the kernel "
                    + "would drop what Tandem forwards; turn it on: sysctl -w net.ipv4.ip_forward=1")
        }
        if (try? kernel.read(KernelSetting("net", "ipv6", "conf", "all", "forwarding"))) != "1" {
            log.warning(
                "IPv6 forwarding is off (net.ipv6.conf.all.forwarding is not 1): IPv6 traffic will not cross; "
                    + "turn it on with sysctl -w net.ipv6.conf.all.forwarding=1")
        }
        if (try? kernel.read(KernelSetting("net", "ipv4", "conf", "all", "rp_filter"))) == "1" {
            log.warning(
                "net.ipv4.conf.all.rp_filter is 1 (strict): the kernel drops packets from an egress device whose "
                    + "source is not routed back through it; use 0 or 2 (loose)")
        }
    }

    /// Puts rules, tunnel tables, (kernel mode) nexthops and remote routes in the kernel, reconciling with what is
    /// there. What the kernel refuses is recorded and retried; only a failure to talk to it at all throws.
    ///
    /// - Parameter ingressIndex: Userspace mode: the ingress device the remote routes point at.
    func start(ingressIndex: UInt32) throws(DaemonError) {
        state.ingressIndex = ingressIndex
        // A tunnel whose interface is down starts down; the file's drains start drained.
        readLinkStates()
        applyDrains(to: &state, keeping: nil)
        if config.gateway.mode == .kernel { tuneKernelForKernelMode() }
        do {
            let interfaces = tunnelInterfaces(of: config)
            let rules: SyncSummary
            if let aside = rulesAside?() {
                rules = try aside.get()
            } else {
                rules = try sync.reconcileRules(desired: state.plan.rules)
            }
            rulesAside = nil
            keepAlive()
            // The tunnel tables before the nexthops: the kernel checks a nexthop's gateway through them.
            let tunnelTables = state.plan.tunnelTables
            let tunnelRoutes = try sync.reconcileRoutes(
                tables: tunnelTables, desired: state.plan.tunnelRoutes(interfaceIndex: interfaces))
            record(rules + tunnelRoutes)
            log.info("kernel rules: \(rules); tunnel tables: \(tunnelRoutes)")
            keepNextHopsResolved(interfaces: interfaces)
            keepAlive()
            // Kernel mode looks each remote prefix's chain up once, for the groups and the routes.
            let chains = config.gateway.mode == .kernel ? remoteChains() : nil
            if let chains { try installNexthops(interfaces: interfaces, chains: chains) }
            keepAlive()
            try syncAllRemoteRoutes(chains: chains)
        } catch {
            throw DaemonError("\(error)")
        }
        scheduleRetry()
    }

    /// Records a reconcile's refusals as pending and logs them.
    func record(_ summary: SyncSummary) {
        for failure in summary.failures { log.error("\(failure)") }
        metrics.recordNetlinkErrors(summary.failures.count)
        state.pending.rules.formUnion(summary.refusedRules)
        state.pending.tunnelRoutes += summary.refusedRoutes
        if let last = summary.failures.last { state.pending.lastError = last }
    }

    /// Says "ready" the first time nothing is pending, or schedules the next retry.
    func scheduleRetry() {
        if state.pending.isEmpty {
            state.pending.retryAt = nil
            if state.pending.attempts > 0 { log.info("kernel: every refused change is in place now") }
            state.pending.attempts = 0
            if !isReady {
                isReady = true
                onReady(readySummary)
            }
            return
        }
        let delay = PendingChanges.backoff(attempts: state.pending.attempts)
        state.pending.retryAt = now &+ delay
        log.warning(
            (isReady ? "kernel: " : "not ready: ") + state.pending.summary + "; retrying in \(delay / 1_000_000_000) s")
    }

    /// "1.250s": the time from `start` to `end` (nanoseconds), for the log, as MonotonicInstant writes its seconds.
    static func seconds(since start: UInt64, _ end: UInt64) -> String {
        MonotonicInstant(nanoseconds: end &- start).description
    }

    /// What the ready line says of the kernel side.
    var readySummary: String {
        let counts = router.prefixCounts
        return "\(config.tunnels.count) tunnel(s), \(state.remotePrefixes.count) remote prefix(es) in table "
            + "\(config.linux.table) proto \(config.linux.protocol) as \(state.installedRemote.count) route(s) "
            + "(RIB: \(counts.ipv4) IPv4, \(counts.ipv6) IPv6 prefixes; \(state.learned.count) learned)"
    }

    /// Retries what the kernel refused, if its time has come.
    func retryPending() {
        guard let at = state.pending.retryAt, at <= now else { return }
        var pending = state.pending
        let rules = Array(pending.rules)
        let tunnelRoutes = pending.tunnelRoutes
        let remote = pending.remote
        let nexthops = pending.nexthops
        pending.rules = []
        pending.tunnelRoutes = []
        pending.remote = []
        pending.nexthops = []
        pending.attempts += 1
        state.pending = pending
        do {
            for refusal in try kernel.refusals(applying: rules, remove: false) where refusal.error.code != EEXIST {
                state.pending.rules.insert(rules[refusal.index])
                state.pending.lastError = refusal.error
            }
            for refusal in try kernel.refusals(applying: tunnelRoutes.map { .add($0, replace: true) }) {
                state.pending.tunnelRoutes.append(tunnelRoutes[refusal.index])
                state.pending.lastError = refusal.error
            }
            if !nexthops.isEmpty { repairAndRefreshNexthops(retrying: nexthops) }
            if !remote.isEmpty || !state.unrouted.isEmpty { updateRemoteRoutes(state.unrouted, resend: remote) }
        } catch {
            log.error("retrying refused kernel changes: \(error)")
            state.pending.rules.formUnion(rules)
            state.pending.tunnelRoutes += tunnelRoutes
            state.pending.remote.formUnion(remote)
            state.pending.nexthops.formUnion(nexthops)
        }
        scheduleRetry()
    }

    // MARK: Devices

    /// Userspace mode: the ingress device was made again (it was deleted) with a new index: the kernel deleted the
    /// remote routes with the old device, so they all go back, to the new one.
    func ingressReplaced(index: UInt32) {
        state.ingressIndex = index
        do {
            try syncAllRemoteRoutes()
        } catch {
            log.error("restoring the remote routes into the new ingress device: \(error)")
        }
        scheduleRetry()
    }

    /// A tunnel's interface came back (or changed index): its table's routes and, in kernel mode, its nexthops.
    func tunnelInterfacesChanged() {
        interfaceIndicesTime = nil
        let interfaces = tunnelInterfaces(of: config)
        do {
            let tunnelTables = state.plan.tunnelTables
            record(
                try sync.reconcileRoutes(
                    tables: tunnelTables, desired: state.plan.tunnelRoutes(interfaceIndex: interfaces)))
        } catch {
            log.error("restoring the tunnel tables: \(error)")
        }
        if state.kernelMode != nil { repairAndRefreshNexthops() }
        keepNextHopsResolved(interfaces: interfaces)
        // The derived system routes go out of the interfaces by index.
        if !state.systemRouteTunnels.isEmpty { updateRemoteRoutes(Set(state.systemRouteTunnels.keys)) }
        scheduleRetry()
    }

    // MARK: Stop

    /// Removes everything of this gateway's from the kernel.
    func removeEverything() {
        do {
            let removed = try sync.removeEverything(tables: state.plan.tables)
            if config.gateway.mode == .kernel { try removeNexthops() }
            forgetNextHops()
            for failure in removed.failures { log.error("\(failure)") }
            log.info("removed Tandem's routes and rules: \(removed)")
        } catch {
            log.error("removing Tandem's routes and rules: \(error)")
        }
    }

    /// Where a remote prefix's kernel route leads: into Tandem, or (kernel mode) to its nexthop group; a derived
    /// system route (a BGP tunnel's inside /30) out of its own tunnel's interface, in both modes.
    func remoteTarget(for prefix: RoutePrefix) -> KernelRoute.Target? {
        remoteTarget(for: prefix, chain: config.gateway.mode == .kernel ? router.chain(of: prefix) : nil)
    }

    /// ``remoteTarget(for:)`` with the prefix's chain in the RIB looked up already (kernel mode; userspace mode
    /// has no use for it).
    func remoteTarget(for prefix: RoutePrefix, chain: ChainID?) -> KernelRoute.Target? {
        if !state.systemRouteTunnels.isEmpty, let tunnel = state.systemRouteTunnels[prefix] {
            guard let interface = config.tunnel(named: tunnel)?.interface, let index = interfaceIndices[interface]
            else { return nil }
            return .device(index)
        }
        return switch config.gateway.mode {
        case .userspace: .device(state.ingressIndex)
        case .kernel: state.kernelMode?.target(for: prefix, chain: chain)
        }
    }

    /// Each remote prefix with its chain in the RIB, for a full sync in kernel mode (see ``RemoteChains``).
    func remoteChains() -> RemoteChains {
        var chains: RemoteChains = []
        chains.reserveCapacity(state.remotePrefixes.underestimatedCount)
        for prefix in state.remotePrefixes { chains.append((prefix, router.chain(of: prefix))) }
        return chains
    }

    /// Sets where each of `prefixes` goes in the aggregation of Tandem's table: its target if it is a remote prefix
    /// now and has one, nowhere otherwise. Takes effect at the aggregation's next commit.
    ///
    /// - Parameter allRemote: `prefixes` are all remote prefixes (no need to ask of each).
    func setRemoteTargets(of prefixes: some Sequence<RoutePrefix>, allRemote: Bool = false) {
        setTargets(
            prefixes.lazy.map { prefix in
                let remote = allRemote || self.state.remotePrefixes.contains(prefix)
                return (prefix, remote ? self.remoteTarget(for: prefix) : nil, remote)
            })
    }

    /// ``setRemoteTargets(of:allRemote:)`` for all the remote prefixes, their chains looked up already.
    func setRemoteTargets(of chains: RemoteChains) {
        setTargets(chains.lazy.map { ($0.prefix, self.remoteTarget(for: $0.prefix, chain: $0.chain), true) })
    }

    /// Sets where each prefix goes in the aggregation (nil: nowhere), and whether it is a remote prefix (one
    /// without a target is unrouted then).
    private func setTargets(_ targets: some Sequence<(RoutePrefix, KernelRoute.Target?, Bool)>) {
        // The table is taken out of the state while it is set, for the targets are read from the state.
        var table = AggregatedTable<KernelRoute.Target>()
        swap(&table, &state.remoteRoutes)
        defer { swap(&table, &state.remoteRoutes) }
        table.set(
            targets.lazy.map { prefix, target, remote in
                // (A million prefixes at start, none of them unrouted: no hashing for nothing.)
                if remote && target == nil {
                    self.state.unrouted.insert(prefix)
                } else if !self.state.unrouted.isEmpty {
                    self.state.unrouted.remove(prefix)
                }
                return (prefix, target)
            })
    }

    /// Reconciles Tandem's whole table (and kernel mode's groups) with the RIB: at start, after a reload, an
    /// overflow or a new ingress device.
    ///
    /// - Parameter chains: Kernel mode: the remote prefixes' chains if they were looked up already (at start).
    func syncAllRemoteRoutes(chains: RemoteChains? = nil) throws(SystemError) {
        let started = now
        // The learning's inserts into the forwarding plane (at start) are made by now, whatever happens.
        defer { router.finishBatchingInserts() }
        var failures: [SystemError] = []
        let chains = config.gateway.mode == .kernel ? chains ?? remoteChains() : nil
        if let chains { failures += try updateChainGroups(of: chains, removeUnused: true) }
        state.remoteRoutes = AggregatedTable()
        state.unrouted = []
        if let chains {
            setRemoteTargets(of: chains)
        } else {
            setRemoteTargets(of: state.remotePrefixes, allRemote: true)
        }
        _ = state.remoteRoutes.commit()
        var desired = state.remoteRoutes.routes.map { state.plan.remoteRoute($0.prefix, to: $0.target) }
        // A small table goes in the plan's order (a bulk one is ordered for the kernel by the reconcile).
        if desired.count <= RouteNetlink.changesPerRound { desired.sort { $0.prefix < $1.prefix } }
        let summary: SyncSummary
        var installed: [RoutePrefix: KernelRoute.Target]?
        do {
            if desired.count > RouteNetlink.changesPerRound, kernelAside != nil {
                summary = try reconcileBulkTable(desired) { installed = Self.installed(desired) }
            } else {
                summary = try sync.reconcileRoutes(tables: [config.linux.table], desired: desired)
            }
        } catch {
            // Nothing is known of the table: every route is sent again at the retry.
            state.pending.remote.formUnion(desired.map(\.prefix))
            throw error
        }
        state.installedRemote = installed ?? Self.installed(desired)
        for route in summary.refusedRoutes {
            state.installedRemote[route.prefix] = nil
            state.pending.remote.insert(route.prefix)
        }
        failures += summary.failures
        if let last = failures.last { state.pending.lastError = last }
        log.info(
            "table \(config.linux.table): \(summary) (\(state.remotePrefixes.count) remote prefix(es) in "
                + "\(desired.count) route(s), \(Self.seconds(since: started, now)))")
        for failure in failures { log.error("\(failure)") }
        metrics.recordNetlinkErrors(failures.count)
    }

    /// Reconciles Tandem's table with a bulk `desired` (a full table's 200,000 routes take the kernel a second or
    /// more) aside (``kernelAside``): each family on a thread of its own, for the kernel takes IPv6 routes without
    /// the RTNL lock and so both at once, while this thread makes the learning's inserts into the forwarding plane
    /// and then does `meanwhile`. A family whose thread could not start is reconciled here.
    func reconcileBulkTable(_ desired: [KernelRoute], meanwhile: () -> Void) throws(SystemError) -> SyncSummary {
        let tables = [config.linux.table]
        var asides: [(family: IPFamily, routes: [KernelRoute], summary: AsideSummary?)] = []
        for family in IPFamily.allCases {
            let routes = desired.filter { $0.prefix.family == family }
            let summary = kernelAside?(state.plan) { sync throws(SystemError) in
                try sync.reconcileRoutes(tables: tables, desired: routes, family: family)
            }
            asides.append((family, routes, summary))
        }
        router.finishBatchingInserts()
        meanwhile()
        var total = SyncSummary()
        for (family, routes, aside) in asides {
            if let result = aside?() {
                total = total + (try result.get())
            } else {
                total = total + (try sync.reconcileRoutes(tables: tables, desired: routes, family: family))
            }
        }
        return total
    }

    /// Tandem's table as the kernel holds it once `routes` are in, by prefix.
    static func installed(_ routes: [KernelRoute]) -> [RoutePrefix: KernelRoute.Target] {
        Dictionary(routes.map { ($0.prefix, $0.target) }, uniquingKeysWith: { first, _ in first })
    }

    /// Brings Tandem's table in line with the RIB where the remote prefixes `prefixes` changed (or may have), and
    /// sends the routes `resend` (aggregated prefixes: refused before, or lost with their group) again: one netlink
    /// batch, whatever the table size. New routes go in before the ones they replace go (an aggregate before its
    /// parts are deleted, the parts before their aggregate is), so no address is without its route in between.
    func updateRemoteRoutes(_ prefixes: Set<RoutePrefix>, resend: Set<RoutePrefix> = []) {
        var touched: Set<RoutePrefix> = resend
        do {
            var failures: [SystemError] = []
            if config.gateway.mode == .kernel { failures += try updateChainGroups(for: prefixes) }
            setRemoteTargets(of: prefixes)
            touched.formUnion(state.remoteRoutes.commit().map(\.prefix))
            var adds: [RouteChange] = []
            var deletes: [RouteChange] = []
            var before: [RoutePrefix: KernelRoute.Target] = [:]
            for prefix in touched.sorted() {
                state.pending.remote.remove(prefix)
                let wanted = state.remoteRoutes.route(for: prefix)
                let present = state.installedRemote[prefix]
                guard wanted != present || (resend.contains(prefix) && wanted != nil) else { continue }
                if let wanted {
                    adds.append(.add(state.plan.remoteRoute(prefix, to: wanted), replace: true))
                } else if let present {
                    deletes.append(.delete(state.plan.remoteRoute(prefix, to: present)))
                }
                before[prefix] = present
                state.installedRemote[prefix] = wanted
            }
            let changes = adds + deletes
            for refusal in try kernel.refusals(applying: changes) {
                failures.append(refusal.error)
                guard case .add(let route, _) = changes[refusal.index] else { continue }
                // Replace refused: the kernel still holds what it held.
                state.installedRemote[route.prefix] = before[route.prefix] ?? nil
                state.pending.remote.insert(route.prefix)
            }
            if !changes.isEmpty { log.info("table \(config.linux.table): \(changes.count) route(s) changed") }
            for failure in failures { log.error("\(failure)") }
            if let last = failures.last { state.pending.lastError = last }
            metrics.recordNetlinkErrors(failures.count)
            if !state.pending.isEmpty && state.pending.retryAt == nil { scheduleRetry() }
        } catch {
            metrics.recordNetlinkErrors(1)
            log.error("updating table \(config.linux.table): \(error)")
            // What this batch meant to send is sent again at the retry.
            state.pending.remote.formUnion(touched.filter { state.remoteRoutes.route(for: $0) != nil })
            if !state.pending.isEmpty && state.pending.retryAt == nil { scheduleRetry() }
        }
    }
}
