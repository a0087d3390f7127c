import TandemPacket
import Testing

@testable import TandemConfig

/// `GatewayConfig.birdConfiguration(file:)`: the BIRD 2 configuration of a gateway file, as text (issue 12). BIRD
/// itself reads what it writes in `BirdParseTests`.
@Suite struct BirdConfigurationTests {
    /// Two BGP tunnels (one with an interface and BFD, one with a name BIRD cannot take as it is and its addresses
    /// swapped), one static tunnel, two advertised IPv4 prefixes, a quota of 20, learning into table 100.
    static let twoSessions = """
        gateway:
          name: site-a
          local-asn: 65000
        tunnels:
          - name: east
            device: tnd-e
            interface: vti-east
            peer: 198.18.30.1
            routing: bgp
            bgp: {inside-cidr: 169.254.10.0/30, peer-asn: 65100, bfd: true}
          - name: west-2.b
            device: tnd-w
            peer: 198.18.31.1
            routing: bgp
            bgp: {inside-cidr: 169.254.10.4/30, peer-asn: 65200, local-address: 169.254.10.6}
          - name: s1
            device: tnd-s
            peer: 198.18.32.1
        connections:
          - {name: c-east, tunnels: [east]}
          - {name: c-west, tunnels: [west-2.b]}
          - {name: c-static, tunnels: [s1]}
        routes:
          - {prefix: 198.19.0.0/16, connection: c-static}
        limits:
          dynamic-routes: 20
        advertise:
          - 198.18.0.0/24
          - 198.18.1.0/24
        learning:
          table: 100
        """

    static func bird(_ yaml: String) throws -> String {
        try GatewayConfig.parse(yaml: yaml, file: "gw.yaml").birdConfiguration(file: "gw.yaml")
    }

    /// The errors `birdConfiguration` gives for a valid file.
    static func birdErrors(_ yaml: String) throws -> [String] {
        let config = try GatewayConfig.parse(yaml: yaml, file: "gw.yaml")
        do {
            _ = try config.birdConfiguration(file: "gw.yaml")
            return []
        } catch {
            return error.diagnostics.map(\.description)
        }
    }

    @Test func twoSessionsAndAStaticTunnelGiveThisText() throws {
        let text = try Self.bird(Self.twoSessions)
        let expected = """
            # Written by tandem bird-config from gw.yaml; do not edit it by hand: change gw.yaml and run tandem bird-config again.
            #
            # BIRD 2 configuration of gateway site-a: 2 BGP sessions (local ASN 65000), IPv4.
            # Learned routes go to kernel table 100 as proto bird (12), where Tandem learns them ('learning').

            # Tandem's end of the first BGP session (tunnel east).
            router id 169.254.10.1;

            # The prefixes the gateway announces as its own ('advertise').
            define TANDEM_ADVERTISE4 = [ 198.18.0.0/24, 198.18.1.0/24 ];

            # Interfaces and their addresses: the sessions run over the inside /30s of the tunnels' interfaces. No
            # 'protocol direct': the inside /30s are the kernel's connected routes and are never announced.
            protocol device tandem_device {
            }

            # The advertised IPv4 prefixes in BIRD's table, to be exported over BGP. The kernel protocols export BGP
            # routes only, so these never reach the kernel and drop no traffic.
            protocol static tandem_advertise4 {
              ipv4;
              route 198.18.0.0/24 unreachable;
              route 198.18.1.0/24 unreachable;
            }

            # IPv4 routes learned over BGP into kernel table 100, as proto bird, equal paths of several sessions
            # merged into one multipath route (ECMP). Nothing is read back from the kernel.
            protocol kernel tandem_kernel4 {
              kernel table 100;
              merge paths yes;
              learn off;
              ipv4 {
                import none;
                export where source = RTS_BGP;
              };
            }

            # Routes from a peer: never a default route (0.0.0.0/0 or ::/0).
            filter tandem_import {
              if net.len = 0 then reject;
              accept;
            }

            # IPv4 routes to a peer: only the advertised prefixes, as tandem_advertise4 originates them; never a
            # route learned over BGP (that would announce one connection's routes to another).
            filter tandem_export4 {
              if source = RTS_BGP then reject;
              if proto != "tandem_advertise4" then reject;
              if net ~ TANDEM_ADVERTISE4 then accept;
              reject;
            }

            # BFD for the sessions with 'bfd: true' (BIRD's default timers).
            protocol bfd tandem_bfd {
            }

            # One session per BGP tunnel. Each imports at most 20 routes per family (limits.dynamic-routes); past that
            # BIRD drops further routes and keeps the session up (action block), so one peer announcing too much does not
            # take down its connection's routes; Tandem enforces the quota over all sessions together.

            # Tunnel east (connection c-east), inside 169.254.10.0/30.
            protocol bgp tunnel_east {
              description "tunnel east";
              local 169.254.10.1 as 65000;
              neighbor 169.254.10.2 as 65100;
              interface "vti-east";
              bfd on;
              ipv4 {
                import filter tandem_import;
                import limit 20 action block;
                export filter tandem_export4;
              };
            }

            # Tunnel west-2.b (connection c-west), inside 169.254.10.4/30.
            protocol bgp tunnel_west_2_b {
              description "tunnel west-2.b";
              local 169.254.10.6 as 65000;
              neighbor 169.254.10.5 as 65200;
              ipv4 {
                import filter tandem_import;
                import limit 20 action block;
                export filter tandem_export4;
              };
            }

            """
        #expect(text == expected)
        if text != expected {
            // The first line that differs, to see at once what changed.
            let (got, want) = (
                text.split(separator: "\n", omittingEmptySubsequences: false),
                expected.split(separator: "\n", omittingEmptySubsequences: false)
            )
            if let index = zip(got, want).enumerated().first(where: { $0.element.0 != $0.element.1 })?.offset {
                Issue.record("line \(index + 1): got '\(got[index])', expected '\(want[index])'")
            }
        }
    }

    @Test func ipv6IsWrittenOnlyWhenTheFileHasIPv6Prefixes() throws {
        let ipv4 = try Self.bird(Self.twoSessions)
        for absent in ["ipv6", "extended next hop", "tandem_kernel6", "tandem_advertise6", "TANDEM_ADVERTISE6"] {
            #expect(!ipv4.contains(absent), "\(absent)")
        }
        // An IPv6 advertised prefix: IPv6 channels with extended next hops, both kernel protocols.
        let advertised = try Self.bird(Self.twoSessions.replacing("  - 198.18.1.0/24", with: "  - 2001:db8:100::/48"))
        #expect(advertised.contains("define TANDEM_ADVERTISE6 = [ 2001:db8:100::/48 ];"))
        #expect(
            advertised.contains(
                "protocol static tandem_advertise6 {\n  ipv6;\n  route 2001:db8:100::/48 unreachable;\n}"))
        #expect(
            advertised.contains(
                "protocol kernel tandem_kernel6 {\n  kernel table 100;\n  learn off;\n  ipv6 {\n    import none;\n    export filter {\n      if source != RTS_BGP then reject;\n      ifname = ifname;"
            ))
        #expect(
            advertised.contains(
                """
                  ipv6 {
                    extended next hop on;
                    import filter tandem_import;
                    import limit 20 action block;
                    export filter tandem_export6;
                  };
                }
                """))
        #expect(advertised.components(separatedBy: "extended next hop on;").count == 3)
        // An IPv6 route alone: IPv6 routes are learned, nothing IPv6 is advertised.
        let routed = try Self.bird(
            Self.twoSessions.replacing(
                "  - {prefix: 198.19.0.0/16, connection: c-static}",
                with:
                    "  - {prefix: 198.19.0.0/16, connection: c-static}\n  - {prefix: 2001:db8::/32, connection: c-static}"
            ))
        #expect(routed.contains("protocol kernel tandem_kernel6 {"))
        #expect(!routed.contains("tandem_advertise6") && !routed.contains("tandem_export6"))
        #expect(
            routed.contains(
                "    extended next hop on;\n    import filter tandem_import;\n    import limit 20 action block;\n    export none;"
            ))
    }

    @Test func withoutAdvertisedPrefixesNothingIsExported() throws {
        let text = try Self.bird(
            Self.twoSessions.replacing("advertise:\n  - 198.18.0.0/24\n  - 198.18.1.0/24\n", with: ""))
        #expect(text.contains("# The file advertises no prefix ('advertise'): the sessions announce nothing."))
        #expect(!text.contains("protocol static") && !text.contains("filter tandem_export4"))
        #expect(text.components(separatedBy: "    export none;").count == 3)
    }

    @Test func aQuotaOfZeroImportsNothing() throws {
        let text = try Self.bird(Self.twoSessions.replacing("dynamic-routes: 20", with: "dynamic-routes: 0"))
        #expect(!text.contains("import limit") && !text.contains("import filter"))
        #expect(
            text.components(separatedBy: "  ipv4 {\n    import none;\n    export filter tandem_export4;").count == 3)
        #expect(text.contains("# One session per BGP tunnel. limits.dynamic-routes is 0: nothing is imported."))
    }

    @Test func withoutBFDThereIsNoBFDProtocol() throws {
        let text = try Self.bird(Self.twoSessions.replacing(", bfd: true", with: ""))
        #expect(!text.contains("bfd"))
        let on = try Self.bird(Self.twoSessions)
        #expect(on.components(separatedBy: "  bfd on;").count == 2)
        #expect(on.contains("protocol bfd tandem_bfd {\n}"))
    }

    @Test func theLearningTableAndTheDefaultOne() throws {
        let text = try Self.bird(Self.twoSessions.replacing("learning:\n  table: 100", with: "learning:"))
        #expect(text.contains("  kernel table 254;\n"))
        #expect(text.contains("# Learned routes go to kernel table 254 as proto bird (12)"))
    }

    // MARK: names

    @Test func tunnelNamesBecomeDistinctBIRDSymbols() {
        let long = String(repeating: "x", count: 64)
        let names = BirdIdentifiers.protocolNames(forTunnels: ["a-1", "a_1", "a.1", "path", long, long + "-", "b"])
        #expect(
            names == [
                "tunnel_a_1", "tunnel_a_1_2", "tunnel_a_1_3", "tunnel_path",
                "tunnel_" + String(repeating: "x", count: 57),
                "tunnel_" + String(repeating: "x", count: 55) + "_2", "tunnel_b",
            ])
        #expect(names.allSatisfy { $0.count <= 64 })
    }

    // MARK: errors

    @Test func aFileWithoutBGPTunnelsIsAnError() throws {
        #expect(
            try Self.birdErrors(header + "learning:\n") == [
                "gw.yaml:4:5: error: no tunnel uses BGP, so there is no BGP session to configure; add 'routing: bgp' "
                    + "and a 'bgp' block (inside-cidr, peer-asn) to the tunnels that run BGP"
            ])
        #expect(
            try Self.birdErrors("gateway: {name: site-a}\nlearning:\n") == [
                "gw.yaml: error: no tunnel uses BGP, so there is no BGP session to configure; add 'routing: bgp' "
                    + "and a 'bgp' block (inside-cidr, peer-asn) to the tunnels that run BGP"
            ])
    }

    @Test func learningMustTakeBIRDsRoutes() throws {
        #expect(
            try Self.birdErrors(Self.twoSessions + "\n  protocols: [bgp, zebra]") == [
                "gw.yaml:32:14: error: 'protocols' (bgp, zebra) does not include bird (12), the protocol BIRD marks "
                    + "its kernel routes with, so Tandem would not learn what BIRD learns; add bird to 'protocols'"
            ])
        #expect(
            try Self.birdErrors(Self.twoSessions.replacing("learning:\n  table: 100", with: "")) == [
                "gw.yaml: error: there is no 'learning' section, so Tandem would not learn the routes BIRD installs; "
                    + "add 'learning:' (defaults: table 254, protocols bird and bgp)"
            ])
    }

    @Test func anInterfaceBIRDCannotQuoteIsAnError() throws {
        #expect(
            try Self.birdErrors(Self.twoSessions.replacing("interface: vti-east", with: "interface: vti\"east")) == [
                "gw.yaml:7:16: error: interface 'vti\"east' of tunnel 'east' contains '\"', which a BIRD configuration "
                    + "cannot quote; rename the interface"
            ])
    }

    @Test func theCommentLinesSayWhereTheTextComesFrom() throws {
        let config = try GatewayConfig.parse(yaml: Self.twoSessions, file: "gw.yaml")
        let text = try config.birdConfiguration(file: "/etc/tandem/gw.yaml")
        #expect(
            text.hasPrefix(
                "# Written by tandem bird-config from /etc/tandem/gw.yaml; do not edit it by hand: change "
                    + "/etc/tandem/gw.yaml and run tandem bird-config again.\n"))
        // A name with a line break cannot end the comment early.
        let odd = try config.birdConfiguration(file: "gw\nrouter id 1.2.3.4;.yaml")
        #expect(!odd.contains("\nrouter id 1.2.3.4"))
    }
}
