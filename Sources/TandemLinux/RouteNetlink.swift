// Routes in the kernel's FIB over rtnetlink, through libmnl: many messages per send, every ACK checked and
// matched to its message by sequence number, errors with the errno, the operation and the route.

import CMnl
import TandemPacket

#if canImport(Glibc)
import Glibc
#endif

/// A route as the kernel holds it, in one table, marked with a protocol number.
public struct KernelRoute: Hashable, Sendable, CustomStringConvertible {
    /// Where the traffic goes.
    public enum Target: Hashable, Sendable {
        /// Out of a device (its index), without a gateway: the destination is on the link (RTA_OIF).
        case device(UInt32)
        /// Through a gateway out of a device (RTA_GATEWAY, or RTA_VIA for an IPv6 gateway of an IPv4 route; RTA_OIF).
        case gateway(AnyIPAddress, device: UInt32)
        /// Through a nexthop object (RTA_NH_ID, Linux 5.3): see ``NexthopObject``.
        case nexthopObject(UInt32)
        /// Over several paths, hashed per flow in proportion to their weights (RTA_MULTIPATH).
        case multipath([Hop])
        /// Dropped silently.
        case blackhole
    }

    /// One path of a multipath route.
    public struct Hop: Hashable, Sendable, CustomStringConvertible {
        /// The output device's index.
        public var device: UInt32
        /// The gateway; nil for a destination on the link.
        public var gateway: AnyIPAddress?
        /// The path's share, 1...256 (the kernel keeps weight - 1 in a byte; other values are clamped).
        public var weight: UInt16

        public init(device: UInt32, gateway: AnyIPAddress? = nil, weight: UInt16 = 1) {
            self.device = device
            self.gateway = gateway
            self.weight = weight
        }

        /// "nexthop via 198.18.0.2 dev #3 weight 1", as `ip route` prints a path.
        public var description: String {
            "nexthop \(gateway.map { "via \($0) " } ?? "")dev #\(device) weight \(weight)"
        }
    }

    public var prefix: RoutePrefix
    public var table: UInt32
    /// The rtm_protocol that marks the route's owner (Tandem's own, or bird = 12, zebra = 11, ...).
    public var `protocol`: UInt8
    public var target: Target

    public init(prefix: RoutePrefix, table: UInt32, protocol: UInt8, target: Target) {
        self.prefix = prefix
        self.table = table
        self.protocol = `protocol`
        self.target = target
    }

    /// As `ip route` prints it, with device indexes: "198.19.0.0/16 via 198.18.1.2 dev #3 table 200 proto 201".
    public var description: String {
        let place = "table \(table) proto \(self.protocol)"
        return switch target {
        case .device(let index): "\(prefix) dev #\(index) \(place)"
        case .gateway(let gateway, let device): "\(prefix) via \(gateway) dev #\(device) \(place)"
        case .nexthopObject(let id): "\(prefix) nhid \(id) \(place)"
        case .multipath(let hops): "\(prefix) \(place) \(hops.map(\.description).joined(separator: " "))"
        case .blackhole: "blackhole \(prefix) \(place)"
        }
    }
}

/// One change to make.
public enum RouteChange: Hashable, Sendable {
    /// Adds the route; with `replace`, replaces a route of the same prefix in the table.
    case add(KernelRoute, replace: Bool)
    case delete(KernelRoute)

    /// The route the change adds or deletes.
    public var route: KernelRoute {
        switch self {
        case .add(let route, _), .delete(let route): route
        }
    }

    /// "adding route 198.18.4.0/24 table 100".
    var operation: String {
        switch self {
        case .add(let route, let replace): "\(replace ? "replacing" : "adding") route \(route.prefix) table \(route.table)"
        case .delete(let route): "deleting route \(route.prefix) table \(route.table)"
        }
    }
}

extension RouteChange {
    /// The changes ordered by prefix length, longest first, otherwise as they were. The kernel's IPv4 FIB (an
    /// LC-trie) resizes its nodes less when the /24s that make most of a table come first and the shorter prefixes
    /// land among them: a full table costs about an eighth less kernel time so than in address order (issue 15,
    /// docs/benchmarks.md). A counting sort by length: a million changes in two passes.
    public static func inInstallationOrder(_ changes: [RouteChange]) -> [RouteChange] {
        // One bucket per length, 128 (first) down to 0; each holds where its next change goes.
        var next = [Int](repeating: 0, count: 129)
        for change in changes { next[128 - change.route.prefix.length] += 1 }
        var total = 0
        for bucket in next.indices {
            (next[bucket], total) = (total, total + next[bucket])
        }
        var ordered = [RouteChange?](repeating: nil, count: changes.count)
        for change in changes {
            let bucket = 128 - change.route.prefix.length
            ordered[next[bucket]] = change
            next[bucket] += 1
        }
        return ordered.map { $0! }
    }
}

/// An rtnetlink socket (NETLINK_ROUTE), in the namespace of the thread that opened it: routes here; links,
/// addresses and rules in RouteNetlink+Links.swift.
public final class RouteNetlink {
    private let socket: OpaquePointer
    private let portID: UInt32
    private var sequence: UInt32
    /// Send and receive space, allocated once.
    private let sendBuffer: UnsafeMutableRawPointer
    private let receiveBuffer: UnsafeMutableRawPointer
    static let sendBufferSize = 1 << 20
    static let receiveBufferSize = 1 << 20
    static let bytesPerSend = 1 << 16
    /// How many changes go out before their ACKs are read, so that the socket's receive queue cannot overflow.
    public static let changesPerRound = 4096
    /// Whether the kernel checks dump requests strictly, and so dumps only the table (and protocol) asked for.
    public let filtersDumps: Bool

    /// Opens and binds the socket, and asks for a receive queue large enough for a full table's ACKs.
    /// The corresponding C calls are `mnl_socket_open`, `mnl_socket_bind` and `setsockopt(SO_RCVBUFFORCE)`.
    public init() throws(SystemError) {
        guard let socket = mnl_socket_open(NETLINK_ROUTE) else {
            throw SystemError(code: errno, operation: "opening an rtnetlink socket")
        }
        self.socket = socket
        if mnl_socket_bind(socket, 0, pid_t(MNL_SOCKET_AUTOPID)) < 0 {
            let code = errno
            mnl_socket_close(socket)
            throw SystemError(code: code, operation: "binding an rtnetlink socket")
        }
        portID = mnl_socket_get_portid(socket)
        sequence = UInt32(truncatingIfNeeded: time(nil))
        var size: Int32 = 32 << 20
        // Needs CAP_NET_ADMIN; without it the default queue is used and rounds are small enough anyway.
        _ = setsockopt(mnl_socket_get_fd(socket), SOL_SOCKET, SO_RCVBUFFORCE, &size, socklen_t(MemoryLayout<Int32>.size))
        // A missing answer must not hang the caller: reads give up after 10 s.
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        _ = setsockopt(mnl_socket_get_fd(socket), SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var one: Int32 = 1
        // Error ACKs without a copy of the failed message: smaller replies.
        _ = setsockopt(mnl_socket_get_fd(socket), SOL_NETLINK, NETLINK_CAP_ACK, &one, socklen_t(MemoryLayout<Int32>.size))
        // Strict checking (Linux 4.20) makes the kernel honour a route dump's table and protocol: without it, every
        // dump walks the whole FIB, a full table's million routes to read a table of ten.
        filtersDumps = setsockopt(
            mnl_socket_get_fd(socket), SOL_NETLINK, NETLINK_GET_STRICT_CHK, &one,
            socklen_t(MemoryLayout<Int32>.size)) == 0
        sendBuffer = .allocate(byteCount: Self.sendBufferSize, alignment: 16)
        receiveBuffer = .allocate(byteCount: Self.receiveBufferSize, alignment: 16)
    }

    deinit {
        mnl_socket_close(socket)
        sendBuffer.deallocate()
        receiveBuffer.deallocate()
    }

    /// Applies changes in batches; returns the ones the kernel refused, each with its errno and operation.
    /// Changes are independent: a refused one does not stop the others.
    public func apply(_ changes: [RouteChange]) throws(SystemError) -> [SystemError] {
        try refusals(applying: changes).map(\.error)
    }

    /// ``apply(_:)``, each refusal with the position of its change in `changes`.
    public func refusals(applying changes: [RouteChange]) throws(SystemError) -> [Refusal] {
        try performReportingIndices(
            count: changes.count, what: "routes", operation: { changes[$0].operation },
            write: { index, sequence, header in Self.put(changes[index], sequence: sequence, into: header) })
    }

    /// Sends `count` requests (each written by `write`, each asking for an ACK) in rounds, reads every answer,
    /// and returns the refusals, each named by `operation` of its request.
    func perform(
        count: Int, what: String, operation: (Int) -> String,
        write: (Int, UInt32, UnsafeMutablePointer<nlmsghdr>) -> Void
    ) throws(SystemError) -> [SystemError] {
        try performReportingIndices(count: count, what: what, operation: operation, write: write).map(\.error)
    }

    /// ``perform(count:what:operation:write:)``, each refusal with the position of its request.
    func performReportingIndices(
        count: Int, what: String, operation: (Int) -> String,
        write: (Int, UInt32, UnsafeMutablePointer<nlmsghdr>) -> Void
    ) throws(SystemError) -> [Refusal] {
        var failures: [Refusal] = []
        var start = 0
        while start < count {
            let end = min(start + Self.changesPerRound, count)
            try performRound(start..<end, what: what, operation: operation, write: write, failures: &failures)
            start = end
        }
        return failures
    }

    /// Sends one round of requests (as many sendto calls as the buffer needs) and reads every answer.
    ///
    /// Only the round's last request asks for an ACK: the kernel answers a refused request whether or not it asked
    /// (an NLMSG_ERROR with the errno), and it handles the requests of a socket in order, so once the last one's
    /// ACK is read, every refusal before it has been read too. An ACK per request cost the kernel an answer to
    /// allocate, queue and copy out per route: a full table went in 1.3x faster without (issue 15).
    private func performRound(
        _ requests: Range<Int>, what: String, operation: (Int) -> String,
        write: (Int, UInt32, UnsafeMutablePointer<nlmsghdr>) -> Void, failures: inout [Refusal]
    ) throws(SystemError) {
        let first = sequence
        // Advanced before sending: if a send fails half way, the next round's numbers still differ from those of
        // the messages that went out, so their late ACKs cannot be taken for the next round's.
        sequence = first &+ UInt32(requests.count)
        var index = requests.lowerBound
        while index < requests.upperBound {
            // One sendto may not exceed the socket's send buffer (EMSGSIZE): 64 KiB per send is well inside it.
            guard let batch = mnl_nlmsg_batch_start(sendBuffer, Self.bytesPerSend) else {
                throw SystemError(code: ENOMEM, operation: "starting a netlink batch")
            }
            defer { mnl_nlmsg_batch_stop(batch) }
            while index < requests.upperBound {
                let header = mnl_nlmsg_batch_current(batch).assumingMemoryBound(to: nlmsghdr.self)
                header.initialize(to: nlmsghdr())
                header.pointee.nlmsg_len = UInt32(MemoryLayout<nlmsghdr>.size)
                write(index, first &+ UInt32(index - requests.lowerBound), header)
                if index != requests.upperBound - 1 { header.pointee.nlmsg_flags &= ~UInt16(NLM_F_ACK) }
                // False means this message did not fit: it is not in the batch, so it goes first in the next.
                guard mnl_nlmsg_batch_next(batch) else { break }
                index += 1
            }
            let length = mnl_nlmsg_batch_size(batch)
            _ = try valueOrErrno("sending \(what) to the kernel") {
                mnl_socket_sendto(socket, mnl_nlmsg_batch_head(batch), length)
            }
        }
        // Read refusals until the last request's answer (its ACK, or its own refusal).
        let last = UInt32(requests.count - 1)
        var lastAnswered = false
        while !lastAnswered {
            let received = try valueOrErrno("reading the kernel's answers about \(what)") {
                mnl_socket_recvfrom(socket, receiveBuffer, Self.receiveBufferSize)
            }
            NetlinkDatagram.forEachMessage(in: UnsafeRawBufferPointer(start: receiveBuffer, count: received)) { message in
                if message.pointee.nlmsg_type == UInt16(NLMSG_ERROR), message.pointee.nlmsg_pid == portID {
                    let offset = Int(message.pointee.nlmsg_seq &- first)
                    if offset >= 0 && offset < requests.count {
                        if UInt32(offset) == last { lastAnswered = true }
                        if let refusal = NetlinkMessageView(header: message).refusal {
                            let index = requests.lowerBound + offset
                            failures.append(
                                Refusal(index: index, error: SystemError(code: refusal, operation: operation(index))))
                        }
                    }
                }
                return true
            }
        }
    }

    /// Writes one RTM_NEWROUTE or RTM_DELROUTE message, with an ACK requested. (Internal: the netlink fuzz target
    /// checks that what ``parse(_:)`` reads, written back, reads the same.)
    static func put(_ change: RouteChange, sequence: UInt32, into header: UnsafeMutablePointer<nlmsghdr>) {
        let route = change.route
        switch change {
        case .add(_, let replace):
            header.pointee.nlmsg_type = UInt16(RTM_NEWROUTE)
            header.pointee.nlmsg_flags = UInt16(NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | (replace ? NLM_F_REPLACE : NLM_F_EXCL))
        case .delete:
            header.pointee.nlmsg_type = UInt16(RTM_DELROUTE)
            header.pointee.nlmsg_flags = UInt16(NLM_F_REQUEST | NLM_F_ACK)
        }
        header.pointee.nlmsg_seq = sequence
        let message = mnl_nlmsg_put_extra_header(header, MemoryLayout<rtmsg>.size).assumingMemoryBound(to: rtmsg.self)
        message.pointee.rtm_dst_len = UInt8(route.prefix.length)
        message.pointee.rtm_table = route.table < 256 ? UInt8(route.table) : UInt8(RT_TABLE_UNSPEC.rawValue)
        message.pointee.rtm_protocol = route.protocol
        // A route out of a device without a gateway has link scope, as `ip route add ... dev D` makes it; routes
        // through gateways, multipath routes and routes through nexthop objects have universe scope (the kernel
        // refuses a gateway nexthop object under a link-scope route).
        switch route.target {
        case .device:
            message.pointee.rtm_type = UInt8(RTN_UNICAST)
            message.pointee.rtm_scope = UInt8(RT_SCOPE_LINK.rawValue)
        case .gateway, .nexthopObject, .multipath:
            message.pointee.rtm_type = UInt8(RTN_UNICAST)
            message.pointee.rtm_scope = UInt8(RT_SCOPE_UNIVERSE.rawValue)
        case .blackhole:
            message.pointee.rtm_type = UInt8(RTN_BLACKHOLE)
            message.pointee.rtm_scope = UInt8(RT_SCOPE_UNIVERSE.rawValue)
        }
        let family: IPFamily
        switch route.prefix {
        case .v4(let prefix):
            family = .ipv4
            message.pointee.rtm_family = UInt8(AF_INET)
            var address = prefix.address.rawValue.bigEndian
            mnl_attr_put(header, UInt16(RTA_DST.rawValue), 4, &address)
        case .v6(let prefix):
            family = .ipv6
            message.pointee.rtm_family = UInt8(AF_INET6)
            var address = prefix.address.rawValue.bigEndian
            mnl_attr_put(header, UInt16(RTA_DST.rawValue), 16, &address)
        }
        mnl_attr_put_u32(header, UInt16(RTA_TABLE.rawValue), route.table)
        switch route.target {
        case .device(let index):
            mnl_attr_put_u32(header, UInt16(RTA_OIF.rawValue), index)
        case .gateway(let gateway, let device):
            Self.putGateway(gateway, routeFamily: family, into: header)
            mnl_attr_put_u32(header, UInt16(RTA_OIF.rawValue), device)
        case .nexthopObject(let id):
            mnl_attr_put_u32(header, UInt16(RTA_NH_ID.rawValue), id)
        case .multipath(let hops):
            Self.putMultipath(hops, routeFamily: family, into: header)
        case .blackhole:
            break
        }
    }

    /// Writes a route's gateway: RTA_GATEWAY if it has the route's family, else RTA_VIA (struct rtvia: the
    /// family, then the address), which the kernel takes for an IPv6 gateway of an IPv4 route (Linux 5.2).
    private static func putGateway(
        _ gateway: AnyIPAddress, routeFamily: IPFamily, into header: UnsafeMutablePointer<nlmsghdr>
    ) {
        switch (gateway, routeFamily) {
        case (.v4, .ipv4), (.v6, .ipv6):
            putAddress(gateway, type: UInt16(RTA_GATEWAY.rawValue), into: header)
        case (.v4(let address), .ipv6):
            var via: [UInt8] = Self.bytes(of: UInt16(AF_INET)) + Self.bytes(of: address.rawValue.bigEndian)
            mnl_attr_put(header, UInt16(RTA_VIA.rawValue), via.count, &via)
        case (.v6(let address), .ipv4):
            var via: [UInt8] = Self.bytes(of: UInt16(AF_INET6)) + Self.bytes(of: address.rawValue.bigEndian)
            mnl_attr_put(header, UInt16(RTA_VIA.rawValue), via.count, &via)
        }
    }

    /// The bytes of a value as memory holds it (host order; convert first for network order).
    private static func bytes<Value: FixedWidthInteger>(of value: Value) -> [UInt8] {
        withUnsafeBytes(of: value) { Array($0) }
    }

    /// Writes an address attribute: 4 bytes for IPv4, 16 for IPv6, network byte order.
    static func putAddress(_ address: AnyIPAddress, type: UInt16, into header: UnsafeMutablePointer<nlmsghdr>) {
        switch address {
        case .v4(let address):
            var raw = address.rawValue.bigEndian
            mnl_attr_put(header, type, 4, &raw)
        case .v6(let address):
            var raw = address.rawValue.bigEndian
            mnl_attr_put(header, type, 16, &raw)
        }
    }

    /// Writes RTA_MULTIPATH: per path a struct rtnexthop (length, flags, weight - 1, device) followed by the
    /// path's own attributes (its gateway), the length covering both.
    private static func putMultipath(
        _ hops: [KernelRoute.Hop], routeFamily: IPFamily, into header: UnsafeMutablePointer<nlmsghdr>
    ) {
        let nest = mnl_attr_nest_start(header, UInt16(RTA_MULTIPATH.rawValue))
        for hop in hops {
            let start = Int(header.pointee.nlmsg_len)
            // put_extra_header appends zeroed, aligned space at the message's tail: here, inside the nest.
            let nexthop = mnl_nlmsg_put_extra_header(header, MemoryLayout<rtnexthop>.size)
                .assumingMemoryBound(to: rtnexthop.self)
            nexthop.pointee.rtnh_ifindex = Int32(bitPattern: hop.device)
            nexthop.pointee.rtnh_hops = UInt8(clamping: Int(hop.weight) - 1)
            if let gateway = hop.gateway { putGateway(gateway, routeFamily: routeFamily, into: header) }
            nexthop.pointee.rtnh_len = UInt16(Int(header.pointee.nlmsg_len) - start)
        }
        mnl_attr_nest_end(header, nest)
    }

    /// The routes of one table (and protocol, if given), from a dump of the kernel's FIB.
    /// The corresponding request is RTM_GETROUTE with NLM_F_DUMP, once per family.
    public func routes(table: UInt32, protocol proto: UInt8? = nil) throws(SystemError) -> [KernelRoute] {
        try routes(tables: [table], protocol: proto)
    }

    /// The routes of several tables (and protocol, if given).
    ///
    /// Where the kernel checks dumps strictly (``filtersDumps``), each table is asked for on its own, with the
    /// protocol, and the kernel walks only that table. Elsewhere one dump per family: the kernel then dumps every
    /// table whatever the request, and asking table by table would read a full FIB once per table. The replies are
    /// filtered here either way.
    public func routes(tables: Set<UInt32>, protocol proto: UInt8? = nil) throws(SystemError) -> [KernelRoute] {
        var found: [KernelRoute] = []
        try forEachRouteDump(of: tables) { family, table throws(SystemError) in
            // Into one array: a full table is a million routes, not to be copied from one array to another.
            try dump(
                UInt16(RTM_GETROUTE), family: family, headerSize: MemoryLayout<rtmsg>.size, what: "routes",
                into: &found, request: { header in Self.putDumpFilter(table: table, protocol: proto, into: header) }
            ) { reply in Self.route(in: reply, tables: tables, protocol: proto) }
        }
        return found
    }

    /// The routes of several tables (and protocol, if given), handed to `chunk` `chunkSize` at a time as the
    /// kernel's replies are read: the reader works on the first while the kernel dumps the rest (a full table at
    /// start). A dump the kernel flags inconsistent (NLM_F_DUMP_INTR: the table changed during the walk) is not
    /// asked again, for the chunks before are handed over already.
    ///
    /// - Returns: Whether every dump was consistent; if not, the reader has to make up for it (a dump again later).
    public func routes(
        tables: Set<UInt32>, protocol proto: UInt8? = nil, chunkSize: Int, _ chunk: ([KernelRoute]) -> Void
    ) throws(SystemError) -> Bool {
        var consistent = true
        var routes: [KernelRoute] = []
        routes.reserveCapacity(chunkSize)
        try forEachRouteDump(of: tables) { family, table throws(SystemError) in
            let replies = try dumpOnce(
                UInt16(RTM_GETROUTE), family: family, headerSize: MemoryLayout<rtmsg>.size, what: "routes",
                request: { header in Self.putDumpFilter(table: table, protocol: proto, into: header) }
            ) { reply in
                guard let route = Self.route(in: reply, tables: tables, protocol: proto) else { return }
                routes.append(route)
                guard routes.count >= chunkSize else { return }
                chunk(routes)
                routes = []
                routes.reserveCapacity(chunkSize)
            }
            consistent = consistent && !replies.interrupted
        }
        if !routes.isEmpty { chunk(routes) }
        return consistent
    }

    /// Calls `body` with each route dump to ask for: per family, each table on its own where the kernel checks
    /// dumps strictly, else one request for all of them (nil).
    private func forEachRouteDump(
        of tables: Set<UInt32>, _ body: (Int32, UInt32?) throws(SystemError) -> Void
    ) throws(SystemError) {
        for family in [AF_INET, AF_INET6] {
            let requests: [UInt32?] = filtersDumps ? tables.sorted() : [nil]
            for table in requests {
                do throws(SystemError) {
                    try body(family, table)
                } catch where error.code == ENOENT && table != nil {
                    // An IPv4 table that does not exist yet: the kernel refuses its dump (its first reply, before
                    // any route); it holds no route.
                }
            }
        }
    }

    /// A route dump's reply, if it is a route of one of `tables` and of `proto` (if given).
    private static func route(in reply: UnsafePointer<nlmsghdr>, tables: Set<UInt32>, protocol proto: UInt8?)
        -> KernelRoute?
    {
        guard reply.pointee.nlmsg_type == UInt16(RTM_NEWROUTE), let route = parse(reply), tables.contains(route.table),
            proto == nil || route.protocol == proto
        else { return nil }
        return route
    }

    /// Narrows a strictly checked route dump: the table (in rtm_table, and in RTA_TABLE beyond 255) and the
    /// protocol (rtm_protocol). Nothing for a nil table: the request stays a dump of everything.
    private static func putDumpFilter(
        table: UInt32?, protocol proto: UInt8?, into header: UnsafeMutablePointer<nlmsghdr>
    ) {
        guard let table else { return }
        let message = UnsafeMutableRawPointer(header).advanced(by: MemoryLayout<nlmsghdr>.size)
            .assumingMemoryBound(to: rtmsg.self)
        message.pointee.rtm_table = table < 256 ? UInt8(table) : UInt8(RT_TABLE_UNSPEC.rawValue)
        message.pointee.rtm_protocol = proto ?? 0
        if table >= 256 { mnl_attr_put_u32(header, UInt16(RTA_TABLE.rawValue), table) }
    }

    /// How many times a dump is asked again when the kernel flags it inconsistent (NLM_F_DUMP_INTR: the table
    /// changed during the walk). A routing daemon loading a table can interrupt a few in a row; it settles.
    static let dumpAttempts = 8

    /// Sends dump requests (`type` with NLM_F_DUMP, a zeroed family header of `headerSize` bytes whose first byte is
    /// the family: rtmsg, nhmsg and fib_rule_hdr all start so) and returns what `parse` makes of each reply, from
    /// a dump the kernel did not flag as interrupted (asked again up to ``dumpAttempts`` times).
    ///
    /// `request`, if given, adds to the request after its family header (a strict dump's filter).
    ///
    /// - Throws: ``SystemError`` "dumping `what`" for an error reply, EAGAIN when every attempt was interrupted.
    func dump<Entry>(
        _ type: UInt16, family: Int32, headerSize: Int, what: String,
        request: (UnsafeMutablePointer<nlmsghdr>) -> Void = { _ in },
        _ parse: (UnsafePointer<nlmsghdr>) -> Entry?
    ) throws(SystemError) -> [Entry] {
        var entries: [Entry] = []
        try dump(type, family: family, headerSize: headerSize, what: what, into: &entries, request: request, parse)
        return entries
    }

    /// A dump whose entries are appended to `entries` (left as they were if it throws).
    func dump<Entry>(
        _ type: UInt16, family: Int32, headerSize: Int, what: String, into entries: inout [Entry],
        request: (UnsafeMutablePointer<nlmsghdr>) -> Void = { _ in },
        _ parse: (UnsafePointer<nlmsghdr>) -> Entry?
    ) throws(SystemError) {
        let before = entries.count
        for _ in 0..<Self.dumpAttempts {
            let replies: NetlinkDumpReplies
            do {
                replies = try dumpOnce(type, family: family, headerSize: headerSize, what: what, request: request) {
                    reply in
                    if let entry = parse(reply) { entries.append(entry) }
                }
            } catch {
                entries.removeSubrange(before...)
                throw error
            }
            if !replies.interrupted { return }
            entries.removeSubrange(before...)
        }
        throw SystemError(
            code: EAGAIN,
            operation: "dumping \(what) (the kernel's table changed during each of \(Self.dumpAttempts) dumps)")
    }

    /// One request (not a dump) and its answer: `answer` reads the kernel's reply (nil: not the reply it waits for,
    /// read on); other requests' late answers are skipped.
    ///
    /// `request` fills in the family header (`headerSize` bytes after the netlink header, zeroed) and anything after.
    ///
    /// - Throws: ``SystemError`` with `operation` for the kernel's refusal, or what `answer` throws.
    func get<Answer>(
        _ type: UInt16, headerSize: Int, operation: String, request: (UnsafeMutablePointer<nlmsghdr>) -> Void,
        answer: (NetlinkMessageView) throws(SystemError) -> Answer?
    ) throws(SystemError) -> Answer {
        try send(type, flags: NLM_F_REQUEST, headerSize: headerSize, operation: operation, request: request)
        var result: Result<Answer, SystemError>?
        while result == nil {
            let received = try valueOrErrno(operation) {
                mnl_socket_recvfrom(socket, receiveBuffer, Self.receiveBufferSize)
            }
            NetlinkDatagram.forEachMessage(in: UnsafeRawBufferPointer(start: receiveBuffer, count: received)) {
                message in
                guard message.pointee.nlmsg_seq == sequence, message.pointee.nlmsg_pid == portID else { return true }
                let view = NetlinkMessageView(header: message)
                if message.pointee.nlmsg_type == UInt16(NLMSG_ERROR) {
                    result = .failure(SystemError(code: view.refusal ?? EPROTO, operation: operation))
                    return false
                }
                do throws(SystemError) {
                    guard let read = try answer(view) else { return true }
                    result = .success(read)
                } catch {
                    result = .failure(error)
                }
                return false
            }
        }
        return try result!.get()
    }

    /// Sends one request under the next sequence number: the netlink header, `headerSize` zeroed bytes of family
    /// header that `request` fills in (with anything after them).
    private func send(
        _ type: UInt16, flags: Int32, headerSize: Int, operation: String,
        request: (UnsafeMutablePointer<nlmsghdr>) -> Void
    ) throws(SystemError) {
        let header = mnl_nlmsg_put_header(sendBuffer)!
        header.pointee.nlmsg_type = type
        header.pointee.nlmsg_flags = UInt16(flags)
        sequence &+= 1
        header.pointee.nlmsg_seq = sequence
        _ = mnl_nlmsg_put_extra_header(header, headerSize)
        request(header)
        _ = try valueOrErrno(operation) { mnl_socket_sendto(socket, header, Int(header.pointee.nlmsg_len)) }
    }

    /// One dump request and its replies, each passed to `body`; other requests' late answers are skipped.
    private func dumpOnce(
        _ type: UInt16, family: Int32, headerSize: Int, what: String,
        request: (UnsafeMutablePointer<nlmsghdr>) -> Void, _ body: (UnsafePointer<nlmsghdr>) -> Void
    ) throws(SystemError) -> NetlinkDumpReplies {
        try send(
            type, flags: NLM_F_REQUEST | NLM_F_DUMP, headerSize: headerSize,
            operation: "asking the kernel for its \(what)"
        ) { header in
            // The family is the first byte of every rtnetlink family header.
            UnsafeMutableRawPointer(header).storeBytes(
                of: UInt8(family), toByteOffset: MemoryLayout<nlmsghdr>.size, as: UInt8.self)
            request(header)
        }
        var replies = NetlinkDumpReplies(sequence: sequence, portID: portID, what: what)
        while !replies.done {
            let received = try valueOrErrno("reading the kernel's \(what)") {
                mnl_socket_recvfrom(socket, receiveBuffer, Self.receiveBufferSize)
            }
            try replies.read(UnsafeRawBufferPointer(start: receiveBuffer, count: received), body)
        }
        return replies
    }

    /// Reads a route message: destination, table, protocol, and where it goes (nexthop object, multipath,
    /// gateway, device or blackhole). Nil for other kinds (local, broadcast, unreachable, ...) and for a malformed
    /// message: shorter than rtmsg, a prefix length beyond the family's width, a destination, gateway, table,
    /// device or nexthop id of the wrong size. Such a message is left out rather than half read.
    static func parse(_ header: UnsafePointer<nlmsghdr>) -> KernelRoute? {
        let view = NetlinkMessageView(header: header)
        guard let message = view.familyHeader(rtmsg.self) else { return nil }
        let family: IPFamily
        switch Int32(message.rtm_family) {
        case AF_INET: family = .ipv4
        case AF_INET6: family = .ipv6
        default: return nil
        }
        let length = Int(message.rtm_dst_len)
        guard length <= family.addressBits else { return nil }
        var table = UInt32(message.rtm_table)
        var destination: AnyIPAddress?
        var device: UInt32?
        var gateway: AnyIPAddress?
        var nexthopID: UInt32?
        var hops: [KernelRoute.Hop]?
        var malformed = false
        // A known attribute of the wrong size makes the whole message malformed.
        view.forEachAttribute(headerSize: MemoryLayout<rtmsg>.size) { attribute in
            switch Int32(attribute.type) {
            case Int32(RTA_TABLE.rawValue): table = attribute.u32.marking(&malformed) ?? table
            case Int32(RTA_DST.rawValue): destination = attribute.address(of: family).marking(&malformed)
            case Int32(RTA_OIF.rawValue): device = attribute.u32.marking(&malformed)
            case Int32(RTA_GATEWAY.rawValue): gateway = attribute.address(of: family).marking(&malformed)
            case Int32(RTA_VIA.rawValue): gateway = attribute.via.marking(&malformed)
            case Int32(RTA_NH_ID.rawValue): nexthopID = attribute.u32.marking(&malformed)
            case Int32(RTA_MULTIPATH.rawValue): hops = multipath(attribute, family: family).marking(&malformed)
            default: break
            }
        }
        guard !malformed else { return nil }
        let prefix: RoutePrefix
        switch destination {
        case .v4(let address): prefix = .v4(IPv4Prefix(normalizing: address, length: length))
        case .v6(let address): prefix = .v6(IPv6Prefix(normalizing: address, length: length))
        case nil:
            // No RTA_DST: the default route (rtm_dst_len 0); with a length it is malformed.
            guard length == 0 else { return nil }
            prefix = family == .ipv4 ? .v4(IPv4Prefix(normalizing: IPv4Address(rawValue: 0), length: 0))
                : .v6(IPv6Prefix(normalizing: IPv6Address(rawValue: 0), length: 0))
        }
        let target: KernelRoute.Target
        if let nexthopID {
            // A route through a nexthop object comes with the object's paths expanded (RTA_OIF, RTA_GATEWAY or
            // RTA_MULTIPATH, while net.ipv4.nexthop_compat_mode is 1), and typed blackhole if the object is one:
            // the id is what the route holds, so it wins.
            guard message.rtm_type == UInt8(RTN_UNICAST) || message.rtm_type == UInt8(RTN_BLACKHOLE) else { return nil }
            target = .nexthopObject(nexthopID)
        } else {
            switch Int32(message.rtm_type) {
            case Int32(RTN_BLACKHOLE): target = .blackhole
            case Int32(RTN_UNICAST):
                if let hops {
                    target = .multipath(hops)
                } else if let gateway {
                    target = .gateway(gateway, device: device ?? 0)
                } else {
                    target = .device(device ?? 0)
                }
            default: return nil
            }
        }
        return KernelRoute(prefix: prefix, table: table, protocol: message.rtm_protocol, target: target)
    }

    /// The paths of an RTA_MULTIPATH attribute: struct rtnexthop records, each followed by its attributes (its
    /// gateway). Nil if a record's length is below the record or beyond the attribute, or a gateway is malformed.
    private static func multipath(_ attribute: NetlinkAttribute, family: IPFamily) -> [KernelRoute.Hop]? {
        let payload = attribute.payload
        let recordSize = MemoryLayout<rtnexthop>.size
        var hops: [KernelRoute.Hop] = []
        var offset = 0
        while offset + recordSize <= payload.count {
            let record = payload.loadUnaligned(fromByteOffset: offset, as: rtnexthop.self)
            let size = Int(record.rtnh_len)
            guard size >= recordSize, offset + size <= payload.count else { return nil }
            var gateway: AnyIPAddress?
            var malformed = false
            let inner = UnsafeRawBufferPointer(rebasing: payload[(offset + recordSize)..<(offset + size)])
            NetlinkAttribute.forEach(in: inner) { attribute in
                switch Int32(attribute.type) {
                case Int32(RTA_GATEWAY.rawValue):
                    gateway = attribute.address(of: family)
                    malformed = malformed || gateway == nil
                case Int32(RTA_VIA.rawValue):
                    gateway = attribute.via
                    malformed = malformed || gateway == nil
                default: break
                }
            }
            guard !malformed else { return nil }
            hops.append(
                KernelRoute.Hop(
                    device: UInt32(bitPattern: record.rtnh_ifindex), gateway: gateway,
                    weight: UInt16(record.rtnh_hops) + 1))
            offset += (size + 3) & ~3
        }
        return hops
    }

}
