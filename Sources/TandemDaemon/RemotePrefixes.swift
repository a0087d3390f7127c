// The prefixes routed into Tandem: the configuration's (its routes, the derived system routes, the policy routes'
// destinations) and the learned ones. Derived from the two rather than kept as a set of its own: a full table is a
// million learned prefixes, and a second hash table of them cost half a second at start and some 50 MB. Derived, a
// learned prefix that is also a policy route's destination stays when the routing daemon withdraws it (the policy
// still needs its traffic in Tandem).

import TandemPacket

/// The remote prefixes: the configured ones and the keys of the learned table, each once.
struct RemotePrefixes: Sequence {
    let configured: Set<RoutePrefix>
    let learned: [RoutePrefix: LearnedPaths]

    func contains(_ prefix: RoutePrefix) -> Bool { learned[prefix] != nil || configured.contains(prefix) }

    /// The configured prefixes are few: counting those not learned too is a walk over them.
    var count: Int { learned.count + configured.count { learned[$0] == nil } }

    var underestimatedCount: Int { learned.count }

    struct Iterator: IteratorProtocol {
        var learned: Dictionary<RoutePrefix, LearnedPaths>.Keys.Iterator
        var configured: Set<RoutePrefix>.Iterator
        let learnedTable: [RoutePrefix: LearnedPaths]

        /// The learned prefixes, then the configured ones that are not learned.
        mutating func next() -> RoutePrefix? {
            if let prefix = learned.next() { return prefix }
            while let prefix = configured.next() {
                if learnedTable[prefix] == nil { return prefix }
            }
            return nil
        }
    }

    func makeIterator() -> Iterator {
        Iterator(learned: learned.keys.makeIterator(), configured: configured.makeIterator(), learnedTable: learned)
    }
}
