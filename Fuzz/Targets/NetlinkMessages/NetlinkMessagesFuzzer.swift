// Fuzz target 6: the netlink parsers, on what the kernel (or anything that can write to a netlink socket) sends:
// a datagram of messages read as a dump's replies (`NetlinkDumpReplies`: sequence numbers, ports, DONE, ERROR,
// NLM_F_DUMP_INTR) and each message as a route (`RouteNetlink.parse`, which the notification loop uses too), a rule,
// a nexthop object and a neighbour entry. The parsers are internal: `@testable import`.
//
// Input: 8 bytes of sequence number and port (whose replies the dump takes), then the datagram. Checks: nothing is
// read past a message (ASan; the message is copied to a buffer of exactly its size), a route's prefix fits its
// family, and a route read, written back with the same writer Tandem uses to program the kernel, reads the same.

import CMnl
import FuzzSupport
import TandemPacket

@testable import TandemLinux

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    let sequence = UInt32(input.uint16()) << 16 | UInt32(input.uint16())
    let port = UInt32(input.uint16()) << 16 | UInt32(input.uint16())
    let datagram = input.takeRest()

    let aligned = UnsafeMutableRawBufferPointer.allocate(byteCount: datagram.count, alignment: 4)
    defer { aligned.deallocate() }
    aligned.copyMemory(from: datagram)
    var replies = NetlinkDumpReplies(sequence: sequence, portID: port, what: "routes")
    var taken = 0
    do {
        try replies.read(UnsafeRawBufferPointer(aligned)) { message in
            fuzzCheck(message.pointee.nlmsg_seq == sequence && message.pointee.nlmsg_pid == port, "another request's reply")
            taken += 1
        }
    } catch {
        fuzzCheck(error.code > 0, "an error without its errno: \(error)")
    }

    forEachMessage(in: datagram) { message in
        if let route = RouteNetlink.parse(message) { checkRoundTrip(route) }
        _ = RouteNetlink.parseRule(message)
        _ = RouteNetlink.parseNexthop(message)
        _ = RouteNetlink.parseNeighbour(message)
    }
    return 0
}

/// Each message the daemon's own reader accepts, copied to an allocation of exactly its length.
private func forEachMessage(in datagram: UnsafeRawBufferPointer, _ body: (UnsafePointer<nlmsghdr>) -> Void) {
    // Netlink messages sit at 4-aligned offsets of a receive buffer: the datagram is copied to aligned memory first.
    let aligned = UnsafeMutableRawBufferPointer.allocate(byteCount: datagram.count, alignment: 4)
    defer { aligned.deallocate() }
    aligned.copyMemory(from: datagram)
    NetlinkDatagram.forEachMessage(in: UnsafeRawBufferPointer(aligned)) { message in
        let length = Int(message.pointee.nlmsg_len)
        fuzzCheck(length >= 16 && length <= datagram.count, "a message of \(length) bytes in \(datagram.count)")
        let copy = UnsafeMutableRawBufferPointer.allocate(byteCount: length, alignment: 4)
        copy.copyMemory(from: UnsafeRawBufferPointer(start: message, count: length))
        body(UnsafePointer(copy.baseAddress!.assumingMemoryBound(to: nlmsghdr.self)))
        copy.deallocate()
        return true
    }
}

/// A route read from the wire, written as Tandem writes routes and read again, is the same route.
private func checkRoundTrip(_ route: KernelRoute) {
    switch route.prefix {
    case .v4(let prefix): fuzzCheck(prefix.length <= 32, "\(route)")
    case .v6(let prefix): fuzzCheck(prefix.length <= 128, "\(route)")
    }
    // Hops the writer cannot hold (a weight above 256 is clamped on the wire) are not the parser's business.
    if case .multipath(let hops) = route.target, hops.contains(where: { $0.weight > 256 }) { return }
    let buffer = UnsafeMutableRawPointer.allocate(byteCount: 1 << 16, alignment: 16)
    defer { buffer.deallocate() }
    let header = mnl_nlmsg_put_header(buffer)!
    RouteNetlink.put(.add(route, replace: true), sequence: 1, into: header)
    guard Int(header.pointee.nlmsg_len) <= 1 << 16 else { return }
    let again = RouteNetlink.parse(UnsafePointer(header))
    fuzzCheck(again == route, "\(route) read back as \(again.map(\.description) ?? "nothing")")
}
