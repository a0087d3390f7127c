import Foundation
import Testing
import TandemDataplane
import TandemDatasets
import TandemPacket
import TandemPcap
import TandemRouting

/// The replay harness end to end: a generated capture through a dual-tunnel gateway, with a what-if event.
@Suite struct ReplayTests {
    /// Connection 0: tunnels a1 (active) and a2 (standby) for 198.19.0.0/16 and 2001:db8:100::/48.
    static func gateway() throws -> ReplayGateway {
        let router = try Router(
            RouterConfiguration(
                tunnels: [.init(name: "a1"), .init(name: "a2")],
                connections: [.init(name: "to-cloud", tunnels: [TunnelID(0), TunnelID(1)])],
                routes: [
                    Route(prefix: try RoutePrefix("198.19.0.0/16"), source: .static, connection: ConnectionID(0)),
                    Route(prefix: try RoutePrefix("2001:db8:100::/48"), source: .static, connection: ConnectionID(0)),
                ]))
        let controller = try FailoverController(
            router: router, preemptDelay: { _ in .seconds(1) },
            tunnels: { _ in
                .dual(
                    active: TunnelHealthSettings(health: HealthCheckPolicy(downCount: 3, upCount: 3)),
                    standby: TunnelHealthSettings(health: HealthCheckPolicy(downCount: 3, upCount: 3)))
            }, at: .zero)
        return ReplayGateway(
            router: router, controller: controller,
            pipeline: PipelineConfiguration(
                tunnelMTUs: [1500, 1500], icmpSourceV4: try IPv4Address("198.18.0.254"),
                icmpSourceV6: try IPv6Address("2001:db8::fe")),
            tunnelNames: ["a1", "a2"], connectionNames: ["to-cloud"], loadTrace: { _ in [] })
    }

    /// Writes `count` generated packets (1 M packets/s of capture time) to `path`; some are malformed and some
    /// go to destinations the gateway has no route for.
    static func writeCapture(_ path: String, count: Int) throws {
        var profile = TrafficProfile()
        profile.flows = 500
        profile.sizes = .imix
        profile.malformedShare = 0.01
        profile.seed = 7
        let destinations = RouteTableData(
            ipv4: [try IPv4Prefix("198.19.0.0/16"), try IPv4Prefix("203.0.113.0/24")],
            ipv6: [try IPv6Prefix("2001:db8:100::/48")], origin: .file(path: "test"))
        var generator = TrafficGenerator(profile: profile, destinations: destinations)
        let writer = try PcapWriter(path: path)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: TrafficGenerator.maximumPacketLength, alignment: 8)
        defer { buffer.deallocate() }
        for _ in 0..<count {
            let (length, timestamp) = generator.writePacket(into: buffer)
            try writer.write(UnsafeRawBufferPointer(rebasing: buffer[0..<length]), timestamp: timestamp)
        }
        try writer.close()
    }

    static func events() throws -> [ReplayEvent] {
        try ReplayEvent.parse("# fail a1 half way, bring it back later\n5ms tunnel a1 down\n8ms tunnel a1 up\n", file: "events")
    }

    @Test func aWhatIfReplayTwiceGivesIdenticalFilesAndMovesTrafficAtTheEvent() throws {
        try withTemporaryDirectory { directory in
            let capture = directory + "/in.pcap"
            try Self.writeCapture(capture, count: 10_000)
            var reports: [ReplayReport] = []
            for run in ["one", "two"] {
                let out = directory + "/" + run
                try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
                let replayer = Replayer(
                    settings: ReplaySettings(capture: capture, outputDirectory: out, events: try Self.events()),
                    gateway: try Self.gateway())
                reports.append(try replayer.run())
            }
            for file in ["a1.pcap", "a2.pcap", "icmp-errors.pcap", "drops.pcap", "drops.txt"] {
                let one = try Data(contentsOf: URL(fileURLWithPath: directory + "/one/" + file))
                let two = try Data(contentsOf: URL(fileURLWithPath: directory + "/two/" + file))
                #expect(one == two, "\(file) differs between two runs of the same replay")
                #expect(!one.isEmpty)
            }
            let report = reports[0]
            // Packets whose first nibble is no IP version are not IP to the capture reader; the rest enter.
            #expect(report.counters.received.packets + report.notIP == 10_000)
            // Phases: until 5 ms on a1; from 5 ms on a2; after the recovery at 8 ms still on a2 for the 1 s preempt
            // delay (longer than the capture).
            #expect(report.phases.count >= 2)
            let first = try #require(report.phases.first)
            #expect(first.perTunnel[0] > 0 && first.perTunnel[1] == 0)
            #expect(first.start == report.firstTimestamp && first.end == report.firstTimestamp + 5_000_000)
            for phase in report.phases.dropFirst() { #expect(phase.perTunnel[0] == 0 && phase.perTunnel[1] > 0) }
            #expect(report.counters.drops(.noRoute) > 0 && report.counters.icmpSent > 0)
            #expect(report.counters.totalDrops > report.counters.drops(.noRoute), "malformed packets are dropped too")
            let forwarded = report.counters.perTunnel.reduce(0) { $0 + $1.packets }
            #expect(forwarded + report.counters.totalDrops == report.counters.received.packets)
            #expect(report.log.contains { $0.contains("tunnel a1 down") })
            // The drops side file has one line per dropped packet.
            let reasons = try String(contentsOfFile: directory + "/one/drops.txt", encoding: .utf8)
            #expect(reasons.split(separator: "\n").count == report.counters.totalDrops)
            // The JSON report is one object with the same counts.
            #expect(report.json.hasPrefix("{\"packets\":\(report.counters.received.packets),"))
        }
    }

    @Test(
        .enabled(
            if: Tshark.path != nil,
            "tshark is not installed: DEBIAN_FRONTEND=noninteractive apt-get install -y tshark (tools/test does)"))
    func tsharkFindsEveryChecksumInTheOutputGood() throws {
        try withTemporaryDirectory { directory in
            let capture = directory + "/in.pcap"
            try Self.writeCapture(capture, count: 2_000)
            let replayer = Replayer(
                settings: ReplaySettings(capture: capture, outputDirectory: directory), gateway: try Self.gateway())
            _ = try replayer.run()
            let checks = [
                "-o", "ip.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE", "-o", "tcp.check_checksum:TRUE",
            ]
            // Wireshark's checksum status per packet and layer: 1 = good, 0 = bad, 2 = not checked. (Its full
            // dissection also decodes the generated payloads as DNS or ISAKMP and calls those malformed; that
            // is the payload, not Tandem's doing, so the check reads the IP and transport layers only.)
            let fields = [
                "ip.checksum.status", "udp.checksum.status", "tcp.checksum.status", "icmp.checksum.status",
                "icmpv6.checksum.status",
            ]
            for file in ["a1.pcap", "icmp-errors.pcap"] {
                let run = try Tshark.run(
                    ["-n", "-r", directory + "/" + file] + checks + ["-T", "fields"] + fields.flatMap { ["-e", $0] })
                #expect(run.status == 0 && Tshark.unexpectedErrors(run.errors).isEmpty, "\(file): \(run.errors)")
                let rows = run.output.split(separator: "\n").map {
                    $0.split(separator: "\t", omittingEmptySubsequences: false).map { $0.split(separator: ",") }
                }
                #expect(rows.count >= 20, "\(file): tshark read too few packets")
                for row in rows {
                    // Forwarded packets: every layer good. ICMP errors: the outer IP header and the ICMP message
                    // (the first value of each); the packet they quote is cut at 576 or 1280 bytes, and tshark
                    // cannot check a cut transport header.
                    let checked = file == "icmp-errors.pcap" ? row.map { Array($0.prefix(1)) }.enumerated()
                        .filter { [0, 3, 4].contains($0.offset) }.map(\.element) : row
                    #expect(checked.joined().allSatisfy { $0 == "1" }, "\(file): a checksum tshark did not find good: \(row)")
                    #expect(!checked.joined().isEmpty)
                }
            }
        }
    }

    @Test func eventFilesAreCheckedLineByLine() {
        #expect(throws: ReplayEventError(file: "ev", line: 2, message: "unknown event 'tunel'; events are tunnel, route and trace")) {
            try ReplayEvent.parse("1s tunnel a1 down\n2s tunel a1 up\n", file: "ev")
        }
        #expect(throws: ReplayEventError(file: "ev", line: 1, message: "'2.5' is not a time; write it like 2.5s, 250ms or 0s (after the first packet)")) {
            try ReplayEvent.parse("2.5 tunnel a1 down", file: "ev")
        }
        let events = try? ReplayEvent.parse(
            "3s route add 198.19.0.0/16 via c1 source dynamic metric 5\n1s route withdraw 2001:db8::/32 via c2\n", file: "ev")
        #expect(events?.map(\.offset) == [1_000_000_000, 3_000_000_000], "sorted by time")
    }

    @Test func aTimeBeyondWhat64BitsOfNanosecondsHoldIsAnErrorNotATrap() {
        // Found by the TextLines fuzz target (Fuzz/Corpus/TextLines/crash-duration-beyond-uint64): "2e30s" trapped
        // converting 2e39 ns to UInt64.
        #expect(throws: ReplayEventError(file: "ev", line: 1, message: "'1e11s' is not a time; write it like 2.5s, 250ms or 0s (after the first packet)")) {
            try ReplayEvent.parse("1e11s tunnel a1 down", file: "ev")
        }
        #expect(throws: ReplayEventError.self) { try ReplayEvent.parse("2e30s tunnel a1 down\n", file: "ev") }
        let latest = try? ReplayEvent.parse("18446744073s tunnel a1 down", file: "ev")
        #expect((latest?.first?.offset ?? 0) > 18_446_744_000_000_000_000, "the last whole second 64 bits hold")
    }
}

extension ReplayTests {
    @Test func eventsNamingUnknownTunnelsAreRefusedBeforeTheReplay() throws {
        try withTemporaryDirectory { directory in
            let capture = directory + "/in.pcap"
            try Self.writeCapture(capture, count: 10)
            let events = try ReplayEvent.parse("1ms tunnel b9 down\n", file: "ev")
            let replayer = Replayer(settings: ReplaySettings(capture: capture, events: events), gateway: try Self.gateway())
            #expect(throws: ReplayError.self) { try replayer.run() }
        }
    }

    @Test func routeEventsChangeWhereTrafficGoesAtTheirTime() throws {
        try withTemporaryDirectory { directory in
            let capture = directory + "/in.pcap"
            try Self.writeCapture(capture, count: 10_000)
            // At 4 ms the /16 is withdrawn: its packets become unroutable from then on.
            let events = try ReplayEvent.parse("4ms route withdraw 198.19.0.0/16 via to-cloud\n", file: "ev")
            let report = try Replayer(
                settings: ReplaySettings(capture: capture, events: events), gateway: try Self.gateway()
            ).run()
            #expect(report.phases.count == 2)
            #expect(report.phases[0].perTunnel[0] > report.phases[1].perTunnel[0], "after the withdraw only IPv6 is forwarded")
            #expect(report.counters.drops(.noRoute) > 3000)
        }
    }
}
