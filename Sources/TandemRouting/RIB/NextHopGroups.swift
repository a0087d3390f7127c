// Next-hop groups: one per distinct set of (connection, weight), shared by every route and policy route that
// names the same set. A group owns a resilient bucket table; the router publishes it to the plane.

/// The next-hop groups in use, interned by their member sets, with reference counts.
struct NextHopGroups {
    struct Group {
        var members: [ECMPMember]
        var table: ResilientBucketTable
        var references: Int
        /// At least one member is up: the group can carry traffic.
        var isLive: Bool
    }

    private(set) var groups: [Int: Group] = [:]
    private var byMembers: [[ECMPMember]: GroupID] = [:]
    private var slots: SlotAllocator
    let bucketsPerGroup: Int
    /// The groups each connection belongs to.
    private(set) var groupsOfConnection: [ConnectionID: Set<GroupID>] = [:]

    init(capacity: Int, bucketsPerGroup: Int) {
        slots = SlotAllocator(capacity: capacity, quarantine: min(256, capacity / 4))
        self.bucketsPerGroup = bucketsPerGroup
    }

    var count: Int { groups.count }

    subscript(id: GroupID) -> Group {
        guard let group = groups[id.index] else { preconditionFailure("\(id) is not in use") }
        return group
    }

    /// The group of `members` (sorted by connection), made if new; a new group is returned with its buckets
    /// computed for the connections in `up` and must be published before use. Nil if the arena is full.
    mutating func acquire(_ members: [ECMPMember], up: Set<UInt32>) -> (id: GroupID, isNew: Bool)? {
        if let known = byMembers[members] {
            groups[known.index]!.references += 1
            return (known, false)
        }
        guard let slot = slots.allocate() else { return nil }
        let id = GroupID(rawValue: UInt32(slot))
        var table = ResilientBucketTable(bucketCount: bucketsPerGroup)
        table.update(members: members, up: up)
        groups[slot] = Group(
            members: members, table: table, references: 1, isLive: members.contains { up.contains($0.id) })
        byMembers[members] = id
        for member in members { groupsOfConnection[ConnectionID(rawValue: member.id), default: []].insert(id) }
        return (id, true)
    }

    /// Drops one reference; returns true when the group was freed.
    @discardableResult
    mutating func release(_ id: GroupID) -> Bool {
        guard var group = groups[id.index] else { preconditionFailure("\(id) is not in use") }
        group.references -= 1
        guard group.references == 0 else {
            groups[id.index] = group
            return false
        }
        groups[id.index] = nil
        byMembers[group.members] = nil
        for member in group.members {
            let connection = ConnectionID(rawValue: member.id)
            groupsOfConnection[connection]?.remove(id)
            if groupsOfConnection[connection]?.isEmpty == true { groupsOfConnection[connection] = nil }
        }
        slots.free(id.index)
        return true
    }

    /// Recomputes a group's buckets for a new set of up connections. Returns whether its liveness changed.
    mutating func refresh(_ id: GroupID, up: Set<UInt32>) -> (livenessChanged: Bool, moved: Int) {
        guard let members = groups[id.index]?.members else { preconditionFailure("\(id) is not in use") }
        // Mutated in place through the dictionary's accessor: a copy out and back would copy the buckets.
        let moved = groups[id.index]!.table.update(members: members, up: up)
        let live = members.contains { up.contains($0.id) }
        let changed = live != groups[id.index]!.isLive
        groups[id.index]!.isLive = live
        return (changed, moved)
    }
}
