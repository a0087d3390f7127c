// A reload, all or nothing. The new configuration's state is built aside (a new router with the learned routes that
// still lead somewhere, the tunnels that are down kept down, the drained ones kept drained), its rules and routes are added next to the old ones,
// the daemon switches its pipeline threads over, and then what only the old configuration needed is removed. If any
// step fails, the old state value is put back whole and the kernel is reconciled to it: nothing of the new file
// stays behind. The daemon decides what only a restart can change (Daemon+Reload.swift) and makes the devices.

import TandemConfig
import TandemLinux
import TandemPacket
import TandemRouting

extension Gateway {
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
        if a.tunQueueLength != b.tunQueueLength { changes.append("linux.tun-queue-length") }
        if a.tunQueueDelay != b.tunQueueDelay { changes.append("linux.tun-queue-delay") }
        if a.offloads != b.offloads { changes.append("linux.offloads") }
        if a.failOpen != b.failOpen { changes.append("linux.fail-open") }
        if old.metrics?.listen != new.metrics?.listen { changes.append("metrics") }
        if old.learning?.table != new.learning?.table || old.learning?.protocols != new.learning?.protocols {
            changes.append("learning")
        }
        return changes
    }

    /// The state a new configuration starts from: the learned routes that still lead somewhere, then those that
    /// waited at the quota in their order (a lower quota makes learned routes wait, a higher one takes waiting
    /// ones), and the tunnels that are down now kept down (their probes must bring them back, not the reload).
    func stateForReload(_ new: GatewayConfig) throws(DaemonError) -> GatewayState {
        var next = try GatewayState(config: new, now: now)
        let learned = state.learned.sorted(by: { $0.key < $1.key }).flatMap { prefix, paths in
            paths.tunnels.map { (prefix: prefix, tunnel: $0) }
        }
        // The new router's tables are filled in one batch (no pipeline thread reads them before the switchover).
        next.router.batchingInserts {
            for (prefix, tunnel) in learned + state.overQuota.inOrder {
                guard let connection = next.connection(ofTunnel: tunnel) else {
                    log.warning(
                        "learned route \(prefix) via tunnel '\(tunnel)' is dropped: the tunnel is in no connection any more")
                    continue
                }
                // Two tunnels that were in two connections may be in one now: one path per connection.
                let paths = next.learned[prefix]?.tunnels ?? []
                guard !paths.contains(where: { next.connection(ofTunnel: $0) == connection }) else { continue }
                let weight = UInt8(clamping: new.connections[connection.index].learnedWeight)
                switch try? next.router.learn(prefix, via: connection, weight: weight) {
                case .installed:
                    next.learned[prefix] = LearnedPaths(paths + [tunnel])
                case .refusedOverQuota:
                    next.overQuota.add(prefix, connection: new.connections[connection.index].name, tunnel: tunnel)
                case .refusedDefaultRoute, nil:
                    break
                }
            }
        }
        for (index, tunnel) in new.tunnels.enumerated() where state.isDown(tunnelNamed: tunnel.name) {
            _ = try? next.controller.force(
                TunnelID(index), to: .down, at: MonotonicInstant(nanoseconds: now), router: next.router)
        }
        // Link state and drains: a tunnel whose interface is down stays down; a drain lasts (by name) across it.
        applyLinkStates(to: &next)
        applyDrains(to: &next, keeping: state)
        next.ingressIndex = state.ingressIndex
        // Overlaps reported under the old file are not reported again; recheckOverlaps() brings them up to date.
        next.overlaps = state.overlaps.filter { next.learned[$0.key] != nil }
        // A resync under way goes on (its dump and queue hold what the routing daemon did, whatever the file says).
        next.learning = state.learning
        return next
    }

    /// Applies a new configuration, all or nothing.
    ///
    /// - Parameter switchover: Called once the kernel holds the new rules and routes next to the old ones: the
    ///   daemon hands the pipeline threads the new router. If it throws, the reload is undone.
    /// - Throws: ``DaemonError`` when the reload was refused; the old state is in force then.
    func reload(to new: GatewayConfig, switchover: (GatewayState) throws(DaemonError) -> Void) throws(DaemonError) {
        let interfaces = tunnelInterfaces(of: new)
        let problems = KernelPlan.check(new, interfaceIndex: { interfaces[$0] })
        guard problems.isEmpty else { throw DaemonError(problems.joined(separator: "; ")) }
        for warning in new.warnings { log.warning("\(warning)") }
        for warning in KernelPlan.defaultPolicyWarnings(of: new) { log.warning(warning) }

        let old = state
        interfaceIndicesTime = nil
        state = try stateForReload(new)
        let tables = Array(Set(old.plan.tables + state.plan.tables)).sorted()
        do {
            let rules = try sync.reconcileRules(desired: state.plan.rules, keepStale: true)
            let tunnelRoutes = try sync.reconcileRoutes(
                tables: state.plan.tunnelTables,
                desired: state.plan.tunnelRoutes(interfaceIndex: interfaces), keepStale: true)
            if let failure = (rules + tunnelRoutes).failures.first { throw DaemonError("\(failure)") }
            let chains = new.gateway.mode == .kernel ? remoteChains() : nil
            if let chains {
                tuneKernelForKernelMode()
                do { try installNexthops(interfaces: interfaces, chains: chains) } catch { throw DaemonError("\(error)") }
                if !state.pending.nexthops.isEmpty {
                    throw DaemonError("the kernel refused tunnel nexthops: \(state.pending.summary)")
                }
            }
            do { try syncAllRemoteRoutes(chains: chains) } catch { throw DaemonError("\(error)") }
            try switchover(state)
        } catch {
            // The old value, whole; the kernel back to it (what the new file added goes).
            state = old
            restoreKernel(tables: tables)
            throw DaemonError("applying the new configuration to the kernel: \(error)")
        }
        // What only the old configuration needed goes: stale rules and tunnel tables.
        resyncKernel(tables: tables)
        recheckOverlaps()
        scheduleRetry()
        let counts = router.prefixCounts
        log.info(
            "reloaded: \(new.tunnels.count) tunnel(s), \(state.remotePrefixes.count) remote prefix(es) "
                + "(RIB: \(counts.ipv4) IPv4, \(counts.ipv6) IPv6; \(state.learned.count) learned)")
    }

    /// After a failed reload: the kernel as the (old) state wants it.
    func restoreKernel(tables: [UInt32]) {
        let chains = config.gateway.mode == .kernel ? remoteChains() : nil
        if let chains {
            do { try installNexthops(interfaces: tunnelInterfaces(of: config), chains: chains) } catch {
                log.error("\(error)")
            }
        }
        resyncKernel(tables: tables)
        do { try syncAllRemoteRoutes(chains: chains) } catch { log.error("\(error)") }
    }

    /// Makes rules, tunnel tables and the next hops' neighbour entries exactly the current plan (removing what is
    /// stale in `tables`). Tandem's own table and kernel mode's policy tables are not looked at: the caller has just
    /// reconciled them.
    func resyncKernel(tables: [UInt32]) {
        let interfaces = tunnelInterfaces(of: config)
        do {
            let rules = try sync.reconcileRules(desired: state.plan.rules)
            // The current policy tables were reconciled with the nexthops; old ones (and old tunnel tables) empty.
            let policyTables = Set(state.plan.policyTables)
            let tunnelTables = tables.filter { $0 != config.linux.table && !policyTables.contains($0) }
            let routes = try sync.reconcileRoutes(
                tables: tunnelTables, desired: state.plan.tunnelRoutes(interfaceIndex: interfaces))
            record(rules + routes)
        } catch {
            log.error("reconciling the kernel after a reload: \(error)")
        }
        keepNextHopsResolved(interfaces: interfaces)
    }
}
