import TandemConfig
import Testing

/// The product's rules and the warnings.
@Suite struct ConfigRuleTests {
    // MARK: rule 1: overlapping static routes in destination routing mode

    @Test func rule1OverlapOfDifferentConnectionsIsAnError() {
        let yaml =
            header + """
                routes:
                  - prefix: 198.19.0.0/16
                    connection: c1
                  - prefix: 198.19.1.0/24
                    connection: c2
                """
        Check.exactError(
            yaml, at: 18, 13,
            "routes 198.19.0.0/16 (line 16, connection c1) and 198.19.1.0/24 (line 18, connection c2) overlap; "
                + "in destination routing mode the more specific route may not take effect; use the same "
                + "connection, or routing-mode: policy")
    }

    @Test func rule1TheMoreSpecificRouteIsReportedWhicheverComesFirst() {
        let yaml =
            header + """
                routes:
                  - {prefix: 2001:db8:1::/48, connection: c2}
                  - {prefix: 2001:db8::/32, connection: c1}
                """
        Check.onlyError(yaml, at: 16, 14, "routes 2001:db8::/32 (line 17, connection c1) and 2001:db8:1::/48 (line 16")
    }

    @Test func rule1AllowsWhatIsNotAnOverlapOfDifferentConnections() throws {
        // The same prefix via several connections (ECMP, or active/standby by weight), nesting within one
        // connection, different families, and non-static sources.
        let yaml =
            header + """
                routes:
                  - {prefix: 198.19.0.0/16, connection: c1, weight: 100}
                  - {prefix: 198.19.0.0/16, connection: c2, weight: 0}
                  - {prefix: 198.18.0.0/15, connection: c1, source: specific}
                  - {prefix: 198.19.1.0/24, connection: c2, source: specific}
                  - {prefix: 2001:db8::/32, connection: c1}
                  - {prefix: 2001:db8:1::/48, connection: c1}
                  - {prefix: 198.18.128.0/17, connection: c2}
                """
        // 198.19.0.0/16 via c1 and c2 and the nested 198.18.128.0/17 (not inside it) are fine.
        #expect(Check.errors(yaml).isEmpty)
    }

    @Test func rule1DoesNotApplyInPolicyRoutingMode() {
        let yaml = """
            gateway:
              name: site-a
              routing-mode: policy
            tunnels:
              - {name: a1, device: tnd-a1, peer: 198.18.10.1}
              - {name: a2, device: tnd-a2, peer: 198.18.20.1}
            connections:
              - {name: c1, tunnels: [a1]}
              - {name: c2, tunnels: [a2]}
            routes:
              - {prefix: 198.19.0.0/16, connection: c1}
              - {prefix: 198.19.1.0/24, connection: c2}
            """
        #expect(Check.errors(yaml).isEmpty)
    }

    @Test func rule1AgreesWithAPairwiseCheckOnRandomRoutes() {
        // Random nested prefixes in 198.18.0.0/15; the sorted sweep must flag exactly the routes that some
        // route of another connection strictly holds.
        var generator = SystemRandomNumberGenerator()
        for round in 0..<20 {
            var routes: [(base: UInt32, length: Int, connection: String)] = []
            for _ in 0..<60 {
                let length = Int.random(in: 15...22, using: &generator)
                let base = (UInt32(198) << 24 | UInt32(18) << 16) | UInt32.random(in: 0...0x1_FFFF, using: &generator)
                let mask = UInt32.max << (32 - length)
                routes.append((base & mask, length, ["c1", "c2"].randomElement(using: &generator)!))
            }
            var yaml = header + "routes:\n"
            var seen = Set<String>()
            var unique: [(base: UInt32, length: Int, connection: String)] = []
            for route in routes where seen.insert("\(route.base)/\(route.length)/\(route.connection)").inserted {
                unique.append(route)
                let a = route.base
                yaml +=
                    "  - {prefix: \(a >> 24).\(a >> 16 & 255).\(a >> 8 & 255).\(a & 255)/\(route.length), "
                    + "connection: \(route.connection)}\n"
            }
            var expected = 0
            for inner in unique {
                let held = unique.contains { outer in
                    outer.length < inner.length && outer.connection != inner.connection
                        && inner.base & (UInt32.max << (32 - outer.length)) == outer.base
                }
                if held { expected += 1 }
            }
            let found = Check.errors(yaml)
            #expect(found.allSatisfy { $0.message.contains("overlap") }, "round \(round)")
            #expect(found.count == expected, "round \(round)")
        }
    }

    // MARK: rule 2: both tunnels of a connection use the same routing

    @Test func rule2DualTunnelRoutingMustMatch() {
        let yaml = """
            gateway:
              name: site-a
              local-asn: 65000
            tunnels:
              - {name: a1, device: tnd-a1, peer: 198.18.10.1}
              - name: a2
                device: tnd-a2
                peer: 198.18.20.1
                routing: bgp
                bgp: {inside-cidr: 169.254.10.0/30, peer-asn: 65100}
            connections:
              - name: c1
                tunnels: [a1, a2]
            """
        Check.exactError(
            yaml, at: 13, 19,
            "tunnels 'a1' (static) and 'a2' (bgp) of connection 'c1' use different routing; both tunnels of a "
                + "dual-tunnel connection use the same routing, static or bgp")
    }

    // MARK: rule 3: BGP inside CIDRs

    /// A BGP tunnel with `cidr`, its inside CIDR on line 9, column 20.
    func bgpTunnel(_ cidr: String) -> String {
        """
        gateway:
          name: site-a
          local-asn: 65000
        tunnels:
          - name: a1
            device: tnd-a1
            peer: 198.18.10.1
            routing: bgp
            bgp: {inside-cidr: \(cidr), peer-asn: 65100}
        """
    }

    @Test func rule3InsideCIDRMustBeALinkLocalSlash30() {
        Check.exactError(
            bgpTunnel("169.254.10.0/29"), at: 9, 24,
            "'inside-cidr' must be a /30 in 169.254.0.0/16, got 169.254.10.0/29 (a /29)")
        Check.exactError(
            bgpTunnel("198.18.10.0/30"), at: 9, 24,
            "'inside-cidr' 198.18.10.0/30 is not in 169.254.0.0/16; BGP inside addresses are link-local, "
                + "e.g. 169.254.10.0/30")
        Check.onlyError(bgpTunnel("fd00::/126"), at: 9, 24, "must be an IPv4 /30 in 169.254.0.0/16")
        Check.onlyError(bgpTunnel("169.254.10.1/30"), at: 9, 24, "write it as 169.254.10.0/30")
    }

    @Test(arguments: [
        "169.254.0.0/30", "169.254.1.0/30", "169.254.2.0/30", "169.254.3.0/30", "169.254.4.0/30", "169.254.5.0/30",
        "169.254.169.252/30",
    ])
    func rule3ReservedInsideCIDRs(cidr: String) {
        Check.exactError(
            bgpTunnel(cidr), at: 9, 24,
            "'inside-cidr' \(cidr) is reserved (169.254.0.0/30 to 169.254.5.0/30 and 169.254.169.252/30 are); "
                + "choose another /30 in 169.254.0.0/16")
    }

    @Test func rule3InsideCIDRsOfDifferentTunnelsDiffer() {
        let yaml =
            bgpTunnel("169.254.10.0/30") + """

                  - name: a2
                    device: tnd-a2
                    peer: 198.18.20.1
                    routing: bgp
                    bgp: {inside-cidr: 169.254.10.0/30, peer-asn: 65100}
                """
        Check.exactError(
            yaml, at: 14, 24,
            "'inside-cidr' 169.254.10.0/30 is already used by tunnel 'a1' (line 9); each tunnel needs its own inside CIDR"
        )
    }

    // MARK: rule 4: one local ASN

    @Test func rule4AllBGPTunnelsUseTheSameLocalASN() {
        let yaml =
            bgpTunnel("169.254.10.0/30") + """

                  - name: a2
                    device: tnd-a2
                    peer: 198.18.20.1
                    routing: bgp
                    bgp:
                      inside-cidr: 169.254.10.4/30
                      local-asn: 65001
                      peer-asn: 65100
                """
        Check.exactError(
            yaml, at: 16, 18,
            "tunnel 'a2' uses local ASN 65001 but tunnel 'a1' (line 5) uses 65000; all BGP tunnels use the same "
                + "local ASN")
    }

    @Test func rule4LocalASNComesFromTheGatewayOrTheTunnel() throws {
        let inherited = try GatewayConfig.parse(yaml: bgpTunnel("169.254.10.0/30"), file: "gw.yaml")
        #expect(inherited.tunnels[0].bgp?.localASN == 65000)
        #expect(inherited.tunnels[0].bgp?.peerASN == 65100)
        let none = bgpTunnel("169.254.10.0/30").replacing("  local-asn: 65000\n", with: "")
        Check.exactError(
            none, at: 8, 10,
            "missing required key 'local-asn' in the 'bgp' of tunnel 'a1'; set it here or as 'local-asn' in 'gateway'")
    }

    // MARK: rule 5 and other checks

    @Test func rule5DynamicRouteLimitRange() throws {
        let yaml = "gateway: {name: x}\nlimits: {dynamic-routes: -1}\n"
        Check.onlyError(yaml, at: 2, 26, "'dynamic-routes' must be between 0 and 10000000, got -1")
        let zero = try GatewayConfig.parse(yaml: "gateway: {name: x}\nlimits: {dynamic-routes: 0}\n", file: "gw.yaml")
        #expect(zero.limits.dynamicRoutes == 0)
    }

    @Test func healthCheckFamiliesMustMatch() {
        let yaml = """
            gateway:
              name: site-a
            tunnels:
              - name: a1
                device: tnd-a1
                peer: 198.18.10.1
                health-check:
                  source: 198.18.0.1
                  destination: 2001:db8::1
            """
        Check.exactError(
            yaml, at: 9, 20,
            "'destination' 2001:db8::1 is IPv6 but 'source' 198.18.0.1 is IPv4; both must be of the same family")
    }

    @Test func tooManyPolicyRoutes() {
        var yaml =
            header + """
                limits:
                  policy-routes: 2
                policy-routes:

                """
        for priority in 1...4 {
            yaml += "  - {source: 198.18.0.0/24, destination: 198.19.0.0/16, priority: \(priority), connection: c1}\n"
        }
        Check.exactError(
            yaml, at: 20, 5,
            "there are 4 policy routes, more than the limit of 2 (line 16); raise 'policy-routes' in 'limits' "
                + "(at most 1024) or remove policy routes")
    }

    // MARK: warnings

    @Test func warningsLeaveTheFileValid() throws {
        let yaml = """
            gateway:
              name: site-a
              local-asn: 65000
            tunnels:
              - {name: a1, device: tnd-a1, peer: 198.18.10.1, zone: z1}
              - {name: a2, device: tnd-a2, peer: 198.18.20.1, zone: z1}
              - {name: a3, device: tnd-a3, peer: 198.18.30.1}
              - name: b1
                device: tnd-b1
                peer: 198.18.40.1
                routing: bgp
                bgp: {inside-cidr: 169.254.10.0/30, peer-asn: 65100}
            connections:
              - name: c1
                tunnels: [a1, a2]
              - name: c2
                tunnels: [b1]
            """
        let config = try GatewayConfig.parse(yaml: yaml, file: "gw.yaml")
        #expect(
            config.warnings.map(\.description) == [
                "gw.yaml:7:12: warning: tunnel 'a3' is in no connection; no traffic will use it",
                "gw.yaml:11:14: warning: tunnel 'b1' uses BGP but there is no 'learning' section, so the routes its peer "
                    + "announces are never used; add 'learning:' (defaults: table 254, protocols bird and bgp)",
                "gw.yaml:14:11: warning: connection 'c1' is not used by any route or policy route; no traffic will use it",
                "gw.yaml:15:14: warning: tunnels 'a1' and 'a2' of connection 'c1' are both in zone 'z1'; one zone's "
                    + "failure takes both down (allowed, but a standby in another zone is safer)",
                "gw.yaml:15:14: warning: connection 'c1' is dual-tunnel but neither 'a1' nor 'a2' has a health-check; "
                    + "without one a tunnel always counts as up, so traffic never fails over to 'a2'",
                "gw.yaml:16:11: warning: connection 'c2' is not used by any route or policy route; no traffic will use it",
            ])
    }

    /// A standby without a health check always counts as up: failing over to it can black-hole the traffic
    /// (issue 12). The active tunnel's check alone is not enough.
    @Test func aStandbyWithoutAHealthCheckIsWarnedAbout() throws {
        let yaml = """
            gateway: {name: site-a}
            tunnels:
              - name: a1
                device: tnd-a1
                peer: 198.18.10.1
                health-check: {source: 198.18.10.2, destination: 198.18.10.1}
              - {name: a2, device: tnd-a2, peer: 198.18.20.1}
            connections:
              - {name: c1, tunnels: [a1, a2]}
            routes:
              - {prefix: 198.19.0.0/16, connection: c1}
            """
        let config = try GatewayConfig.parse(yaml: yaml, file: "gw.yaml")
        #expect(
            config.warnings.map(\.description) == [
                "gw.yaml:9:25: warning: standby tunnel 'a2' of connection 'c1' has no health-check; without one it "
                    + "always counts as up, so traffic fails over to it even when it is down; give it a health-check "
                    + "like 'a1's"
            ])
    }

    @Test func warningsAreReportedWithErrors() throws {
        let yaml = """
            gateway:
              name: site-a
            tunnels:
              - {name: a1, device: tnd-a1, peer: 198.18.10.1, mtu: 1}
              - {name: a3, device: tnd-a3, peer: 198.18.30.1}
            """
        let all = Check.diagnostics(yaml)
        #expect(all.map(\.severity) == [.error, .warning])
    }
}
