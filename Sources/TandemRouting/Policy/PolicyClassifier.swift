// The policy routes of one family, compiled for the fast path: a bit-vector classifier.
//
// Rules are numbered in evaluation order (priority, then configuration order). The source and destination
// addresses each map, through an IntervalIndex, to a class whose bit set holds the rules that field admits; the
// AND of the two sets, scanned from the lowest bit, lists the candidate rules in evaluation order, and only
// those are checked for protocol and port. A packet whose source no policy prefix contains costs one read.

/// The compiled policy routes of one family (immutable; the router replaces it whole).
public final class PolicyClassifier<Key: FixedWidthInteger & UnsignedInteger & Sendable>: @unchecked Sendable {
    /// One rule: the group it sends to, and the non-prefix part of its match.
    @usableFromInline
    struct Rule: Sendable {
        @usableFromInline var group: GroupID
        /// 0...255, or 256 = any.
        @usableFromInline var `protocol`: UInt16
        @usableFromInline var lowPort: UInt16
        @usableFromInline var highPort: UInt16
    }

    @usableFromInline let rules: [Rule]
    @usableFromInline let words: Int
    @usableFromInline let sourceIndex: IntervalIndex<Key>
    @usableFromInline let destinationIndex: IntervalIndex<Key>
    /// Bit sets, `words` per class; class 0 is the empty set.
    @usableFromInline let sourceSets: [UInt64]
    @usableFromInline let destinationSets: [UInt64]

    /// One rule to compile: prefixes as (network, length), in evaluation order.
    struct Input {
        var source: (network: Key, length: Int)
        var destination: (network: Key, length: Int)
        var `protocol`: UInt8?
        var ports: ClosedRange<UInt16>?
        var group: GroupID
    }

    /// Compiles `inputs`, which must already be in evaluation order.
    init(_ inputs: [Input]) {
        precondition(!inputs.isEmpty)
        let words = (inputs.count + 63) / 64
        self.words = words
        rules = inputs.map {
            Rule(
                group: $0.group, protocol: $0.protocol.map(UInt16.init) ?? 256,
                lowPort: $0.ports?.lowerBound ?? 0, highPort: $0.ports?.upperBound ?? .max)
        }
        (sourceIndex, sourceSets) = Self.index(inputs.map(\.source), words: words)
        (destinationIndex, destinationSets) = Self.index(inputs.map(\.destination), words: words)
    }

    /// Builds the interval index of one field and the bit set of each class (rule i admits the interval if its
    /// prefix for this field contains it).
    private static func index(
        _ prefixes: [(network: Key, length: Int)], words: Int
    ) -> (IntervalIndex<Key>, [UInt64]) {
        var sets: [UInt64] = Array(repeating: 0, count: words)  // class 0: no rule
        var classOfSet: [[UInt64]: UInt16] = [Array(repeating: 0, count: words): 0]
        let index = IntervalIndex<Key>(prefixes: prefixes) { rules in
            var set = [UInt64](repeating: 0, count: words)
            for rule in rules { set[rule / 64] |= 1 << UInt64(rule % 64) }
            if let known = classOfSet[set] { return known }
            let newClass = UInt16(classOfSet.count)
            classOfSet[set] = newClass
            sets.append(contentsOf: set)
            return newClass
        }
        return (index, sets)
    }

    /// The first matching rule, in evaluation order, whose group leads to a live tunnel; nil if none does.
    @inlinable
    func decide(
        source: Key, destination: Key, protocol: UInt8, destinationPort: UInt16, flowHash: UInt32,
        plane: ForwardingPlane
    ) -> ForwardingDecision? {
        // Both fields are classified before either is tested: whether a source falls in a policy prefix is a
        // coin toss for a site's traffic, and a mispredicted branch costs more than the second lookup, which runs
        // in parallel with the first. Class 0 is the empty set, so the AND below rejects such packets.
        let sourceClass = sourceIndex.classify(source)
        let destinationClass = destinationIndex.classify(destination)
        return sourceSets.withUnsafeBufferPointer { sourceSets in
            destinationSets.withUnsafeBufferPointer { destinationSets in
                rules.withUnsafeBufferPointer { rules -> ForwardingDecision? in
                    for word in 0..<words {
                        var candidates =
                            sourceSets[sourceClass &* words &+ word] & destinationSets[destinationClass &* words &+ word]
                        while candidates != 0 {
                            let rule = rules[word &* 64 &+ candidates.trailingZeroBitCount]
                            candidates &= candidates &- 1
                            guard rule.protocol == 256 || rule.protocol == UInt16(`protocol`) else { continue }
                            guard destinationPort >= rule.lowPort && destinationPort <= rule.highPort else { continue }
                            let decision = plane.decide(
                                group: rule.group, origin: .policy, flowHash: flowHash, requireLive: true)
                            if decision.outcome == .forward { return decision }
                        }
                    }
                    return nil
                }
            }
        }
    }
}
