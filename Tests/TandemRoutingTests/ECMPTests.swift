import TandemDatasets
import Testing

@testable import TandemRouting

/// The acceptance tests of ECMP's resilient bucket table, on a million seeded random flows.
@Suite struct ECMPTests {
    static let weightSets: [[UInt8]] = [
        [100, 100], [100, 100, 100, 100], [UInt8](repeating: 100, count: 8), [100, 50, 25, 10], [1, 3],
    ]

    /// Group weights and the index of the member that goes down.
    static let removals: [([UInt8], Int)] = [
        ([100, 100], 0), ([100, 100, 100, 100], 2), ([UInt8](repeating: 100, count: 8), 5),
        ([100, 50, 25, 10], 0), ([100, 50, 25, 10], 1), ([100, 50, 25, 10], 3), ([1, 3], 1),
    ]

    @Test(arguments: weightSets)
    func flowsSpreadByWeight(weights: [UInt8]) {
        let members = ECMPFixture.members(weights)
        var table = ResilientBucketTable()
        #expect(table.update(members: members, up: ECMPFixture.ids(members)) == table.bucketCount)
        let counts = ECMPFixture.flowCounts(table)
        let total = Double(weights.reduce(0) { $0 + Int($1) })
        for member in members {
            let fraction = Double(member.weight) / total
            let expected = Double(ECMPFixture.flowCount) * fraction
            let count = Double(counts[member.id, default: 0])
            #expect(abs(count - expected) <= 0.05 * expected, "member \(member.id): \(count) flows, want \(expected)")
            // The bucket count is the exact share rounded up or down.
            #expect(abs(Double(table.share(of: member.id)) - Double(table.bucketCount) * fraction) < 1)
        }
        #expect(table.share(of: ResilientBucketTable.noMember) == 0)
    }

    @Test(arguments: removals)
    func removingAMemberMovesOnlyItsFlows(weights: [UInt8], removed index: Int) {
        let members = ECMPFixture.members(weights)
        let removed = members[index]
        var table = ResilientBucketTable()
        table.update(members: members, up: ECMPFixture.ids(members))
        let before = table
        let changed = table.update(members: members, up: ECMPFixture.ids(members).subtracting([removed.id]))
        #expect(changed == before.share(of: removed.id))

        var kept = 0
        var strayed = 0
        var received: [UInt32: Int] = [:]
        for hash in ECMPFixture.hashes {
            let old = before.member(forHash: hash)
            let new = table.member(forHash: hash)
            if old != removed.id {
                if new == old { kept += 1 } else { strayed += 1 }
            } else {
                received[new, default: 0] += 1
            }
        }
        #expect(strayed == 0, "flows of members that stayed up moved")
        #expect(received[removed.id] == nil && received[ResilientBucketTable.noMember] == nil)
        let movedFlows = ECMPFixture.flowCount - kept
        let restWeight = Double(weights.reduce(0) { $0 + Int($1) } - Int(removed.weight))
        for member in members where member != removed {
            let expected = Double(movedFlows) * Double(member.weight) / restWeight
            let count = Double(received[member.id, default: 0])
            #expect(abs(count - expected) <= 0.05 * expected, "member \(member.id) got \(count), want \(expected)")
        }
    }

    @Test(arguments: removals)
    func returningMemberTakesBackOnlyItsShare(weights: [UInt8], removed index: Int) {
        let members = ECMPFixture.members(weights)
        let returning = members[index]
        var table = ResilientBucketTable()
        table.update(members: members, up: ECMPFixture.ids(members))
        table.update(members: members, up: ECMPFixture.ids(members).subtracting([returning.id]))
        let before = table
        let changed = table.update(members: members, up: ECMPFixture.ids(members))

        var moved = 0
        var movedElsewhere = 0
        for hash in ECMPFixture.hashes {
            let new = table.member(forHash: hash)
            guard new != before.member(forHash: hash) else { continue }
            moved += 1
            if new != returning.id { movedElsewhere += 1 }
        }
        #expect(movedElsewhere == 0, "flows moved to members that were up all along")
        let totalWeight = Double(weights.reduce(0) { $0 + Int($1) })
        let exactShare = Double(table.bucketCount) * Double(returning.weight) / totalWeight
        #expect(changed == table.share(of: returning.id))
        #expect(Double(changed) < exactShare + 1, "it took more than its quota")
        let fairFlows = Double(ECMPFixture.flowCount) * Double(returning.weight) / totalWeight
        let oneBucket = Double(ECMPFixture.flowCount) / Double(table.bucketCount)
        #expect(Double(moved) <= fairFlows * 1.05 + oneBucket, "\(moved) flows moved, fair share \(fairFlows)")
    }

    /// Groups in which plain largest remainder would round a member that stays up down when another leaves (the
    /// first), or up when another comes back (the second), and so move one bucket between members that stay up.
    static let roundingTraps: [([UInt8], Int)] = [([77, 2, 1, 1, 50, 100, 3], 3), ([13, 77, 1, 50, 50, 1, 13, 7], 5)]

    @Test(arguments: roundingTraps)
    func roundingNeverMovesFlowsBetweenMembersThatStayUp(weights: [UInt8], changing index: Int) {
        let members = ECMPFixture.members(weights)
        let changing = members[index].id
        let all = ECMPFixture.ids(members)
        // The member starts up, or down (a tunnel not yet established at boot), then flaps.
        for startsUp in [true, false] {
            var table = ResilientBucketTable()
            var previous: ResilientBucketTable?
            for step in 0..<4 {
                let up = (step % 2 == 0) == startsUp ? all : all.subtracting([changing])
                table.update(members: members, up: up)
                defer { previous = table }
                guard let previous else { continue }
                var strayed = 0
                for hash in ECMPFixture.hashes {
                    let (old, new) = (previous.member(forHash: hash), table.member(forHash: hash))
                    if old != new && old != changing && new != changing { strayed += 1 }
                }
                #expect(strayed == 0, "step \(step), starting \(startsUp ? "up" : "down")")
            }
        }
    }

    /// A member that goes down and comes back takes back exactly the buckets it had: its flows go home, and no
    /// flow of another member moves, neither at the failure nor at the return.
    @Test(arguments: removals)
    func aReturningMemberTakesBackItsOwnBuckets(weights: [UInt8], removed: Int) {
        let members = ECMPFixture.members(weights)
        let all = Set(members.map(\.id))
        var table = ResilientBucketTable(bucketCount: 1024)
        table.update(members: members, up: all)
        let before = table.buckets
        table.update(members: members, up: all.subtracting([members[removed].id]))
        let during = table.buckets
        for bucket in before.indices where before[bucket] != members[removed].id {
            #expect(during[bucket] == before[bucket], "bucket \(bucket) of another member moved at the failure")
        }
        // After the return every bucket is with its owner from before the failure, but for rounding: the quotas
        // of unequal weights are apportioned with the buckets each holds, so up to one bucket per member may land
        // elsewhere. Equal weights come back exactly.
        let exact = Set(weights).count == 1
        func moved(_ now: [UInt32]) -> Int { zip(now, before).filter { $0 != $1 }.count }
        table.update(members: members, up: all)
        #expect(exact ? moved(table.buckets) == 0 : moved(table.buckets) <= members.count, "\(moved(table.buckets)) moved")
        // A second failure and return of another member behaves the same way.
        let other = (removed + 1) % members.count
        table.update(members: members, up: all.subtracting([members[other].id]))
        table.update(members: members, up: all)
        #expect(exact ? moved(table.buckets) == 0 : moved(table.buckets) <= 2 * members.count, "\(moved(table.buckets)) moved")
    }

    @Test func standbyMemberCarriesEverythingOnlyWhileTheWeightedOneIsDown() {
        let members = [ECMPMember(id: 1, weight: 100), ECMPMember(id: 2, weight: 0)]
        var table = ResilientBucketTable()
        func everyFlow(on id: UInt32) -> Bool { ECMPFixture.hashes.allSatisfy { table.member(forHash: $0) == id } }

        table.update(members: members, up: [1, 2])
        #expect(everyFlow(on: 1))
        #expect(table.update(members: members, up: [2]) == table.bucketCount)
        #expect(everyFlow(on: 2))
        #expect(table.update(members: members, up: [1, 2]) == table.bucketCount)
        #expect(everyFlow(on: 1))
        // The standby member being down changes nothing while the weighted one is up.
        #expect(table.update(members: members, up: [1]) == 0)
    }

    @Test func standbyMembersShareEquallyWhenEveryWeightedOneIsDown() {
        let members = [
            ECMPMember(id: 1, weight: 60), ECMPMember(id: 2, weight: 40), ECMPMember(id: 3, weight: 0),
            ECMPMember(id: 4, weight: 0),
        ]
        var table = ResilientBucketTable(bucketCount: 1024)
        table.update(members: members, up: [1, 2, 3, 4])
        #expect(table.share(of: 3) == 0 && table.share(of: 4) == 0)
        table.update(members: members, up: [2, 3, 4])
        #expect(table.share(of: 2) == 1024)
        table.update(members: members, up: [3, 4])
        #expect(table.share(of: 3) == 512 && table.share(of: 4) == 512)
        table.update(members: members, up: [4])
        #expect(table.share(of: 4) == 1024)
    }

    @Test func nothingEligibleMeansNoMemberForEveryHash() {
        let members = ECMPFixture.members([100, 50, 0])
        var table = ResilientBucketTable()
        table.update(members: members, up: ECMPFixture.ids(members))
        #expect(table.update(members: members, up: []) == table.bucketCount)
        #expect(table.buckets.allSatisfy { $0 == ResilientBucketTable.noMember })
        #expect(ECMPFixture.hashes.prefix(100_000).allSatisfy { table.member(forHash: $0) == .max })
        // Identifiers that are up but not members do not count.
        #expect(table.update(members: members, up: [1, 2, 3]) == 0)
        #expect(table.update(members: [], up: ECMPFixture.ids(members)) == 0)
        #expect(table.share(of: ResilientBucketTable.noMember) == table.bucketCount)
    }

    @Test func firstFillInterleavesMembers() {
        var table = ResilientBucketTable()
        let equal = ECMPFixture.members([100, 100])
        table.update(members: equal, up: ECMPFixture.ids(equal))
        #expect(ECMPFixture.longestRun(table) == 1)
        var weighted = ResilientBucketTable()
        let members = ECMPFixture.members([100, 50, 25, 10])
        weighted.update(members: members, up: ECMPFixture.ids(members))
        #expect(ECMPFixture.longestRun(weighted) <= 3)
    }

    @Test func quotasRoundByLargestRemainderThenByID() {
        var table = ResilientBucketTable(bucketCount: 64)
        // 64 × 100/101 = 63.37 and 64 × 1/101 = 0.63: the small member's remainder is larger.
        table.update(members: [ECMPMember(id: 9, weight: 100), ECMPMember(id: 5, weight: 1)], up: [5, 9])
        #expect(table.share(of: 9) == 63 && table.share(of: 5) == 1)
        // 64 / 3 = 21.33 each: the smallest identifier gets the extra bucket, whatever the list order.
        var equal = ResilientBucketTable(bucketCount: 64)
        let three = [ECMPMember(id: 8, weight: 1), ECMPMember(id: 3, weight: 1), ECMPMember(id: 6, weight: 1)]
        equal.update(members: three, up: [3, 6, 8])
        #expect(equal.share(of: 3) == 22 && equal.share(of: 6) == 21 && equal.share(of: 8) == 21)
    }

    @Test func weightIncreaseMovesFlowsOnlyToThatMember() {
        var members = ECMPFixture.members([50, 50, 50])
        var table = ResilientBucketTable()
        table.update(members: members, up: ECMPFixture.ids(members))
        let before = table
        members[1].weight = 100
        let changed = table.update(members: members, up: ECMPFixture.ids(members))
        #expect(changed == table.share(of: members[1].id) - before.share(of: members[1].id))
        #expect(table.share(of: members[1].id) == table.bucketCount / 2)
        for bucket in 0..<table.bucketCount where table.buckets[bucket] != before.buckets[bucket] {
            #expect(table.buckets[bucket] == members[1].id)
        }
    }

    @Test func duplicateIDsKeepTheFirstListing() {
        var table = ResilientBucketTable(bucketCount: 256)
        let members = [ECMPMember(id: 1, weight: 50), ECMPMember(id: 2, weight: 50), ECMPMember(id: 1, weight: 100)]
        table.update(members: members, up: [1, 2])
        #expect(table.share(of: 1) == 128 && table.share(of: 2) == 128)
        // A later standby listing does not turn a weighted member into a standby one either.
        table.update(members: [ECMPMember(id: 1, weight: 10), ECMPMember(id: 1, weight: 0)], up: [1])
        #expect(table.share(of: 1) == 256)
    }

    @Test func bucketCountMustBeAPowerOfTwoInRange() async {
        #expect(ResilientBucketTable(bucketCount: 64).bucketCount == 64)
        #expect(ResilientBucketTable(bucketCount: 65536).bucketCount == 65536)
        await #expect(processExitsWith: .failure) { _ = ResilientBucketTable(bucketCount: 100) }
        await #expect(processExitsWith: .failure) { _ = ResilientBucketTable(bucketCount: 32) }
    }
}
