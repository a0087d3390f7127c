import Foundation
import TandemPacket
import TandemRouting
import Testing

@testable import TandemConfig

/// Whole files: the examples, a large generated file, many mistakes at once, defaults, next-hop sets.
@Suite struct ConfigWholeFileTests {
    static let examples = ["dual-tunnel.yaml", "ecmp-four-connections.yaml", "bgp-gateway.yaml"]

    @Test(arguments: examples)
    func exampleFilesAreValid(name: String) throws {
        let path = Check.repositoryRoot + "/examples/" + name
        let config = try GatewayConfig.load(path: path)
        #expect(config.warnings.isEmpty, "\(config.warnings.map(\.description))")
        #expect(!config.tunnels.isEmpty)
        // Only documentation addresses: 198.18.0.0/15, 2001:db8::/32, and link-local inside CIDRs.
        let benchmarking = try IPv4Prefix("198.18.0.0/15")
        let documentation = try IPv6Prefix("2001:db8::/32")
        func allowed(_ address: AnyIPAddress) -> Bool {
            switch address {
            case .v4(let a): benchmarking.contains(a)
            case .v6(let a): documentation.contains(a)
            }
        }
        for tunnel in config.tunnels {
            #expect(allowed(tunnel.peer))
            if let check = tunnel.healthCheck { #expect(allowed(check.source) && allowed(check.destination)) }
        }
    }

    @Test func dualTunnelExampleSummary() throws {
        let config = try GatewayConfig.load(path: Check.repositoryRoot + "/examples/dual-tunnel.yaml")
        #expect(
            config.summary(file: "gw.yaml") == """
                gw.yaml: OK
                  gateway     site-a (userspace, destination routing)
                  tunnels     2 (a1 -> 198.18.10.1 on tnd-a1, a2 -> 198.18.20.1 on tnd-a2)
                  connections 1 (to-cloud: dual a1/a2, preempt 10s)
                  routes      3 static, 1 specific, 0 system (IPv4 3, IPv6 1)
                  policy      1 route
                  groups      1 next-hop group
                  ecmp        l3l4 hash, 1024 buckets
                """)
        let connection = try #require(config.connection(named: "to-cloud"))
        #expect(connection.active == "a1" && connection.standby == "a2")
        #expect(connection.damping?.penalty == .seconds(120))
        #expect(config.tunnel(named: "a2")?.healthCheck?.probeProtocol == .udp)
    }

    @Test func ecmpExampleSharesOneNextHopSet() throws {
        let config = try GatewayConfig.load(path: Check.repositoryRoot + "/examples/ecmp-four-connections.yaml")
        // Both prefixes lead to {c1:100, c2:100, c3:100, c4:0}: one set, one group in the router.
        #expect(config.nextHopSetCount == 1)
        #expect(try config.makeRouter(at: .zero).0.groupCount == 1)
        #expect(Set(config.routes.map { "\($0.connection):\($0.weight)" }) == ["c1:100", "c2:100", "c3:100", "c4:0"])
        #expect(config.ecmp.symmetric && config.ecmp.seed == 0x5eed)
    }

    @Test func nextHopSetsGroupByPrefixSourceMetricAndByMatchPriority() throws {
        let yaml =
            header + """
                routes:
                  - {prefix: 198.19.0.0/16, connection: c1}
                  - {prefix: 198.19.0.0/16, connection: c2, weight: 0}
                  - {prefix: 198.19.0.0/16, connection: c1, metric: 5}
                  - {prefix: 198.19.0.0/16, connection: c1, source: specific}
                  - {prefix: 2001:db8::/32, connection: c2, weight: 0}
                  - {prefix: 2001:db8::/32, connection: c1}
                policy-routes:
                  - {source: 198.18.0.0/24, destination: 198.19.0.0/16, priority: 1, connection: c1}
                  - {source: 198.18.0.0/24, destination: 198.19.0.0/16, priority: 1, connection: c2, weight: 0}
                  - {source: 198.18.0.0/24, destination: 198.19.0.0/16, priority: 2, connection: c2}
                """
        let config = try GatewayConfig.parse(yaml: yaml, file: "gw.yaml")
        // {c1:100, c2:0} (routes 0+1, routes 4+5, policy 0+1) and {c1:100} (routes 2, 3) and {c2:100} (policy 2).
        #expect(config.nextHopSetCount == 3)
        #expect(config.summary(file: "gw.yaml").contains("\n  groups      3 next-hop groups\n"))
    }

    @Test(.timeLimit(.minutes(1)))
    func tenThousandStaticRoutesValidate() throws {
        var yaml = header + "routes:\n"
        yaml.reserveCapacity(600_000)
        for index in 0..<10_000 {
            // 198.18.0.0/15 in /32s, alternating connections: no overlap; then one covering route per connection
            // would be an overlap, so the file stays valid.
            let address = UInt32(198) << 24 | UInt32(18) << 16 | UInt32(index)
            yaml += "  - prefix: \(address >> 24).\(address >> 16 & 255).\(address >> 8 & 255).\(address & 255)/32\n"
            yaml += "    connection: c\(index % 2 + 1)\n"
        }
        let config = try GatewayConfig.parse(yaml: yaml, file: "big.yaml")
        #expect(config.routes.count == 10_000)
        #expect(config.nextHopSetCount == 2)
        // One covering route turns every route of the other connection into an overlap error.
        let covering = yaml + "  - prefix: 198.18.0.0/16\n    connection: c1\n"
        let found = Check.errors(covering)
        #expect(found.count == 5_000)
        #expect(found.allSatisfy { $0.message.contains("(line 20016, connection c1)") })
    }

    @Test func fiveMistakesGiveFiveDiagnosticsSortedByLine() {
        let yaml = """
            gateway:
              name: site-a
              mode: fast
            tunnels:
              - name: a1
                device: tnd-a1
                peer: 198.18.10.999
                mtu: 1400
            connections:
              - name: c1
                tunnels: [a2]
            routes:
              - prefix: 198.19.0.1/16
                connection: c1
                weight: 101
            """
        let found = Check.errors(yaml)
        #expect(found.count == 5)
        #expect(found.map(\.line) == [3, 7, 11, 13, 15])
        #expect(found.map(\.column) == [9, 11, 15, 13, 13])
    }

    @Test func defaultsRoundTrip() throws {
        let minimal = """
            gateway:
              name: site-a
            tunnels:
              - name: a1
                device: tnd-a1
                peer: 198.18.10.1
                health-check:
                  source: 198.18.0.1
                  destination: 198.18.10.1
            connections:
              - name: c1
                tunnels: [a1]
            routes:
              - prefix: 198.19.0.0/16
                connection: c1
            policy-routes:
              - source: 198.18.0.0/24
                destination: 198.19.0.0/16
                priority: 5
                connection: c1
            """
        let config = try GatewayConfig.parse(yaml: minimal, file: "gw.yaml")
        #expect(config.warnings.isEmpty)
        #expect(config.gateway.mode == .userspace)
        #expect(config.gateway.routingMode == .destination)
        #expect(config.gateway.localASN == nil)
        #expect(config.gateway.ingress == "tandem0")
        #expect(config.ecmp.hash == .l3l4 && !config.ecmp.symmetric && config.ecmp.seed == 0)
        #expect(config.ecmp.buckets == 1024)
        #expect(config.limits.dynamicRoutes == 50 && config.limits.policyRoutes == 100)
        let tunnel = config.tunnels[0]
        #expect(tunnel.mtu == 1400 && tunnel.routing == .static && tunnel.zone == nil && tunnel.bgp == nil)
        let check = try #require(tunnel.healthCheck)
        #expect(check.probeProtocol == .icmp && check.port == 7)
        #expect(check.interval == .seconds(1) && check.timeout == .seconds(1))
        #expect(check.downCount == 3 && check.upCount == 3)
        #expect(config.connections[0].preemptDelay == .zero && config.connections[0].damping == nil)
        let route = config.routes[0]
        #expect(route.source == .static && route.weight == 100 && route.metric == 0)
        let policy = config.policyRoutes[0]
        #expect(policy.ipProtocol == nil && policy.destinationPorts == nil && policy.weight == 100)
        #expect(config.learning == nil)
    }
}
