import CMnl
import Glibc
import Testing
import TandemPacket

@testable import TandemLinux

/// Netlink messages built byte by byte, as the kernel (or something claiming to be it) could send them.
struct NetlinkBytes {
    private(set) var bytes: [UInt8] = []

    /// One message: nlmsghdr (its length filled in last), the family header's bytes, then the attributes.
    static func message(
        type: Int32, flags: Int32 = 0, sequence: UInt32 = 1, port: UInt32 = 0, family header: [UInt8],
        attributes: [(type: Int32, payload: [UInt8])] = []
    ) -> [UInt8] {
        var body = header
        while body.count % 4 != 0 { body.append(0) }
        for attribute in attributes {
            body += le(UInt16(4 + attribute.payload.count)) + le(UInt16(attribute.type)) + attribute.payload
            while body.count % 4 != 0 { body.append(0) }
        }
        return le(UInt32(16 + body.count)) + le(UInt16(type)) + le(UInt16(flags)) + le(sequence) + le(port) + body
    }

    /// struct rtmsg: family, dst_len, src_len, tos, table, protocol, scope, type, flags (u32).
    static func rtmsg(family: Int32, length: UInt8, table: UInt8 = 254, protocol: UInt8 = 12, type: Int32 = 1)
        -> [UInt8]
    {
        [UInt8(family), length, 0, 0, table, `protocol`, 0, UInt8(type)] + le(UInt32(0))
    }

    static func le<Value: FixedWidthInteger>(_ value: Value) -> [UInt8] { withUnsafeBytes(of: value) { Array($0) } }

    /// Calls `body` with the first message of `bytes` as the parsers get it.
    static func withMessage<Result>(_ bytes: [UInt8], _ body: (UnsafePointer<nlmsghdr>) -> Result) -> Result {
        // Copied to exactly its size: a read past the message is a read past the allocation (ASan sees it).
        let storage = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count, alignment: 4)
        defer { storage.deallocate() }
        storage.copyBytes(from: bytes)
        return body(storage.baseAddress!.assumingMemoryBound(to: nlmsghdr.self))
    }
}

/// The route, rule and nexthop parsers read only what a message holds, and leave out a malformed one instead of
/// trapping or reading past it (issue 13: attribute lengths were not validated, rtm_dst_len reached a precondition).
struct NetlinkParsingTests {
    typealias B = NetlinkBytes

    @Test func aWellFormedRouteIsRead() throws {
        let message = B.message(
            type: Int32(RTM_NEWROUTE), family: B.rtmsg(family: AF_INET, length: 24),
            attributes: [
                (Int32(RTA_TABLE.rawValue), B.le(UInt32(100))), (Int32(RTA_DST.rawValue), [198, 18, 4, 0]),
                (Int32(RTA_OIF.rawValue), B.le(UInt32(3))),
            ])
        let route = B.withMessage(message) { RouteNetlink.parse($0) }
        #expect(route == KernelRoute(prefix: try RoutePrefix("198.18.4.0/24"), table: 100, protocol: 12, target: .device(3)))
    }

    @Test func aPrefixLengthBeyondTheFamilysWidthIsLeftOut() {
        for (family, length, address) in [(AF_INET, UInt8(33), [UInt8](repeating: 0, count: 4)),
            (AF_INET6, 129, [UInt8](repeating: 0, count: 16)), (AF_INET, 255, [198, 18, 0, 0])]
        {
            let message = B.message(
                type: Int32(RTM_NEWROUTE), family: B.rtmsg(family: family, length: length),
                attributes: [(Int32(RTA_DST.rawValue), address)])
            #expect(B.withMessage(message) { RouteNetlink.parse($0) } == nil, "length \(length)")
        }
    }

    @Test func attributesOfTheWrongSizeMakeTheRouteMalformed() {
        let cases: [(String, Int32, [(type: Int32, payload: [UInt8])])] = [
            ("an IPv6 destination of 4 bytes", AF_INET6, [(Int32(RTA_DST.rawValue), [32, 1, 13, 184])]),
            ("an IPv4 destination of 16 bytes", AF_INET, [(Int32(RTA_DST.rawValue), [UInt8](repeating: 1, count: 16))]),
            ("a table of 2 bytes", AF_INET, [(Int32(RTA_TABLE.rawValue), [7, 0])]),
            ("a device of 1 byte", AF_INET, [(Int32(RTA_OIF.rawValue), [3])]),
            ("a gateway of 3 bytes", AF_INET, [(Int32(RTA_GATEWAY.rawValue), [198, 18, 0])]),
            ("a nexthop id of 8 bytes", AF_INET, [(Int32(RTA_NH_ID.rawValue), B.le(UInt64(5)))]),
            ("a via with only its family", AF_INET, [(Int32(RTA_VIA.rawValue), B.le(UInt16(AF_INET6)))]),
            // struct rtnexthop claiming 64 bytes inside an 8-byte attribute.
            ("a multipath record longer than the attribute", AF_INET,
                [(Int32(RTA_MULTIPATH.rawValue), B.le(UInt16(64)) + [0, 0] + B.le(UInt32(3)))]),
        ]
        for (name, family, attributes) in cases {
            let message = B.message(
                type: Int32(RTM_NEWROUTE), family: B.rtmsg(family: family, length: 0), attributes: attributes)
            #expect(B.withMessage(message) { RouteNetlink.parse($0) } == nil, "\(name)")
        }
    }

    @Test func aMessageShorterThanRtmsgIsLeftOut() {
        // nlmsghdr alone, then half an rtmsg: nothing past the message may be read as the rest of it.
        let message = B.le(UInt32(22)) + B.le(UInt16(RTM_NEWROUTE)) + [0, 0] + B.le(UInt32(1)) + B.le(UInt32(0))
            + [UInt8(AF_INET), 24, 0, 0, 254, 12]
        #expect(B.withMessage(message) { RouteNetlink.parse($0) } == nil)
        #expect(B.withMessage(message) { RouteNetlink.parseRule($0) } == nil)
        #expect(B.withMessage(message) { RouteNetlink.parseNexthop($0) } == nil)
    }

    @Test func aRuleWithADeviceNameWithoutItsTerminatorIsLeftOut() {
        let header = B.rtmsg(family: AF_INET, length: 0, table: 100, protocol: 0, type: 1)
        let good = B.message(
            type: Int32(RTM_NEWRULE), family: header, attributes: [(Int32(FRA_IIFNAME), Array("tun0".utf8) + [0])])
        #expect(B.withMessage(good) { RouteNetlink.parseRule($0) }?.inputDevice == "tun0")
        let unterminated = B.message(
            type: Int32(RTM_NEWRULE), family: header, attributes: [(Int32(FRA_IIFNAME), Array("tun0".utf8))])
        #expect(B.withMessage(unterminated) { RouteNetlink.parseRule($0) } == nil)
        let shortPriority = B.message(type: Int32(RTM_NEWRULE), family: header, attributes: [(Int32(FRA_PRIORITY), [1])])
        #expect(B.withMessage(shortPriority) { RouteNetlink.parseRule($0) } == nil)
    }

    @Test func aNexthopGroupOfPartEntriesIsLeftOut() {
        let header: [UInt8] = [UInt8(AF_UNSPEC), 0, 0, 0] + B.le(UInt32(0))  // nhmsg: family, scope, protocol, resvd, flags
        let whole = B.message(
            type: Int32(RTM_NEWNEXTHOP), family: header,
            attributes: [(Int32(NHA_ID), B.le(UInt32(9))), (Int32(NHA_GROUP), B.le(UInt32(4)) + [0, 0, 0, 0])])
        #expect(B.withMessage(whole) { RouteNetlink.parseNexthop($0) }?.id == 9)
        let part = B.message(
            type: Int32(RTM_NEWNEXTHOP), family: header,
            attributes: [(Int32(NHA_ID), B.le(UInt32(9))), (Int32(NHA_GROUP), B.le(UInt32(4)) + [0, 0, 0])])
        #expect(B.withMessage(part) { RouteNetlink.parseNexthop($0) } == nil)
        let shortID = B.message(type: Int32(RTM_NEWNEXTHOP), family: header, attributes: [(Int32(NHA_ID), [9, 0])])
        #expect(B.withMessage(shortID) { RouteNetlink.parseNexthop($0) } == nil)
    }
}

/// A dump's replies are only the messages with its sequence number and port: a late answer to a request that
/// timed out no longer fails (or fills) the next dump, and NLM_F_DUMP_INTR is noticed (issue 13).
struct NetlinkDumpRepliesTests {
    typealias B = NetlinkBytes
    static let port: UInt32 = 4242

    static func route(_ third: UInt8, sequence: UInt32, flags: Int32 = Int32(NLM_F_MULTI)) -> [UInt8] {
        B.message(
            type: Int32(RTM_NEWROUTE), flags: flags, sequence: sequence, port: port,
            family: B.rtmsg(family: AF_INET, length: 24), attributes: [(Int32(RTA_DST.rawValue), [198, 18, third, 0])])
    }

    static func error(_ code: Int32, sequence: UInt32) -> [UInt8] {
        // nlmsgerr: the code, then (NETLINK_CAP_ACK) just the failed request's header.
        B.message(type: NLMSG_ERROR, sequence: sequence, port: port, family: B.le(code) + [UInt8](repeating: 0, count: 16))
    }

    static func done(sequence: UInt32, code: Int32 = 0) -> [UInt8] {
        B.message(type: NLMSG_DONE, flags: Int32(NLM_F_MULTI), sequence: sequence, port: port, family: B.le(code))
    }

    /// Reads `datagrams` as the replies to dump `sequence`; returns the routes and the reader.
    static func read(_ datagrams: [[UInt8]], sequence: UInt32) throws -> ([KernelRoute], NetlinkDumpReplies) {
        var replies = NetlinkDumpReplies(sequence: sequence, portID: port, what: "routes")
        var routes: [KernelRoute] = []
        for datagram in datagrams {
            try datagram.withUnsafeBytes { bytes in
                try replies.read(bytes) { if let route = RouteNetlink.parse($0) { routes.append(route) } }
            }
        }
        return (routes, replies)
    }

    @Test func lateAnswersOfAnEarlierRequestAreLeftOut() throws {
        // Request 7 timed out: its refusal (EEXIST) and the tail of its dump arrive while dump 8 is read; so does a
        // reply addressed to another socket's port.
        let stale = Self.error(-EEXIST, sequence: 7) + Self.route(1, sequence: 7) + Self.done(sequence: 7)
        var otherPort = Self.route(9, sequence: 8)
        otherPort.replaceSubrange(12..<16, with: B.le(UInt32(99)))
        let (routes, replies) = try Self.read(
            [stale, Self.route(2, sequence: 8) + otherPort, Self.route(3, sequence: 8) + Self.done(sequence: 8)],
            sequence: 8)
        #expect(routes.map(\.prefix.description) == ["198.18.2.0/24", "198.18.3.0/24"])
        #expect(replies.done && !replies.interrupted)
        #expect(replies.skipped == 4)
    }

    @Test func anInterruptedDumpIsNoticed() throws {
        let flagged = Int32(NLM_F_MULTI | NLM_F_DUMP_INTR)
        let (_, replies) = try Self.read(
            [Self.route(1, sequence: 3), Self.route(2, sequence: 3, flags: flagged) + Self.done(sequence: 3)], sequence: 3)
        #expect(replies.done && replies.interrupted)
    }

    @Test func thisDumpsErrorsFailIt() {
        #expect(throws: SystemError(code: EPERM, operation: "dumping routes")) {
            _ = try Self.read([Self.route(1, sequence: 5) + Self.error(-EPERM, sequence: 5)], sequence: 5)
        }
        // A dump that fails half way ends with NLMSG_DONE carrying the error.
        #expect(throws: SystemError(code: EMSGSIZE, operation: "dumping routes")) {
            _ = try Self.read([Self.route(1, sequence: 5) + Self.done(sequence: 5, code: -EMSGSIZE)], sequence: 5)
        }
    }

    /// A length of 2^31 or more: libmnl's mnl_nlmsg_ok took it for negative and let mnl_nlmsg_next jump gigabytes
    /// away (a SEGV, found by the NetlinkMessages fuzz target). The datagram ends there instead.
    @Test func aMessageLengthOf2To31OrMoreEndsTheDatagram() throws {
        var huge = Self.route(4, sequence: 8)
        huge.replaceSubrange(0..<4, with: B.le(UInt32(0xC6FF_FFEF)))
        let (routes, replies) = try Self.read(
            [Self.route(2, sequence: 8) + huge + Self.route(5, sequence: 8) + Self.done(sequence: 8)], sequence: 8)
        #expect(routes.map(\.prefix.description) == ["198.18.2.0/24"])
        #expect(!replies.done)
    }

    /// An error code that is no negated errno (positive, or Int32.min, whose negation traps) is a malformed
    /// answer: EPROTO (found by the NetlinkMessages fuzz target).
    @Test func anErrorCodeThatIsNoNegatedErrnoIsEPROTO() {
        for code in [Int32(6146), Int32.min, -5000] {
            #expect(throws: SystemError(code: EPROTO, operation: "dumping routes"), "\(code)") {
                _ = try Self.read([Self.error(code, sequence: 6)], sequence: 6)
            }
        }
        #expect(throws: SystemError(code: EPROTO, operation: "dumping routes")) {
            _ = try Self.read([Self.done(sequence: 6, code: Int32.min)], sequence: 6)
        }
    }

    @Test func aTruncatedErrorIsARefusalNotARead() {
        // NLMSG_ERROR with no room for its code.
        let short = B.message(type: NLMSG_ERROR, sequence: 6, port: Self.port, family: [])
        #expect(throws: SystemError(code: EPROTO, operation: "dumping routes")) {
            _ = try Self.read([short], sequence: 6)
        }
    }
}
