// Learned routes the dynamic-route quota (limits.dynamic-routes) had no room for. The gateway this models keeps
// them waiting rather than dropping them: when learned routes are withdrawn (or a reload raises the quota), the
// waiting ones are taken in the order they came, without a resync. A waiting route that the routing daemon
// withdraws stops waiting; one it announces again through another tunnel keeps its place.

import TandemPacket

/// Prefixes waiting for room under the quota, each with the tunnel it was learned through, in arrival order.
struct PendingLearnedRoutes {
    /// Each waiting prefix: its tunnel and its ticket (its place in ``order``).
    private var waiting: [RoutePrefix: (tunnel: String, ticket: UInt64)] = [:]
    /// Arrival order. An entry whose ticket no longer matches ``waiting`` is stale (withdrawn, or withdrawn and
    /// added again later) and skipped.
    private var order: [(prefix: RoutePrefix, ticket: UInt64)] = []
    private var head = 0
    private var nextTicket: UInt64 = 0

    /// How many routes wait.
    var count: Int { waiting.count }
    var isEmpty: Bool { waiting.isEmpty }

    /// The tunnel a waiting prefix was learned through.
    func tunnel(of prefix: RoutePrefix) -> String? { waiting[prefix]?.tunnel }

    /// Puts a refused route at the end of the queue, or (if it waits already) notes its new tunnel and keeps its
    /// place. True if it was not waiting.
    @discardableResult
    mutating func add(_ prefix: RoutePrefix, tunnel: String) -> Bool {
        if let entry = waiting[prefix] {
            waiting[prefix] = (tunnel, entry.ticket)
            return false
        }
        waiting[prefix] = (tunnel, nextTicket)
        order.append((prefix, nextTicket))
        nextTicket += 1
        // Churn (a prefix withdrawn and announced again, over and over, while the quota stays full) leaves stale
        // entries behind: the queue is rebuilt once they outnumber the waiting routes.
        if order.count - head > 2 * waiting.count + 1024 {
            order = order[head...].filter { waiting[$0.prefix]?.ticket == $0.ticket }
            head = 0
        }
        return true
    }

    /// Stops a prefix waiting; true if it was.
    @discardableResult
    mutating func remove(_ prefix: RoutePrefix) -> Bool { waiting.removeValue(forKey: prefix) != nil }

    /// The route that has waited longest, taken out of the queue.
    mutating func removeFirst() -> (prefix: RoutePrefix, tunnel: String)? {
        while head < order.count {
            let (prefix, ticket) = order[head]
            head += 1
            guard let entry = waiting[prefix], entry.ticket == ticket else { continue }
            waiting[prefix] = nil
            compact()
            return (prefix, entry.tunnel)
        }
        order.removeAll(keepingCapacity: true)
        head = 0
        return nil
    }

    /// Every waiting route, longest-waiting first.
    var inOrder: [(prefix: RoutePrefix, tunnel: String)] {
        order[head...].compactMap { prefix, ticket in
            guard let entry = waiting[prefix], entry.ticket == ticket else { return nil }
            return (prefix, entry.tunnel)
        }
    }

    /// Drops the consumed front of ``order`` once it is most of the array (amortised O(1) per removal).
    private mutating func compact() {
        guard head >= 1024, head * 2 >= order.count else { return }
        order.removeFirst(head)
        head = 0
    }
}
