import Synchronization

/// The longest-prefix-match engine behind ``IPv4Table`` and ``IPv6Table``: a poptrie
/// (Asai and Ohara, SIGCOMM 2015) with direct pointing, written once for both key widths.
///
/// Layout, read side (see `TandemLPM.docc` for why this structure):
/// - `top`: 2^s slots, indexed by the first `s` bits of the key ("direct pointing"). A slot
///   is one 64-bit word: bits 62...63 say what it holds; bits 32...61 are a sequence number;
///   bits 0...31 are the payload: a value (no prefix longer than `s` under the slot), the index
///   of a root node, or the index of a *flat block* (a root without children, the common case
///   for IPv4: `[leafBits low, leafBits high, leaves...]` in the leaf arena, so that its bitmap
///   and its leaves share cache lines and a lookup makes two dependent reads, not three).
/// - Nodes: three 64-bit words each: `childBits` (bit v set: slot v of the next six key bits
///   continues in a child node), `leafBits` (bit v set: a new run of equal leaves starts at
///   slot v), and the two bases (child array index, leaf array index). Children of a node are
///   consecutive, so child v is `childBase + popcount(childBits & bits 0...v) - 1`; leaves
///   likewise. Values are pushed down to the leaves, so a lookup reads exactly one leaf.
///
/// Memory model (the reader never locks; one writer at a time):
/// - Every shared word is accessed through `Atomic` loads and stores, so no access is a data
///   race in the Swift/C++ memory model; on x86-64 and ARM64 relaxed accesses are plain moves.
/// - A top slot is a sequence lock over the subtree under it. The writer makes the slot's
///   sequence odd (relaxed store, then a release fence), edits the subtree in place, then
///   stores the new slot word with an even sequence (release). A reader loads the slot
///   (acquire), walks the subtree with relaxed loads, issues an acquire fence, reloads the
///   slot and accepts its answer only if the slot is unchanged and even; otherwise it retries.
///   So every answer is one the table gave at some instant: never torn.
/// - A slot without a node is answered from the single slot load: always consistent.
/// - Freed node and leaf runs are reused at once. A reader that still follows them is in a
///   slot whose sequence has moved, so its answer is thrown away; every index it computes is
///   masked into the reserved arena (``ReservedMemory``) so it can never leave mapped memory,
///   and the walk is bounded by the key width, so it always ends.
final class Poptrie<Key: LPMKey>: @unchecked Sendable {
    /// The value a leaf holds where no prefix matches.
    static var noValue: UInt32 { .max }

    /// Bits resolved by the top array.
    let directBits: Int
    /// The most nodes a lookup can visit below a top slot.
    let maxLevels: Int

    let top: UnsafeMutablePointer<Atomic<UInt64>>
    let nodeWords: UnsafeMutablePointer<Atomic<UInt64>>
    let leafWords: UnsafeMutablePointer<Atomic<UInt32>>
    let nodeMask: Int
    let leafMask: Int

    private let topMemory: ReservedMemory
    private let nodeMemory: ReservedMemory
    private let leafMemory: ReservedMemory
    var nodes: BlockAllocator
    var leaves: BlockAllocator

    static var hasNodeBit: UInt64 { 1 << 63 }
    static var flatBit: UInt64 { 1 << 62 }
    static var sequenceUnit: UInt64 { 1 << 32 }
    static var sequenceMask: UInt64 { 0x3FFF_FFFF << 32 }

    /// What a top slot holds.
    enum SlotContent: Equatable {
        case value(UInt32)
        case node(Int)
        case flat(Int)
    }

    init(directBits: Int, nodeCapacity: Int = 1 << 24, leafCapacity: Int = 1 << 26) {
        precondition(directBits >= 6 && directBits <= 24 && directBits < Key.bitWidth)
        self.directBits = directBits
        self.maxLevels = (Key.bitWidth - directBits + 5) / 6
        let slots = 1 << directBits
        topMemory = ReservedMemory(byteCount: slots * 8)
        nodeMemory = ReservedMemory(byteCount: nodeCapacity * 24)
        leafMemory = ReservedMemory(byteCount: leafCapacity * 4)
        top = topMemory.base.bindMemory(to: Atomic<UInt64>.self, capacity: slots)
        nodeWords = nodeMemory.base.bindMemory(to: Atomic<UInt64>.self, capacity: nodeCapacity * 3)
        leafWords = leafMemory.base.bindMemory(to: Atomic<UInt32>.self, capacity: leafCapacity)
        nodeMask = nodeCapacity - 1
        leafMask = leafCapacity - 1
        nodes = BlockAllocator(capacity: nodeCapacity)
        leaves = BlockAllocator(capacity: leafCapacity)
        for slot in 0..<slots { top[slot].store(UInt64(Self.noValue), ordering: .relaxed) }
    }

    // MARK: Read side

    /// The value of the longest prefix that matches `key`, or ``noValue``.
    @inline(__always)
    func lookup(_ key: Key) -> UInt32 {
        let slot = Int(truncatingIfNeeded: key &>> (Key.bitWidth - directBits))
        while true {
            let entry = top[slot].load(ordering: .acquiring)
            if entry & Self.hasNodeBit == 0 { return UInt32(truncatingIfNeeded: entry) }
            let payload = Int(truncatingIfNeeded: entry & 0xFFFF_FFFF)
            let value =
                entry & Self.flatBit != 0
                ? flatLeaf(key, block: payload) : walk(key, from: payload)
            atomicMemoryFence(ordering: .acquiring)
            if top[slot].load(ordering: .relaxed) == entry && entry & Self.sequenceUnit == 0 { return value }
        }
    }

    /// Reads the leaf of `key` in the flat block at `block`. Never traps, whatever the words hold.
    @inline(__always)
    private func flatLeaf(_ key: Key, block: Int) -> UInt32 {
        leafWords[flatLeafIndex(key, block: block)].load(ordering: .relaxed)
    }

    /// Where the leaf of `key` is in the flat block at `block`: reads the block's bitmap. Always inside the arena.
    @inline(__always)
    private func flatLeafIndex(_ key: Key, block: Int) -> Int {
        let base = block & leafMask
        let leafBits =
            UInt64(leafWords[base].load(ordering: .relaxed))
            | UInt64(leafWords[(base &+ 1) & leafMask].load(ordering: .relaxed)) &<< 32
        let bit: UInt64 = 1 &<< UInt64(Self.sixBits(of: key, high: Self.high64(key), at: directBits))
        return (base &+ 1 &+ (leafBits & ((bit &<< 1) &- 1)).populationCount) & leafMask
    }

    /// Walks the nodes below a top slot. Never traps, whatever the words hold.
    @inline(__always)
    private func walk(_ key: Key, from root: Int) -> UInt32 {
        var node = root & nodeMask
        var depth = directBits
        let high = Self.high64(key)
        for _ in 0..<maxLevels {
            let words = nodeWords + node &* 3
            let childBits = words[0].load(ordering: .relaxed)
            let slot = Self.sixBits(of: key, high: high, at: depth)
            let bit: UInt64 = 1 &<< UInt64(slot)
            let upToSlot = (bit &<< 1) &- 1
            if childBits & bit != 0 {
                let childBase = Int(truncatingIfNeeded: words[2].load(ordering: .relaxed) & 0xFFFF_FFFF)
                node = (childBase &+ (childBits & upToSlot).populationCount &- 1) & nodeMask
                depth &+= 6
            } else {
                let leafBits = words[1].load(ordering: .relaxed)
                let leafBase = Int(truncatingIfNeeded: words[2].load(ordering: .relaxed) &>> 32)
                let leaf = (leafBase &+ (leafBits & upToSlot).populationCount &- 1) & leafMask
                return leafWords[leaf].load(ordering: .relaxed)
            }
        }
        return Self.noValue
    }

    /// The first 64 bits of `key`, most significant first (zeros after the end of a shorter key).
    @inline(__always)
    static func high64(_ key: Key) -> UInt64 {
        Key.bitWidth >= 64
            ? UInt64(truncatingIfNeeded: key &>> (Key.bitWidth &- 64))
            : UInt64(truncatingIfNeeded: key) &<< UInt64(64 &- Key.bitWidth)
    }

    /// The six bits of `key` at `depth` (``LPMKey/sixBits(at:)``), taken from `high`, the key's
    /// first 64 bits, while they hold them. An IPv6 walk to a /48 reads bits 20 to 50: a 64-bit
    /// shift instead of a 128-bit one, whose variable count costs a compare and selects (on a
    /// Xeon, 6 % of a single lookup and 8 to 14 % of a batch; docs/benchmarks.md).
    @inline(__always)
    static func sixBits(of key: Key, high: UInt64, at depth: Int) -> Int {
        depth &+ 6 <= 64
            ? Int(truncatingIfNeeded: (high &<< UInt64(truncatingIfNeeded: depth)) &>> 58) : key.sixBits(at: depth)
    }

    /// How many lookups a batch walks side by side.
    static var batchGroup: Int { 32 }

    /// Looks up `keys.count` keys into `values` (``noValue`` where nothing matches).
    ///
    /// Faster than one lookup after another: the keys are walked in groups of ``batchGroup``,
    /// one trie level at a time across the whole group. Each pass first computes where every
    /// lookup of the group reads next and asks the CPU to fetch it (``prefetch(_:)``), and reads
    /// it only in the following pass, so the group's cache misses are in flight together instead
    /// of one after another. Every answer is validated against its slot's sequence as in
    /// ``lookup(_:)``; an answer that raced with the writer is looked up again alone.
    func lookup(_ keys: UnsafeBufferPointer<Key>, into values: UnsafeMutableBufferPointer<UInt32>) {
        precondition(values.count >= keys.count, "the result buffer is shorter than the key buffer")
        guard let keyBase = keys.baseAddress, let valueBase = values.baseAddress else { return }
        let group = Self.batchGroup
        withUnsafeTemporaryAllocation(of: Int.self, capacity: 3 * group) { scratch in
            let slots = scratch.baseAddress!
            // Per lookup: the node it reads next, then (once its walk ends) its leaf.
            let positions = slots + group
            let entries = positions + group
            var start = 0
            while start < keys.count {
                let count = min(group, keys.count - start)
                let groupKeys = keyBase + start
                let groupValues = valueBase + start
                for i in 0..<count {
                    let slot = Int(truncatingIfNeeded: groupKeys[i] &>> (Key.bitWidth - directBits))
                    slots[i] = slot
                    prefetch(top + slot)
                }
                var walking: UInt64 = 0  // bit i: lookup i is still walking nodes
                var flat: UInt64 = 0  // bit i: lookup i reads a flat block next
                for i in 0..<count {
                    let entry = top[slots[i]].load(ordering: .acquiring)
                    entries[i] = Int(bitPattern: UInt(entry))
                    let payload = Int(truncatingIfNeeded: entry & 0xFFFF_FFFF)
                    if entry & Self.hasNodeBit == 0 {
                        groupValues[i] = UInt32(truncatingIfNeeded: entry)
                    } else if entry & Self.flatBit != 0 {
                        positions[i] = payload & leafMask
                        prefetch(leafWords + positions[i])
                        flat |= 1 << UInt64(i)
                    } else {
                        positions[i] = payload & nodeMask
                        prefetch(nodeWords + positions[i] &* 3)
                        walking |= 1 << UInt64(i)
                    }
                }
                let walked = walking | flat
                var reading: UInt64 = 0  // bit i: positions[i] is the leaf of lookup i
                while flat != 0 {
                    let i = flat.trailingZeroBitCount
                    flat &= flat &- 1
                    positions[i] = flatLeafIndex(groupKeys[i], block: positions[i])
                    prefetch(leafWords + positions[i])
                    reading |= 1 << UInt64(i)
                }
                var depth = directBits
                var level = 0
                while walking != 0 && level < maxLevels {
                    var pending = walking
                    while pending != 0 {
                        let i = pending.trailingZeroBitCount
                        pending &= pending &- 1
                        let words = nodeWords + positions[i] &* 3
                        let childBits = words[0].load(ordering: .relaxed)
                        let key = groupKeys[i]
                        let six = Self.sixBits(of: key, high: Self.high64(key), at: depth)
                        let bit: UInt64 = 1 &<< UInt64(six)
                        let upToSlot = (bit &<< 1) &- 1
                        let bases = words[2].load(ordering: .relaxed)
                        if childBits & bit != 0 {
                            let childBase = Int(truncatingIfNeeded: bases & 0xFFFF_FFFF)
                            positions[i] = (childBase &+ (childBits & upToSlot).populationCount &- 1) & nodeMask
                            prefetch(nodeWords + positions[i] &* 3)
                        } else {
                            let leafBits = words[1].load(ordering: .relaxed)
                            let leafBase = Int(truncatingIfNeeded: bases &>> 32)
                            positions[i] = (leafBase &+ (leafBits & upToSlot).populationCount &- 1) & leafMask
                            prefetch(leafWords + positions[i])
                            walking &= ~(1 << UInt64(i))
                            reading |= 1 << UInt64(i)
                        }
                    }
                    depth &+= 6
                    level &+= 1
                }
                while reading != 0 {
                    let i = reading.trailingZeroBitCount
                    reading &= reading &- 1
                    groupValues[i] = leafWords[positions[i]].load(ordering: .relaxed)
                }
                if walked != 0 {
                    atomicMemoryFence(ordering: .acquiring)
                    var check = walked
                    while check != 0 {
                        let i = check.trailingZeroBitCount
                        check &= check &- 1
                        let entry = UInt64(UInt(bitPattern: entries[i]))
                        if walking & (1 << UInt64(i)) != 0 || top[slots[i]].load(ordering: .relaxed) != entry
                            || entry & Self.sequenceUnit != 0
                        {
                            groupValues[i] = lookup(groupKeys[i])
                        }
                    }
                }
                start += count
            }
        }
    }

    // MARK: Write side: node words

    struct NodeWords {
        var childBits: UInt64 = 0
        var leafBits: UInt64 = 0
        var childBase: Int = 0
        var leafBase: Int = 0
    }

    func readNode(_ index: Int) -> NodeWords {
        let words = nodeWords + index * 3
        let bases = words[2].load(ordering: .relaxed)
        return NodeWords(
            childBits: words[0].load(ordering: .relaxed), leafBits: words[1].load(ordering: .relaxed),
            childBase: Int(bases & 0xFFFF_FFFF), leafBase: Int(bases >> 32))
    }

    func writeNode(_ index: Int, _ node: NodeWords) {
        let words = nodeWords + index * 3
        words[0].store(node.childBits, ordering: .relaxed)
        words[1].store(node.leafBits, ordering: .relaxed)
        words[2].store(UInt64(node.childBase) | UInt64(node.leafBase) << 32, ordering: .relaxed)
    }

    /// Returns the child arrays and leaf arrays below `node` to the allocators (not `node` itself).
    func freeBelow(_ node: NodeWords) {
        let childCount = node.childBits.populationCount
        for child in 0..<childCount { freeBelow(readNode(node.childBase + child)) }
        if childCount > 0 { nodes.free(node.childBase, count: childCount) }
        let leafCount = node.leafBits.populationCount
        if leafCount > 0 { leaves.free(node.leafBase, count: leafCount) }
    }

    // MARK: Write side: top slots and the sequence lock

    func topEntry(_ slot: Int) -> UInt64 { top[slot].load(ordering: .relaxed) }

    /// Marks the subtree under `slot` as being edited: readers of that slot retry until ``endWrite``.
    func beginWrite(_ slot: Int) {
        let entry = top[slot].load(ordering: .relaxed)
        let sequence = ((entry & Self.sequenceMask) &+ Self.sequenceUnit) & Self.sequenceMask
        top[slot].store(entry & ~Self.sequenceMask | sequence, ordering: .relaxed)
        atomicMemoryFence(ordering: .releasing)
    }

    /// Orders everything published so far before the writes that follow, for a subtree built in
    /// memory that no slot points to yet. That memory may have been freed by another slot's
    /// edit a moment ago; the fence guarantees that a reader who still walks it there and sees
    /// the new contents also sees that slot's new sequence, and retries.
    func beginFreshWrite() {
        atomicMemoryFence(ordering: .releasing)
    }

    /// Publishes the slot's new content with the next even sequence number (release store).
    func publish(_ slot: Int, _ content: SlotContent) {
        let entry = top[slot].load(ordering: .relaxed)
        // The next even sequence number: one step after beginWrite, two steps otherwise.
        var sequence = (entry & Self.sequenceMask) &+ Self.sequenceUnit
        if sequence & Self.sequenceUnit != 0 { sequence &+= Self.sequenceUnit }
        sequence &= Self.sequenceMask
        let payload: UInt64
        switch content {
        case .value(let value): payload = UInt64(value)
        case .node(let root): payload = Self.hasNodeBit | UInt64(root)
        case .flat(let block): payload = Self.hasNodeBit | Self.flatBit | UInt64(block)
        }
        top[slot].store(sequence | payload, ordering: .releasing)
    }

    /// What `slot` holds now.
    func content(of slot: Int) -> SlotContent {
        let entry = topEntry(slot)
        let payload = Int(entry & 0xFFFF_FFFF)
        if entry & Self.hasNodeBit == 0 { return .value(UInt32(truncatingIfNeeded: entry)) }
        return entry & Self.flatBit != 0 ? .flat(payload) : .node(payload)
    }

    /// Stores a childless root as a flat block: its leaf bitmap followed by its leaves.
    /// Takes over (and frees) the leaf run of `node`.
    func makeFlat(_ node: NodeWords) -> Int {
        precondition(node.childBits == 0)
        let leafCount = node.leafBits.populationCount
        let block = leaves.allocate(2 + leafCount)
        leafWords[block].store(UInt32(truncatingIfNeeded: node.leafBits), ordering: .relaxed)
        leafWords[block + 1].store(UInt32(truncatingIfNeeded: node.leafBits >> 32), ordering: .relaxed)
        for leaf in 0..<leafCount {
            leafWords[block + 2 + leaf].store(leafWords[node.leafBase + leaf].load(ordering: .relaxed), ordering: .relaxed)
        }
        if leafCount > 0 { leaves.free(node.leafBase, count: leafCount) }
        return block
    }

    /// Returns everything a slot's content holds to the allocators.
    func free(_ content: SlotContent) {
        switch content {
        case .value: break
        case .node(let root):
            freeBelow(readNode(root))
            nodes.free(root, count: 1)
        case .flat(let block):
            let leafBits =
                UInt64(leafWords[block].load(ordering: .relaxed))
                | UInt64(leafWords[block + 1].load(ordering: .relaxed)) << 32
            leaves.free(block, count: 2 + leafBits.populationCount)
        }
    }

    /// The root node index of `slot`, if it has a (non-flat) root node.
    func root(of slot: Int) -> Int? {
        if case .node(let root) = content(of: slot) { return root }
        return nil
    }
}
