import TandemConfig
import TandemPacket
import Testing

/// The `linux` section and the tunnel keys `tandem run` needs: interface and next hops.
@Suite("linux section and tunnel interfaces")
struct ConfigLinuxTests {
    static let tunnels = """
        gateway: {name: gw, ingress: tnd-in}
        tunnels:
          - name: a1
            device: tnd-a1
            interface: gw-a
            next-hop-ipv4: 198.18.1.2
            next-hop-ipv6: 2001:db8:1::2
            peer: 198.18.1.2
        connections: [{name: c1, tunnels: [a1]}]
        routes: [{prefix: 198.19.0.0/16, connection: c1}]

        """

    @Test func defaultsAndValues() throws {
        let defaults = try GatewayConfig.parse(yaml: Self.tunnels, file: "gw.yaml")
        #expect(defaults.linux.protocol == 201 && defaults.linux.table == 200 && defaults.linux.rulePriority == 1000)
        #expect(defaults.linux.queues == 0 && defaults.linux.offloads && !defaults.linux.keepRoutesOnExit)
        #expect(defaults.linux.table(ofTunnel: 0) == 201)
        #expect(defaults.linux.tunQueueLength == 2048)
        #expect(defaults.linux.tunQueueDelay == .milliseconds(2))
        let tunnel = try #require(defaults.tunnels.first)
        #expect(tunnel.interface == "gw-a")
        #expect(tunnel.nextHopIPv4 == (try IPv4Address("198.18.1.2")))
        #expect(tunnel.nextHopIPv6 == (try IPv6Address("2001:db8:1::2")))

        let set = try GatewayConfig.parse(
            yaml: Self.tunnels
                + "linux: {protocol: 150, table: 100, rule-priority: 500, queues: 2, offloads: false, keep-routes-on-exit: true}\n",
            file: "gw.yaml")
        #expect(set.linux.protocol == 150 && set.linux.table == 100 && set.linux.rulePriority == 500)
        #expect(set.linux.queues == 2 && !set.linux.offloads && set.linux.keepRoutesOnExit)
        let short = try GatewayConfig.parse(yaml: Self.tunnels + "linux: {tun-queue-length: 512}\n", file: "gw.yaml")
        #expect(short.linux.tunQueueLength == 512)
        let fixed = try GatewayConfig.parse(yaml: Self.tunnels + "linux: {tun-queue-delay: 0s}\n", file: "gw.yaml")
        #expect(fixed.linux.tunQueueDelay == .zero)
        let delay = try GatewayConfig.parse(yaml: Self.tunnels + "linux: {tun-queue-delay: 2.5ms}\n", file: "gw.yaml")
        #expect(delay.linux.tunQueueDelay == .microseconds(2500))
    }

    @Test func rangesAndConflicts() {
        Check.onlyError(Self.tunnels + "linux: {protocol: 4}\n", at: 11, 19, "'protocol' must be between 5 and 255")
        // Another routing daemon's number: its routes would be reconciled away as Tandem's stale ones (issue 13).
        Check.onlyError(Self.tunnels + "linux: {protocol: 12}\n", at: 11, 19, "'protocol' 12 is bird's", "e.g. 201")
        Check.onlyError(Self.tunnels + "linux: {protocol: 186}\n", at: 11, 19, "'protocol' 186 is bgp's")
        Check.onlyError(Self.tunnels + "linux: {protocol: zebra}\n", at: 11, 19, "'protocol'")
        Check.onlyError(Self.tunnels + "linux: {table: 254}\n", at: 11, 16, "'table' must be between 1 and 252")
        Check.onlyError(Self.tunnels + "linux: {table: 252}\n", at: 11, 16, "no room for the 1 tunnel tables", "at most 251")
        Check.onlyError(Self.tunnels + "linux: {rule-priority: 32766}\n", at: 11, 24, "between 1 and 32000")
        Check.onlyError(Self.tunnels + "linux: {colour: blue}\n", at: 11, 9, "colour")
        Check.onlyError(
            Self.tunnels + "linux: {tun-queue-length: 8}\n", at: 11, 27,
            "'tun-queue-length' must be between 16 and 65536")
        Check.onlyError(
            Self.tunnels + "linux: {tun-queue-delay: 2s}\n", at: 11, 26,
            "'tun-queue-delay' must be between 0s (off) and 1s")
        Check.onlyError(Self.tunnels + "linux: {tun-queue-delay: 5}\n", at: 11, 26, "'tun-queue-delay'", "5s")
        Check.onlyError(
            Self.tunnels + "learning: {protocols: [bird, 201]}\n", at: 11, 23, "'protocols' includes 201")
        Check.onlyError(
            Self.tunnels + "learning: {table: 201}\n", at: 11, 19, "'table' 201 is one of Tandem's own tables")
    }

    @Test func interfaceRules() {
        let same = Self.tunnels.replacingOccurrences(of: "interface: gw-a", with: "interface: tnd-a1")
        Check.onlyError(same, at: 5, 16, "one of Tandem's own TUN devices")
        let noInterface = Self.tunnels.replacingOccurrences(of: "    interface: gw-a\n", with: "")
        Check.onlyError(noInterface, at: 5, 5, "a next hop needs the 'interface'")
        let wrongFamily = Self.tunnels.replacingOccurrences(of: "next-hop-ipv4: 198.18.1.2", with: "next-hop-ipv4: 2001:db8::9")
        Check.onlyError(wrongFamily, at: 6, 20, "'next-hop-ipv4' must be an IPv4 address")
        let shared = """
            gateway: {name: gw}
            tunnels:
              - {name: a1, device: tnd-a1, interface: gw-a, peer: 198.18.1.2}
              - {name: a2, device: tnd-a2, interface: gw-a, peer: 198.18.2.2}
            connections: [{name: c1, tunnels: [a1, a2]}]
            routes: [{prefix: 198.19.0.0/16, connection: c1}]
            """
        Check.onlyError(shared, at: 4, 43, "interface 'gw-a' is already used by tunnel 'a1' (line 3)")
    }
}
