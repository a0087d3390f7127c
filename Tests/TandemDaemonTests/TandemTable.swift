import TandemDatasets
import TandemLinux
import TandemPacket

/// A kernel table as the kernel looks it up: the longest route that holds an address. Tandem's table is aggregated
/// (AggregatedTable), so tests ask where a prefix's addresses go rather than for a route of that prefix.
struct TandemTable: Equatable, CustomStringConvertible {
    let routes: [RoutePrefix: KernelRoute]

    var count: Int { routes.count }
    var isEmpty: Bool { routes.isEmpty }
    var values: Dictionary<RoutePrefix, KernelRoute>.Values { routes.values }
    var description: String { "\(routes.values.sorted { $0.prefix < $1.prefix })" }

    /// The longest route that holds `address` (a host prefix).
    func route(for address: RoutePrefix) -> KernelRoute? {
        for length in stride(from: address.length, through: 0, by: -1) {
            let candidate: RoutePrefix =
                switch address {
                case .v4(let a): .v4(IPv4Prefix(normalizing: a.address, length: length))
                case .v6(let a): .v6(IPv6Prefix(normalizing: a.address, length: length))
                }
            if let route = routes[candidate] { return route }
        }
        return nil
    }

    /// The route that carries `prefix`'s first address, if one of the same target carries its last.
    subscript(_ text: String) -> KernelRoute? {
        let edges = AddressSamples.edges(of: try! RoutePrefix(text))
        guard let first = route(for: edges[0]), let last = route(for: edges[1]), first.target == last.target
        else { return nil }
        return first
    }
}
