import Synchronization
import TandemPacket

/// What ``IPv4Table`` and ``IPv6Table`` share, so that tests and tools are written once.
///
/// Values are 32-bit (Tandem stores next-hop-group ids) up to ``LPMTable/maximumValue``;
/// `UInt32.max` means "no match" in batch results (``LPMTable/noMatch``).
///
/// Threads: any number of threads may call the lookup methods at any time, also while one
/// thread changes the table; changes must come from one thread at a time (the control plane).
/// A lookup never blocks and returns an answer the table held at some instant during the call.
public protocol LPMTable: AnyObject, Sendable {
    associatedtype Prefix: IPPrefix
    typealias Address = Prefix.Address

    /// Sets the value of `prefix` and returns the value it replaced, if any.
    /// - Precondition: `value <= maximumValue`.
    @discardableResult func insert(_ prefix: Prefix, value: UInt32) -> UInt32?
    /// Sets the values of many prefixes, as ``insert(_:value:)`` one at a time but faster: each part of the trie
    /// they change is rebuilt once (a prefix given twice keeps its last value).
    func insert(contentsOf routes: [(prefix: Prefix, value: UInt32)])
    /// Removes `prefix` and returns its value, or nil if the table did not hold it.
    @discardableResult func remove(_ prefix: Prefix) -> UInt32?
    /// The value stored for exactly `prefix`.
    func value(for prefix: Prefix) -> UInt32?
    /// The value of the longest prefix that contains `address`.
    func lookup(_ address: Address) -> UInt32?
    /// The longest prefix that contains `address`, with its value (from the control records;
    /// slower than ``lookup(_:)``; for tools and tests).
    func longestMatch(_ address: Address) -> (prefix: Prefix, value: UInt32)?
    /// Looks up `addresses[i]` into `values[i]` for every i; ``noMatch`` where nothing matches.
    func lookup(_ addresses: UnsafeBufferPointer<Address>, into values: UnsafeMutableBufferPointer<UInt32>)
    /// Fills an empty table with many prefixes at once (a prefix given twice keeps its last value).
    func load(_ routes: [(prefix: Prefix, value: UInt32)])
    /// Every prefix with its value, in address order (shorter first at the same address).
    func routes() -> [(prefix: Prefix, value: UInt32)]
    /// How many prefixes the table holds.
    var count: Int { get }
    /// How many prefixes of each length (index = length).
    var countByLength: [Int] { get }
    /// The memory the table holds, counted by the table from its own allocations.
    var memoryUsage: LPMMemoryUsage { get }
}

extension LPMTable {
    /// The value batch lookups write where no prefix matches.
    public static var noMatch: UInt32 { .max }
    /// The largest value a prefix may carry (the two above it are reserved: "no match", and
    /// the IPv4 DIR-24 front's "ask the trie").
    public static var maximumValue: UInt32 { .max - 2 }
}

/// An IPv4 longest-prefix-match table. Default geometry: a DIR-24 array answers every /24
/// without longer prefixes in one read; behind it a poptrie with 2^18 direct slots and 6-bit
/// nodes holds everything (see the TandemLPM documentation for the measurements behind it).
public final class IPv4Table: LPMTable {
    public typealias Prefix = IPv4Prefix
    let core: LPMCore<UInt32>
    let trie: Poptrie<UInt32>
    let direct: Direct24Index?
    /// `direct`'s words, held as a plain pointer so that a lookup costs no reference counting.
    @usableFromInline nonisolated(unsafe) let directWords: UnsafeMutablePointer<Atomic<UInt16>>?

    /// Makes an empty table whose poptrie resolves the first `directBits` bits (6...24) with one
    /// array read. With the default 18 the table also keeps the DIR-24 front (32 MiB); other
    /// values give a plain poptrie (for measurements and small tables).
    public init(directBits: Int = 18) {
        core = LPMCore(directBits: directBits)
        trie = core.trie
        if directBits == Direct24Index.directBits {
            let direct = Direct24Index()
            let trie = self.trie
            core.afterPublish = { slot in direct.refresh(slot: slot, from: trie) }
            self.direct = direct
            directWords = direct.words
        } else {
            direct = nil
            directWords = nil
        }
    }

    /// Inlined into the caller: the common case is one read of the DIR-24 front.
    @inlinable
    public func lookup(_ address: IPv4Address) -> UInt32? {
        if let directWords {
            let word = directWords[Int(truncatingIfNeeded: address.rawValue &>> 8)].load(ordering: .relaxed)
            if word &+ 1 > 1 { return UInt32(word) &- 1 }  // an answer (neither "no route" nor "ask the trie")
            if word == 0 { return nil }
        }
        return trieLookup(address)
    }

    /// The poptrie's answer: for /24s that hold longer prefixes, and tables without the front.
    @usableFromInline
    func trieLookup(_ address: IPv4Address) -> UInt32? {
        let value = trie.lookup(address.rawValue)
        return value == Self.noMatch ? nil : value
    }

    public func lookup(_ addresses: UnsafeBufferPointer<IPv4Address>, into values: UnsafeMutableBufferPointer<UInt32>) {
        guard let directWords else {
            addresses.withMemoryRebound(to: UInt32.self) { trie.lookup($0, into: values) }
            return
        }
        precondition(values.count >= addresses.count, "the result buffer is shorter than the address buffer")
        guard let keys = addresses.baseAddress, let results = values.baseAddress else { return }
        // Almost every lookup is one read of the 32 MiB front, a cache miss: prefetch the word of
        // the address `ahead` places on, so that that many misses are in flight at once.
        let ahead = Self.prefetchDistance
        let count = addresses.count
        for index in 0..<min(ahead, count) {
            prefetch(directWords + Int(truncatingIfNeeded: keys[index].rawValue &>> 8))
        }
        @inline(__always) func answer(_ index: Int) {
            let address = keys[index].rawValue
            let word = directWords[Int(truncatingIfNeeded: address &>> 8)].load(ordering: .relaxed)
            // "No route" (0) minus one is noMatch: only "ask the trie" needs a branch, and it is rare.
            results[index] = word != Direct24Index.consultTrie ? UInt32(word) &- 1 : trie.lookup(address)
        }
        // Two loops, so that the one that prefetches has no branch for the batch's end.
        let prefetching = max(count &- ahead, 0)
        for index in 0..<prefetching {
            prefetch(directWords + Int(truncatingIfNeeded: keys[index &+ ahead].rawValue &>> 8))
            answer(index)
        }
        for index in prefetching..<count { answer(index) }
    }

    /// How many addresses ahead the batch lookup prefetches the front's words.
    static var prefetchDistance: Int { 32 }

    @discardableResult public func insert(_ prefix: IPv4Prefix, value: UInt32) -> UInt32? {
        core.insert(prefix.address.rawValue, length: prefix.length, value: value)
    }
    public func insert(contentsOf routes: [(prefix: IPv4Prefix, value: UInt32)]) {
        let entries = routes.map { (key: $0.prefix.address.rawValue, length: $0.prefix.length, value: $0.value) }
        entries.withUnsafeBufferPointer { core.insert(contentsOf: $0) }
    }
    @discardableResult public func remove(_ prefix: IPv4Prefix) -> UInt32? {
        core.remove(prefix.address.rawValue, length: prefix.length)
    }
    public func value(for prefix: IPv4Prefix) -> UInt32? { core.value(prefix.address.rawValue, length: prefix.length) }
    public func longestMatch(_ address: IPv4Address) -> (prefix: IPv4Prefix, value: UInt32)? {
        core.longestMatch(address.rawValue).map { (IPv4Prefix(normalizing: address, length: $0.length), $0.value) }
    }
    public func load(_ routes: [(prefix: IPv4Prefix, value: UInt32)]) {
        let entries = routes.map { (key: $0.prefix.address.rawValue, length: $0.prefix.length, value: $0.value) }
        entries.withUnsafeBufferPointer { core.load($0) }
    }
    public func routes() -> [(prefix: IPv4Prefix, value: UInt32)] {
        core.entries().map { (IPv4Prefix(normalizing: IPv4Address(rawValue: $0.key), length: $0.length), $0.value) }
    }
    public var count: Int { core.count }
    public var countByLength: [Int] { core.countByLength }
    public var memoryUsage: LPMMemoryUsage {
        var usage = core.memory
        usage.directBytes = direct?.bytes ?? 0
        return usage
    }
}

/// An IPv6 longest-prefix-match table. Default geometry: 2^20 direct slots, then 6-bit nodes.
public final class IPv6Table: LPMTable {
    public typealias Prefix = IPv6Prefix
    let core: LPMCore<UInt128>
    let trie: Poptrie<UInt128>

    /// Makes an empty table that resolves the first `directBits` bits (6...24) with one array read.
    public init(directBits: Int = 20) {
        core = LPMCore(directBits: directBits)
        trie = core.trie
    }

    @inline(__always)
    public func lookup(_ address: IPv6Address) -> UInt32? {
        let value = trie.lookup(address.rawValue)
        return value == Self.noMatch ? nil : value
    }

    public func lookup(_ addresses: UnsafeBufferPointer<IPv6Address>, into values: UnsafeMutableBufferPointer<UInt32>) {
        addresses.withMemoryRebound(to: UInt128.self) { trie.lookup($0, into: values) }
    }

    @discardableResult public func insert(_ prefix: IPv6Prefix, value: UInt32) -> UInt32? {
        core.insert(prefix.address.rawValue, length: prefix.length, value: value)
    }
    public func insert(contentsOf routes: [(prefix: IPv6Prefix, value: UInt32)]) {
        let entries = routes.map { (key: $0.prefix.address.rawValue, length: $0.prefix.length, value: $0.value) }
        entries.withUnsafeBufferPointer { core.insert(contentsOf: $0) }
    }
    @discardableResult public func remove(_ prefix: IPv6Prefix) -> UInt32? {
        core.remove(prefix.address.rawValue, length: prefix.length)
    }
    public func value(for prefix: IPv6Prefix) -> UInt32? { core.value(prefix.address.rawValue, length: prefix.length) }
    public func longestMatch(_ address: IPv6Address) -> (prefix: IPv6Prefix, value: UInt32)? {
        core.longestMatch(address.rawValue).map { (IPv6Prefix(normalizing: address, length: $0.length), $0.value) }
    }
    public func load(_ routes: [(prefix: IPv6Prefix, value: UInt32)]) {
        let entries = routes.map { (key: $0.prefix.address.rawValue, length: $0.prefix.length, value: $0.value) }
        entries.withUnsafeBufferPointer { core.load($0) }
    }
    public func routes() -> [(prefix: IPv6Prefix, value: UInt32)] {
        core.entries().map { (IPv6Prefix(normalizing: IPv6Address(rawValue: $0.key), length: $0.length), $0.value) }
    }
    public var count: Int { core.count }
    public var countByLength: [Int] { core.countByLength }
    public var memoryUsage: LPMMemoryUsage { core.memory }
}
