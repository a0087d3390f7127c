import TandemConfig
import Testing

/// References between items, names, and the shape of connections and policy routes.
@Suite struct ConfigReferenceTests {
    @Test func unknownTunnelSuggestsTheNearest() {
        let yaml = """
            gateway:
              name: site-a
            tunnels:
              - {name: tunnel-a, device: tnd-a1, peer: 198.18.10.1}
            connections:
              - name: c1
                tunnels: [tunnle-a]
            """
        Check.exactError(yaml, at: 7, 15, "unknown tunnel 'tunnle-a' in connection 'c1'; did you mean 'tunnel-a'?")
    }

    @Test func unknownConnectionSuggestsTheNearest() {
        let yaml =
            header + """
                routes:
                  - prefix: 198.19.0.0/16
                    connection: c3
                """
        Check.exactError(yaml, at: 17, 17, "unknown connection 'c3'; did you mean 'c1'?")
        let policy =
            header + """
                policy-routes:
                  - {source: 198.18.0.0/24, destination: 198.19.0.0/16, priority: 1, connection: other}
                """
        Check.exactError(policy, at: 16, 82, "unknown connection 'other'")
    }

    @Test func duplicateNamesAndDevices() {
        let yaml = """
            gateway:
              name: site-a
            tunnels:
              - {name: a1, device: tnd-a1, peer: 198.18.10.1}
              - {name: a1, device: tnd-a1, peer: 198.18.20.1}
              - {name: a3, device: tandem0, peer: 198.18.30.1}
            connections:
              - {name: c1, tunnels: [a1]}
              - {name: c1, tunnels: [a3]}
            """
        #expect(
            Check.errors(yaml).map(\.description) == [
                "gw.yaml:5:12: error: duplicate tunnel name 'a1' (first at line 4); tunnel names must be unique",
                "gw.yaml:5:24: error: device 'tnd-a1' is already used by tunnel 'a1' (line 4); each tunnel needs its own device",
                "gw.yaml:6:24: error: device 'tandem0' is the gateway's ingress device; a tunnel needs a device of its own",
                "gw.yaml:9:12: error: duplicate connection name 'c1' (first at line 8); connection names must be unique",
            ])
    }

    @Test func tunnelInTwoConnections() {
        let yaml =
            header + """
                  - name: c3
                    tunnels: [a2]
                """
        Check.exactError(
            yaml, at: 16, 15,
            "tunnel 'a2' is already in connection 'c2' (line 14); a tunnel belongs to one connection only")
    }

    @Test func connectionWithNoOrThreeTunnels() {
        let none =
            header + """
                  - name: c3
                    tunnels: []
                """
        Check.onlyError(none, at: 16, 14, "connection 'c3' has no tunnels; list 1 tunnel (single-tunnel) or 2")
        let three = """
            gateway:
              name: site-a
            tunnels:
              - {name: a1, device: tnd-a1, peer: 198.18.10.1}
              - {name: a2, device: tnd-a2, peer: 198.18.20.1}
              - {name: a3, device: tnd-a3, peer: 198.18.30.1}
            connections:
              - name: c1
                tunnels: [a1, a2, a3]
            """
        Check.exactError(
            three, at: 9, 23,
            "connection 'c1' lists 3 tunnels; a connection has 1 tunnel (single-tunnel) or 2 (dual-tunnel: "
                + "active first, standby second)")
        let twice = """
            gateway:
              name: site-a
            tunnels:
              - {name: a1, device: tnd-a1, peer: 198.18.10.1}
            connections:
              - {name: c1, tunnels: [a1, a1]}
            """
        Check.onlyError(twice, at: 6, 30, "tunnel 'a1' is listed twice in connection 'c1'")
        let missing =
            header + """
                  - name: c3
                """
        Check.onlyError(missing, at: 15, 5, "missing required key 'tunnels' in connection 'c3'")
    }

    @Test func policyRouteFamiliesMustMatch() {
        let yaml =
            header + """
                policy-routes:
                  - source: 198.18.0.0/24
                    destination: 2001:db8::/32
                    priority: 10
                    connection: c1
                """
        Check.exactError(
            yaml, at: 17, 18,
            "'destination' 2001:db8::/32 is IPv6 but 'source' 198.18.0.0/24 is IPv4; a policy route matches one family")
    }

    @Test func portsOnlyWithTCPOrUDP() {
        let yaml =
            header + """
                policy-routes:
                  - source: 198.18.0.0/24
                    destination: 0.0.0.0/0
                    protocol: icmp
                    destination-ports: 443
                    priority: 10
                    connection: c1
                """
        Check.exactError(
            yaml, at: 19, 5, "'destination-ports' needs 'protocol: tcp' or 'protocol: udp', but the protocol is icmp")
        let anyProtocol = yaml.replacing("    protocol: icmp\n", with: "")
        Check.onlyError(anyProtocol, at: 18, 5, "but the protocol is any")
    }

    @Test func portRanges() throws {
        let yaml =
            header + """
                policy-routes:
                  - {source: 198.18.0.0/24, destination: 0.0.0.0/0, protocol: tcp, destination-ports: "8000-8080", priority: 1, connection: c1}
                  - {source: 198.18.0.0/24, destination: 0.0.0.0/0, protocol: 17, destination-ports: 53, priority: 2, connection: c1}
                  - {source: 2001:db8::/48, destination: "::/0", protocol: icmpv6, priority: 3, connection: c2}
                """
        let config = try GatewayConfig.parse(yaml: yaml, file: "gw.yaml")
        #expect(config.policyRoutes.map(\.destinationPorts) == [8000...8080, 53...53, nil])
        #expect(config.policyRoutes.map(\.ipProtocol) == [.tcp, .udp, .icmpv6])
        let reversed =
            header + """
                policy-routes:
                  - {source: 198.18.0.0/24, destination: 0.0.0.0/0, protocol: tcp, destination-ports: 9-1, priority: 1, connection: c1}
                """
        Check.onlyError(reversed, at: 16, 87, "'destination-ports' must be a port from 1 to 65535 or a range 'N-M'")
    }

    @Test func icmpMustMatchTheFamily() {
        let yaml =
            header + """
                policy-routes:
                  - {source: 2001:db8::/48, destination: "::/0", protocol: icmp, priority: 3, connection: c2}
                """
        Check.onlyError(yaml, at: 16, 60, "'protocol: icmp' is ICMP for IPv4")
    }

    @Test func bgpBlockWithoutBGPRoutingAndTheReverse() {
        let yaml = """
            gateway:
              name: site-a
              local-asn: 65000
            tunnels:
              - name: a1
                device: tnd-a1
                peer: 198.18.10.1
                bgp:
                  inside-cidr: 169.254.10.0/30
                  peer-asn: 65100
              - name: a2
                device: tnd-a2
                peer: 198.18.20.1
                routing: bgp
            """
        #expect(
            Check.errors(yaml).map(\.description) == [
                "gw.yaml:8:5: error: 'bgp' is set but 'routing' is static; add 'routing: bgp' to tunnel 'a1', "
                    + "or remove the 'bgp' block",
                "gw.yaml:14:14: error: 'routing: bgp' needs a 'bgp' block with 'inside-cidr' and 'peer-asn' in tunnel 'a2'",
            ])
    }

    @Test func healthCheckPortOnlyForUDP() {
        let yaml = """
            gateway:
              name: site-a
            tunnels:
              - name: a1
                device: tnd-a1
                peer: 198.18.10.1
                health-check: {source: 198.18.0.1, destination: 198.18.10.1, port: 7}
            """
        Check.onlyError(yaml, at: 7, 66, "'port' applies only to 'protocol: udp'")
    }

    @Test func duplicateRoutes() {
        let yaml =
            header + """
                routes:
                  - {prefix: 198.19.0.0/16, connection: c1}
                  - {prefix: 198.19.0.0/16, connection: c1, weight: 0}
                """
        Check.onlyError(yaml, at: 17, 14, "route 198.19.0.0/16 via connection 'c1'", "already given at line 16")
    }
}
