import Testing
import TandemPacket
@testable import TandemRouting

/// A replaced policy classifier stays alive until every registered reader has passed a quiescent state.
@Suite struct ReaderEpochsTests {
    static func policy(priority: UInt8) -> [PolicyRoute] {
        [PolicyRoute(
            match: .init(source: prefix("198.18.0.0/16"), destination: prefix("198.19.0.0/16")), priority: priority,
            connection: c(0))]
    }

    @Test func replacedClassifiersWaitForReaders() throws {
        let router = try TestGateway.router(connections: 1, policy: Self.policy(priority: 1))
        let readers = router.plane.readers
        let reader = try #require(readers.register())
        try router.replacePolicyRoutes(Self.policy(priority: 2))
        #expect(router.retired.count == 1, "the reader may still hold the first classifier")
        readers.quiescent(reader)
        try router.replacePolicyRoutes(Self.policy(priority: 3))
        #expect(router.retired.count == 1, "the first is freed; the second waits for the reader")
        readers.offline(reader)
        try router.replacePolicyRoutes(Self.policy(priority: 4))
        #expect(router.retired.count == 0, "an offline reader holds nothing")
        readers.online(reader)
        try router.replacePolicyRoutes([])
        #expect(router.retired.count == 1)
        readers.unregister(reader)
        try router.replacePolicyRoutes(Self.policy(priority: 5))
        #expect(router.retired.count == 0)
        #expect(router.connection(for: "198.19.0.1", from: "198.18.0.1") == 0)
    }

    @Test func registrationIsBounded() {
        let readers = ReaderEpochs()
        let all = (0..<ReaderEpochs.capacity).compactMap { _ in readers.register() }
        #expect(all.count == ReaderEpochs.capacity)
        #expect(readers.register() == nil)
        readers.unregister(all[3])
        #expect(readers.register() != nil)
    }
}
