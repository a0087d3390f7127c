import TandemConfig
import TandemLinux
import TandemPacket
import TandemRouting
import Testing

@testable import TandemDaemon

/// What `tandem run` puts in the kernel for a configuration, checked without a kernel.
@Suite("kernel plan")
struct KernelPlanTests {
    static let yaml = """
        gateway: {name: gw, ingress: tnd-in}
        linux: {protocol: 77, table: 100, rule-priority: 900}
        tunnels:
          - {name: a1, device: tnd-a1, interface: gw-a, next-hop-ipv4: 198.18.1.2, peer: 198.18.1.2}
          - {name: a2, device: tnd-a2, interface: wg0, peer: 198.18.2.2}
        connections: [{name: c1, tunnels: [a1, a2]}]
        routes:
          - {prefix: 198.19.0.0/16, connection: c1}
          - {prefix: 2001:db8:100::/48, connection: c1}
        policy-routes:
          - {source: 198.18.0.0/24, destination: 0.0.0.0/0, priority: 1, connection: c1}
          - {source: 198.18.0.0/24, destination: 198.20.0.0/24, priority: 2, connection: c1}
        """

    static func config(_ text: String = yaml) throws -> GatewayConfig { try GatewayConfig.parse(yaml: text, file: "gw.yaml") }

    @Test func rulesSendEgressTrafficOutBeforeTandemsTable() throws {
        let plan = KernelPlan(config: try Self.config())
        #expect(plan.tables == [100, 101, 102])
        let v4 = plan.rules.filter { $0.family == .ipv4 }
        #expect(
            v4 == [
                RoutingRule(family: .ipv4, priority: 900, inputDevice: "tnd-a1", table: 101, protocol: 77),
                RoutingRule(family: .ipv4, priority: 900, inputDevice: nil, outputDevice: "gw-a", table: 101, protocol: 77),
                RoutingRule(family: .ipv4, priority: 900, inputDevice: "tnd-a2", table: 102, protocol: 77),
                RoutingRule(family: .ipv4, priority: 900, inputDevice: nil, outputDevice: "wg0", table: 102, protocol: 77),
                RoutingRule(family: .ipv4, priority: 901, inputDevice: nil, table: 100, protocol: 77),
            ])
        #expect(plan.rules.filter { $0.family == .ipv6 }.count == 5)
    }

    @Test func kernelModeHasNoEgressRules() throws {
        // Kernel mode refuses a default-route policy destination (check-config); the other policy route stays.
        let text = Self.yaml.replacingOccurrences(of: "ingress: tnd-in", with: "mode: kernel")
            .replacingOccurrences(of: "  - {source: 198.18.0.0/24, destination: 0.0.0.0/0, priority: 1, connection: c1}\n", with: "")
        let plan = KernelPlan(config: try Self.config(text))
        #expect(plan.tables == [100, 101, 102, 103])
        // Only the probes' oif rules, the policy route set's rule (IPv4) into its table, and Tandem's table.
        #expect(plan.rules.allSatisfy { $0.inputDevice == nil })
        #expect(plan.rules.map(\.table) == [101, 102, 103, 100, 101, 102, 100])
        #expect(plan.rules.map(\.priority) == [900, 900, 902, 1001, 900, 900, 1001])
        #expect(plan.tunnelRoutes(interfaceIndex: ["gw-a": 3, "wg0": 4]).count == 5)
    }

    @Test func tunnelTablesLeadOutOfTheInterface() throws {
        let plan = KernelPlan(config: try Self.config())
        let routes = plan.tunnelRoutes(interfaceIndex: ["gw-a": 3, "wg0": 4])
        let v4 = try RoutePrefix("0.0.0.0/0")
        let v6 = try RoutePrefix("::/0")
        #expect(
            routes == [
                KernelRoute(prefix: v4, table: 101, protocol: 77, target: .gateway(.v4(try IPv4Address("198.18.1.2")), device: 3)),
                KernelRoute(prefix: v6, table: 101, protocol: 77, target: .device(3)),
                KernelRoute(prefix: try RoutePrefix("198.18.1.2/32"), table: 101, protocol: 77, target: .device(3)),
                KernelRoute(prefix: v4, table: 102, protocol: 77, target: .device(4)),
                KernelRoute(prefix: v6, table: 102, protocol: 77, target: .device(4)),
            ])
        // A missing interface is reported by check, and gets no route.
        #expect(plan.tunnelRoutes(interfaceIndex: ["gw-a": 3]).count == 3)
        let problems = KernelPlan.check(try Self.config(), interfaceIndex: { $0 == "gw-a" ? 3 : nil })
        #expect(problems.count == 1 && problems[0].contains("interface 'wg0' does not exist"))
    }

    @Test func remotePrefixesLeaveOutDefaultPolicyDestinations() throws {
        let prefixes = KernelPlan.configuredPrefixes(of: try Self.config())
        #expect(prefixes == [try RoutePrefix("198.19.0.0/16"), try RoutePrefix("2001:db8:100::/48"), try RoutePrefix("198.20.0.0/24")])
    }

    @Test func reloadRefusesWhatNeedsARestart() throws {
        let old = try Self.config()
        #expect(Gateway.restartOnlyChanges(from: old, to: old).isEmpty)
        // Routes, tunnels and connections may change ...
        let routes = try Self.config(Self.yaml.replacingOccurrences(of: "198.19.0.0/16", with: "198.19.0.0/17"))
        #expect(Gateway.restartOnlyChanges(from: old, to: routes).isEmpty)
        // ... the ingress device, the mode and the kernel markers may not.
        let moved = try Self.config(
            Self.yaml.replacingOccurrences(of: "ingress: tnd-in", with: "ingress: tnd-x").replacingOccurrences(
                of: "table: 100", with: "table: 110"))
        #expect(Gateway.restartOnlyChanges(from: old, to: moved) == ["gateway.ingress", "linux.table"])
        // The TUN queues' length is set when the devices are made.
        var shorter = old
        shorter.linux.tunQueueLength = 256
        #expect(Gateway.restartOnlyChanges(from: old, to: shorter) == ["linux.tun-queue-length"])
    }
}
