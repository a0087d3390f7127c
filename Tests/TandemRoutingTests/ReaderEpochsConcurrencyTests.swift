import Foundation
import Synchronization
import Testing
import TandemPacket
@testable import TandemRouting

/// QSBR with real threads: reader threads decide through the policy classifier in batches, announcing a quiescent
/// state between two batches and going offline now and then (as a pipeline thread blocked on its queue), while the
/// writer replaces the classifier over and over. A classifier freed while a reader still holds it is a use after free:
/// it may give a wrong answer here, and ThreadSanitizer and AddressSanitizer (tools/lib/check-sanitizers) report it.
@Suite("QSBR with reader threads", .serialized)
struct ReaderEpochsConcurrencyTests {
    /// Policy routes from 198.18.0.0/16 to 198.19.0.0/16 through `connection`, with one rule per extra port range
    /// so that the classifier has arrays worth reading (a freed one is read, not just its header).
    static func policy(via connection: Int, round: Int) -> [PolicyRoute] {
        (0..<8).map { rule in
            let low = UInt16(1000 * rule + round % 500)
            return PolicyRoute(
                match: .init(
                    source: prefix("198.18.0.0/16"), destination: prefix("198.19.0.0/16"), protocol: 17,
                    destinationPorts: low...(low + 400)),
                priority: UInt8(1 + rule), connection: c(connection))
        }
    }

    final class Stop: Sendable {
        let requested = Atomic<Bool>(false)
    }

    @Test func replacedClassifiersOutliveEveryReaderThatMayHoldThem() throws {
        let router = try TestGateway.router(
            connections: 3, routes: [Route(prefix: prefix("198.19.0.0/16"), source: .static, connection: c(2))],
            policy: Self.policy(via: 0, round: 0))
        let plane = router.plane
        let stop = Stop()
        let violations = Atomic<Int>(0)
        let batches = Atomic<Int>(0)
        let finished = Atomic<Int>(0)
        let readerCount = 2
        let source = v4("198.18.7.7")
        let destination = v4("198.19.3.3")
        for index in 0..<readerCount {
            Thread {
                let readers = plane.readers
                guard let reader = readers.register() else {
                    violations.add(1, ordering: .relaxed)
                    finished.add(1, ordering: .releasing)
                    return
                }
                var hash = UInt32(index)
                var batch = 0
                while !stop.requested.load(ordering: .relaxed) {
                    // One batch: every port of the rules, through whichever classifier is current.
                    for port in stride(from: UInt16(0), to: 8000, by: 97) {
                        hash &+= 0x9E37_79B9
                        let decision = plane.decide(
                            ipv4: destination, source: source, protocol: 17, destinationPort: port, flowHash: hash)
                        // Allowed: a policy rule through connection 0 or 1, or (a port no rule covers) the route via 2.
                        let ok = decision.outcome == .forward
                            && (decision.origin == .policy
                                ? decision.connection == c(0) || decision.connection == c(1)
                                : decision.connection == c(2))
                        if !ok { violations.add(1, ordering: .relaxed) }
                    }
                    readers.quiescent(reader)
                    batch += 1
                    batches.add(1, ordering: .relaxed)
                    if batch % 16 == 0 {
                        // As a pipeline thread waiting on its queue: holds nothing, blocks a while.
                        readers.offline(reader)
                        usleep(50)
                        readers.online(reader)
                    }
                }
                readers.unregister(reader)
                finished.add(1, ordering: .releasing)
            }.start()
        }
        while batches.load(ordering: .relaxed) < readerCount { usleep(100) }
        // Enough replacements that readers are caught mid-batch many times. With TANDEM_TEST_UNDER_SANITIZER=1
        // (tools/lib/check-sanitizers) a few: a classifier takes a second to build in a debug build under
        // ThreadSanitizer, and the readers run many batches meanwhile.
        let underSanitizer = ProcessInfo.processInfo.environment["TANDEM_TEST_UNDER_SANITIZER"] == "1"
        let (rounds, wantedBatches) = underSanitizer ? (8, 20) : (100, 200)
        var round = 1
        while round < rounds || batches.load(ordering: .relaxed) < wantedBatches {
            try router.replacePolicyRoutes(Self.policy(via: round % 2, round: round))
            round += 1
        }
        stop.requested.store(true, ordering: .relaxed)
        while finished.load(ordering: .acquiring) < readerCount { usleep(100) }
        #expect(violations.load(ordering: .relaxed) == 0, "a reader saw an answer no classifier gave")
        // Once no reader is registered, the next replacement frees everything retired.
        try router.replacePolicyRoutes(Self.policy(via: 1, round: round))
        #expect(router.retired.count == 0)
        let coveredPort = UInt16(1000 + round % 500)
        #expect(router.connection(for: "198.19.3.3", from: "198.18.7.7", protocol: 17, port: coveredPort) == 1)
    }
}
