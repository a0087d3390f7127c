// The paths of one learned prefix. A routing daemon that runs BGP over several connections (BIRD with `merge
// paths`, FRR with `maximum-paths`) installs one multipath route whose hops lead through the tunnels of several
// connections; Tandem learns it as one dynamic route per connection, and the RIB spreads the prefix over them by
// the connections' weights, like static ECMP. This is the record of which tunnel each of those routes came through.

/// The tunnels a learned prefix was learned through: one per connection (the first of the route's hops that leads
/// into that connection), in the order of the route's hops.
///
/// A full table is a million prefixes with one path each: the first path is held inline (a tunnel name is a short
/// string, stored without an allocation), so only multipath prefixes pay for an array.
struct LearnedPaths: Hashable, Sendable {
    private var first: String
    private var others: [String]

    /// The paths; at least one.
    init(_ tunnels: [String]) {
        precondition(!tunnels.isEmpty, "a learned prefix has at least one path")
        first = tunnels[0]
        others = Array(tunnels.dropFirst())
    }

    /// One path.
    init(_ tunnel: String) {
        first = tunnel
        others = []
    }

    /// The tunnels, in the order of the route's hops.
    var tunnels: [String] { [first] + others }

    /// How many connections the prefix spreads over.
    var count: Int { 1 + others.count }

    /// Whether the prefix was learned through this tunnel.
    func contains(_ tunnel: String) -> Bool { first == tunnel || others.contains(tunnel) }

    /// "a1" or "a1, b1".
    var description: String { tunnels.joined(separator: ", ") }
}
