// One family's half of an AggregatedTable: the prefixes set, and their aggregation.
//
// The address space is cut into blocks (a /16 for IPv4, a /32 for IPv6: a full table's prefixes are mostly a few
// bits longer). A prefix at least as long as a block is a member of its block; a block's routes are computed from
// its members alone, plus the target it inherits from the nearest shorter prefix above it, so a change recomputes
// one block (in the 2024 table 27 members on average and 341 at most for IPv4, 5 and 4,065 for IPv6). The few
// prefixes shorter than a block ("short" ones, 1 % of a full table) are kept as they are, except those whose nearest
// shorter prefix has the same target; a change to one of them changes what the blocks below it inherit.

import TandemPacket

/// A target, by its number in the table's list of targets; `none` is no route.
@usableFromInline typealias TargetNumber = UInt32

extension TargetNumber {
    /// No route: the address falls through to what comes after the table.
    @usableFromInline static let none = TargetNumber.max
    /// Not one target: what a part of the address space resolves to varies within it.
    static let mixed = TargetNumber.max - 1
}

@usableFromInline
struct AggregatedFamily<Prefix: IPPrefix> {
    @usableFromInline typealias Key = Prefix.Address.RawValue

    /// A prefix and its target, as set or as aggregated.
    @usableFromInline
    struct Entry: Equatable {
        var key: Key
        var length: Int
        var target: TargetNumber

        @usableFromInline
        init(key: Key, length: Int, target: TargetNumber) {
            self.key = key
            self.length = length
            self.target = target
        }
    }

    /// The members of one block, ordered by address then length (a prefix before the prefixes inside it), and the
    /// routes they aggregate to.
    struct Block {
        var members: [Entry] = []
        var routes: [Entry] = []
        /// The target of the nearest short prefix above the block (`none` if there is none).
        var inherited: TargetNumber = .none
        /// Whether the block is in `dirtyBlocks` (a flag, not a set lookup, for each of a table's million prefixes).
        var isDirty = false
    }

    struct ShortKey: Hashable {
        var key: Key
        var length: Int
    }

    let blockLength: Int
    private(set) var blocks: [Key: Block] = [:]
    /// The short prefixes as set, and those of them that are routes.
    private(set) var short: [ShortKey: TargetNumber] = [:]
    private(set) var shortRoutes: [ShortKey: TargetNumber] = [:]
    /// The blocks whose members or inherited target changed since the last commit, each once.
    private var dirtyBlocks: [Key] = []
    private var changedShort: [ShortKey] = []

    init(blockLength: Int) { self.blockLength = blockLength }

    static func mask(_ length: Int) -> Key { Prefix.mask(length: length) }

    func blockKey(_ key: Key) -> Key { key & Self.mask(blockLength) }

    /// The target set for a prefix.
    func target(of key: Key, length: Int) -> TargetNumber {
        if length < blockLength { return short[ShortKey(key: key, length: length)] ?? .none }
        guard let block = blocks[blockKey(key)] else { return .none }
        let index = Self.position(of: key, length, in: block.members)
        return index < block.members.count && block.members[index].key == key && block.members[index].length == length
            ? block.members[index].target : .none
    }

    /// Sets a prefix's target (`none`: no route); takes effect at the next ``commit(_:)``.
    mutating func set(_ target: TargetNumber, for key: Key, length: Int) {
        if length < blockLength {
            let shortKey = ShortKey(key: key, length: length)
            guard short[shortKey] != (target == .none ? nil : target) else { return }
            short[shortKey] = target == .none ? nil : target
            changedShort.append(shortKey)
            return
        }
        let block = blockKey(key)
        // One hash lookup for a block there already (a full table's million sets are mostly that).
        var index = blocks.index(forKey: block)
        if index == nil {
            guard target != .none else { return }
            // A new block inherits from the short prefixes set so far (a later change to them reaches it in commit).
            blocks[block] = Block(inherited: inherited(block, below: blockLength))
            index = blocks.index(forKey: block)
        }
        guard Self.update(&blocks.values[index!].members, key, length, to: target) else { return }
        markDirty(index!, block)
    }

    /// Sets many prefixes' targets, as one ``set(_:for:length:)`` each in order would (a prefix given twice keeps
    /// its last target). Into a family with nothing set (a full sync: a million prefixes), they are sorted and each
    /// block is made in one go, instead of a hash lookup and an insert into a sorted array per prefix.
    mutating func set(_ entries: [Entry]) {
        guard blocks.isEmpty && short.isEmpty else {
            for entry in entries { set(entry.target, for: entry.key, length: entry.length) }
            return
        }
        // Stable: of a prefix given twice, the later one comes last.
        let sorted = entries.sorted { ($0.key, $0.length) < ($1.key, $1.length) }
        var members: [Entry] = []
        var block: Key?
        for (index, entry) in sorted.enumerated() {
            let next = index + 1 < sorted.count ? sorted[index + 1] : nil
            // Keep the last of equal prefixes; setting none into an empty family leaves nothing.
            if let next, next.key == entry.key && next.length == entry.length { continue }
            guard entry.target != .none else { continue }
            if entry.length < blockLength {
                short[ShortKey(key: entry.key, length: entry.length)] = entry.target
                changedShort.append(ShortKey(key: entry.key, length: entry.length))
                continue
            }
            let key = blockKey(entry.key)
            if key != block {
                addBlock(block, members)
                members = []
                block = key
            }
            members.append(entry)
        }
        addBlock(block, members)
    }

    /// A block made whole by ``set(_:)`` (the short prefixes are all set by then: it inherits from them).
    private mutating func addBlock(_ key: Key?, _ members: [Entry]) {
        guard let key, !members.isEmpty else { return }
        blocks[key] = Block(members: members, inherited: inherited(key, below: blockLength), isDirty: true)
        dirtyBlocks.append(key)
    }

    private mutating func markDirty(_ index: Dictionary<Key, Block>.Index, _ key: Key) {
        guard !blocks.values[index].isDirty else { return }
        blocks.values[index].isDirty = true
        dirtyBlocks.append(key)
    }

    /// Sets a member's target in place (`none` removes it); whether anything changed.
    static func update(_ members: inout [Entry], _ key: Key, _ length: Int, to target: TargetNumber) -> Bool {
        let index = position(of: key, length, in: members)
        let present = index < members.count && members[index].key == key && members[index].length == length
        if target == .none {
            guard present else { return false }
            members.remove(at: index)
        } else if present {
            guard members[index].target != target else { return false }
            members[index].target = target
        } else {
            members.insert(Entry(key: key, length: length, target: target), at: index)
        }
        return true
    }

    /// Where `(key, length)` is or would go in members ordered by address, then length.
    static func position(of key: Key, _ length: Int, in members: [Entry]) -> Int {
        var low = 0
        var high = members.count
        while low < high {
            let middle = (low + high) / 2
            let member = members[middle]
            if member.key < key || (member.key == key && member.length < length) { low = middle + 1 } else { high = middle }
        }
        return low
    }

    /// Recomputes what changed since the last commit; calls `changed` with each aggregated route that came, went
    /// or changed target (`none`: it went).
    mutating func commit(_ changed: (Key, Int, TargetNumber) -> Void) {
        if !changedShort.isEmpty { commitShort(changed) }
        for key in dirtyBlocks {
            guard var block = blocks[key] else { continue }
            block.isDirty = false
            let routes = Self.aggregate(block.members, blockKey: key, blockLength: blockLength, inherited: block.inherited)
            Self.diff(block.routes, routes, changed)
            block.routes = routes
            if block.members.isEmpty { blocks[key] = nil } else { blocks[key] = block }
        }
        dirtyBlocks = []
    }

    /// The short prefixes changed: their routes again, and the blocks below them inherit anew.
    private mutating func commitShort(_ changed: (Key, Int, TargetNumber) -> Void) {
        var routes: [ShortKey: TargetNumber] = [:]
        routes.reserveCapacity(short.count)
        for (prefix, target) in short where inherited(prefix.key, below: prefix.length) != target {
            routes[prefix] = target
        }
        for (prefix, target) in routes where shortRoutes[prefix] != target { changed(prefix.key, prefix.length, target) }
        for prefix in shortRoutes.keys where routes[prefix] == nil { changed(prefix.key, prefix.length, .none) }
        shortRoutes = routes
        // A few changes: only the blocks below them can inherit anew. Many (a table learned): every block.
        let few = changedShort.count <= 16
        // By index: a value changed in place keeps the indices (a `for in` over the dictionary would copy it).
        var index = blocks.startIndex
        while index != blocks.endIndex {
            let key = blocks.keys[index]
            if !few || changedShort.contains(where: { key & Self.mask($0.length) == $0.key }) {
                let inherited = inherited(key, below: blockLength)
                if inherited != blocks.values[index].inherited {
                    blocks.values[index].inherited = inherited
                    markDirty(index, key)
                }
            }
            blocks.formIndex(after: &index)
        }
        changedShort = []
    }

    /// The target of the longest short prefix shorter than `length` that holds `key`.
    func inherited(_ key: Key, below length: Int) -> TargetNumber {
        guard !short.isEmpty else { return .none }
        var candidate = length - 1
        while candidate >= 0 {
            if let target = short[ShortKey(key: key & Self.mask(candidate), length: candidate)] { return target }
            candidate -= 1
        }
        return .none
    }

    /// Calls `changed` for each route of `new` that is not in `old` as it is, and `none` for each one gone.
    static func diff(_ old: [Entry], _ new: [Entry], _ changed: (Key, Int, TargetNumber) -> Void) {
        // Both are short (a block's routes); a linear search each way is cheaper than hashing them.
        for route in new where !old.contains(route) { changed(route.key, route.length, route.target) }
        for route in old where !new.contains(where: { $0.key == route.key && $0.length == route.length }) {
            changed(route.key, route.length, .none)
        }
    }

    /// Every aggregated route, short ones first.
    func forEachRoute(_ body: (Key, Int, TargetNumber) -> Void) {
        for (prefix, target) in shortRoutes { body(prefix.key, prefix.length, target) }
        for block in blocks.values {
            for route in block.routes { body(route.key, route.length, route.target) }
        }
    }

    /// The aggregated route for exactly this prefix, if there is one.
    func route(_ key: Key, length: Int) -> TargetNumber {
        if length < blockLength { return shortRoutes[ShortKey(key: key, length: length)] ?? .none }
        return blocks[blockKey(key)]?.routes.first { $0.key == key && $0.length == length }?.target ?? .none
    }

    /// Every prefix set with one of `targets`.
    func prefixes(withTargetIn targets: Set<TargetNumber>, _ body: (Key, Int) -> Void) {
        for (prefix, target) in short where targets.contains(target) { body(prefix.key, prefix.length) }
        for block in blocks.values {
            for member in block.members where targets.contains(member.target) { body(member.key, member.length) }
        }
    }

    var routeCount: Int { shortRoutes.count + blocks.values.reduce(0) { $0 + $1.routes.count } }
    var prefixCount: Int { short.count + blocks.values.reduce(0) { $0 + $1.members.count } }
}

extension AggregatedFamily {
    /// A block's routes: the fewest this walk finds that send each address of the block where its members (under
    /// `inherited`) send it.
    static func aggregate(_ members: [Entry], blockKey: Key, blockLength: Int, inherited: TargetNumber) -> [Entry] {
        var routes: [Entry] = []
        let whole = aggregate(members, 0..<members.count, key: blockKey, length: blockLength, inherited: inherited, into: &routes)
        if whole != .mixed && whole != inherited { routes.append(Entry(key: blockKey, length: blockLength, target: whole)) }
        return routes
    }

    /// Aggregates the members in `range` (all inside the prefix `key`/`length`, ordered) under `inherited`, the
    /// target of the nearest prefix above. Returns the target every address of the prefix resolves to, having added
    /// no route for it (the caller adds one, where it differs from what the caller's addresses inherit), or `mixed`,
    /// having added the routes the prefix needs. Two rules make the routes fewer than the members:
    /// - a prefix with the target it inherits adds nothing (the route above already sends it there);
    /// - two halves that resolve to one target are one prefix (two /24s of one target become their /23).
    static func aggregate(
        _ members: [Entry], _ range: Range<Int>, key: Key, length: Int, inherited: TargetNumber,
        into routes: inout [Entry]
    ) -> TargetNumber {
        var first = range.lowerBound
        var own: TargetNumber?
        // Ordered by address then length: the prefix itself, if it is a member, comes first.
        if first < range.upperBound && members[first].length == length {
            own = members[first].target
            first += 1
        }
        let effective = own ?? inherited
        guard first < range.upperBound else { return effective }
        let upperHalf = key | (Key(1) << (Key.bitWidth - 1 - length))
        var split = first
        while split < range.upperBound && members[split].key < upperHalf { split += 1 }
        let lower = aggregate(members, first..<split, key: key, length: length + 1, inherited: effective, into: &routes)
        let upper = aggregate(
            members, split..<range.upperBound, key: upperHalf, length: length + 1, inherited: effective, into: &routes)
        if lower == upper && lower != .mixed { return lower }
        if let own, own != inherited { routes.append(Entry(key: key, length: length, target: own)) }
        if lower != .mixed && lower != effective { routes.append(Entry(key: key, length: length + 1, target: lower)) }
        if upper != .mixed && upper != effective { routes.append(Entry(key: upperHalf, length: length + 1, target: upper)) }
        return .mixed
    }
}
