// Classifies an address by the set of policy prefixes that contain it, in one to three reads.
//
// The prefixes of the policy routes cut the address space into elementary intervals; within one interval every
// address is contained by the same prefixes. Each interval carries a class (an index into the policy
// classifier's bit sets; class 0 = no prefix contains it). A direct index on the top 16 bits of the address
// answers in one read where its /16 holds a single interval, which is most of the space. That index takes
// 256 KiB, more than a first-level cache, so an 8 KiB bitmap in front of it marks the /16s whose entry differs
// from the most common one: an address in any other /16 (nearly all traffic, when the policy prefixes are
// site subnets or 0.0.0.0/0) is classified from the bitmap alone. A /16 cut into many
// intervals (a site's /24 subnets, typically) gets a second direct index on the next 8 bits; only what is left
// (intervals finer than /24 within one /24) is found by a binary search over a few boundaries.

/// The classes of an address space cut by a set of prefixes.
@usableFromInline
struct IntervalIndex<Key: FixedWidthInteger & UnsignedInteger & Sendable>: Sendable {
    /// Per top-16-bit slot, an entry (see `classify`).
    @usableFromInline let top: [UInt32]
    /// The most common entry of `top`, and a bit per slot whose entry is another.
    @usableFromInline let commonEntry: UInt32
    @usableFromInline let exceptions: [UInt64]
    /// Second-level tables, 256 entries each, for /16s with many intervals.
    @usableFromInline let second: [UInt32]
    /// The first address of each interval, ascending; `starts[0] == 0`.
    @usableFromInline let starts: [Key]
    /// The class of each interval.
    @usableFromInline let classes: [UInt16]

    // An entry is a class (directBit set), a second-level table (secondBit set, the table's first index), or
    // the range of intervals to search: the first in bits 0...14, the last in bits 15...29.
    @usableFromInline static var directBit: UInt32 { 1 << 31 }
    @usableFromInline static var secondBit: UInt32 { 1 << 30 }
    @usableFromInline static var topShift: Int { Key.bitWidth - 16 }
    @usableFromInline static var secondShift: Int { Key.bitWidth - 24 }
    /// A /16 with more intervals than this gets a second-level table.
    static var secondLevelThreshold: Int { 4 }

    /// Builds the index. `classOf` gives the class of an interval from the sorted indices of the prefixes
    /// that contain it.
    init(prefixes: [(network: Key, length: Int)], classOf: ([Int]) -> UInt16) {
        // Interval boundaries: every prefix's first address and the address after its last.
        var boundaries: Set<Key> = [0]
        for prefix in prefixes {
            boundaries.insert(prefix.network)
            let size = prefix.length == 0 ? nil : Key(1) << (Key.bitWidth - prefix.length)
            if let size, prefix.network &+ size != 0 { boundaries.insert(prefix.network &+ size) }
        }
        let starts = boundaries.sorted()
        precondition(starts.count < 1 << 15, "too many policy prefixes for the interval index")
        // Which prefixes contain each interval (prefixes are nested or disjoint, so each covers a run).
        var members = Array(repeating: [Int](), count: starts.count)
        for (index, prefix) in prefixes.enumerated() {
            var interval = Self.intervalIndex(of: prefix.network, in: starts)
            let last: Key = prefix.length == 0 ? .max : prefix.network | (Key.max >> prefix.length)
            while interval < starts.count && starts[interval] <= last {
                members[interval].append(index)
                interval += 1
            }
        }
        let classes = members.map(classOf)
        // An entry for the addresses first...last.
        func entry(_ first: Key, _ last: Key) -> UInt32 {
            let lo = Self.intervalIndex(of: first, in: starts)
            let hi = Self.intervalIndex(of: last, in: starts)
            return lo == hi ? Self.directBit | UInt32(classes[lo]) : UInt32(hi) << 15 | UInt32(lo)
        }
        var top = [UInt32](repeating: 0, count: 1 << 16)
        var second: [UInt32] = []
        for slot in 0..<(1 << 16) {
            let first = Key(slot) << Self.topShift
            let last = first | (Key.max >> 16)
            let lo = Self.intervalIndex(of: first, in: starts)
            let hi = Self.intervalIndex(of: last, in: starts)
            if hi - lo > Self.secondLevelThreshold {
                top[slot] = Self.secondBit | UInt32(second.count)
                for sub in 0..<256 {
                    let subFirst = first | Key(sub) << Self.secondShift
                    second.append(entry(subFirst, subFirst | (Key.max >> 24)))
                }
            } else {
                top[slot] = entry(first, last)
            }
        }
        precondition(second.count < 1 << 30)
        var frequency: [UInt32: Int] = [:]
        for entry in top { frequency[entry, default: 0] += 1 }
        let common = frequency.max { ($0.value, $1.key) < ($1.value, $0.key) }!.key
        var exceptions = [UInt64](repeating: 0, count: (1 << 16) / 64)
        for slot in 0..<(1 << 16) where top[slot] != common { exceptions[slot >> 6] |= 1 << UInt64(slot & 63) }
        self.commonEntry = common
        self.exceptions = exceptions
        self.top = top
        self.second = second
        self.starts = starts
        self.classes = classes
    }

    /// The index of the interval that contains `key`: the last start at or below it.
    static func intervalIndex(of key: Key, in starts: [Key]) -> Int {
        var low = 0
        var high = starts.count - 1
        while low < high {
            let middle = (low + high + 1) / 2
            if starts[middle] <= key { low = middle } else { high = middle - 1 }
        }
        return low
    }

    /// The class of `key`.
    @inlinable
    func classify(_ key: Key) -> Int {
        let slot = Int(truncatingIfNeeded: key >> Self.topShift)
        let exception = exceptions.withUnsafeBufferPointer { $0[slot &>> 6] } &>> UInt64(slot & 63) & 1
        var entry = exception == 0 ? commonEntry : top.withUnsafeBufferPointer { $0[slot] }
        if entry & Self.secondBit != 0 {
            let index = Int(entry & ~Self.secondBit) &+ Int(truncatingIfNeeded: key >> Self.secondShift) & 0xFF
            entry = second.withUnsafeBufferPointer { $0[index] }
        }
        if entry & Self.directBit != 0 { return Int(entry & 0xFFFF) }
        var low = Int(entry & 0x7FFF)
        var high = Int(entry >> 15 & 0x7FFF)
        return starts.withUnsafeBufferPointer { starts in
            while low < high {
                let middle = (low &+ high &+ 1) &>> 1
                if starts[middle] <= key { low = middle } else { high = middle &- 1 }
            }
            return classes.withUnsafeBufferPointer { Int($0[low]) }
        }
    }
}
