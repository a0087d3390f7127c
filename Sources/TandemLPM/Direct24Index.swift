import Synchronization

/// A DIR-24 front for the IPv4 poptrie: one 16-bit word per /24 that holds the answer for the
/// whole /24 whenever no prefix longer than /24 starts inside it (99.9% of a full table), so
/// that most lookups read one word and stop.
///
/// Why: on the machines Tandem runs on (a 2-core VM sharing its L3 with neighbours) a random
/// IPv4 lookup costs what its chain of dependent cache misses costs. The poptrie alone needs
/// three (top slot, node, leaf); this array needs one, and independent lookups overlap their
/// misses. DPDK's rte_lpm makes the same trade (its tbl24). The poptrie stays the source of
/// truth: the writer derives every word from it after each change, and words whose /24 holds
/// longer prefixes send the reader to the poptrie.
///
/// Why 16 bits: the array is what a random lookup misses into, and half its size (32 MiB instead
/// of 64) is half the cache lines and huge pages a spread of addresses touches, and more of it
/// fits a shared L3 (docs/benchmarks.md). The values Tandem stores are route chain ids, a few
/// thousand in practice (prefixes with the same candidate routes share one); a larger value is
/// still right, found through the poptrie.
///
/// Word encoding: 0 = no route (so untouched pages read as "no route"), `value + 1` = the
/// answer for a value up to ``largestDirectValue``, `UInt16.max` = "ask the poptrie" (longer
/// prefixes inside the /24, or a larger value). Each word is written with one atomic store after
/// the poptrie has published the change, so a reader gets the answer from before or after it.
/// Requires the poptrie to resolve exactly 18 direct bits, so that one node level spans a /24.
final class Direct24Index: @unchecked Sendable {
    static var consultTrie: UInt16 { .max }
    static var noRoute: UInt16 { 0 }
    static var directBits: Int { 18 }
    /// The largest value a word holds itself (one below "ask the poptrie", once one is added).
    static var largestDirectValue: UInt32 { UInt32(UInt16.max) - 2 }

    let words: UnsafeMutablePointer<Atomic<UInt16>>
    private let memory: ReservedMemory

    init() {
        memory = ReservedMemory(byteCount: Self.bytes)
        words = memory.base.bindMemory(to: Atomic<UInt16>.self, capacity: 1 << 24)
    }

    /// The array's size: a word per /24.
    static var bytes: Int { (1 << 24) * MemoryLayout<UInt16>.stride }
    var bytes: Int { Self.bytes }

    /// The word that answers `value` for a whole /24 (the trie's `noValue` is "no route").
    static func word(answering value: UInt32) -> UInt16 {
        if value == Poptrie<UInt32>.noValue { return noRoute }
        return value <= largestDirectValue ? UInt16(value &+ 1) : consultTrie
    }

    /// Rewrites the 64 words under top slot `slot` (a /18) from what the trie holds there now.
    func refresh(slot: Int, from trie: Poptrie<UInt32>) {
        precondition(trie.directBits == Self.directBits)
        let first = slot << 6
        switch trie.content(of: slot) {
        case .value(let value):
            let word = Self.word(answering: value)
            for index in first..<(first + 64) { words[index].store(word, ordering: .relaxed) }
        case .flat(let block):
            let leafBits =
                UInt64(trie.leafWords[block].load(ordering: .relaxed))
                | UInt64(trie.leafWords[block + 1].load(ordering: .relaxed)) << 32
            store(first, childBits: 0, leafBits: leafBits) { trie.leafWords[block + 1 + $0].load(ordering: .relaxed) }
        case .node(let root):
            let node = trie.readNode(root)
            store(first, childBits: node.childBits, leafBits: node.leafBits) {
                trie.leafWords[node.leafBase + $0 - 1].load(ordering: .relaxed)
            }
        }
    }

    /// Stores the 64 words of one root node: a child means longer prefixes (ask the trie);
    /// a leaf slot takes its leaf, found by rank as a lookup would (`leaf(rank)`, rank from 1).
    private func store(_ first: Int, childBits: UInt64, leafBits: UInt64, leaf: (Int) -> UInt32) {
        for six in 0..<64 {
            let bit: UInt64 = 1 << UInt64(six)
            let word: UInt16
            if childBits & bit != 0 {
                word = Self.consultTrie
            } else {
                word = Self.word(answering: leaf((leafBits & ((bit << 1) &- 1)).populationCount))
            }
            words[first + six].store(word, ordering: .relaxed)
        }
    }
}
