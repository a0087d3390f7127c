// SIGHUP: reload the configuration all or nothing. A file with errors, or one that changes what only a restart can
// change, is logged and changes nothing. A good one is built aside (a new router with the learned routes, new
// egress devices, the new rules and routes added next to the old ones), then the pipeline threads take it between
// two batches, then what only the old configuration needed is removed: no packet is dropped for the reload.

import TandemConfig
import TandemLinux
import TandemPacket
import TandemRouting

extension Daemon {
    func reload() {
        log.info("SIGHUP: reloading \(configPath)")
        let new: GatewayConfig
        do {
            new = try GatewayConfig.load(path: configPath)
        } catch {
            log.error("reload refused, the running configuration stays: \(configPath) has errors")
            for diagnostic in error.errors { log.error("  \(diagnostic)") }
            return
        }
        let needsRestart = Self.restartOnlyChanges(from: config, to: new)
        guard needsRestart.isEmpty else {
            log.error(
                "reload refused, the running configuration stays: changing \(needsRestart.joined(separator: ", ")) "
                    + "needs a restart")
            return
        }
        do {
            try apply(new)
        } catch {
            log.error("reload refused, the running configuration stays: \(error)")
        }
    }

    /// What a reload cannot change.
    static func restartOnlyChanges(from old: GatewayConfig, to new: GatewayConfig) -> [String] {
        var changes: [String] = []
        if old.gateway.mode != new.gateway.mode { changes.append("gateway.mode") }
        if old.gateway.ingress != new.gateway.ingress { changes.append("gateway.ingress") }
        let (a, b) = (old.linux, new.linux)
        if a.protocol != b.protocol { changes.append("linux.protocol") }
        if a.table != b.table { changes.append("linux.table") }
        if a.rulePriority != b.rulePriority { changes.append("linux.rule-priority") }
        if a.queues != b.queues { changes.append("linux.queues") }
        if a.offloads != b.offloads { changes.append("linux.offloads") }
        if old.metrics?.listen != new.metrics?.listen { changes.append("metrics") }
        if old.learning?.table != new.learning?.table || old.learning?.protocols != new.learning?.protocols {
            changes.append("learning")
        }
        return changes
    }

    func apply(_ new: GatewayConfig) throws(DaemonError) {
        let interfaces = Self.interfaceIndices(of: new)
        let problems = KernelPlan.check(new, interfaceIndex: { interfaces[$0] })
        guard problems.isEmpty else { throw DaemonError(problems.joined(separator: "; ")) }
        for warning in new.warnings { log.warning("\(warning)") }

        // 1. The new router, with the learned routes that still lead somewhere.
        var (newRouter, newController) = try Self.makeRouter(new)
        var newLearned: [RoutePrefix: String] = [:]
        for (prefix, tunnel) in learned.sorted(by: { $0.key < $1.key }) {
            guard let index = new.connections.firstIndex(where: { $0.tunnels.contains(tunnel) }) else {
                log.warning("learned route \(prefix) is dropped: tunnel '\(tunnel)' is in no connection any more")
                continue
            }
            if (try? newRouter.learn(prefix, via: ConnectionID(index))) == .installed { newLearned[prefix] = tunnel }
        }

        // A tunnel that is down stays down across the reload: its probes must bring it back, not the reload.
        for (index, tunnel) in new.tunnels.enumerated() where isDown(tunnelNamed: tunnel.name) {
            _ = try? newController.force(
                TunnelID(index), to: .down, at: MonotonicInstant(nanoseconds: Forwarder.now()), router: newRouter)
        }
        let newProbes = try HealthProbes(config: new, now: Forwarder.now())

        // 2. New egress devices (the old ones are reused by name).
        var newEgress: [String: TunDevice] = [:]
        if new.gateway.mode == .userspace {
            for tunnel in new.tunnels {
                if let existing = egress[tunnel.device] {
                    newEgress[tunnel.device] = existing
                } else {
                    // On failure the devices made so far close with `newEgress`: nothing changed.
                    newEgress[tunnel.device] = try makeEgressDevice(tunnel.device, linux: new.linux)
                }
            }
        }

        // 3. Swap: the kernel gets the new rules and routes next to the old ones, then the threads switch.
        let oldConfig = config
        let oldRouter = router
        let oldTables = plan.tables
        config = new
        swap(&router, &newRouter)
        swap(&controller, &newController)
        let oldLearned = learned
        let oldRemote = remotePrefixes
        learned = newLearned
        remotePrefixes = Self.configuredPrefixes(of: new, log: log).union(newLearned.keys)
        let oldEgress = egress
        if new.gateway.mode == .userspace { egress = newEgress }
        do {
            let newPlan = plan
            let rules = try sync.reconcileRules(desired: newPlan.rules, keepStale: true)
            let tunnelRoutes = try sync.reconcileRoutes(
                tables: newPlan.tables.filter { $0 != new.linux.table },
                desired: newPlan.tunnelRoutes(interfaceIndex: interfaces), keepStale: true)
            if let failure = (rules + tunnelRoutes).failures.first { throw failure }
            if new.gateway.mode == .kernel {
                tuneKernelForKernelMode()
                try installNexthops(interfaces: interfaces)
            }
            try syncAllRemoteRoutes()
        } catch {
            // Back to the old state; what was added next to it is removed by the reconcile below.
            config = oldConfig
            router = oldRouter
            swap(&controller, &newController)
            learned = oldLearned
            remotePrefixes = oldRemote
            egress = oldEgress
            let oldInterfaces = Self.interfaceIndices(of: oldConfig)
            if oldConfig.gateway.mode == .kernel {
                do { try installNexthops(interfaces: oldInterfaces) } catch { log.error("\(error)") }
            }
            resyncKernel(interfaces: oldInterfaces, tables: oldTables)
            do { try syncAllRemoteRoutes() } catch { log.error("\(error)") }
            throw DaemonError("applying the new configuration to the kernel: \(error)")
        }
        probes = newProbes
        forwarder?.replace(with: forwardingSetup())

        // 4. What only the old configuration needed goes: stale rules, tunnel tables, devices.
        resyncKernel(interfaces: interfaces, tables: Array(Set(oldTables + plan.tables)).sorted())
        for (name, _) in oldEgress where egress[name] == nil {
            try? oldEgress[name]?.setPersistent(false)
        }
        let counts = router.prefixCounts
        log.info(
            "reloaded: \(new.tunnels.count) tunnel(s), \(remotePrefixes.count) remote prefix(es) "
                + "(RIB: \(counts.ipv4) IPv4, \(counts.ipv6) IPv6; \(learned.count) learned)")
    }

    /// Whether the running configuration's tunnel of this name is down now.
    func isDown(tunnelNamed name: String) -> Bool {
        guard let index = config.tunnels.firstIndex(where: { $0.name == name }),
            let (connection, role) = controller.placement(of: TunnelID(index))
        else { return false }
        return controller.monitor(of: connection).healthState(of: role) == .down
    }

    /// Makes rules and tunnel tables exactly the current plan (removing what is stale in `tables`). Tandem's own
    /// table is not looked at: the caller has just reconciled it.
    func resyncKernel(interfaces: [String: UInt32], tables: [UInt32]) {
        do {
            let rules = try sync.reconcileRules(desired: plan.rules)
            let tunnelTables = tables.filter { $0 != config.linux.table }
            let routes = try sync.reconcileRoutes(
                tables: tunnelTables, desired: plan.tunnelRoutes(interfaceIndex: interfaces))
            for failure in (rules + routes).failures { log.error("\(failure)") }
        } catch {
            log.error("reconciling the kernel after a reload: \(error)")
        }
    }
}
