/// One prefix longer than the direct bits, as the writer keeps it.
struct LongPrefix<Key: LPMKey> {
    var key: Key
    var length: UInt8
    var value: UInt32

    @inline(__always)
    static func precedes(_ a: (key: Key, length: Int), _ b: (key: Key, length: Int)) -> Bool {
        a.key != b.key ? a.key < b.key : a.length < b.length
    }
}

/// The writer's own record of every prefix, from which the read side is (re)built.
///
/// - Prefixes no longer than the direct bits ("short") live in a dictionary keyed by
///   `(index, length)`; the top array holds them expanded, with `depth` recording, per slot,
///   the length of the longest short prefix that covers it (the DIR-24-8 rule, as in rte_lpm).
/// - Longer prefixes live in one sorted array per top slot ("chunk"), ordered by key then
///   length, so a covering prefix always precedes what it covers and every subtree of the
///   trie is one contiguous run of the array.
struct PrefixStore<Key: LPMKey> {
    let directBits: Int
    var short: [UInt64: UInt32] = [:]
    var chunks: [Int: [LongPrefix<Key>]] = [:]
    /// Per top slot: length of the longest short prefix covering it, or `noDepth`.
    let depth: UnsafeMutablePointer<UInt8>
    /// How many prefixes of each length the table holds.
    var countByLength: [Int]
    static var noDepth: UInt8 { 0xFF }

    init(directBits: Int) {
        self.directBits = directBits
        depth = .allocate(capacity: 1 << directBits)
        depth.initialize(repeating: Self.noDepth, count: 1 << directBits)
        countByLength = Array(repeating: 0, count: Key.bitWidth + 1)
    }

    func deallocate() { depth.deallocate() }

    var count: Int { countByLength.reduce(0, +) }

    // MARK: Short prefixes

    @inline(__always)
    static func shortKey(_ key: Key, _ length: Int) -> UInt64 {
        length == 0 ? 0 : UInt64(truncatingIfNeeded: key &>> (Key.bitWidth - length)) << 8 | UInt64(length)
    }

    /// The top slot a key falls in.
    @inline(__always)
    func slot(of key: Key) -> Int { Int(truncatingIfNeeded: key &>> (Key.bitWidth - directBits)) }

    /// The value of the short prefix that covers `slot` best (what the slot's leaves inherit).
    func inheritedValue(slot: Int) -> UInt32? {
        let length = Int(depth[slot])
        guard length != Int(Self.noDepth) else { return nil }
        // The covering prefix's key is the slot's first `length` bits (see shortKey).
        return short[length == 0 ? 0 : UInt64(slot >> (directBits - length)) << 8 | UInt64(length)]
    }

    /// The longest short prefix strictly shorter than `length` that covers `key`.
    func coveringShort(_ key: Key, shorterThan length: Int) -> (length: Int, value: UInt32)? {
        var candidate = length - 1
        while candidate >= 0 {
            if countByLength[candidate] > 0, let value = short[Self.shortKey(key.masked(to: candidate), candidate)] {
                return (candidate, value)
            }
            candidate -= 1
        }
        return nil
    }

    // MARK: Long prefixes

    /// Index of the first entry of `list` at or after `(key, length)`.
    static func lowerBound(_ list: [LongPrefix<Key>], _ key: Key, _ length: Int) -> Int {
        var low = 0
        var high = list.count
        while low < high {
            let middle = (low + high) / 2
            if LongPrefix.precedes((list[middle].key, Int(list[middle].length)), (key, length)) {
                low = middle + 1
            } else {
                high = middle
            }
        }
        return low
    }

    func longValue(_ key: Key, _ length: Int) -> UInt32? {
        guard let list = chunks[slot(of: key)] else { return nil }
        let index = Self.lowerBound(list, key, length)
        guard index < list.count, list[index].key == key, Int(list[index].length) == length else { return nil }
        return list[index].value
    }

    /// The value that leaves of a node at `nodeDepth` whose region starts at `regionKey`
    /// inherit: the longest prefix of length `directBits+1 ... nodeDepth` covering the region,
    /// else the slot's short prefix.
    func inheritedValue(regionKey: Key, nodeDepth: Int, in list: [LongPrefix<Key>]) -> UInt32? {
        var length = nodeDepth
        while length > directBits {
            if countByLength[length] > 0 {
                let key = regionKey.masked(to: length)
                let index = Self.lowerBound(list, key, length)
                if index < list.count, list[index].key == key, Int(list[index].length) == length {
                    return list[index].value
                }
            }
            length -= 1
        }
        return inheritedValue(slot: slot(of: regionKey))
    }
}
