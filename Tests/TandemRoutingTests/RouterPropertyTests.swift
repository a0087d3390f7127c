import Testing
import TandemPacket
import TandemDatasets
@testable import TandemRouting

/// Random routes, random connection failures, checked after every step against a brute-force model of the rules:
/// longest live prefix, then source, then metric, then a member of the winning ECMP set that is up (weighted
/// members first, weight 0 only when no weighted member is up).
@Suite struct RouterPropertyTests {
    struct Model {
        var routes: [Route] = []
        var up: Set<Int> = []

        /// The connections the packet may take, with the source that decides; nil = no route.
        func expected(_ address: IPv4Address) -> (source: RouteSource, allowed: Set<Int>)? {
            let byPrefix = Dictionary(grouping: routes.filter { route in
                guard case .v4(let p) = route.prefix else { return false }
                return p.contains(address)
            }, by: \.prefix)
            for prefix in byPrefix.keys.sorted(by: { $0.length > $1.length }) {
                let ranked = byPrefix[prefix]!.sorted { ($0.source, $0.metric) < ($1.source, $1.metric) }
                var index = 0
                while index < ranked.count {
                    let tier = ranked[index...].prefix { $0.source == ranked[index].source && $0.metric == ranked[index].metric }
                    index += tier.count
                    let live = tier.filter { up.contains($0.connection.index) }
                    guard !live.isEmpty else { continue }
                    let weighted = live.filter { $0.weight > 0 }
                    return (tier.first!.source, Set((weighted.isEmpty ? live : weighted).map(\.connection.index)))
                }
            }
            return nil
        }
    }

    @Test(arguments: [1, 2, 3, 4])
    func randomChurnAgainstTheModel(seed: UInt64) throws {
        var random = SplitMix64(seed: seed)
        let connections = 5
        let router = try TestGateway.router(connections: connections)
        var model = Model(up: Set(0..<connections))
        // A pool of nested prefixes inside 198.18.0.0/15.
        let pool: [IPv4Prefix] = (0..<24).map { _ in
            let length = [15, 16, 20, 24, 24, 28, 32][Int(random.next() % 7)]
            let address = IPv4Address(rawValue: 0xC612_0000 | UInt32(truncatingIfNeeded: random.next()) & 0x1_0F0F)
            return IPv4Prefix(normalizing: address, length: length)
        }
        for step in 0..<400 {
            switch random.next() % 10 {
            case 0...4:
                let route = Route(
                    prefix: .v4(pool[Int(random.next() % UInt64(pool.count))]),
                    source: RouteSource.allCases[Int(random.next() % 4)], connection: c(Int(random.next() % 5)),
                    weight: [0, 50, 100][Int(random.next() % 3)], metric: [0, 10][Int(random.next() % 2)])
                try router.add(route)
                model.routes.removeAll { $0.prefix == route.prefix && $0.source == route.source && $0.connection == route.connection }
                model.routes.append(route)
            case 5...7:
                guard let victim = model.routes.randomElement(using: &random) else { continue }
                #expect(router.remove(victim.prefix, source: victim.source, connection: victim.connection))
                model.routes.removeAll { $0 == victim }
            default:
                let connection = Int(random.next() % 5)
                if model.up.contains(connection) {
                    model.up.remove(connection)
                    try router.selectTunnel(nil, for: c(connection))
                } else {
                    model.up.insert(connection)
                    try router.selectTunnel(TunnelID(connection), for: c(connection))
                }
            }
            for _ in 0..<64 {
                let address = IPv4Address(rawValue: 0xC612_0000 | UInt32(truncatingIfNeeded: random.next()) & 0x1_0F0F)
                let hash = UInt32(truncatingIfNeeded: random.next())
                let decision = router.plane.decide(
                    ipv4: address, source: v4("192.0.2.1"), protocol: 17, destinationPort: 1, flowHash: hash)
                let expected = model.expected(address)
                if let expected {
                    let ok = decision.outcome == .forward && decision.origin == .destination(expected.source)
                        && expected.allowed.contains(decision.connection.index)
                    #expect(ok, "step \(step): \(address) got \(decision), expected \(expected)")
                    if !ok { return }
                } else {
                    #expect(decision.outcome == .noRoute, "step \(step): \(address) got \(decision)")
                    if decision.outcome != .noRoute { return }
                }
            }
        }
        // Remove everything: no group or chain is left behind.
        for route in model.routes { router.remove(route.prefix, source: route.source, connection: route.connection) }
        #expect(router.groupCount == 0 && router.chainCount == 0)
        #expect(router.prefixCounts == (0, 0, 0))
    }
}
