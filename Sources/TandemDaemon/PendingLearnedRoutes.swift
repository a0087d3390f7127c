// Learned routes the dynamic-route quota (limits.dynamic-routes) had no room for. The gateway this models keeps
// them waiting rather than dropping them: when learned routes are withdrawn (or a reload raises the quota), the
// waiting ones are taken in the order they came, without a resync. A waiting route that the routing daemon
// withdraws stops waiting; one it announces again through another tunnel of the same connection keeps its place.
// A multipath prefix is one route per connection, and each waits on its own (a prefix may be learned through one
// connection and wait for room through another).

import TandemPacket

/// Learned routes waiting for room under the quota, each a prefix through one connection with the tunnel it was
/// learned through, in arrival order.
struct PendingLearnedRoutes {
    /// A waiting route: a prefix through a connection (by name).
    struct Key: Hashable {
        var prefix: RoutePrefix
        var connection: String
    }

    /// Each waiting route: its tunnel and its ticket (its place in ``order``).
    private var waiting: [Key: (tunnel: String, ticket: UInt64)] = [:]
    /// Arrival order. An entry whose ticket no longer matches ``waiting`` is stale (withdrawn, or withdrawn and
    /// added again later) and skipped.
    private var order: [(key: Key, ticket: UInt64)] = []
    private var head = 0
    private var nextTicket: UInt64 = 0

    /// How many routes wait.
    var count: Int { waiting.count }
    var isEmpty: Bool { waiting.isEmpty }

    /// Puts a refused route at the end of the queue, or (if it waits already) notes its new tunnel and keeps its
    /// place. True if it was not waiting.
    @discardableResult
    mutating func add(_ prefix: RoutePrefix, connection: String, tunnel: String) -> Bool {
        let key = Key(prefix: prefix, connection: connection)
        if let entry = waiting[key] {
            waiting[key] = (tunnel, entry.ticket)
            return false
        }
        waiting[key] = (tunnel, nextTicket)
        order.append((key, nextTicket))
        nextTicket += 1
        // Churn (a prefix withdrawn and announced again, over and over, while the quota stays full) leaves stale
        // entries behind: the queue is rebuilt once they outnumber the waiting routes.
        if order.count - head > 2 * waiting.count + 1024 {
            order = order[head...].filter { waiting[$0.key]?.ticket == $0.ticket }
            head = 0
        }
        return true
    }

    /// Stops a prefix waiting through a connection; true if it was.
    @discardableResult
    mutating func remove(_ prefix: RoutePrefix, connection: String) -> Bool {
        waiting.removeValue(forKey: Key(prefix: prefix, connection: connection)) != nil
    }

    /// The route that has waited longest, taken out of the queue.
    mutating func removeFirst() -> (prefix: RoutePrefix, tunnel: String)? {
        while head < order.count {
            let (key, ticket) = order[head]
            head += 1
            guard let entry = waiting[key], entry.ticket == ticket else { continue }
            waiting[key] = nil
            compact()
            return (key.prefix, entry.tunnel)
        }
        order.removeAll(keepingCapacity: true)
        head = 0
        return nil
    }

    /// Every waiting route, longest-waiting first.
    var inOrder: [(prefix: RoutePrefix, tunnel: String)] {
        order[head...].compactMap { key, ticket in
            guard let entry = waiting[key], entry.ticket == ticket else { return nil }
            return (key.prefix, entry.tunnel)
        }
    }

    /// Drops the consumed front of ``order`` once it is most of the array (amortised O(1) per removal).
    private mutating func compact() {
        guard head >= 1024, head * 2 >= order.count else { return }
        order.removeFirst(head)
        head = 0
    }
}
