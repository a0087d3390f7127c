import TandemControl
import TandemPacket
import Testing

@Suite("control requests")
struct ControlRequestTests {
    @Test func requestLinesRoundTrip() throws {
        let requests: [ControlRequest] = [
            ControlRequest(.routes(prefix: try RoutePrefix("198.19.0.0/16"), limit: 5), json: true),
            ControlRequest(.routes(prefix: nil, limit: nil)),
            ControlRequest(.groups), ControlRequest(.counters, json: true),
            ControlRequest(.lookup(.init(destination: "198.19.0.1", source: "198.18.0.1", protocol: 17, sourcePort: 5, destinationPort: 53))),
        ]
        for request in requests { #expect(try ControlRequest(line: request.line) == request) }
        #expect(throws: ControlRequestError.self) { try ControlRequest(line: "show nothing") }
        #expect(throws: ControlRequestError.self) { try ControlRequest(line: "lookup 198.19.0.1 proto bogus") }
        #expect(throws: ControlRequestError.self) { try ControlRequest(line: "") }
    }

    @Test func anAddressIsTakenAsAHostPrefix() throws {
        let v4 = try ControlRequest(line: "show routes 198.19.0.1")
        #expect(v4 == ControlRequest(.routes(prefix: try RoutePrefix("198.19.0.1/32"), limit: nil)))
        let v6 = try ControlRequest(line: "show routes 2001:db8::1 limit 3 json")
        #expect(v6 == ControlRequest(.routes(prefix: try RoutePrefix("2001:db8::1/128"), limit: 3), json: true))
    }

    @Test func drainAndUndrainRoundTripAndBadOnesAreRefused() throws {
        let requests: [ControlRequest] = [
            ControlRequest(.drain(tunnel: "a1", force: false)), ControlRequest(.drain(tunnel: "a1", force: true), json: true),
            ControlRequest(.undrain(tunnel: "a2")),
        ]
        #expect(requests.map(\.line) == ["drain a1", "drain a1 force json", "undrain a2"])
        for request in requests { #expect(try ControlRequest(line: request.line) == request) }
        for bad in ["drain", "undrain", "drain a1 now", "undrain a1 force", "undrain a1 a2"] {
            #expect(throws: ControlRequestError.self, "\(bad)") { try ControlRequest(line: bad) }
        }
        let unknown = #expect(throws: ControlRequestError.self) { try ControlRequest(line: "drian a1") }
        #expect(unknown?.description == "unknown request 'drian': use show, lookup, drain or undrain")
    }

    @Test func theDefaultSocketIsNamedAfterTheGateway() {
        #expect(ControlSocket.defaultPath(gateway: "site-a") == "/run/tandem/site-a.sock")
    }
}
