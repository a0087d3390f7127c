// The tunnels section: devices, peers, BGP (rule 3 on inside CIDRs) and health checks.

import TandemPacket
import TandemRouting
import Yams

extension ConfigLoader {
    func readTunnel(_ node: Node, index: Int) {
        guard let f = Fields(node, context: "tunnels item \(index + 1)", reporter: reporter) else { return }
        if let name = f.peek("name") { f.context = "tunnel '\(name)'" }
        f.checkKeys(ConfigKeys.tunnel)
        let name = f.name("name")
        let device = f.interfaceName("device")
        let interface = f.has("interface") ? f.interfaceName("interface") : nil
        let nextHops = readNextHops(f)
        let peer = f.address("peer")
        let zone = f.has("zone") ? f.string("zone") : nil
        let mtu =
            peer?.family == .ipv6
            ? f.int("mtu", in: 1280...65535, default: Tunnel.defaultMTU, why: " for an IPv6 peer")
            : f.int("mtu", in: 576...65535, default: Tunnel.defaultMTU, why: peer == nil ? "" : " for an IPv4 peer")
        let routing = f.choice("routing", default: Tunnel.Routing.static)
        let drained = f.bool("drained", default: false)
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

        if let interface { checkInterface(interface, device: device, tunnel: name, fields: f) }

        guard let name, let device, let peer, let mtu, let routing, let drained, !bgpFailed, !healthFailed, !f.failed
        else {
            return
        }
        if f.has("zone") && zone == nil { return }
        tunnels.append(
            Tunnel(
                name: name, device: device, interface: interface, nextHopIPv4: nextHops.ipv4,
                nextHopIPv6: nextHops.ipv6, peer: peer, zone: zone, mtu: mtu, routing: routing, bgp: bgp,
                healthCheck: healthCheck, drained: drained, location: f.location, keyLocations: f.keyLocations))
    }

    /// `next-hop-ipv4` and `next-hop-ipv6`, each of its own family.
    func readNextHops(_ f: Fields) -> (ipv4: IPv4Address?, ipv6: IPv6Address?) {
        var result: (ipv4: IPv4Address?, ipv6: IPv6Address?) = (nil, nil)
        if f.has("next-hop-ipv4") {
            switch f.address("next-hop-ipv4") {
            case .v4(let address): result.ipv4 = address
            case .v6: f.fail("next-hop-ipv4", "'next-hop-ipv4' must be an IPv4 address; put IPv6 in 'next-hop-ipv6'")
            case nil: break
            }
        }
        if f.has("next-hop-ipv6") {
            switch f.address("next-hop-ipv6") {
            case .v6(let address): result.ipv6 = address
            case .v4: f.fail("next-hop-ipv6", "'next-hop-ipv6' must be an IPv6 address; put IPv4 in 'next-hop-ipv4'")
            case nil: break
            }
        }
        if !f.has("interface") && (f.has("next-hop-ipv4") || f.has("next-hop-ipv6")) {
            f.fail(
                at: f.keyLocation(f.has("next-hop-ipv4") ? "next-hop-ipv4" : "next-hop-ipv6"),
                "a next hop needs the 'interface' it is on; add 'interface' (the real tunnel device)")
        }
        return result
    }

    /// The real tunnel device: not a TUN device of Tandem's, and one per tunnel (learned routes find their tunnel
    /// by it).
    func checkInterface(_ interface: String, device: String?, tunnel: String?, fields f: Fields) {
        if interface == device || interface == ingress {
            f.fail(
                "interface",
                "'interface' \(interface) is one of Tandem's own TUN devices; it must be the real tunnel device "
                    + "(VTI, WireGuard, GRE or veth) that '\(device ?? "device")' leads to")
        } else if let owner = interfaceOwners[interface] {
            f.fail(
                "interface",
                "interface '\(interface)' is already used by tunnel '\(owner.tunnel)' (line \(owner.location.line)); "
                    + "each tunnel needs its own interface")
        } else {
            interfaceOwners[interface] = (tunnel ?? "?", f.valueLocation("interface"))
        }
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
        let bfd = f.bool("bfd", default: false)
        let ends = inside.flatMap { readSessionAddresses(f, inside: $0) }
        guard let inside, let localASN, let peerASN, let bfd, let ends, !f.failed else { return nil }
        return GatewayConfig.BGP(
            insideCIDR: inside, localASN: localASN, peerASN: peerASN, localAddress: ends.local,
            peerAddress: ends.peer, bfd: bfd, location: f.location, keyLocations: f.keyLocations)
    }

    /// `local-address` and `peer-address`: the two host addresses of the inside /30, one each. Either may be left
    /// out: it is then the host the other does not take (both left out: Tandem the first, the peer the second).
    func readSessionAddresses(_ f: Fields, inside: IPv4Prefix) -> (local: IPv4Address, peer: IPv4Address)? {
        let hosts = [GatewayConfig.BGP.firstHost(of: inside), GatewayConfig.BGP.secondHost(of: inside)]
        let fix = "use \(hosts[0]) or \(hosts[1]), the host addresses of 'inside-cidr' \(inside)"
        func read(_ key: String) -> IPv4Address?? {
            guard f.has(key) else { return .some(nil) }
            switch f.address(key) {
            case nil:
                return nil
            case .v6(let address):
                f.fail(key, "'\(key)' \(address) is IPv6; BGP runs over the IPv4 inside /30: \(fix)")
                return nil
            case .v4(let address):
                guard hosts.contains(address) else {
                    let what =
                        !inside.contains(address)
                        ? "is not in"
                        : address == inside.address ? "is the network address of" : "is the broadcast address of"
                    f.fail(key, "'\(key)' \(address) \(what) 'inside-cidr' \(inside); \(fix)")
                    return nil
                }
                return .some(address)
            }
        }
        guard case .some(let local) = read("local-address"), case .some(let peer) = read("peer-address") else {
            return nil
        }
        switch (local, peer) {
        case (let local?, let peer?):
            guard local != peer else {
                f.fail(
                    "peer-address",
                    "'peer-address' \(peer) is also 'local-address'; the two ends of the session take the two host "
                        + "addresses of 'inside-cidr' \(inside), \(hosts[0]) and \(hosts[1])")
                return nil
            }
            return (local, peer)
        case (let local?, nil): return (local, local == hosts[0] ? hosts[1] : hosts[0])
        case (nil, let peer?): return (peer == hosts[0] ? hosts[1] : hosts[0], peer)
        case (nil, nil): return (hosts[0], hosts[1])
        }
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
}
