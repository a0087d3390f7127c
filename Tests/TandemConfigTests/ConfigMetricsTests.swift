import TandemConfig
import TandemPacket
import Testing

/// The `metrics` section: off by default, a loopback address only.
@Suite("metrics section")
struct ConfigMetricsTests {
    /// Ten lines: what is appended starts on line 11.
    static let base = ConfigLinuxTests.tunnels

    @Test func offByDefault() throws {
        let config = try GatewayConfig.parse(yaml: Self.base, file: "gw.yaml")
        #expect(config.metrics == nil)
    }

    @Test func values() throws {
        let set = try GatewayConfig.parse(yaml: Self.base + "metrics: {listen: \"127.0.0.1:9100\"}\n", file: "gw.yaml")
        let metrics = try #require(set.metrics)
        #expect(metrics.address == .v4(IPv4Address(127, 0, 0, 1)) && metrics.port == 9100)
        #expect(metrics.listen == "127.0.0.1:9100")
        #expect(metrics.location(of: "listen").line == 11)

        let other = try #require(
            try GatewayConfig.parse(yaml: Self.base + "metrics: {listen: 127.0.0.53:80}\n", file: "gw.yaml").metrics)
        #expect(other.listen == "127.0.0.53:80")

        let v6 = try #require(
            try GatewayConfig.parse(yaml: Self.base + "metrics: {listen: \"[::1]:9464\"}\n", file: "gw.yaml").metrics)
        #expect(v6.address == .v6(try IPv6Address("::1")) && v6.port == 9464 && v6.listen == "[::1]:9464")

        let defaults = try #require(try GatewayConfig.parse(yaml: Self.base + "metrics: {}\n", file: "gw.yaml").metrics)
        #expect(defaults.listen == "127.0.0.1:9464")
    }

    @Test func notLoopback() {
        Check.exactError(
            Self.base + "metrics: {listen: \"198.18.0.1:9464\"}\n", at: 11, 19,
            "'listen' must be a loopback address (127.0.0.0/8 or ::1), got '198.18.0.1:9464': the metrics endpoint "
                + "has no authentication; use 127.0.0.1:9464 and reach it through a local agent or an SSH tunnel")
        Check.onlyError(Self.base + "metrics: {listen: \"0.0.0.0:9464\"}\n", at: 11, 19, "loopback", "127.0.0.1:9464")
        Check.onlyError(Self.base + "metrics: {listen: \"[::]:9464\"}\n", at: 11, 19, "loopback")
        Check.onlyError(Self.base + "metrics: {listen: \"[2001:db8::1]:9464\"}\n", at: 11, 19, "loopback")
        Check.onlyError(
            Self.base + "metrics:\n  listen: \"198.18.0.1:80\"\n", at: 12, 11, "must be a loopback address")
    }

    @Test func malformed() {
        Check.onlyError(Self.base + "metrics: {listen: \"127.0.0.1\"}\n", at: 11, 19, "needs a port")
        Check.onlyError(Self.base + "metrics: {listen: \"127.0.0.1:0\"}\n", at: 11, 19, "from 1 to 65535")
        Check.onlyError(Self.base + "metrics: {listen: \"127.0.0.1:65536\"}\n", at: 11, 19, "from 1 to 65535")
        Check.onlyError(Self.base + "metrics: {listen: \"127.0.0.1:http\"}\n", at: 11, 19, "got 'http'")
        Check.onlyError(Self.base + "metrics: {listen: \"::1:9464\"}\n", at: 11, 19, "in brackets")
        Check.onlyError(Self.base + "metrics: {listen: \"[::1]\"}\n", at: 11, 19, "in brackets")
        Check.onlyError(Self.base + "metrics: {listen: \"127.0.0.300:9464\"}\n", at: 11, 19, "not a valid IPv4 address")
        Check.onlyError(Self.base + "metrics: {listen: [1]}\n", at: 11, 19, "'listen' must be a string")
        Check.onlyError(Self.base + "metrics: {lisen: \"127.0.0.1:1\"}\n", at: 11, 11, "did you mean 'listen'")
    }
}
