import TandemConfig
import TandemRouting
import Testing

/// A tunnel's `drained` key (issue 12): read, checked, warned about when it leaves a connection without a tunnel,
/// and a tunnel without a health check is marked as unprobed for the routing layer.
@Suite struct ConfigDrainedTests {
    static let file = """
        gateway: {name: gw}
        tunnels:
          - {name: t1, device: tnd-t1, peer: 198.18.10.1, drained: true}
          - {name: t2, device: tnd-t2, peer: 198.18.10.2}
        connections: [{name: c1, tunnels: [t1, t2]}]
        routes: [{prefix: 198.19.0.0/16, connection: c1}]
        """

    @Test func drainedIsReadAndDefaultsToFalse() throws {
        let config = try GatewayConfig.parse(yaml: Self.file, file: "gw.yaml")
        #expect(config.tunnels.map(\.drained) == [true, false])
        #expect(!config.warnings.contains { $0.message.contains("drained") })
    }

    @Test func aDrainedValueThatIsNoBooleanIsAnError() {
        Check.onlyError(
            Self.file.replacingOccurrences(of: "drained: true", with: "drained: maybe"), at: 3, 60,
            "'drained' must be true or false, got 'maybe'")
    }

    @Test func aConnectionWhoseEveryTunnelIsDrainedIsWarnedAbout() throws {
        let both = Self.file.replacingOccurrences(
            of: "peer: 198.18.10.2}", with: "peer: 198.18.10.2, drained: true}")
        let warnings = Check.warnings(both)
        #expect(
            warnings.map(\.message).contains(
                "connection 'c1' carries no traffic: both its tunnels are drained; undrain with 'tandem undrain "
                    + "TUNNEL' or remove 'drained: true'"), "\(warnings.map(\.description))")
        let single = Self.file.replacingOccurrences(
            of: "connections: [{name: c1, tunnels: [t1, t2]}]",
            with: "connections: [{name: c1, tunnels: [t1]}, {name: c2, tunnels: [t2]}]")
        #expect(Check.warnings(single).contains { $0.message.contains("its only tunnel 't1' is drained") })
    }

    @Test func aTunnelWithoutAHealthCheckIsUnprobedForTheRoutingLayer() throws {
        let config = try GatewayConfig.parse(yaml: Self.file, file: "gw.yaml")
        guard case .dual(let active, _) = config.tunnelHealth(of: config.connections[0]) else {
            Issue.record("not dual")
            return
        }
        #expect(!active.probed)
    }
}
