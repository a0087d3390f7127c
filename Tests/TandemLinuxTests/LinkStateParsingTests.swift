import CMnl
import Glibc
import Testing

@testable import TandemLinux

/// Link notifications are read only as far as they hold: a malformed one is dropped, never half read.
struct LinkStateParsingTests {
    typealias B = NetlinkBytes

    /// struct ifinfomsg: family, pad, type (u16), index (i32), flags (u32), change (u32).
    static func ifinfomsg(index: Int32, flags: UInt32) -> [UInt8] {
        [0, 0] + B.le(UInt16(1)) + B.le(index) + B.le(flags) + B.le(UInt32(0))
    }

    static let name = (type: Int32(IFLA_IFNAME), payload: Array("gw-a".utf8) + [0])

    @Test func newAndDeletedLinksAreRead() {
        let running = UInt32(IFF_UP | IFF_RUNNING) | 0x10000  // IFF_LOWER_UP
        let up = B.message(type: Int32(RTM_NEWLINK), family: Self.ifinfomsg(index: 4, flags: running), attributes: [Self.name])
        #expect(B.withMessage(up) { LinkState.parse($0) } == LinkState(name: "gw-a", index: 4, up: true))
        let noCarrier = B.message(
            type: Int32(RTM_NEWLINK), family: Self.ifinfomsg(index: 4, flags: UInt32(IFF_UP)), attributes: [Self.name])
        #expect(B.withMessage(noCarrier) { LinkState.parse($0) }?.up == false)
        let deleted = B.message(type: Int32(RTM_DELLINK), family: Self.ifinfomsg(index: 4, flags: running), attributes: [Self.name])
        #expect(B.withMessage(deleted) { LinkState.parse($0) }?.up == false, "a deleted device is down")
    }

    @Test func malformedLinkMessagesAreDropped() {
        let flags = UInt32(IFF_UP | IFF_RUNNING)
        let cases: [(String, [UInt8])] = [
            ("no name", B.message(type: Int32(RTM_NEWLINK), family: Self.ifinfomsg(index: 4, flags: flags))),
            ("unterminated name", B.message(
                type: Int32(RTM_NEWLINK), family: Self.ifinfomsg(index: 4, flags: flags),
                attributes: [(Int32(IFLA_IFNAME), Array("gw-a".utf8))])),
            ("index 0", B.message(type: Int32(RTM_NEWLINK), family: Self.ifinfomsg(index: 0, flags: flags), attributes: [Self.name])),
            ("short header", B.message(type: Int32(RTM_NEWLINK), family: [0, 0, 1, 0])),
            ("a route message", B.message(type: Int32(RTM_NEWROUTE), family: Self.ifinfomsg(index: 4, flags: flags), attributes: [Self.name])),
        ]
        for (what, message) in cases {
            #expect(B.withMessage(message) { LinkState.parse($0) } == nil, "\(what)")
        }
    }
}
