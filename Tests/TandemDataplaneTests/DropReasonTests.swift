import Testing
import TandemPacket
import TandemDataplane

@Suite struct DropReasonTests {
    @Test func reasonsPrintForPeople() {
        #expect(DropReason.noRoute.description == "no route")
        #expect(DropReason.ttlExceeded.description == "ttl exceeded")
    }
}
