import TandemPacket
@testable import TandemRouting

/// Builders for small routers in tests: connection i has tunnels "c<i>-a" (active) and, if dual, "c<i>-b".
enum TestGateway {
    static func configuration(
        connections: Int, dual: Bool = false, quota: Int = 50, routes: [Route] = [], policy: [PolicyRoute] = [],
        buckets: Int = 4096
    ) -> RouterConfiguration {
        var tunnels: [RouterConfiguration.Tunnel] = []
        var specs: [RouterConfiguration.Connection] = []
        for index in 0..<connections {
            var ids = [TunnelID(tunnels.count)]
            tunnels.append(.init(name: "c\(index)-a"))
            if dual {
                ids.append(TunnelID(tunnels.count))
                tunnels.append(.init(name: "c\(index)-b"))
            }
            specs.append(.init(name: "c\(index)", tunnels: ids))
        }
        var capacity = ForwardingPlane.Capacity()
        capacity.chains = 1 << 16
        capacity.groups = 1 << 10
        capacity.connections = 1 << 8
        return RouterConfiguration(
            tunnels: tunnels, connections: specs, bucketsPerGroup: buckets, dynamicRouteQuota: quota, routes: routes,
            policyRoutes: policy, capacity: capacity)
    }

    static func router(connections: Int, dual: Bool = false, quota: Int = 50, routes: [Route] = [],
                       policy: [PolicyRoute] = []) throws -> Router {
        try Router(configuration(connections: connections, dual: dual, quota: quota, routes: routes, policy: policy))
    }
}

func prefix(_ text: String) -> RoutePrefix { try! RoutePrefix(text) }
func v4(_ text: String) -> IPv4Address { try! IPv4Address(text) }
func v6(_ text: String) -> IPv6Address { try! IPv6Address(text) }
func c(_ index: Int) -> ConnectionID { ConnectionID(index) }

extension Router {
    /// The decision for a packet to `destination` (IPv4 or IPv6 text) from a fixed source, UDP port 53.
    func decide(_ destination: String, from source: String? = nil, protocol proto: UInt8 = 17, port: UInt16 = 53,
                hash: UInt32 = 0) -> ForwardingDecision {
        if destination.contains(":") {
            return plane.decide(
                ipv6: v6(destination), source: v6(source ?? "2001:db8:ffff::1"), protocol: proto,
                destinationPort: port, flowHash: hash)
        }
        return plane.decide(
            ipv4: v4(destination), source: v4(source ?? "198.18.255.1"), protocol: proto, destinationPort: port,
            flowHash: hash)
    }

    /// The connection a packet to `destination` goes to, or nil if it is not forwarded.
    func connection(for destination: String, from source: String? = nil, protocol proto: UInt8 = 17,
                    port: UInt16 = 53, hash: UInt32 = 0) -> Int? {
        let decision = decide(destination, from: source, protocol: proto, port: port, hash: hash)
        return decision.outcome == .forward ? decision.connection.index : nil
    }
}
