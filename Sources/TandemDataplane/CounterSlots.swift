// The pipeline's counters as it updates them: plain integers in one flat allocation. A struct of arrays inside
// a class would cost an exclusivity check and a uniqueness check per increment; these are single loads and
// stores. ``PipelineCounters`` is the snapshot the owner reads.

/// Flat counter storage with fixed offsets; owned by one pipeline (one thread).
struct CounterSlots {
    let tunnels: Int
    let base: UnsafeMutablePointer<Int>
    let count: Int

    // Offsets.
    static let received = 0  // packets, bytes
    let perTunnel: Int  // packets, bytes per tunnel
    let perOrigin: Int  // packets, bytes per origin (5)
    let drops: Int  // DropCounter.count
    let icmpSent: Int
    let icmpRateLimited: Int
    let fragmented: Int
    let fragmentsMade: Int

    init(tunnels: Int) {
        self.tunnels = tunnels
        perTunnel = 2
        perOrigin = perTunnel + 2 * tunnels
        drops = perOrigin + 2 * 5
        icmpSent = drops + DropCounter.count
        icmpRateLimited = icmpSent + 1
        fragmented = icmpSent + 2
        fragmentsMade = icmpSent + 3
        count = icmpSent + 4
        base = .allocate(capacity: count)
        base.initialize(repeating: 0, count: count)
    }

    func deallocate() { base.deallocate() }

    @inline(__always) func add(_ offset: Int, _ value: Int = 1) { base[offset] &+= value }

    @inline(__always) func addTraffic(_ offset: Int, bytes: Int) {
        base[offset] &+= 1
        base[offset &+ 1] &+= bytes
    }

    /// The counters as a value.
    var snapshot: PipelineCounters {
        var counters = PipelineCounters(tunnels: tunnels)
        func traffic(_ offset: Int) -> TrafficCount {
            var count = TrafficCount()
            count.packets = base[offset]
            count.bytes = base[offset + 1]
            return count
        }
        counters.received = traffic(Self.received)
        for tunnel in 0..<tunnels { counters.perTunnel[tunnel] = traffic(perTunnel + 2 * tunnel) }
        for origin in 0..<5 { counters.perOrigin[origin] = traffic(perOrigin + 2 * origin) }
        for reason in 0..<DropCounter.count { counters.drops[reason] = base[drops + reason] }
        counters.icmpSent = base[icmpSent]
        counters.icmpRateLimited = base[icmpRateLimited]
        counters.fragmented = base[fragmented]
        counters.fragmentsMade = base[fragmentsMade]
        return counters
    }
}
