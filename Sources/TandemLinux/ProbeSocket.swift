// A tunnel's health probes on the wire: ICMP (ICMPv6) echo requests over a raw socket, or UDP datagrams to an echo
// service, sent from the probe's source address and bound to the tunnel's interface (SO_BINDTODEVICE), so that
// they leave through that tunnel only. Each probe carries a token (magic, tunnel, sequence number, a nonce drawn
// for that probe): an answer is matched to the probe it answers, never to a later one or an earlier run's.
//
// An answer decides whether a tunnel carries traffic, so a stranger's datagram must not pass for one: the socket is
// connected to the probe's destination (the kernel then delivers only what that address sends, on a raw socket
// too), a raw socket filters out every ICMP type but the echo reply (ICMP_FILTER, ICMP6_FILTER), each answer's
// source is checked once more as it is read (what was queued before connect), and one read takes a bounded
// number of datagrams, so that a flood cannot hold the thread that times the probes.
//
// Each answer comes with the time it waited in the socket's queue (the kernel's receive timestamp, SO_TIMESTAMPNS,
// against the clock at the read): the thread that times the probes may be busy when an answer arrives (a loaded
// core, a long kernel call), and the round trip and whether the answer came within the timeout are the network's,
// not that thread's.

import CTandemLinux
import TandemPacket

#if canImport(Glibc)
import Glibc
#endif

/// What a probe carries and its answer returns.
public struct ProbeToken: Hashable, Sendable {
    /// The tunnel's index.
    public var tunnel: UInt32
    /// The probe's sequence number.
    public var sequence: UInt32
    /// Drawn for each probe (see HealthProbes): one that did not see the probe cannot forge its answer.
    public var nonce: UInt32

    public init(tunnel: UInt32, sequence: UInt32, nonce: UInt32) {
        self.tunnel = tunnel
        self.sequence = sequence
        self.nonce = nonce
    }

    /// "TNDP" and three big-endian words: 16 bytes.
    static let magic: UInt32 = 0x544E_4450
    static let size = 16

    func write(to bytes: UnsafeMutableRawBufferPointer) {
        bytes.storeBigEndian(Self.magic, at: 0)
        bytes.storeBigEndian(tunnel, at: 4)
        bytes.storeBigEndian(sequence, at: 8)
        bytes.storeBigEndian(nonce, at: 12)
    }

    init?(reading bytes: UnsafeRawBufferPointer) {
        guard bytes.count >= Self.size, bytes.bigEndianUInt32(at: 0) == Self.magic else { return nil }
        self.init(
            tunnel: bytes.bigEndianUInt32(at: 4), sequence: bytes.bigEndianUInt32(at: 8),
            nonce: bytes.bigEndianUInt32(at: 12))
    }
}

/// An answer as ``ProbeSocket/receive()`` reads it.
public struct ProbeAnswer: Hashable, Sendable {
    /// The token of the probe it answers.
    public var token: ProbeToken
    /// Nanoseconds between the kernel's receiving it and its being read; 0 when the kernel gave no timestamp.
    public var waited: UInt64

    public init(token: ProbeToken, waited: UInt64 = 0) {
        self.token = token
        self.waited = waited
    }
}

/// One tunnel's probe socket, open while this object lives. Non-blocking: poll ``descriptor`` for answers.
public final class ProbeSocket {
    /// The probe's protocol.
    public enum Kind: Hashable, Sendable {
        /// ICMP or ICMPv6 echo (a raw socket: needs CAP_NET_RAW).
        case icmpEcho(identifier: UInt16)
        /// A UDP datagram to an echo service (RFC 862) at `port`, which sends it back.
        case udpEcho(port: UInt16)
    }

    public let kind: Kind
    public let family: IPFamily
    /// Where the probes go, and the only address answers are taken from.
    public let destination: AnyIPAddress
    /// The socket, for ``EventPoll``.
    public let descriptor: CInt
    private let buffer: UnsafeMutableRawBufferPointer
    /// Whether `connect` succeeded: the kernel then filters answers by source itself.
    private var isConnected = false

    /// How many datagrams one ``receive()`` reads at most: answers come one per probe, so more is a flood; the rest
    /// waits for the next turn of the loop (the descriptor stays readable) while timers and other sockets are served.
    public static let datagramsPerRead = 32

    /// Opens the socket, binds it to `source` and, if given, to `device`, and connects it to `destination` (or
    /// leaves that to the first send if the kernel has no route there yet).
    /// The corresponding C calls are `socket`, `setsockopt(SO_BINDTODEVICE)`, `setsockopt(ICMP_FILTER)` or
    /// `setsockopt(ICMP6_FILTER)` for a raw socket, `setsockopt(SO_TIMESTAMPNS)`, `bind` and `connect`.
    public init(kind: Kind, source: AnyIPAddress, destination: AnyIPAddress, device: String?) throws(SystemError) {
        self.kind = kind
        let family = source.family
        self.family = family
        self.destination = destination
        let domain = family == .ipv4 ? AF_INET : AF_INET6
        let (type, proto): (Int32, Int32) =
            switch kind {
            case .icmpEcho: (Int32(SOCK_RAW.rawValue), family == .ipv4 ? Int32(IPPROTO_ICMP) : Int32(IPPROTO_ICMPV6))
            case .udpEcho: (Int32(SOCK_DGRAM.rawValue), Int32(IPPROTO_UDP))
            }
        let what = "probe socket from \(source)\(device.map { " on \($0)" } ?? "")"
        descriptor = try valueOrErrno("opening the \(what)") {
            socket(domain, type | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), proto)
        }
        buffer = .allocate(byteCount: 2048, alignment: 8)
        do {
            let descriptor = self.descriptor
            if let device {
                var name = Array(device.utf8CString)
                _ = try valueOrErrno("binding the \(what) to its device") {
                    setsockopt(descriptor, SOL_SOCKET, SO_BINDTODEVICE, &name, socklen_t(name.count))
                }
            }
            if case .icmpEcho = kind {
                _ = try valueOrErrno("letting only echo replies through the \(what)") {
                    CTandemLinux_passOnlyEchoReplies(descriptor, family == .ipv6 ? 1 : 0)
                }
            }
            _ = try valueOrErrno("asking for receive timestamps on the \(what)") {
                CTandemLinux_enableReceiveTimestamps(descriptor)
            }
            try Self.withSocketAddress(source, port: 0) { address, length throws(SystemError) in
                _ = try valueOrErrno("binding the \(what) to its address") { bind(descriptor, address, length) }
            }
            // Connected now if the destination has a route (no route yet, or the device down: at the first send
            // that finds one; until then answers are still checked by source as they are read).
            try? connectIfNeeded()
        } catch {
            close(descriptor)
            buffer.deallocate()
            throw error
        }
    }

    deinit {
        close(descriptor)
        buffer.deallocate()
    }

    /// Connects the socket to ``destination`` unless it is. A connect can fail for want of a route (ENETUNREACH
    /// while the tunnel's device is down): the probe then fails as a send would.
    private func connectIfNeeded() throws(SystemError) {
        guard !isConnected else { return }
        let port: UInt16 = if case .udpEcho(let port) = kind { port } else { 0 }
        let descriptor = self.descriptor
        let destination = self.destination
        try Self.withSocketAddress(destination, port: port) { address, length throws(SystemError) in
            _ = try valueOrErrno("connecting a probe socket to \(destination)") { connect(descriptor, address, length) }
        }
        isConnected = true
    }

    /// Sends one probe to ``destination``. Returns false if the socket's queue is full (the probe counts as lost).
    public func send(_ token: ProbeToken) throws(SystemError) -> Bool {
        try connectIfNeeded()
        var length = 0
        switch kind {
        case .icmpEcho(let identifier):
            // type, code, checksum, identifier, sequence (its low 16 bits), then the token.
            buffer.storeByte(family == .ipv4 ? 8 : 128, at: 0)
            buffer.storeByte(0, at: 1)
            buffer.storeBigEndian(UInt16(0), at: 2)
            buffer.storeBigEndian(identifier, at: 4)
            buffer.storeBigEndian(UInt16(truncatingIfNeeded: token.sequence), at: 6)
            token.write(to: UnsafeMutableRawBufferPointer(rebasing: buffer[8..<(8 + ProbeToken.size)]))
            length = 8 + ProbeToken.size
            // The kernel sums ICMPv6 itself (it needs the pseudo-header); ICMP is ours to sum.
            if family == .ipv4 {
                let sum = InternetChecksum.checksum(UnsafeRawBufferPointer(rebasing: buffer[0..<length]))
                buffer.storeBigEndian(sum, at: 2)
            }
        case .udpEcho:
            token.write(to: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<ProbeToken.size]))
            length = ProbeToken.size
        }
        let bytes = UnsafeRawBufferPointer(rebasing: buffer[0..<length])
        let descriptor = self.descriptor
        let sent = try valueOrWouldBlock("sending a probe to \(destination)") {
            Glibc.send(descriptor, bytes.baseAddress, bytes.count, 0)
        }
        return sent != nil
    }

    /// The answers that have arrived from ``destination`` (an empty list when none has), from at most
    /// ``datagramsPerRead`` datagrams, each with how long it waited to be read. Anything else (other ICMP messages,
    /// datagrams from elsewhere) is skipped.
    public func receive() throws(SystemError) -> [ProbeAnswer] {
        var answers: [ProbeAnswer] = []
        let descriptor = self.descriptor
        let buffer = self.buffer
        for _ in 0..<Self.datagramsPerRead {
            var sender = sockaddr_storage()
            var senderLength = socklen_t(MemoryLayout<sockaddr_storage>.size)
            var arrived: Int64 = 0
            let received = try valueOrWouldBlock("reading probe answers") {
                CTandemLinux_receiveStamped(
                    descriptor, buffer.baseAddress, UInt(buffer.count), &sender, &senderLength, &arrived)
            }
            guard let count = received else { break }
            guard Self.address(of: sender) == destination else { continue }
            if let token = Self.answer(in: UnsafeRawBufferPointer(rebasing: buffer[0..<count]), kind: kind, family: family) {
                answers.append(ProbeAnswer(token: token, waited: Self.waited(since: arrived)))
            }
        }
        return answers
    }

    /// Nanoseconds from a receive timestamp (CLOCK_REALTIME, 0 for none) to now; 0 for none, or for a timestamp
    /// after now (the clock was stepped back meanwhile).
    static func waited(since arrived: Int64) -> UInt64 {
        guard arrived > 0 else { return 0 }
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        let nanoseconds = Int64(now.tv_sec) &* 1_000_000_000 &+ Int64(now.tv_nsec)
        return nanoseconds > arrived ? UInt64(nanoseconds - arrived) : 0
    }

    /// The address of a socket address of either family; nil for another family.
    static func address(of storage: sockaddr_storage) -> AnyIPAddress? {
        let family = Int32(storage.ss_family)
        return withUnsafeBytes(of: storage) { raw in
            switch family {
            case AF_INET:
                let address = raw.loadUnaligned(as: sockaddr_in.self)
                return .v4(IPv4Address(rawValue: UInt32(bigEndian: address.sin_addr.s_addr)))
            case AF_INET6:
                let address = raw.loadUnaligned(as: sockaddr_in6.self)
                let bytes = withUnsafeBytes(of: address.sin6_addr) { $0.loadUnaligned(as: UInt128.self) }
                return .v6(IPv6Address(rawValue: UInt128(bigEndian: bytes)))
            default:
                return nil
            }
        }
    }

    /// The token of an echo answer as a socket of `kind` and `family` reads it, or nil.
    static func answer(in bytes: UnsafeRawBufferPointer, kind: Kind, family: IPFamily) -> ProbeToken? {
        switch kind {
        case .icmpEcho(let identifier):
            var message = bytes
            if family == .ipv4 {
                // An IPv4 raw socket reads the IP header too.
                guard let first = bytes.first, first >> 4 == 4 else { return nil }
                let headerLength = Int(first & 0x0F) * 4
                guard headerLength >= 20, bytes.count >= headerLength + 8 else { return nil }
                message = UnsafeRawBufferPointer(rebasing: bytes[headerLength...])
            }
            guard message.count >= 8 + ProbeToken.size, message[0] == (family == .ipv4 ? 0 : 129),
                message.bigEndianUInt16(at: 4) == identifier
            else { return nil }
            return ProbeToken(reading: UnsafeRawBufferPointer(rebasing: message[8...]))
        case .udpEcho:
            return ProbeToken(reading: bytes)
        }
    }

    /// Calls `body` with a socket address for `address` and `port`.
    static func withSocketAddress<T>(
        _ address: AnyIPAddress, port: UInt16,
        _ body: (UnsafePointer<sockaddr>, socklen_t) throws(SystemError) -> T
    ) throws(SystemError) -> T {
        switch address {
        case .v4(let ipv4):
            var socketAddress = sockaddr_in()
            socketAddress.sin_family = sa_family_t(AF_INET)
            socketAddress.sin_port = port.bigEndian
            socketAddress.sin_addr.s_addr = ipv4.rawValue.bigEndian
            return try withUnsafeBytes(of: &socketAddress) { raw throws(SystemError) in
                try body(raw.baseAddress!.assumingMemoryBound(to: sockaddr.self), socklen_t(raw.count))
            }
        case .v6(let ipv6):
            var socketAddress = sockaddr_in6()
            socketAddress.sin6_family = sa_family_t(AF_INET6)
            socketAddress.sin6_port = port.bigEndian
            withUnsafeMutableBytes(of: &socketAddress.sin6_addr) { $0.storeBytes(of: ipv6.rawValue.bigEndian, as: UInt128.self) }
            return try withUnsafeBytes(of: &socketAddress) { raw throws(SystemError) in
                try body(raw.baseAddress!.assumingMemoryBound(to: sockaddr.self), socklen_t(raw.count))
            }
        }
    }
}
