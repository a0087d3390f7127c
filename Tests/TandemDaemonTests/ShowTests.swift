import Foundation
import Synchronization
import TandemConfig
import TandemControl
import TandemDataplane
import TandemJSON
import TandemLinux
import TandemPacket
import TandemRouting
import Testing

@testable import TandemDaemon

/// `tandem show` and `tandem lookup`: the answers, built from a router in memory (no root needed).
@Suite("show")
struct ShowTests {
    static let yaml = """
        gateway: {name: gw, ingress: tnd-in}
        tunnels:
          - {name: a1, device: tnd-a1, interface: gw-a, zone: z1, peer: 198.18.1.2}
          - {name: a2, device: tnd-a2, interface: gw-b, zone: z2, peer: 198.18.2.2}
          - {name: b1, device: tnd-b1, zone: z1, peer: 198.18.3.2}
          - {name: c1, device: tnd-c1, peer: 198.18.4.2}
        connections:
          - {name: to-cloud, tunnels: [a1, a2]}
          - {name: backup, tunnels: [b1]}
          - {name: spare, tunnels: [c1]}
        routes:
          - {prefix: 198.19.0.0/16, connection: to-cloud}
          - {prefix: 198.19.0.0/16, connection: backup, metric: 10}
          - {prefix: 198.19.0.0/16, connection: spare, weight: 0}
          - {prefix: 198.19.5.0/24, connection: backup, source: specific}
          - {prefix: 2001:db8:100::/48, connection: to-cloud}
        policy-routes:
          - {source: 198.18.0.0/24, destination: 198.20.0.0/24, protocol: tcp, destination-ports: 443, priority: 2, connection: backup}
        """

    static func view(_ text: String = yaml) throws -> GatewayView {
        let config = try GatewayConfig.parse(yaml: text, file: "gw.yaml")
        let (router, controller) = try config.makeRouter(at: MonotonicInstant(nanoseconds: 0))
        var figures = ProbeStatistics()
        figures.sent = 10
        figures.answered = 8
        figures.lost = 2
        figures.lastRTT = .microseconds(1250)
        figures.rttSum = .microseconds(16_000)
        return GatewayView(
            config: config, router: router, controller: controller, probes: { $0 == 0 ? figures : ProbeStatistics() },
            counters: nil)
    }

    static func route(_ source: RouteSource, _ connection: Int, metric: UInt32 = 0, weight: UInt8 = 100) -> Route {
        Route(prefix: try! RoutePrefix("198.19.0.0/16"), source: source, connection: ConnectionID(connection), weight: weight, metric: metric)
    }

    // MARK: Why a candidate lost

    @Test func theBestSetWinsAndTheOthersSayWhyTheyLost() {
        let routes = [Self.route(.static, 0), Self.route(.static, 1, metric: 10), Self.route(.dynamic, 2)]
        let statuses = GatewayView.explain(routes, isUp: { _ in true }, name: { "c\($0.rawValue)" })
        #expect(statuses.map(\.text) == ["selected", "lost: metric 10 > 0", "lost: static beats dynamic"])
    }

    @Test func aDownConnectionHandsOverToTheNextCandidate() {
        let routes = [Self.route(.static, 0), Self.route(.static, 1, metric: 10), Self.route(.dynamic, 2)]
        let statuses = GatewayView.explain(routes, isUp: { $0 != ConnectionID(0) }, name: { "c\($0.rawValue)" })
        #expect(
            statuses.map(\.text) == [
                "down: connection c0 has no tunnel up", "selected", "lost: static beats dynamic",
            ])
    }

    @Test func weightZeroStandsByUntilTheWeightedPathsAreDown() {
        let routes = [Self.route(.static, 0), Self.route(.static, 1, weight: 0)]
        let both = GatewayView.explain(routes, isUp: { _ in true }, name: { "c\($0.rawValue)" })
        #expect(both.map(\.text) == ["selected", "standby: weight 0"])
        let standbyOnly = GatewayView.explain(routes, isUp: { $0 == ConnectionID(1) }, name: { "c\($0.rawValue)" })
        #expect(standbyOnly.map(\.text) == ["down: connection c0 has no tunnel up", "selected"])
        let none = GatewayView.explain(routes, isUp: { _ in false }, name: { "c\($0.rawValue)" })
        #expect(none.allSatisfy { $0.state == .down })
    }

    // MARK: Text answers

    @Test func showRoutesListsPolicyRoutesThenPrefixesInOrder() throws {
        let text = try Self.view().answer(ControlRequest(.routes(prefix: nil, limit: nil))).collect()
        #expect(
            text == """
                policy from 198.18.0.0/24 to 198.20.0.0/24 proto 6 dport 443-443 priority 2 via backup weight 100 selected tunnel b1
                198.19.0.0/16 source static priority 2 metric 0 via to-cloud weight 100 selected tunnel a1
                198.19.0.0/16 source static priority 2 metric 0 via spare weight 0 standby: weight 0
                198.19.0.0/16 source static priority 2 metric 10 via backup weight 100 lost: metric 10 > 0
                198.19.5.0/24 source specific priority 0 metric 0 via backup weight 100 selected tunnel b1
                2001:db8:100::/48 source static priority 2 metric 0 via to-cloud weight 100 selected tunnel a1

                """)
    }

    @Test func showRoutesFollowsFailover() throws {
        var view = try Self.view()
        // Both tunnels of to-cloud fail: its routes are down, backup (metric 10) loses to nothing any more...
        // no: the standby path (spare, weight 0) is in the winning set and takes over first.
        _ = try view.controller!.force(TunnelID(0), to: .down, at: MonotonicInstant(nanoseconds: 1), router: view.router)
        var text = view.answer(ControlRequest(.routes(prefix: try RoutePrefix("198.19.0.0/16"), limit: nil))).collect()
        // The standby tunnel a2 carries to-cloud now.
        #expect(text.contains("via to-cloud weight 100 selected tunnel a2"))
        _ = try view.controller!.force(TunnelID(1), to: .down, at: MonotonicInstant(nanoseconds: 2), router: view.router)
        text = view.answer(ControlRequest(.routes(prefix: try RoutePrefix("198.19.0.0/16"), limit: nil))).collect()
        #expect(
            text == """
                198.19.0.0/16 source static priority 2 metric 0 via to-cloud weight 100 down: connection to-cloud has no tunnel up
                198.19.0.0/16 source static priority 2 metric 0 via spare weight 0 selected tunnel c1
                198.19.0.0/16 source static priority 2 metric 10 via backup weight 100 lost: metric 10 > 0

                """)
        let connections = view.answer(ControlRequest(.connections)).collect()
        #expect(connections.hasPrefix("to-cloud down tunnels a1 active down, a2 standby down\n"))
    }

    @Test func showRoutesOfAnAddressShowsTheCoveringPrefix() throws {
        let view = try Self.view()
        let text = view.answer(ControlRequest(.routes(prefix: try ControlRequest.prefix("198.19.7.1"), limit: nil)))
            .collect()
        #expect(text.hasPrefix("# 198.19.7.1/32 is covered by 198.19.0.0/16\n198.19.0.0/16 source static"))
        let none = view.answer(ControlRequest(.routes(prefix: try RoutePrefix("203.0.113.0/24"), limit: nil))).collect()
        #expect(none == "# no route in the RIB covers 203.0.113.0/24\n")
    }

    @Test func showRoutesStreamsInChunksAndHonoursTheLimit() throws {
        let view = try Self.view()
        for index in 0..<1500 {
            let prefix = RoutePrefix.v4(IPv4Prefix(normalizing: IPv4Address(rawValue: 0xC612_0000 + UInt32(index) << 8), length: 24))
            _ = try view.router.add(Route(prefix: prefix, source: .static, connection: ConnectionID(1)))
        }
        let answer = view.answer(ControlRequest(.routes(prefix: nil, limit: nil)))
        var chunks = 0
        var sortingParts = 0
        var buffer: [UInt8] = []
        var size = 0
        while answer.next(into: &buffer) {
            if buffer.count == size { sortingParts += 1 } else { chunks += 1 }
            size = buffer.count
        }
        #expect(sortingParts == 2)  // one run of IPv4 prefixes, one of IPv6, each sorted in a part of its own
        #expect(chunks == 3)  // 1502 prefixes (198.19.5.0/24 was there), 512 per chunk
        let lines = String(decoding: buffer, as: UTF8.self).split(separator: "\n")
        #expect(lines.count == 1 + 1500 + 5)
        let limited = view.answer(ControlRequest(.routes(prefix: nil, limit: 10))).collect().split(separator: "\n")
        #expect(limited.count == 1 + 10 + 1)
        #expect(limited.last == "# 10 of 1502 prefixes shown")
    }

    @Test func showRoutesOfALargeTableSortsARunPerPartAndListsInOrder() throws {
        let view = try Self.view()
        var generator = SystemRandomNumberGenerator()
        var added: Set<UInt32> = []
        while added.count < 100_000 {
            let address = UInt32.random(in: 0x0100_0000...0xDF00_0000, using: &generator) & 0xFFFF_FF00
            guard added.insert(address).inserted else { continue }
            let prefix = RoutePrefix.v4(IPv4Prefix(normalizing: IPv4Address(rawValue: address), length: 24))
            try? view.router.add(Route(prefix: prefix, source: .static, connection: ConnectionID(1)))
        }
        let answer = view.answer(ControlRequest(.routes(prefix: nil, limit: nil)))
        var buffer: [UInt8] = []
        var emptyParts = 0
        var size = 0
        while answer.next(into: &buffer) {
            if buffer.count == size { emptyParts += 1 }
            size = buffer.count
        }
        let runs4 = (view.router.ribPrefixes().ipv4.count + SlicedSort<Int>.runLength - 1) / SlicedSort<Int>.runLength
        #expect(emptyParts == runs4 + 1)
        let prefixes = String(decoding: buffer, as: UTF8.self).split(separator: "\n")
            .filter { !$0.hasPrefix("policy") }.map { String($0.prefix { $0 != " " }) }
        let unique = prefixes.reduce(into: [String]()) { if $0.last != $1 { $0.append($1) } }
        let expected = view.router.ribPrefixes().ipv4.sorted { ($0.address.rawValue, $0.length) < ($1.address.rawValue, $1.length) }
            .map(\.description) + view.router.ribPrefixes().ipv6.map(\.description)
        #expect(unique == expected)
    }

    @Test func slicedSortMergesItsRunsInOrder() {
        for count in [0, 1, SlicedSort<Int>.runLength, 3 * SlicedSort<Int>.runLength + 17] {
            let values = (0..<count).map { _ in Int.random(in: -1000...1000) }
            var sort = SlicedSort(values, by: <)
            var steps = 0
            while !sort.isSorted {
                sort.sortNextRun()
                steps += 1
            }
            #expect(steps == (count + SlicedSort<Int>.runLength - 1) / SlicedSort<Int>.runLength)
            var merged: [Int] = []
            while let value = sort.next() { merged.append(value) }
            #expect(merged == values.sorted())
        }
    }

    @Test func showGroupsConnectionsTunnels() throws {
        let view = try Self.view()
        let groups = view.answer(ControlRequest(.groups)).collect()
        #expect(groups.contains("live members to-cloud weight 100 up"))
        #expect(groups.contains("members to-cloud weight 100 up, spare weight 0 up chains 1"))
        let connections = view.answer(ControlRequest(.connections)).collect()
        #expect(
            connections == """
                to-cloud up tunnels a1 active up carrying, a2 standby up
                backup up tunnels b1 active up carrying
                spare up tunnels c1 active up carrying

                """)
        let tunnels = view.answer(ControlRequest(.tunnels)).collect().split(separator: "\n")
        #expect(tunnels[0] == "a1 device tnd-a1 interface gw-a zone z1 connection to-cloud active up carrying probes none")
        #expect(tunnels[3] == "c1 device tnd-c1 interface - zone - connection spare active up carrying probes none")
        let counters = view.answer(ControlRequest(.counters)).collect()
        #expect(counters.hasPrefix("# no pipeline counters"))
    }

    @Test func tunnelsShowProbeFiguresWhenHealthChecked() throws {
        let yaml = Self.yaml.replacingOccurrences(
            of: "zone: z1, peer: 198.18.1.2}",
            with: "zone: z1, peer: 198.18.1.2, health-check: {source: 198.18.0.1, destination: 198.18.1.2}}")
        let line = try Self.view(yaml).answer(ControlRequest(.tunnels)).collect().split(separator: "\n")[0]
        #expect(line.hasSuffix("probes sent 10 answered 8 lost 2 late 0 rtt last 1.250ms mean 2.000ms"))
    }

    @Test func countersOfAPipeline() throws {
        var view = try Self.view()
        var totals = ForwarderTotals()
        totals.pipeline = .init(tunnels: 4)
        totals.pipeline.received.add(bytes: 100)
        totals.pipeline.perTunnel[1].add(bytes: 100)
        totals.pipeline.drops[DropCounter.index(.noRoute)] = 3
        totals.failedWrites = 2
        view.counters = totals
        let text = view.answer(ControlRequest(.counters)).collect()
        #expect(text.contains("received packets 1 bytes 100\ntunnel a1 packets 0 bytes 0\ntunnel a2 packets 1 bytes 100\n"))
        #expect(text.contains("drop no-route 3\ndrops total 3\n"))
        #expect(text.contains("writes failed 2 "))
        let json = try Self.json(view.answer(ControlRequest(.counters, json: true)).collect())
        #expect((json["drops"] as? [String: Any])?["no-route"] as? Int == 3)
        #expect(((json["tunnels"] as? [String: Any])?["a2"] as? [String: Any])?["bytes"] as? Int == 100)
    }

    // MARK: JSON

    static func json(_ text: String) throws -> [String: Any] {
        let object = try JSONSerialization.jsonObject(with: Data(text.utf8))
        return try #require(object as? [String: Any])
    }

    @Test func jsonAnswersAreValidWithStableKeys() throws {
        let view = try Self.view()
        let routes = try Self.json(view.answer(ControlRequest(.routes(prefix: nil, limit: nil), json: true)).collect())
        let list = try #require(routes["routes"] as? [[String: Any]])
        #expect(list.count == 5)
        #expect(routes["prefixes"] as? Int == 3)
        #expect(routes["truncated"] as? Bool == false)
        #expect(list[2]["state"] as? String == "lost")
        #expect(list[2]["reason"] as? String == "metric 10 > 0")
        #expect(list[0]["tunnel"] as? String == "a1")
        #expect(
            Set(list[0].keys) == [
                "prefix", "source", "priority", "metric", "connection", "weight", "state", "reason", "tunnel",
                "learnedVia", "pinnedTo", "overlaps",
            ])
        #expect((routes["policyRoutes"] as? [[String: Any]])?.first?["destinationPorts"] as? String == "443-443")
        for query in [ControlRequest.Query.groups, .connections, .tunnels, .counters, .routes(prefix: try RoutePrefix("198.19.5.0/24"), limit: nil)] {
            _ = try Self.json(view.answer(ControlRequest(query, json: true)).collect())
        }
        #expect(JSONObject.quote("a\"b\\c\n\u{1}") == #""a\"b\\c\n\u0001""#)
    }

    // MARK: Lookup

    @Test func lookupFollowsTheForwardingPlane() throws {
        let view = try Self.view()
        let flow = ControlRequest.Flow(destination: "198.19.5.9", source: "198.18.0.7", protocol: 6, destinationPort: 80)
        #expect(
            try view.lookup(flow, json: false).hasPrefix(
                "198.19.5.9 from 198.18.0.7 proto 6 dport 80: forward route 198.19.5.0/24 specific group"))
        #expect(try view.lookup(flow, json: false).contains("connection backup tunnel b1 device tnd-b1 hash 0x"))
        let policy = ControlRequest.Flow(destination: "198.20.0.9", source: "198.18.0.7", protocol: 6, destinationPort: 443)
        let text = try view.lookup(policy, json: false)
        #expect(text.contains(": forward policy from 198.18.0.0/24 to 198.20.0.0/24 priority 2 group"))
        #expect(text.contains("connection backup tunnel b1"))
        let json = try Self.json(try view.lookup(ControlRequest.Flow(destination: "2001:db8:100::1"), json: true))
        #expect(json["tunnel"] as? String == "a1")
        #expect(json["route"] as? String == "2001:db8:100::/48")
        #expect(json["origin"] as? String == "static")
        let none = try Self.json(try view.lookup(ControlRequest.Flow(destination: "203.0.113.1"), json: true))
        #expect(none["outcome"] as? String == "no-route")
        #expect(throws: ControlRequestError.self) {
            try view.lookup(ControlRequest.Flow(destination: "198.19.0.1", source: "2001:db8::1"), json: false)
        }
    }
}
