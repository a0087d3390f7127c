import TandemConfig
import Testing

/// Single values: ranges, addresses, prefixes, durations, names.
@Suite struct ConfigValueTests {
    /// A file with one tunnel whose extra keys are `lines` (indented as tunnel keys), starting on line 7.
    func tunnel(_ lines: String, peer: String = "198.18.10.1") -> String {
        """
        gateway:
          name: site-a
        tunnels:
          - name: a1
            device: tnd-a1
            peer: \(peer)
        \(lines)
        """
    }

    @Test func outOfRangeNamesTheRange() {
        Check.exactError(
            tunnel("    mtu: 70000"), at: 7, 10, "'mtu' must be between 576 and 65535 for an IPv4 peer, got 70000")
        Check.exactError(
            tunnel("    mtu: 1000", peer: "2001:db8::1"), at: 7, 10,
            "'mtu' must be between 1280 and 65535 for an IPv6 peer, got 1000")
        let yaml = """
            gateway:
              name: site-a
            limits:
              dynamic-routes: 10000001
              policy-routes: 0
            """
        #expect(
            Check.errors(yaml).map(\.description) == [
                "gw.yaml:4:19: error: 'dynamic-routes' must be between 0 and 10000000, got 10000001",
                "gw.yaml:5:18: error: 'policy-routes' must be between 1 and 1024, got 0",
            ])
    }

    @Test func hugeIntegerIsOutOfRangeNotATypeError() {
        Check.exactError(
            tunnel("    mtu: 99999999999999999999999"), at: 7, 10,
            "'mtu' must be between 576 and 65535 for an IPv4 peer, got 99999999999999999999999")
    }

    @Test func badAddressUsesTandemPacketsMessage() {
        Check.exactError(
            tunnel("", peer: "198.18.10.256"), at: 6, 11,
            "'peer' is not a valid IPv4 address: '198.18.10.256': part 4 is larger than 255")
        Check.onlyError(tunnel("", peer: "2001:db8::1::2"), at: 6, 11, "not a valid IPv6 address", "'::'")
    }

    @Test func prefixWithHostBitsNamesTheRightPrefix() {
        let yaml =
            header + """
                routes:
                  - prefix: 198.19.1.1/16
                    connection: c1
                """
        Check.exactError(
            yaml, at: 16, 13,
            "'prefix' is not a valid prefix: prefix '198.19.1.1/16' has host bits set after its length; "
                + "write it as 198.19.0.0/16")
        let v6 =
            header + """
                routes:
                  - prefix: 2001:db8::1/32
                    connection: c1
                """
        Check.onlyError(v6, at: 16, 13, "write it as 2001:db8::/32")
        let noLength =
            header + """
                routes:
                  - prefix: 198.19.0.0
                    connection: c1
                """
        Check.onlyError(noLength, at: 16, 13, "has no '/length'", "198.19.0.0/32")
    }

    @Test func bareNumberDurationSuggestsAUnit() {
        let yaml = tunnel(
            """
                health-check:
                  source: 198.18.0.1
                  destination: 198.18.10.1
                  interval: 2
            """)
        Check.exactError(yaml, at: 10, 17, "'interval' needs a unit: write '2s' (units: ms, s, m, h), got '2'")
    }

    @Test func durationRanges() {
        let yaml = tunnel(
            """
                health-check:
                  source: 198.18.0.1
                  destination: 198.18.10.1
                  interval: 5ms
                  timeout: 0s
                  down-count: 0
            """)
        #expect(
            Check.errors(yaml).map(\.description) == [
                "gw.yaml:10:17: error: 'interval' must be between 10ms and 1h, got 5ms",
                "gw.yaml:11:16: error: 'timeout' must be more than 0s and at most 1h, got 0s",
                "gw.yaml:12:19: error: 'down-count' must be between 1 and 100, got 0",
            ])
        let long = tunnel(
            """
                health-check:
                  source: 198.18.0.1
                  destination: 198.18.10.1
                  interval: 61m
            """)
        Check.exactError(long, at: 10, 17, "'interval' must be between 10ms and 1h, got 61m")
    }

    @Test func durationTextRoundTrips() throws {
        let cases: [(String, Duration)] = [
            ("10ms", .milliseconds(10)), ("1.5s", .milliseconds(1500)), ("2m", .seconds(120)), ("1h", .seconds(3600)),
            ("0s", .zero), ("250us", .microseconds(250)), ("7ns", .nanoseconds(7)), ("90s", .seconds(90)),
        ]
        for (text, duration) in cases {
            #expect(try ConfigDuration.parse(text) == duration, "\(text)")
        }
        #expect(ConfigDuration.format(.milliseconds(1500)) == "1.5s")
        #expect(ConfigDuration.format(.seconds(120)) == "2m")
        #expect(ConfigDuration.format(.seconds(90)) == "90s")
        #expect(ConfigDuration.format(.milliseconds(10)) == "10ms")
        #expect(throws: ConfigDuration.ParseError.missingUnit(suggestion: "2s")) { try ConfigDuration.parse("2") }
        #expect(throws: ConfigDuration.ParseError.malformed) { try ConfigDuration.parse("2 s") }
        #expect(throws: ConfigDuration.ParseError.malformed) { try ConfigDuration.parse("2d") }
        #expect(throws: ConfigDuration.ParseError.outOfRange) { try ConfigDuration.parse("1.5ns") }
    }

    @Test func namesAndInterfaceNames() {
        let yaml = """
            gateway:
              name: site a
              ingress: a-very-long-device-name
            tunnels:
              - name: a1
                device: tnd/a1
                peer: 198.18.10.1
            """
        #expect(
            Check.errors(yaml).map(\.description) == [
                "gw.yaml:2:9: error: 'name' must be 1 to 64 letters, digits, '_', '.' or '-', got 'site a'",
                "gw.yaml:3:12: error: 'ingress' is not a valid interface name, got 'a-very-long-device-name': "
                    + "an interface name has at most 15 characters, this has 23",
                "gw.yaml:6:13: error: 'device' is not a valid interface name, got 'tnd/a1': "
                    + "an interface name cannot contain '/'",
            ])
        Check.onlyError(tunnel("").replacing("tnd-a1", with: ".."), at: 5, 13, "'.' and '..'")
    }

    @Test func ecmpBucketsAndSeed() throws {
        let yaml = """
            gateway:
              name: site-a
            ecmp:
              seed: 0xg
              buckets: 1000
            """
        #expect(
            Check.errors(yaml).map(\.description) == [
                "gw.yaml:4:9: error: 'seed' must be an unsigned 64-bit integer, decimal or 0x hex "
                    + "(at most 18446744073709551615), got '0xg'",
                "gw.yaml:5:12: error: 'buckets' must be a power of two between 64 and 65536, got 1000; try 1024",
            ])
        let good = try GatewayConfig.parse(
            yaml: "gateway: {name: x}\necmp: {seed: 0xFFFFFFFFFFFFFFFF, buckets: 65536, hash: l3}\n", file: "gw.yaml")
        #expect(good.ecmp.seed == UInt64.max)
        #expect(good.ecmp.buckets == 65536)
        #expect(good.ecmp.hash == .l3)
    }

    @Test func dynamicRouteSourceIsRejected() {
        let yaml =
            header + """
                routes:
                  - prefix: 198.19.0.0/16
                    connection: c1
                    source: dynamic
                """
        Check.onlyError(yaml, at: 18, 13, "'source: dynamic' cannot be written", "learned", "static")
    }

    @Test func learningProtocolsByNameOrNumber() throws {
        let yaml = """
            gateway:
              name: site-a
            learning:
              table: 100
              protocols: [bird, zebra, 186, static]
            """
        let learning = try #require(try GatewayConfig.parse(yaml: yaml, file: "gw.yaml").learning)
        #expect(learning.table == 100)
        #expect(learning.protocols == [12, 11, 186, 4])
        let defaults = try #require(
            try GatewayConfig.parse(yaml: "gateway: {name: x}\nlearning:\n", file: "gw.yaml").learning)
        #expect(defaults.table == 254)
        #expect(defaults.protocols == [12, 186])
        let bad = """
            gateway:
              name: site-a
            learning:
              table: 0
              protocols: [brid, 300]
            """
        #expect(
            Check.errors(bad).map(\.description) == [
                "gw.yaml:4:10: error: 'table' must be between 1 and 4294967295, got 0",
                "gw.yaml:5:15: error: unknown routing protocol 'brid' in 'protocols'; use a name (bird, bgp, zebra, "
                    + "static, kernel, ...) or a number from 0 to 255; did you mean 'bird'?",
                "gw.yaml:5:21: error: unknown routing protocol '300' in 'protocols'; use a name (bird, bgp, zebra, "
                    + "static, kernel, ...) or a number from 0 to 255",
            ])
    }

    @Test func itemsKnowWhereTheyWereWritten() throws {
        let config = try GatewayConfig.parse(yaml: header, file: "gw.yaml")
        let a2 = try #require(config.tunnel(named: "a2"))
        #expect(a2.location.description == "gw.yaml:7:5")
        #expect(a2.location(of: "peer").description == "gw.yaml:9:11")
        // A key left to its default points at the item.
        #expect(a2.location(of: "mtu").description == "gw.yaml:7:5")
        #expect(config.connections[1].location(of: "tunnels").line == 14)
    }
}
