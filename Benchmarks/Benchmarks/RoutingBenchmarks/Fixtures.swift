// A gateway with the full table: four dual-tunnel connections; every prefix learned (dynamic) through all four
// (one ECMP group), /16s also static through connection 0, a static default through connection 1.

import TandemDatasets
import TandemPacket
import TandemRouting

/// The full table (the shared file if found, else the synthetic one), read once per process.
let routeTable: RouteTableData = {
    do {
        let data = try RouteTableData.loadOrSynthesize()
        print("RoutingBenchmarks: route table \(data.origin): \(data.ipv4.count) IPv4 + \(data.ipv6.count) IPv6")
        return data
    } catch {
        fatalError("RoutingBenchmarks: cannot read the route table: \(error)")
    }
}()

let connectionCount = 4

/// The gateway's configuration, with or without the full table.
func gatewayConfiguration(fullTable: Bool, policyRoutes: [PolicyRoute] = []) -> RouterConfiguration {
    var tunnels: [RouterConfiguration.Tunnel] = []
    var connections: [RouterConfiguration.Connection] = []
    for index in 0..<connectionCount {
        tunnels += [.init(name: "c\(index)-active"), .init(name: "c\(index)-standby")]
        connections.append(.init(name: "c\(index)", tunnels: [TunnelID(2 * index), TunnelID(2 * index + 1)]))
    }
    var routes: [Route] = []
    if fullTable {
        for connection in 0..<connectionCount {
            routes += routeTable.ipv4.map { Route(prefix: .v4($0), source: .dynamic, connection: ConnectionID(connection)) }
            routes += routeTable.ipv6.map { Route(prefix: .v6($0), source: .dynamic, connection: ConnectionID(connection)) }
        }
        routes += routeTable.ipv4.filter { $0.length == 16 }.map {
            Route(prefix: .v4($0), source: .static, connection: ConnectionID(0))
        }
    } else {
        for connection in 0..<connectionCount {
            routes.append(Route(prefix: .v4(try! IPv4Prefix("198.19.0.0/16")), source: .dynamic, connection: ConnectionID(connection)))
        }
    }
    routes.append(Route(prefix: .v4(try! IPv4Prefix("0.0.0.0/0")), source: .static, connection: ConnectionID(1)))
    return RouterConfiguration(
        tunnels: tunnels, connections: connections, routes: routes, policyRoutes: policyRoutes)
}

func makeRouter(fullTable: Bool, policyRoutes: [PolicyRoute] = []) -> Router {
    do {
        return try Router(gatewayConfiguration(fullTable: fullTable, policyRoutes: policyRoutes))
    } catch {
        fatalError("RoutingBenchmarks: \(error)")
    }
}
