import Testing
import TandemRouting

@Suite struct RouteSourceTests {
    @Test func priorityOrderIsSpecificSystemStaticDynamic() {
        #expect(RouteSource.allCases.sorted() == [.specific, .system, .static, .dynamic])
        #expect(RouteSource.specific.priority == 0 && RouteSource.dynamic.priority == 3)
        #expect(RouteSource(name: "static") == .static)
        #expect(RouteSource(name: "bgp") == nil)
    }

    @Test func manualClockMovesOnlyWhenTold() {
        let clock = ManualClock()
        #expect(clock.now() == .zero)
        clock.advance(by: .milliseconds(1500))
        #expect(clock.now().nanoseconds == 1_500_000_000)
        #expect(clock.now().description == "1.500s")
        #expect(clock.now() - MonotonicInstant.zero == .milliseconds(1500))
        #expect(MonotonicInstant(nanoseconds: 5) + .nanoseconds(-10) == .zero)
    }
}
