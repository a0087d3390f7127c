// SIGHUP: reload the configuration all or nothing. A file with errors, or one that changes what only a restart can
// change, is logged and changes nothing. A good one gets its new probe sockets and egress devices here, then the core
// builds its state aside and puts it in the kernel next to the old one (Gateway+Reload), the pipeline threads take the
// new router between two batches, and what only the old configuration needed goes. A failure at any step closes what
// was made for the new file and leaves the old state in force.

import TandemConfig
import TandemLinux
import TandemRouting

extension Daemon {
    /// systemd hears RELOADING=1 first and READY=1 after, also when the file is refused: the old configuration is in
    /// force and the service is ready again.
    func reload() {
        log.info("SIGHUP: reloading \(configPath)")
        service.reloadStarted()
        defer {
            service.reloadEnded()
            updateServiceStatus()
        }
        let new: GatewayConfig
        do {
            new = try GatewayConfig.load(path: configPath)
        } catch {
            log.error("reload refused, the running configuration stays: \(configPath) has errors")
            for diagnostic in error.errors { log.error("  \(diagnostic)") }
            return
        }
        let needsRestart = Gateway.restartOnlyChanges(from: config, to: new)
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

    func apply(_ new: GatewayConfig) throws(DaemonError) {
        let newProbes = try HealthProbes(config: new, now: clock.now().nanoseconds)
        // New egress devices (the old ones are reused by name).
        let oldEgress = egress
        var made: [String] = []
        do {
            if new.gateway.mode == .userspace {
                for tunnel in new.tunnels where egress[tunnel.device] == nil {
                    egress[tunnel.device] = try makeEgressDevice(tunnel.device, linux: new.linux)
                    made.append(tunnel.device)
                }
            }
            service.keepAlive()
            try gateway.reload(to: new) { (state: GatewayState) throws(DaemonError) in
                try forwarder?.replace(with: forwardingSetup(router: state.router, config: state.config))
            }
        } catch {
            // What was made for the new file goes: not persistent, and closed with the last reference.
            for name in made {
                try? egress[name]?.setPersistent(false)
                egress[name] = nil
                deviceIndices[name] = nil
            }
            if let forwarder, !made.isEmpty {
                do { try forwarder.replace(with: forwardingSetup()) } catch { log.error("\(error)") }
            }
            throw error
        }
        probes = newProbes
        // Devices only the old configuration needed.
        let wanted = Set(config.tunnels.map(\.device))
        for (name, device) in oldEgress where !wanted.contains(name) {
            try? device.setPersistent(false)
            egress[name] = nil
            deviceIndices[name] = nil
        }
        tunnelInterfaceIndices = gateway.tunnelInterfaces(of: config)
    }
}
