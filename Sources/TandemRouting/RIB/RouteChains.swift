// Route chains: the ordered candidate groups of a prefix. Prefixes with the same candidates share a chain (a
// full table learned from one peer is one chain), and the LPM stores chain ids, so a change of which candidate
// is usable rewrites one chain word, not the prefixes.

/// One candidate of a prefix: the group of its routes that tie on source and metric.
struct Candidate: Hashable {
    var group: GroupID
    var source: RouteSource
}

/// The chains in use, interned by their candidate lists, with reference counts (one per prefix).
struct RouteChains {
    struct Chain {
        var candidates: [Candidate]
        var references: Int
        /// The first candidate whose group is live, as published in the chain word.
        var resolution: Candidate?
    }

    private(set) var chains: [Int: Chain] = [:]
    private var byCandidates: [[Candidate]: ChainID] = [:]
    private var slots: SlotAllocator
    /// How many chains were freed so far: a chain id remembered while this stays the same is still that chain.
    private(set) var freedCount = 0
    /// The chains that name each group.
    private(set) var chainsOfGroup: [GroupID: Set<ChainID>] = [:]

    init(capacity: Int) {
        slots = SlotAllocator(capacity: capacity, quarantine: min(4096, capacity / 4))
    }

    var count: Int { chains.count }

    subscript(id: ChainID) -> Chain {
        guard let chain = chains[id.index] else { preconditionFailure("chain \(id.rawValue) is not in use") }
        return chain
    }

    /// The chain of `candidates`, made if new (then the caller retains its groups and publishes its resolution,
    /// computed here with `isLive`). Nil if the arena is full.
    mutating func acquire(_ candidates: [Candidate], isLive: (GroupID) -> Bool) -> (id: ChainID, isNew: Bool)? {
        if let known = byCandidates[candidates] {
            chains[known.index]!.references += 1
            return (known, false)
        }
        guard let slot = slots.allocate() else { return nil }
        let id = ChainID(rawValue: UInt32(slot))
        chains[slot] = Chain(
            candidates: candidates, references: 1, resolution: candidates.first { isLive($0.group) })
        byCandidates[candidates] = id
        for candidate in candidates { chainsOfGroup[candidate.group, default: []].insert(id) }
        return (id, true)
    }

    /// Drops one reference; returns the chain's candidates when it was freed (the caller releases their groups).
    mutating func release(_ id: ChainID) -> [Candidate]? {
        guard var chain = chains[id.index] else { preconditionFailure("chain \(id.rawValue) is not in use") }
        chain.references -= 1
        guard chain.references == 0 else {
            chains[id.index] = chain
            return nil
        }
        chains[id.index] = nil
        byCandidates[chain.candidates] = nil
        for candidate in chain.candidates {
            chainsOfGroup[candidate.group]?.remove(id)
            if chainsOfGroup[candidate.group]?.isEmpty == true { chainsOfGroup[candidate.group] = nil }
        }
        slots.free(id.index)
        freedCount += 1
        return chain.candidates
    }

    /// Recomputes the resolution of a chain; returns the new one if it changed.
    mutating func resolve(_ id: ChainID, isLive: (GroupID) -> Bool) -> (changed: Bool, resolution: Candidate?) {
        guard var chain = chains[id.index] else { preconditionFailure("chain \(id.rawValue) is not in use") }
        let resolution = chain.candidates.first { isLive($0.group) }
        guard resolution != chain.resolution else { return (false, resolution) }
        chain.resolution = resolution
        chains[id.index] = chain
        return (true, resolution)
    }
}

extension RouteChains {
    /// Takes one more reference to a chain in use.
    mutating func retain(_ id: ChainID) { chains[id.index]!.references += 1 }
}
