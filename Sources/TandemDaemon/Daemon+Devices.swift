// Userspace mode's TUN devices: made at start (persistent while Tandem runs, so that a crash leaves them, and their
// routes, in place: traffic for the remote prefixes is dropped in a device nobody reads instead of leaving through
// another route; `linux.fail-open: true` lets them go with the process), and watched: a device deleted under the
// daemon (ip link del, an operator's mistake) is made again within a check interval, and the core puts its routes
// back. If it cannot be made again the daemon says why and exits non-zero rather than run half a gateway.

import TandemConfig
import TandemLinux
import TandemRouting

#if canImport(Glibc)
import Glibc
#endif

extension Daemon {
    /// How often the devices are looked up by name (an ioctl each): a deleted one is back within this.
    static let deviceCheckInterval: UInt64 = 200_000_000

    /// The queues: the configured number, or one per core.
    var queueCount: Int {
        config.linux.queues > 0 ? config.linux.queues : max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    }

    /// Whether the devices are IFF_NAPI devices: `TANDEM_TUN_NAPI=1` in the environment, an experiment of
    /// tools/bench-forwarding (issue 15; docs/benchmarks.md has what it measured), not a configuration. The
    /// threaded NAPI that goes with it is the device's own setting (`/sys/class/net/<device>/threaded`).
    static let napiDevices: Bool = getenv("TANDEM_TUN_NAPI").map { strcmp($0, "1") == 0 } ?? false

    /// Whether the devices stay when the process dies (fail closed) or go with it.
    var devicesOutliveProcess: Bool { !config.linux.failOpen || config.linux.keepRoutesOnExit }

    /// Userspace mode: the ingress device, one egress device per tunnel, the pipeline threads (not started).
    func makeDevices() throws(DaemonError) {
        let ingress = try makeIngressDevice()
        self.ingress = ingress
        for tunnel in config.tunnels {
            egress[tunnel.device] = try makeEgressDevice(tunnel.device, linux: config.linux)
        }
        forwarder = Forwarder(setup: forwardingSetup(), log: log)
        ingressQueue = makeIngressQueueGovernor()
    }

    func makeIngressDevice() throws(DaemonError) -> TunDevice {
        let vnet = config.linux.offloads ? TunDevice.VnetHeader() : nil
        do {
            let ingress = try TunDevice(
                name: config.gateway.ingress, queueCount: queueCount, vnetHeader: vnet,
                batchCapacity: Forwarder.batchCapacity, napi: Self.napiDevices)
            try ingress.setPersistent(devicesOutliveProcess)
            deviceIndices[ingress.name] = try bringUp(ingress, queueLength: config.linux.tunQueueLength)
            // Tandem's ICMP errors come from the gateway's own address: the kernel must take them from the device.
            try KernelSetting("net", "ipv4", "conf", ingress.name, "accept_local").write("1")
            return ingress
        } catch let error as DaemonError {
            throw error
        } catch {
            throw DaemonError("\(error)")
        }
    }

    /// One egress device, up, with reverse-path filtering off (its packets come from the site, which is not
    /// routed through it) and local sources accepted (the gateway's own traffic to a remote prefix crosses Tandem
    /// and comes back in through it).
    func makeEgressDevice(_ name: String, linux: GatewayConfig.Linux) throws(DaemonError) -> TunDevice {
        let vnet = linux.offloads ? TunDevice.VnetHeader() : nil
        do {
            let device = try TunDevice(
                name: name, queueCount: queueCount, vnetHeader: vnet, batchCapacity: Forwarder.batchCapacity,
                napi: Self.napiDevices)
            try device.setPersistent(devicesOutliveProcess)
            deviceIndices[name] = try bringUp(device, queueLength: linux.tunQueueLength)
            try KernelSetting("net", "ipv4", "conf", device.name, "rp_filter").write("0")
            try KernelSetting("net", "ipv4", "conf", device.name, "accept_local").write("1")
            return device
        } catch let error as DaemonError {
            throw error
        } catch {
            throw DaemonError("\(error)")
        }
    }

    /// Sets a device up with the largest MTU (Tandem applies each tunnel's MTU itself) and `linux.tun-queue-length`
    /// packets per queue (the kernel's default for TUN is 500: a burst that comes while a pipeline thread waits for a
    /// core would be dropped); returns its index.
    func bringUp(_ device: TunDevice, queueLength: Int) throws(DaemonError) -> UInt32 {
        let index = if_nametoindex(device.name)
        guard index != 0 else { throw DaemonError("TUN device \(device.name) vanished right after it was made") }
        let change = LinkChange(
            index: index, name: device.name, up: true, mtu: 65_535, transmitQueueLength: UInt32(queueLength))
        let failures: [SystemError]
        do { failures = try netlink.apply([change]) } catch { throw DaemonError("\(error)") }
        if let failure = failures.first { throw DaemonError("\(failure)") }
        return index
    }

    /// What the pipeline threads need now.
    func forwardingSetup(router: Router? = nil, config: GatewayConfig? = nil) -> ForwardingSetup {
        let config = config ?? self.config
        return ForwardingSetup(
            ingress: ingress!, plane: (router ?? self.router).plane, pipeline: config.pipelineConfiguration(),
            egress: config.tunnels.map { egress[$0.device]! })
    }

    // MARK: Watching

    /// Looks the devices up by name; makes again the ones that were deleted (or replaced by someone else's).
    func checkDevices(now: UInt64) {
        guard now >= nextDeviceCheck else { return }
        nextDeviceCheck = now &+ Self.deviceCheckInterval
        if config.gateway.mode == .userspace, let ingress {
            do {
                if netlinkIndex(of: ingress.name) != deviceIndices[ingress.name] { try remakeIngress() }
                for (name, _) in egress where netlinkIndex(of: name) != deviceIndices[name] { try remakeEgress(name) }
            } catch {
                log.error("\(error); stopping: the gateway cannot forward without its devices")
                exitStatus = 1
                loop?.stop()
                return
            }
        }
        // The tunnels' real interfaces (not Tandem's): one that came back gets its table and nexthops again.
        let interfaces = gateway.tunnelInterfaces(of: config)
        if interfaces != tunnelInterfaceIndices {
            let back = interfaces.filter { tunnelInterfaceIndices[$0.key] != $0.value }.keys.sorted()
            tunnelInterfaceIndices = interfaces
            if !back.isEmpty {
                log.info("tunnel interface(s) \(back.joined(separator: ", ")) (re)appeared: restoring their tables")
                gateway.tunnelInterfacesChanged()
            }
        }
    }

    func netlinkIndex(of name: String) -> UInt32? {
        let index = if_nametoindex(name)
        return index == 0 ? nil : index
    }

    /// The ingress device was deleted: a new one, the threads onto it, the remote routes into it.
    func remakeIngress() throws(DaemonError) {
        let name = config.gateway.ingress
        log.event("deviceLost", [("device", .string(name)), ("role", .string("ingress"))])
        let old = ingress
        do {
            ingress = try makeIngressDevice()
        } catch {
            throw DaemonError("making ingress device \(name) again: \(error)")
        }
        // The old queues stay open until no thread uses them: a closed number reused by another socket must never
        // receive a packet.
        try withExtendedLifetime(old) { () throws(DaemonError) in try forwarder?.replace(with: forwardingSetup()) }
        gateway.ingressReplaced(index: deviceIndices[name]!)
        ingressQueue?.deviceRemade()
        log.event("deviceRestored", [("device", .string(name)), ("role", .string("ingress"))])
    }

    /// A tunnel's egress device was deleted: a new one, the threads onto it (its rules match it by name).
    func remakeEgress(_ name: String) throws(DaemonError) {
        log.event("deviceLost", [("device", .string(name)), ("role", .string("egress"))])
        let old = egress[name]
        do {
            egress[name] = try makeEgressDevice(name, linux: config.linux)
        } catch {
            throw DaemonError("making egress device \(name) again: \(error)")
        }
        try withExtendedLifetime(old) { () throws(DaemonError) in try forwarder?.replace(with: forwardingSetup()) }
        log.event("deviceRestored", [("device", .string(name)), ("role", .string("egress"))])
    }
}
