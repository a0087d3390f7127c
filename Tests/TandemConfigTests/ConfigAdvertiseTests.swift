import TandemConfig
import TandemPacket
import Testing

/// The `advertise` list and the BGP session keys `local-address`, `peer-address` and `bfd` (issue 12).
@Suite struct ConfigAdvertiseTests {
    /// A gateway with one BGP tunnel b1 (inside 169.254.10.0/30) whose `bgp` block ends on line 11: `bgpLines` go
    /// on line 12 and after (indented six spaces), `rest` after the connections and learning.
    static func bgpFile(bgpLines: String = "", rest: String = "") -> String {
        """
        gateway:
          name: site-a
          local-asn: 65000
        tunnels:
          - name: b1
            device: tnd-b1
            peer: 198.18.10.1
            routing: bgp
            bgp:
              inside-cidr: 169.254.10.0/30
              peer-asn: 65100
        \(bgpLines.isEmpty ? "" : bgpLines + "\n")connections:
          - name: c1
            tunnels: [b1]
        learning:
        \(rest)
        """
    }

    // MARK: advertise

    @Test func advertiseHoldsIPv4AndIPv6PrefixesInFileOrder() throws {
        let yaml = Self.bgpFile(
            rest: """
                advertise:
                  - 198.18.0.0/24
                  - 2001:db8:100::/48
                  - 198.18.1.0/24
                """)
        let config = try GatewayConfig.parse(yaml: yaml, file: "gw.yaml")
        #expect(config.warnings.isEmpty, "\(config.warnings)")
        #expect(config.advertise.map(\.prefix.description) == ["198.18.0.0/24", "2001:db8:100::/48", "198.18.1.0/24"])
        #expect(config.advertised(.ipv4).map(\.description) == ["198.18.0.0/24", "198.18.1.0/24"])
        #expect(config.advertised(.ipv6).map(\.description) == ["2001:db8:100::/48"])
        #expect(config.advertise[1].location == SourceLocation(file: "gw.yaml", line: 18, column: 5))
        #expect(config.summary(file: "gw.yaml").contains("\n  advertise   3 prefixes (198.18.0.0/24, "))
    }

    @Test func noAdvertiseIsAnEmptyList() throws {
        let config = try GatewayConfig.parse(yaml: Self.bgpFile(), file: "gw.yaml")
        #expect(config.advertise.isEmpty)
        #expect(!config.summary(file: "gw.yaml").contains("advertise"))
        let empty = try GatewayConfig.parse(yaml: Self.bgpFile(rest: "advertise:"), file: "gw.yaml")
        #expect(empty.advertise.isEmpty)
    }

    @Test func aDefaultRouteIsNeverAdvertised() {
        for (prefix, column) in [("0.0.0.0/0", 5), ("::/0", 5)] {
            Check.exactError(
                Self.bgpFile(rest: "advertise:\n  - \(prefix)"), at: 17, column,
                "'advertise' may not hold the default route \(prefix): every peer would send all its traffic to "
                    + "the gateway; list the site's own prefixes, e.g. 198.18.0.0/24")
        }
    }

    @Test func anAdvertisedPrefixMustBeAValidPrefix() {
        Check.onlyError(
            Self.bgpFile(rest: "advertise:\n  - 198.18.0.1/24"), at: 17, 5,
            "'advertise' item '198.18.0.1/24' is not a valid prefix", "write it as 198.18.0.0/24")
        Check.onlyError(
            Self.bgpFile(rest: "advertise:\n  - 198.18.0.0/33"), at: 17, 5,
            "'advertise' item '198.18.0.0/33' is not a valid prefix")
        Check.onlyError(
            Self.bgpFile(rest: "advertise:\n  - site"), at: 17, 5, "'advertise' item 'site' is not a valid prefix")
        Check.exactError(
            Self.bgpFile(rest: "advertise:\n  - {prefix: 198.18.0.0/24}"), at: 17, 5,
            "each item of 'advertise' must be a prefix such as 198.18.0.0/24 or 2001:db8:1::/48, got a mapping")
        Check.exactError(
            Self.bgpFile(rest: "advertise: 198.18.0.0/24"), at: 16, 12,
            "'advertise' must be a list, got '198.18.0.0/24'")
    }

    @Test func aPrefixIsAdvertisedOnce() {
        Check.exactError(
            Self.bgpFile(rest: "advertise:\n  - 198.18.0.0/24\n  - 2001:db8:100::/48\n  - 198.18.0.0/24"), at: 19, 5,
            "198.18.0.0/24 is already in 'advertise' (line 17); remove one of them")
    }

    @Test func everyBadItemIsReported() {
        let errors = Check.errors(Self.bgpFile(rest: "advertise:\n  - 0.0.0.0/0\n  - 198.18.0.0/24\n  - x\n  - ::/0"))
        #expect(errors.map(\.line) == [17, 19, 20])
    }

    @Test func advertiseWithoutBGPAndAdvertisedRemotePrefixesAreWarnedAbout() throws {
        let yaml =
            header + """
                routes:
                  - {prefix: 198.19.0.0/16, connection: c1}
                  - {prefix: 198.18.0.0/24, connection: c2}
                advertise:
                  - 198.19.1.0/24
                  - 198.18.100.0/24
                """
        let config = try GatewayConfig.parse(yaml: yaml, file: "gw.yaml")
        #expect(
            config.warnings.map(\.description) == [
                "gw.yaml:19:5: warning: 'advertise' lists 2 prefixes but no tunnel uses BGP, so nothing announces "
                    + "them; add 'routing: bgp' to a tunnel, or remove 'advertise'",
                "gw.yaml:19:5: warning: advertised 198.19.1.0/24 overlaps route 198.19.0.0/16 to connection 'c1' "
                    + "(line 16): the gateway would announce a remote prefix as its own; advertise only the site's "
                    + "prefixes",
            ])
    }

    // MARK: bgp: local-address, peer-address, bfd

    @Test func sessionAddressesDefaultToTheFirstAndSecondHost() throws {
        let config = try GatewayConfig.parse(yaml: Self.bgpFile(), file: "gw.yaml")
        let bgp = try #require(config.tunnels.first?.bgp)
        #expect(bgp.localAddress == IPv4Address(169, 254, 10, 1))
        #expect(bgp.peerAddress == IPv4Address(169, 254, 10, 2))
        #expect(bgp.bfd == false)
    }

    @Test func oneSessionAddressGivenMakesTheOtherTheOtherHost() throws {
        for (line, local, peer) in [
            ("      local-address: 169.254.10.2", "169.254.10.2", "169.254.10.1"),
            ("      peer-address: 169.254.10.1", "169.254.10.2", "169.254.10.1"),
            ("      local-address: 169.254.10.1", "169.254.10.1", "169.254.10.2"),
            ("      local-address: 169.254.10.2\n      peer-address: 169.254.10.1", "169.254.10.2", "169.254.10.1"),
        ] {
            let config = try GatewayConfig.parse(yaml: Self.bgpFile(bgpLines: line), file: "gw.yaml")
            let bgp = try #require(config.tunnels.first?.bgp)
            #expect("\(bgp.localAddress)" == local && "\(bgp.peerAddress)" == peer, "\(line)")
        }
    }

    @Test func sessionAddressesAreTheHostsOfTheInsideCIDR() {
        let fix = "use 169.254.10.1 or 169.254.10.2, the host addresses of 'inside-cidr' 169.254.10.0/30"
        Check.exactError(
            Self.bgpFile(bgpLines: "      local-address: 169.254.11.1"), at: 12, 22,
            "'local-address' 169.254.11.1 is not in 'inside-cidr' 169.254.10.0/30; \(fix)")
        Check.exactError(
            Self.bgpFile(bgpLines: "      peer-address: 169.254.10.0"), at: 12, 21,
            "'peer-address' 169.254.10.0 is the network address of 'inside-cidr' 169.254.10.0/30; \(fix)")
        Check.exactError(
            Self.bgpFile(bgpLines: "      peer-address: 169.254.10.3"), at: 12, 21,
            "'peer-address' 169.254.10.3 is the broadcast address of 'inside-cidr' 169.254.10.0/30; \(fix)")
        Check.exactError(
            Self.bgpFile(bgpLines: "      local-address: 2001:db8::1"), at: 12, 22,
            "'local-address' 2001:db8::1 is IPv6; BGP runs over the IPv4 inside /30: \(fix)")
        Check.onlyError(
            Self.bgpFile(bgpLines: "      local-address: 169.254.10.256"), at: 12, 22,
            "'local-address' is not a valid IPv4 address")
        Check.exactError(
            Self.bgpFile(bgpLines: "      local-address: 169.254.10.1\n      peer-address: 169.254.10.1"), at: 13, 21,
            "'peer-address' 169.254.10.1 is also 'local-address'; the two ends of the session take the two host "
                + "addresses of 'inside-cidr' 169.254.10.0/30, 169.254.10.1 and 169.254.10.2")
    }

    @Test func bfdIsABoolean() throws {
        let on = try GatewayConfig.parse(yaml: Self.bgpFile(bgpLines: "      bfd: true"), file: "gw.yaml")
        #expect(on.tunnels.first?.bgp?.bfd == true)
        let off = try GatewayConfig.parse(yaml: Self.bgpFile(bgpLines: "      bfd: false"), file: "gw.yaml")
        #expect(off.tunnels.first?.bgp?.bfd == false)
        Check.exactError(
            Self.bgpFile(bgpLines: "      bfd: fast"), at: 12, 12, "'bfd' must be true or false, got 'fast'")
    }

    @Test func aMisspeltBGPKeyIsSuggested() {
        Check.onlyError(
            Self.bgpFile(bgpLines: "      local-adress: 169.254.10.1"), at: 12, 7,
            "unknown key 'local-adress' in the 'bgp' of tunnel 'b1'; did you mean 'local-address'?")
    }
}
