/// A longest-prefix-match table over one key width: the writer's ``PrefixStore`` and the
/// lock-free ``Poptrie`` built from it. ``IPv4Table`` and ``IPv6Table`` wrap it with address types.
///
/// Updates touch only what changed: a short prefix repaints its top slots (and rebuilds the
/// subtrees under slots that have them, because their leaves inherit its value); a long prefix
/// rebuilds the subtree of the deepest node above its length. Single writer: callers
/// serialise mutations; lookups may run on any thread at any time.
final class LPMCore<Key: LPMKey>: @unchecked Sendable {
    let trie: Poptrie<Key>
    private(set) var store: PrefixStore<Key>
    let directBits: Int
    /// Scratch for the build: per level, 64 slot values and 64 child ranges.
    private let scratchValues: UnsafeMutablePointer<UInt32>
    private let scratchRanges: UnsafeMutablePointer<Int>

    init(directBits: Int) {
        populationCountIsAvailable
        self.directBits = directBits
        trie = Poptrie(directBits: directBits)
        store = PrefixStore(directBits: directBits)
        scratchValues = .allocate(capacity: trie.maxLevels * 64)
        scratchRanges = .allocate(capacity: trie.maxLevels * 128)
    }

    deinit {
        store.deallocate()
        scratchValues.deallocate()
        scratchRanges.deallocate()
    }

    static var noValue: UInt32 { Poptrie<Key>.noValue }

    /// Called with a top slot after the trie has published new content for it (the IPv4 table
    /// keeps its DIR-24 front in step this way). Writer thread only.
    var afterPublish: ((Int) -> Void)?

    private func publish(_ slot: Int, _ content: Poptrie<Key>.SlotContent) {
        trie.publish(slot, content)
        afterPublish?(slot)
    }

    // MARK: Mutations

    /// Sets the value of `key/length`, returning the value it replaced.
    @discardableResult
    func insert(_ key: Key, length: Int, value: UInt32) -> UInt32? {
        precondition(value < Self.noValue - 1, "value \(value) is above the largest allowed, \(Self.noValue - 2)")
        if length <= directBits {
            let shortKey = PrefixStore<Key>.shortKey(key, length)
            let old = store.short.updateValue(value, forKey: shortKey)
            if old == nil { store.countByLength[length] += 1 }
            repaint(key, length: length, newDepth: UInt8(length), newValue: value) { depth in
                depth == PrefixStore<Key>.noDepth || Int(depth) <= length
            }
            return old
        }
        let slot = store.slot(of: key)
        var list = store.chunks.removeValue(forKey: slot) ?? []
        let index = PrefixStore.lowerBound(list, key, length)
        var old: UInt32?
        if index < list.count, list[index].key == key, Int(list[index].length) == length {
            old = list[index].value
            list[index].value = value
        } else {
            list.insert(LongPrefix(key: key, length: UInt8(length), value: value), at: index)
            store.countByLength[length] += 1
        }
        store.chunks[slot] = list
        if old != value { rebuild(slot: slot, changedKey: key, length: length) }
        return old
    }

    /// Sets the values of many prefixes, as `insert` does one at a time, but rebuilds each top slot's subtree once
    /// for all of its changes rather than once per prefix: a table learned at start is a million inserts into some
    /// 100,000 slots. Readers see each slot before or after all of its changes (the prefixes shorter than the
    /// direct bits are painted one by one, as by `insert`).
    func insert(contentsOf entries: UnsafeBufferPointer<(key: Key, length: Int, value: UInt32)>) {
        // Per slot changed: the first change and how many; a slot changed once gets `insert`'s partial rebuild.
        var changedSlots: [Int: (key: Key, length: Int, count: Int)] = [:]
        for entry in entries {
            precondition(entry.value < Self.noValue - 1, "value \(entry.value) is above the largest allowed, \(Self.noValue - 2)")
            if entry.length <= directBits {
                insert(entry.key, length: entry.length, value: entry.value)
                continue
            }
            let slot = store.slot(of: entry.key)
            var list = store.chunks.removeValue(forKey: slot) ?? []
            let index = PrefixStore.lowerBound(list, entry.key, entry.length)
            var changed = true
            if index < list.count, list[index].key == entry.key, Int(list[index].length) == entry.length {
                changed = list[index].value != entry.value
                list[index].value = entry.value
            } else {
                list.insert(LongPrefix(key: entry.key, length: UInt8(entry.length), value: entry.value), at: index)
                store.countByLength[entry.length] += 1
            }
            store.chunks[slot] = list
            if changed { changedSlots[slot, default: (entry.key, entry.length, 0)].count += 1 }
        }
        for (slot, change) in changedSlots {
            if change.count == 1 {
                rebuild(slot: slot, changedKey: change.key, length: change.length)
            } else {
                replaceSubtree(slot: slot, inherited: store.inheritedValue(slot: slot) ?? Self.noValue)
            }
        }
    }

    /// Removes `key/length`, returning its value, or nil if it was not in the table.
    @discardableResult
    func remove(_ key: Key, length: Int) -> UInt32? {
        if length <= directBits {
            guard let old = store.short.removeValue(forKey: PrefixStore<Key>.shortKey(key, length)) else { return nil }
            store.countByLength[length] -= 1
            let cover = store.coveringShort(key, shorterThan: length)
            let newDepth = cover.map { UInt8($0.length) } ?? PrefixStore<Key>.noDepth
            repaint(key, length: length, newDepth: newDepth, newValue: cover?.value ?? Self.noValue) { depth in
                Int(depth) == length
            }
            return old
        }
        let slot = store.slot(of: key)
        guard var list = store.chunks.removeValue(forKey: slot) else { return nil }
        let index = PrefixStore.lowerBound(list, key, length)
        guard index < list.count, list[index].key == key, Int(list[index].length) == length else {
            store.chunks[slot] = list
            return nil
        }
        let old = list.remove(at: index).value
        store.countByLength[length] -= 1
        if !list.isEmpty { store.chunks[slot] = list }
        rebuild(slot: slot, changedKey: key, length: length)
        return old
    }

    /// Gives every top slot of `key/length` whose depth passes `owns` the new depth and the
    /// value that comes with it, and republishes it: its value, or its subtree rebuilt with the
    /// new inherited value.
    private func repaint(_ key: Key, length: Int, newDepth: UInt8, newValue: UInt32, owns: (UInt8) -> Bool) {
        let first = store.slot(of: key)
        let count = 1 << (directBits - length)
        for slot in first..<(first + count) where owns(store.depth[slot]) {
            store.depth[slot] = newDepth
            if case .value = trie.content(of: slot) {
                publish(slot, .value(newValue))
            } else {
                replaceSubtree(slot: slot, inherited: newValue)
            }
        }
    }

    /// Builds the whole subtree of `slot` afresh from its list (a flat block if the root has no
    /// children, a plain value if the list is empty), publishes it in one store, then frees the
    /// old one. Readers still in the old one see the slot's sequence move and retry.
    private func replaceSubtree(slot: Int, inherited: UInt32) {
        let old = trie.content(of: slot)
        let list = store.chunks[slot] ?? []
        let new: Poptrie<Key>.SlotContent
        trie.beginFreshWrite()
        if list.isEmpty {
            new = .value(inherited)
        } else {
            let root = build(list, 0..<list.count, depth: directBits, inherited: inherited)
            if root.childBits == 0 {
                new = .flat(trie.makeFlat(root))
            } else {
                let index = trie.nodes.allocate(1)
                trie.writeNode(index, root)
                new = .node(index)
            }
        }
        publish(slot, new)
        trie.free(old)
    }

    /// Brings the subtree under `slot` up to date after `changedKey/length` (longer than the
    /// direct bits) changed in the slot's list.
    private func rebuild(slot: Int, changedKey: Key, length: Int) {
        let list = store.chunks[slot] ?? []
        let inheritedBySlot = store.inheritedValue(slot: slot) ?? Self.noValue
        guard let root = trie.root(of: slot), !list.isEmpty else {
            replaceSubtree(slot: slot, inherited: inheritedBySlot)
            return
        }
        // The path of nodes from the root towards the changed prefix: stop at the deepest node
        // whose six bits contain the prefix's length, or where the path ends.
        var path: [(node: Int, depth: Int)] = [(root, directBits)]
        while true {
            let (node, depth) = path[path.count - 1]
            if length <= depth + 6 { break }
            let words = trie.readNode(node)
            let six = changedKey.sixBits(at: depth)
            let bit: UInt64 = 1 << UInt64(six)
            guard words.childBits & bit != 0 else { break }
            let child = words.childBase + (words.childBits & ((bit << 1) &- 1)).populationCount - 1
            path.append((child, depth + 6))
        }
        // A node whose region no longer holds anything deeper than itself must go: rebuild its parent.
        var range = 0..<0
        while true {
            let (_, depth) = path[path.count - 1]
            range = Self.deeperRange(list, regionKey: changedKey.masked(to: depth), depth: depth)
            if !range.isEmpty || path.count == 1 { break }
            path.removeLast()
        }
        if path.count == 1 {
            // The root itself changes: build it afresh (it may become flat) and swap it in.
            replaceSubtree(slot: slot, inherited: inheritedBySlot)
            return
        }
        let (node, depth) = path[path.count - 1]
        let inherited =
            store.inheritedValue(regionKey: changedKey.masked(to: depth), nodeDepth: depth, in: list) ?? Self.noValue
        trie.beginWrite(slot)
        trie.freeBelow(trie.readNode(node))
        trie.writeNode(node, build(list, range, depth: depth, inherited: inherited))
        publish(slot, .node(root))
    }

    /// The entries of `list` inside the region `regionKey/depth` that are longer than `depth`.
    static func deeperRange(_ list: [LongPrefix<Key>], regionKey: Key, depth: Int) -> Range<Int> {
        var low = PrefixStore.lowerBound(list, regionKey, depth + 1)
        let last = regionKey | (depth == 0 ? ~Key(0) : ~(~Key(0) &<< (Key.bitWidth - depth)))
        var high = PrefixStore.lowerBound(list, last, Key.bitWidth + 1)
        if high < low { high = low }
        // lowerBound(regionKey, depth+1) skips the prefixes covering the region at its start.
        while low < high, Int(list[low].length) <= depth { low += 1 }
        return low..<high
    }

    // MARK: Build

    /// Builds the node at `depth` for `list[range]` (sorted, all inside the node's region and
    /// longer than `depth`): allocates and fills its children and leaves, returns its words.
    func build(_ list: [LongPrefix<Key>], _ range: Range<Int>, depth: Int, inherited: UInt32) -> Poptrie<Key>.NodeWords {
        let level = (depth - directBits) / 6
        let values = scratchValues + level * 64
        let ranges = scratchRanges + level * 128
        values.update(repeating: inherited, count: 64)
        var childBits: UInt64 = 0
        list.withUnsafeBufferPointer { entries in
            for index in range {
                let entry = entries[index]
                let relative = Int(entry.length) - depth
                let six = entry.key.sixBits(at: depth)
                if relative <= 6 {
                    // Sorted order puts covering prefixes first, so painting in order leaves the longest.
                    (values + six).update(repeating: entry.value, count: 1 << (6 - relative))
                } else {
                    let bit: UInt64 = 1 << UInt64(six)
                    if childBits & bit == 0 {
                        childBits |= bit
                        ranges[six * 2] = index
                    }
                    ranges[six * 2 + 1] = index + 1
                }
            }
        }
        // Leaves: one per run of equal values among the slots that are not children.
        var leafBits: UInt64 = 0
        var leafCount = 0
        var previous: UInt32? = nil
        for six in 0..<64 where childBits & (1 << UInt64(six)) == 0 {
            if values[six] != previous {
                leafBits |= 1 << UInt64(six)
                leafCount += 1
                previous = values[six]
            }
        }
        var node = Poptrie<Key>.NodeWords(childBits: childBits, leafBits: leafBits)
        if leafCount > 0 {
            node.leafBase = trie.leaves.allocate(leafCount)
            var leaf = node.leafBase
            for six in 0..<64 where leafBits & (1 << UInt64(six)) != 0 {
                trie.leafWords[leaf].store(values[six], ordering: .relaxed)
                leaf += 1
            }
        }
        let childCount = childBits.populationCount
        if childCount > 0 {
            node.childBase = trie.nodes.allocate(childCount)
            var child = node.childBase
            for six in 0..<64 where childBits & (1 << UInt64(six)) != 0 {
                let childNode = build(list, ranges[six * 2]..<ranges[six * 2 + 1], depth: depth + 6, inherited: values[six])
                trie.writeNode(child, childNode)
                child += 1
            }
        }
        return node
    }

    // MARK: Bulk load

    /// Loads many prefixes into an empty table at once: the fast path for a full table.
    /// A prefix given twice keeps its last value.
    func load(_ entries: UnsafeBufferPointer<(key: Key, length: Int, value: UInt32)>) {
        precondition(store.count == 0, "load(_:) fills an empty table; use insert for updates")
        var long: [(entry: LongPrefix<Key>, order: Int)] = []
        long.reserveCapacity(entries.count)
        var shortOrder: [(length: Int, key: Key, value: UInt32)] = []
        for (order, entry) in entries.enumerated() {
            precondition(entry.value < Self.noValue - 1, "value \(entry.value) is above the largest allowed, \(Self.noValue - 2)")
            if entry.length <= directBits {
                shortOrder.append((entry.length, entry.key, entry.value))
            } else {
                long.append((LongPrefix(key: entry.key, length: UInt8(entry.length), value: entry.value), order))
            }
        }
        // Short prefixes: record them, then paint shortest first so longer ones win.
        for item in shortOrder {
            let key = PrefixStore<Key>.shortKey(item.key, item.length)
            if store.short.updateValue(item.value, forKey: key) == nil { store.countByLength[item.length] += 1 }
        }
        shortOrder.sort { $0.length < $1.length }
        for item in shortOrder where store.short[PrefixStore<Key>.shortKey(item.key, item.length)] == item.value {
            let first = store.slot(of: item.key)
            (store.depth + first).update(repeating: UInt8(item.length), count: 1 << (directBits - item.length))
        }
        // Long prefixes: sort by (key, length, order), keep the last of each prefix, cut into chunks.
        long.sort {
            $0.entry.key != $1.entry.key
                ? $0.entry.key < $1.entry.key
                : ($0.entry.length != $1.entry.length ? $0.entry.length < $1.entry.length : $0.order < $1.order)
        }
        var start = 0
        while start < long.count {
            let slot = store.slot(of: long[start].entry.key)
            var chunk: [LongPrefix<Key>] = []
            var index = start
            while index < long.count, store.slot(of: long[index].entry.key) == slot {
                let entry = long[index].entry
                if let last = chunk.last, last.key == entry.key, last.length == entry.length {
                    chunk[chunk.count - 1].value = entry.value
                } else {
                    chunk.append(entry)
                    store.countByLength[Int(entry.length)] += 1
                }
                index += 1
            }
            store.chunks[slot] = chunk
            replaceSubtree(slot: slot, inherited: store.inheritedValue(slot: slot) ?? Self.noValue)
            start = index
        }
        // Slots without longer prefixes take their short prefix's value; each slot is published once.
        for slot in 0..<(1 << directBits) where store.depth[slot] != PrefixStore<Key>.noDepth && store.chunks[slot] == nil {
            publish(slot, .value(store.inheritedValue(slot: slot) ?? Self.noValue))
        }
    }

    // MARK: Queries on the writer's side

    /// The exact value stored for `key/length`.
    func value(_ key: Key, length: Int) -> UInt32? {
        length <= directBits ? store.short[PrefixStore<Key>.shortKey(key, length)] : store.longValue(key, length)
    }

    /// The longest stored prefix matching `key` and its value, found from the writer's records
    /// (slower than ``Poptrie/lookup(_:)``; for tools and tests).
    func longestMatch(_ key: Key) -> (length: Int, value: UInt32)? {
        if store.chunks[store.slot(of: key)] != nil {
            var length = Key.bitWidth
            while length > directBits {
                if store.countByLength[length] > 0, let value = store.longValue(key.masked(to: length), length) {
                    return (length, value)
                }
                length -= 1
            }
        }
        return store.coveringShort(key, shorterThan: directBits + 1)
    }

    /// Every prefix with its value, in address order (shorter first at equal addresses).
    func entries() -> [(key: Key, length: Int, value: UInt32)] {
        var result: [(key: Key, length: Int, value: UInt32)] = []
        result.reserveCapacity(store.count)
        for (shortKey, value) in store.short {
            let length = Int(shortKey & 0xFF)
            let key = length == 0 ? 0 : Key(truncatingIfNeeded: shortKey >> 8) &<< (Key.bitWidth - length)
            result.append((key, length, value))
        }
        for list in store.chunks.values {
            for entry in list { result.append((entry.key, Int(entry.length), entry.value)) }
        }
        result.sort { $0.key != $1.key ? $0.key < $1.key : $0.length < $1.length }
        return result
    }

    var count: Int { store.count }
    var countByLength: [Int] { store.countByLength }

    /// Memory the table holds, by part, in bytes.
    var memory: LPMMemoryUsage {
        let slots = 1 << directBits
        var longBytes = 0
        for list in store.chunks.values { longBytes += list.capacity * MemoryLayout<LongPrefix<Key>>.stride + 32 }
        // Swift dictionaries: one bit of metadata, a key and a value per bucket, buckets a power of two.
        let shortBytes = store.short.capacity * (MemoryLayout<UInt64>.stride + MemoryLayout<UInt32>.stride) + 64
        let chunkMapBytes = store.chunks.capacity * (MemoryLayout<Int>.stride + MemoryLayout<[LongPrefix<Key>]>.stride) + 64
        return LPMMemoryUsage(
            directBytes: 0,
            topBytes: slots * 8,
            nodeBytes: trie.nodes.highWater * 24,
            leafBytes: trie.leaves.highWater * 4,
            writerBytes: slots + shortBytes + chunkMapBytes + longBytes
                + trie.maxLevels * 64 * (MemoryLayout<UInt32>.stride + 2 * MemoryLayout<Int>.stride))
    }
}

/// Where a table's memory goes, in bytes.
public struct LPMMemoryUsage: Sendable, Equatable {
    /// The IPv4 DIR-24 front: 2 bytes per /24 (32 MiB), or 0 without it.
    public var directBytes: Int
    /// The direct-pointing array, 8 bytes per slot.
    public var topBytes: Int
    /// Every node the trie has used (24 bytes each), freed ones included.
    public var nodeBytes: Int
    /// Every leaf the trie has used (4 bytes each), freed ones included.
    public var leafBytes: Int
    /// The writer's records of the prefixes (not touched by lookups).
    public var writerBytes: Int
    /// What lookups touch.
    public var lookupBytes: Int { directBytes + topBytes + nodeBytes + leafBytes }
    /// Everything.
    public var totalBytes: Int { lookupBytes + writerBytes }
}
