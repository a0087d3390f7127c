import Foundation
import TandemConfig
import TandemControl
import TandemKernelFake
import TandemLinux
import TandemPacket
import TandemRouting
import Testing

#if canImport(Glibc)
import Glibc
#endif

@testable import TandemDaemon

/// `tandem show status` and the metrics of what the kernel refused: a gateway on the fake kernel whose IPv4 remote
/// route is refused, then let in. No root.
@Suite("show status and the kernel's refusals in the metrics")
struct StatusTests {
    static let remote4 = GatewayFixture.prefix("198.19.0.0/16")

    /// A started gateway whose IPv4 remote route the kernel refuses with ENETDOWN until told otherwise.
    static func refused(_ fixture: GatewayFixture, yaml: String = GatewayFixture.yaml) throws -> Gateway {
        fixture.kernel.refuse(ENETDOWN) { change in
            if case .route(.add(let route, _)) = change { return route.prefix == remote4 }
            return false
        }
        return try fixture.started(yaml)
    }

    static func view(_ gateway: Gateway) -> GatewayView {
        GatewayView(
            config: gateway.config, router: gateway.router, controller: gateway.state.controller,
            probes: { _ in ProbeStatistics() }, counters: nil, kernel: gateway.kernelStatus)
    }

    static func exposition(_ gateway: Gateway, droppedLogLines: Int = 0) -> Set<String> {
        let metrics = DaemonMetrics()
        var snapshot = MetricsSnapshot()
        snapshot.add(gateway.kernelStatus)
        snapshot.droppedLogLines = droppedLogLines
        metrics.update(snapshot)
        return DaemonMetricsTests.lines(metrics)
    }

    static func json(_ text: String) throws -> [String: Any] {
        try #require(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    @Test func aRefusedRouteIsShownPendingWithItsErrnoAndTheNextRetry() throws {
        let fixture = GatewayFixture()
        let gateway = try Self.refused(fixture)
        let status = gateway.kernelStatus
        #expect(!status.ready)
        #expect(status.pending.remote == [Self.remote4])
        #expect(status.nextRetryIn == 1_000_000_000)
        fixture.clock.advance(by: .milliseconds(250))

        let text = Self.view(gateway).status(json: false)
        let lines = text.split(separator: "\n").map(String.init)
        #expect(lines.first == "not ready: 1 missing: 1 remote route(s)")
        #expect(lines.contains("missing remote-route 198.19.0.0/16 table 100"))
        #expect(
            lines.contains {
                $0.hasPrefix("last refusal ENETDOWN (errno \(ENETDOWN)): ") && $0.contains("198.19.0.0/16")
                    && $0.hasSuffix(": Network is down")
            }, "\(lines)")
        #expect(lines.contains("next retry in 750.000ms (retries so far 0)"))

        let object = try Self.json(Self.view(gateway).status(json: true))
        #expect(object["ready"] as? Bool == false)
        #expect(object["missing"] as? Int == 1)
        let pending = try #require(object["pending"] as? [String: Int])
        #expect(pending == ["rules": 0, "tunnelRoutes": 0, "remoteRoutes": 1, "nexthops": 0])
        let refusal = try #require(object["lastRefusal"] as? [String: Any])
        #expect(refusal["errno"] as? Int == Int(ENETDOWN))
        #expect(refusal["name"] as? String == "ENETDOWN")
        #expect(object["nextRetryMilliseconds"] as? Int == 750)
        let examples = try #require(object["examples"] as? [[String: String]])
        #expect(examples == [["kind": "remote-route", "change": "198.19.0.0/16 table 100"]])

        let metrics = Self.exposition(gateway, droppedLogLines: 3)
        for line in [
            "tandem_ready 0.0", #"tandem_kernel_pending_changes{kind="remote-route"} 1.0"#,
            #"tandem_kernel_pending_changes{kind="rule"} 0.0"#, #"tandem_kernel_pending_changes{kind="nexthop"} 0.0"#,
            "tandem_log_lines_dropped_total 3",
        ] {
            #expect(metrics.contains(line), "missing: \(line)")
        }
    }

    @Test func onceTheObstacleIsGoneTheRetryInstallsItAndStatusSaysReady() throws {
        let fixture = GatewayFixture()
        let gateway = try Self.refused(fixture)
        fixture.clock.advance(by: .seconds(1))
        gateway.tick()
        #expect(gateway.kernelStatus.pending.attempts == 1)
        #expect(gateway.kernelStatus.nextRetryIn == 2_000_000_000)
        fixture.kernel.stopRefusing()
        fixture.clock.advance(by: .seconds(2))
        gateway.tick()
        let status = gateway.kernelStatus
        #expect(status.ready)
        #expect(status.nextRetryIn == nil)
        let lines = Self.view(gateway).status(json: false).split(separator: "\n").map(String.init)
        #expect(lines.first == "ready: userspace mode, nothing missing in the kernel")
        // What was refused stays on record.
        #expect(lines.contains { $0.hasPrefix("last refusal ENETDOWN") })
        #expect(!lines.contains { $0.hasPrefix("missing") || $0.hasPrefix("next retry") })
        let object = try Self.json(Self.view(gateway).status(json: true))
        #expect(object["ready"] as? Bool == true)
        #expect(object["missing"] as? Int == 0)
        #expect(object["nextRetryMilliseconds"] is NSNull)
        let metrics = Self.exposition(gateway)
        #expect(metrics.contains("tandem_ready 1.0"))
        #expect(metrics.contains(#"tandem_kernel_pending_changes{kind="remote-route"} 0.0"#))
    }

    @Test func tunnelRoutesAndNexthopsAreNamedByTunnelAndInterface() throws {
        let fixture = GatewayFixture()
        // Kernel mode; tunnel a2's interface refuses everything (a device not up): its table and its nexthops.
        let gwB = fixture.kernel.interfaceIndex(named: "gw-b")!
        fixture.kernel.refuse(ENETDOWN) { change in
            switch change {
            case .route(.add(let route, _)): return route.table == 102
            case .nexthop(.add(let object, _)):
                if case .device(let device, _, _) = object.kind { return device == gwB }
                return false
            default: return false
            }
        }
        let text = GatewayFixture.yaml.replacingOccurrences(of: "ingress: tnd-in", with: "mode: kernel")
        let gateway = try fixture.started(text)
        let status = gateway.kernelStatus
        #expect(!status.ready)
        #expect(status.pending.tunnelRoutes.count == 4)
        #expect(status.pending.nexthops.count == 2)
        let lines = Self.view(gateway).status(json: false).split(separator: "\n").map(String.init)
        #expect(lines.first == "not ready: 6 missing: 4 tunnel-table route(s), 2 nexthop object(s)")
        #expect(lines.contains("missing tunnel-route 0.0.0.0/0 via 198.18.2.2 dev gw-b table 102 (tunnel a2)"))
        #expect(lines.contains("missing tunnel-route 198.18.2.2/32 dev gw-b table 102 (tunnel a2)"))
        let a2 = KernelModeState.tunnelID(TunnelID(1), .ipv4)
        #expect(lines.contains("missing nexthop id \(a2) (tunnel a2, IPv4)"))
        #expect(Self.exposition(gateway).contains(#"tandem_kernel_pending_changes{kind="tunnel-route"} 4.0"#))
    }

    /// Kernel mode: a standby tunnel's nexthops refused at start stay pending until they are in; the retry used to
    /// drop them (it retried only the selected tunnels') and say ready with them missing, so a failover to the
    /// standby found no nexthop.
    @Test func aStandbyNexthopTheKernelRefusedStaysPendingUntilItIsIn() throws {
        let fixture = GatewayFixture()
        let gwB = fixture.kernel.interfaceIndex(named: "gw-b")!
        fixture.kernel.refuse(ENETDOWN, times: 4) { change in
            if case .nexthop(.add(let object, _)) = change, case .device(let device, _, _) = object.kind {
                return device == gwB
            }
            return false
        }
        let text = GatewayFixture.yaml.replacingOccurrences(of: "ingress: tnd-in", with: "mode: kernel")
        let gateway = try fixture.started(text)
        let a2 = [KernelModeState.tunnelID(TunnelID(1), .ipv4), KernelModeState.tunnelID(TunnelID(1), .ipv6)]
        #expect(gateway.kernelStatus.pending.nexthops == Set(a2))
        // The first retry is refused too (the refusal stands for 4 tries): still pending, not ready.
        fixture.clock.advance(by: .seconds(1))
        gateway.tick()
        #expect(gateway.kernelStatus.pending.nexthops == Set(a2))
        #expect(!gateway.kernelStatus.ready)
        #expect(!gateway.isReady)
        // The next one gets them in: ready, with both tunnels' nexthops in the kernel.
        fixture.clock.advance(by: .seconds(2))
        gateway.tick()
        #expect(gateway.kernelStatus.ready)
        for id in a2 { #expect(fixture.kernel.installedNexthops[id] != nil) }
    }

    @Test func showStatusIsARequestOfTheControlProtocol() throws {
        #expect(try ControlRequest(line: "show status") == ControlRequest(.status))
        #expect(try ControlRequest(line: "show status json") == ControlRequest(.status, json: true))
        #expect(ControlRequest(.status, json: true).line == "show status json")
        #expect(throws: ControlRequestError.self) { try ControlRequest(line: "show status now") }
    }

    @Test func anErrnoHasItsSymbolicName() {
        #expect(SystemError(code: EEXIST, operation: "x").codeName == "EEXIST")
        #expect(SystemError(code: 9999, operation: "x").codeName == "errno 9999")
    }
}
