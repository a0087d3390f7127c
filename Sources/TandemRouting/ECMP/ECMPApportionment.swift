// How many buckets each ECMP member gets, and in which order freed buckets are handed out.

/// The arithmetic of ``ResilientBucketTable/update(members:up:)``: quotas and interleaving.
enum ECMPApportionment {
    /// The number of buckets of each member: proportional to its weight, summing to `bucketCount` exactly.
    ///
    /// Each quota is the floor or the ceiling of the member's exact share (bucketCount × weight / total). The
    /// buckets left after the floors go, one each, to members with a fractional share, in this order:
    /// 1. members that already hold more than their floor: rounding them up keeps a bucket in place. This is
    ///    what makes a removal move only the removed member's buckets: every other share grows, and largest
    ///    remainder alone could still round one of them down below what it holds and move one of its buckets;
    /// 2. members that gain buckets anyway (they hold fewer than their floor, or none: a member coming back), so
    ///    that a member coming back is the only one that takes buckets;
    /// 3. the others;
    ///
    /// and within each group by largest remainder, then by smaller slot (the slots are sorted by member id).
    /// On an empty table every member is in group 2 and this is the plain largest remainder method.
    ///
    /// - Parameters:
    ///   - weights: The effective weight of each slot, each above 0.
    ///   - held: The number of buckets each slot holds now.
    ///   - bucketCount: The number of buckets to share out.
    /// - Returns: The quota of each slot.
    static func quotas(weights: [Int], held: [Int], bucketCount: Int) -> [Int] {
        let total = weights.reduce(0, +)
        precondition(total > 0, "ECMP quotas need a member with a weight")
        var quotas = weights.map { bucketCount * $0 / total }
        let leftover = bucketCount - quotas.reduce(0, +)
        guard leftover > 0 else { return quotas }
        // Remainders share the denominator `total`, so they compare as integers.
        let remainders = weights.map { bucketCount * $0 % total }
        func group(_ slot: Int) -> Int {
            if held[slot] > quotas[slot] { return 0 }
            if held[slot] < quotas[slot] || held[slot] == 0 { return 1 }
            return 2
        }
        // The sum of the fractional parts is `leftover` and each is below 1: there are more candidates than that.
        let candidates = weights.indices.filter { remainders[$0] > 0 }.sorted { a, b in
            let (groupA, groupB) = (group(a), group(b))
            if groupA != groupB { return groupA < groupB }
            if remainders[a] != remainders[b] { return remainders[a] > remainders[b] }
            return a < b
        }
        for slot in candidates.prefix(leftover) { quotas[slot] += 1 }
        return quotas
    }

    /// The order in which freed buckets go to the members that need them, spread so that each member's new
    /// buckets are evenly spaced among the freed ones rather than a contiguous run.
    ///
    /// The j-th bucket of a slot that needs n has the ideal rank (j + ½) × total / n among `total` freed
    /// buckets; a counting sort by that rank (ties by slot) gives the order in O(total + slots).
    ///
    /// - Parameter needs: The number of buckets each slot takes.
    /// - Returns: The slots, one per freed bucket, in the order of the freed buckets.
    static func interleave(needs: [Int]) -> [Int] {
        let total = needs.reduce(0, +)
        guard total > 0 else { return [] }
        // (2j + 1) × total / (2n) < total for j < n: every rank is a valid index.
        func rank(_ index: Int, of need: Int) -> Int { (2 * index + 1) * total / (2 * need) }
        var starts = [Int](repeating: 0, count: total + 1)
        for need in needs where need > 0 {
            for index in 0..<need { starts[rank(index, of: need) + 1] += 1 }
        }
        for position in 0..<total { starts[position + 1] += starts[position] }
        var order = [Int](repeating: 0, count: total)
        for (slot, need) in needs.enumerated() where need > 0 {
            for index in 0..<need {
                let position = rank(index, of: need)
                order[starts[position]] = slot
                starts[position] += 1
            }
        }
        return order
    }
}
