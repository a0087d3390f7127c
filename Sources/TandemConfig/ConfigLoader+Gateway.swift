// The gateway, ecmp, limits and learning sections.

import TandemPacket
import TandemRouting
import Yams

extension ConfigLoader {
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


    func readICMP(_ node: Node) {
        guard let f = Fields(node, context: "'icmp'", reporter: reporter) else {
            icmp = nil
            return
        }
        f.checkKeys(ConfigKeys.icmp)
        var sourceIPv4: IPv4Address?
        var sourceIPv6: IPv6Address?
        if f.has("source-ipv4") {
            switch f.address("source-ipv4") {
            case .v4(let address): sourceIPv4 = address
            case .v6: f.fail("source-ipv4", "'source-ipv4' must be an IPv4 address; put IPv6 in 'source-ipv6'")
            case nil: break
            }
        }
        if f.has("source-ipv6") {
            switch f.address("source-ipv6") {
            case .v6(let address): sourceIPv6 = address
            case .v4: f.fail("source-ipv6", "'source-ipv6' must be an IPv6 address; put IPv4 in 'source-ipv4'")
            case nil: break
            }
        }
        let rateLimit = f.duration(
            "ratelimit", in: .zero...Duration.seconds(3600), rangeText: "between 0s and 1h", default: .seconds(1))
        let burst = f.int("burst", in: 1...10_000, default: 6)
        let perSecond = f.int("msgs-per-sec", in: 0...1_000_000, default: 1000)
        let messagesBurst = f.int("msgs-burst", in: 1...1_000_000, default: 50)
        guard let rateLimit, let burst, let perSecond, let messagesBurst, !f.failed else {
            icmp = nil
            return
        }
        icmp = GatewayConfig.ICMP(
            sourceIPv4: sourceIPv4, sourceIPv6: sourceIPv6, rateLimit: rateLimit, burst: burst,
            messagesPerSecond: perSecond, messagesBurst: messagesBurst, location: f.location,
            keyLocations: f.keyLocations)
    }

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
        if protocols.count > 16 {
            f.fail("protocols", "'protocols' names \(protocols.count) protocols; at most 16 are watched")
        }
        guard let table, !f.failed else { return }
        learning = Learning(
            table: UInt32(table), protocols: protocols, location: f.location, keyLocations: f.keyLocations)
    }

    func readLinux(_ node: Node) {
        typealias Linux = GatewayConfig.Linux
        guard let f = Fields(node, context: "'linux'", reporter: reporter) else {
            linux = nil
            return
        }
        f.checkKeys(ConfigKeys.linux)
        // 0 to 4 are the kernel's own (unspec, redirect, kernel, boot, static): routes marked so are not Tandem's.
        let proto = f.int("protocol", in: 5...255, default: Int(Linux.defaultProtocol))
        // A number another routing daemon writes (bird 12, zebra 11, bgp 186, ...) would make Tandem take that
        // daemon's routes for its own, and reconcile them away at start and after a crash.
        if let proto, let other = GatewayConfig.Learning.protocolNames.first(where: { $0.number == proto }) {
            f.fail(
                "protocol",
                "'protocol' \(proto) is \(other.name)'s (/etc/iproute2/rt_protos): Tandem would remove that daemon's "
                    + "routes as stale; use a number no routing daemon writes, e.g. \(Linux.defaultProtocol)")
        }
        // 253 to 255 are the kernel's default, main and local tables; 0 is unspecified.
        let table = f.int("table", in: 1...252, default: Int(Linux.defaultTable))
        // The main table's rule is at 32766: Tandem's rules must come before it.
        let priority = f.int("rule-priority", in: 1...32000, default: Int(Linux.defaultRulePriority))
        let queues = f.int("queues", in: 0...64, default: 0)
        let tunQueueLength = f.int(
            "tun-queue-length", in: Linux.tunQueueLengths, default: Linux.defaultTunQueueLength)
        let tunQueueDelay = f.duration(
            "tun-queue-delay", in: .zero...(.seconds(1)), rangeText: "between 0s (off) and 1s",
            default: Linux.defaultTunQueueDelay)
        let offloads = f.bool("offloads", default: true)
        let keep = f.bool("keep-routes-on-exit", default: false)
        let failOpen = f.bool("fail-open", default: false)
        if let table, table + tunnels.count > 252 {
            f.fail(
                "table",
                "'table' \(table) leaves no room for the \(tunnels.count) tunnel tables after it (tables up to 252); "
                    + "use at most \(252 - tunnels.count)")
        }
        guard let proto, let table, let priority, let queues, let tunQueueLength, let tunQueueDelay, let offloads,
            let keep, let failOpen,
            !f.failed
        else {
            linux = nil
            return
        }
        linux = Linux(
            protocol: UInt8(proto), table: UInt32(table), rulePriority: UInt32(priority), queues: queues,
            tunQueueLength: tunQueueLength, tunQueueDelay: tunQueueDelay, offloads: offloads, keepRoutesOnExit: keep,
            failOpen: failOpen,
            location: f.location, keyLocations: f.keyLocations)
    }

    /// Tandem must not learn what it installs itself: its protocol is no learning protocol, and its tables do not
    /// include the learning table. Checked whether or not the file has a `linux` section (the defaults count too).
    func checkLearningAgainstLinux() {
        guard let learning, let linux else { return }
        if learning.protocols.contains(linux.protocol) {
            reporter.error(
                learning.location(of: "protocols"),
                "'protocols' includes \(linux.protocol), the protocol Tandem marks its own routes with "
                    + "(linux.protocol); Tandem would learn its own routes. Remove it, or set another 'protocol' in 'linux'")
        }
        let tables = linux.table...linux.table(ofTunnel: max(tunnels.count - 1, 0))
        if tables.contains(learning.table) {
            reporter.error(
                learning.location(of: "table"),
                "'table' \(learning.table) is one of Tandem's own tables (linux.table \(linux.table) and the tunnel "
                    + "tables after it); Tandem would learn its own routes. Watch another table (254 is main), or move "
                    + "'table' in 'linux'")
        }
    }
}

extension ConfigLoader {
    /// The `metrics` section: `listen` (default 127.0.0.1:9464), a loopback address only.
    func readMetrics(_ node: Node) {
        typealias Metrics = GatewayConfig.Metrics
        guard let f = Fields(node, context: "'metrics'", reporter: reporter) else { return }
        f.checkKeys(ConfigKeys.metrics)
        var address: AnyIPAddress?
        var port: UInt16?
        let text = f.string("listen", default: Metrics.defaultListen)
        if let text {
            switch Metrics.parseListen(text) {
            case .success(let (parsedAddress, parsedPort)):
                if parsedAddress.isLoopback {
                    (address, port) = (parsedAddress, parsedPort)
                } else {
                    f.fail(
                        "listen",
                        "'listen' must be a loopback address (127.0.0.0/8 or ::1), got '\(text)': the metrics "
                            + "endpoint has no authentication; use 127.0.0.1:\(parsedPort) and reach it through a "
                            + "local agent or an SSH tunnel")
                }
            case .failure(let error):
                f.fail("listen", "'listen' must be ADDRESS:PORT on loopback, got '\(text)': \(error.message)")
            }
        }
        guard let address, let port, !f.failed else { return }
        metrics = Metrics(address: address, port: port, location: f.location, keyLocations: f.keyLocations)
    }
}
