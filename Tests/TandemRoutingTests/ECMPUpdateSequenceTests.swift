import TandemDatasets
import Testing

@testable import TandemRouting

/// Long random sequences of ECMP updates (paths going down and up, weights changing): the invariants hold at
/// every step and a replay gives the same tables.
@Suite struct ECMPUpdateSequenceTests {
    /// One step: the member list (weights may change, order is shuffled) and who is up.
    struct Step {
        var members: [ECMPMember]
        var up: Set<UInt32>
    }

    static func randomSteps(count: Int, seed: UInt64) -> [Step] {
        var random = SplitMix64(seed: seed)
        let weightChoices: [UInt8] = [0, 1, 10, 25, 50, 100]
        var weights: [UInt8] = [100, 100, 50, 10, 0, 25]
        return (0..<count).map { _ in
            if random.next() % 4 == 0 {
                weights[Int(random.next() % UInt64(weights.count))] = weightChoices.randomElement(using: &random)!
            }
            let members = ECMPFixture.members(weights).shuffled(using: &random)
            // Each member is up with probability 3/4, so that all-down and standby-only steps occur too.
            let up = Set(members.map(\.id).filter { _ in random.next() % 4 != 0 })
            return Step(members: members, up: up)
        }
    }

    /// The eligible members of a step and their weights (standby members count 1), computed independently of
    /// the table.
    static func eligibleWeights(_ step: Step) -> [UInt32: Int] {
        let upMembers = step.members.filter { step.up.contains($0.id) }
        let weighted = upMembers.filter { $0.weight > 0 }
        if weighted.isEmpty { return Dictionary(uniqueKeysWithValues: upMembers.map { ($0.id, 1) }) }
        return Dictionary(uniqueKeysWithValues: weighted.map { ($0.id, Int($0.weight)) })
    }

    static func shares(_ table: ResilientBucketTable) -> [UInt32: Int] {
        table.buckets.reduce(into: [:]) { $0[$1, default: 0] += 1 }
    }

    @Test(arguments: [1 as UInt64, 2, 3])
    func everyStepFollowsTheWeightsAndMovesAsLittleAsPossible(seed: UInt64) {
        var table = ResilientBucketTable(bucketCount: 1024)
        var previousWeights: [UInt32: Int] = [:]
        for step in Self.randomSteps(count: 300, seed: seed) {
            let before = table
            let oldShares = Self.shares(before)
            let changed = table.update(members: step.members, up: step.up)
            let newShares = Self.shares(table)
            let weights = Self.eligibleWeights(step)
            let total = weights.values.reduce(0, +)

            // Quota rule: every eligible member holds its exact share rounded up or down; nobody else holds any.
            if weights.isEmpty {
                #expect(newShares == [ResilientBucketTable.noMember: 1024])
            } else {
                #expect(newShares.keys.allSatisfy { weights[$0] != nil })
                for (id, weight) in weights {
                    let exact = 1024 * weight / total
                    let rounded = 1024 * weight % total == 0 ? [exact] : [exact, exact + 1]
                    #expect(rounded.contains(newShares[id, default: 0]), "member \(id) of \(weights)")
                }
            }

            // Minimal moves: buckets leave only members that lost share, and only as many as they lost.
            var moves = 0
            for bucket in 0..<1024 where before.buckets[bucket] != table.buckets[bucket] {
                moves += 1
                let (old, new) = (before.buckets[bucket], table.buckets[bucket])
                #expect(newShares[old, default: 0] < oldShares[old, default: 0])
                #expect(newShares[new, default: 0] > oldShares[new, default: 0])
            }
            let gained = newShares.reduce(0) { $0 + max(0, $1.value - oldShares[$1.key, default: 0]) }
            #expect(changed == moves && moves == gained)

            // Members going down (weights unchanged): only their buckets move. Members coming up: buckets move
            // only to them.
            let shrank = weights.allSatisfy { previousWeights[$0.key] == $0.value }
            let grew = previousWeights.allSatisfy { weights[$0.key] == $0.value }
            for bucket in 0..<1024 where before.buckets[bucket] != table.buckets[bucket] {
                if shrank && !previousWeights.isEmpty { #expect(weights[before.buckets[bucket]] == nil) }
                if grew { #expect(previousWeights[table.buckets[bucket]] == nil) }
            }
            previousWeights = weights
            // The same update again changes nothing: rounding does not oscillate.
            let settled = table
            #expect(table.update(members: step.members, up: step.up) == 0 && table.buckets == settled.buckets)
        }
    }

    @Test func replaysGiveTheSameTablesWhateverTheMemberOrder() {
        let steps = Self.randomSteps(count: 200, seed: 42)
        var first = ResilientBucketTable(bucketCount: 512)
        var second = ResilientBucketTable(bucketCount: 512)
        var random = SplitMix64(seed: 7)
        for step in steps {
            first.update(members: step.members, up: step.up)
            second.update(members: step.members.shuffled(using: &random), up: step.up)
            #expect(first.buckets == second.buckets)
        }
    }
}
