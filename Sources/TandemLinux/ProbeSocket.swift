// A tunnel's health probes on the wire: ICMP (ICMPv6) echo requests over a raw socket, or UDP datagrams to an echo
// service, sent from the probe's source address and bound to the tunnel's interface (SO_BINDTODEVICE), so that
// they leave through that tunnel only. Each probe carries a token (magic, tunnel, sequence number, a nonce of this
// run): an answer is matched to the probe it answers, never to a later one, and an answer to an earlier run's
// probe is not taken at all.

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
    /// Random per run.
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
    /// The socket, for ``EventPoll``.
    public let descriptor: CInt
    private let buffer: UnsafeMutableRawBufferPointer

    /// Opens the socket, binds it to `source` and, if given, to `device`.
    /// The corresponding C calls are `socket`, `setsockopt(SO_BINDTODEVICE)` and `bind`.
    public init(kind: Kind, source: AnyIPAddress, device: String?) throws(SystemError) {
        self.kind = kind
        let family = source.family
        self.family = family
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
            if let device {
                var name = Array(device.utf8CString)
                let descriptor = self.descriptor
                _ = try valueOrErrno("binding the \(what) to its device") {
                    setsockopt(descriptor, SOL_SOCKET, SO_BINDTODEVICE, &name, socklen_t(name.count))
                }
            }
            try Self.withSocketAddress(source, port: 0) { address, length throws(SystemError) in
                let descriptor = self.descriptor
                _ = try valueOrErrno("binding the \(what) to its address") { bind(descriptor, address, length) }
            }
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

    /// Sends one probe to `destination`. Returns false if the socket's queue is full (the probe counts as lost).
    public func send(_ token: ProbeToken, to destination: AnyIPAddress) throws(SystemError) -> Bool {
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
        let port: UInt16 = if case .udpEcho(let port) = kind { port } else { 0 }
        let bytes = UnsafeRawBufferPointer(rebasing: buffer[0..<length])
        let descriptor = self.descriptor
        let sent = try Self.withSocketAddress(destination, port: port) { address, addressLength throws(SystemError) in
            try valueOrWouldBlock("sending a probe to \(destination)") {
                sendto(descriptor, bytes.baseAddress, bytes.count, 0, address, addressLength)
            }
        }
        return sent != nil
    }

    /// The tokens of the answers that have arrived (an empty list when none has). Anything else that arrives (other
    /// ICMP messages on a raw socket, stray datagrams) is skipped.
    public func receive() throws(SystemError) -> [ProbeToken] {
        var tokens: [ProbeToken] = []
        let descriptor = self.descriptor
        let buffer = self.buffer
        while let count = try valueOrWouldBlock("reading probe answers", { recv(descriptor, buffer.baseAddress, buffer.count, 0) }) {
            let bytes = UnsafeRawBufferPointer(rebasing: buffer[0..<count])
            if let token = answer(in: bytes) { tokens.append(token) }
        }
        return tokens
    }

    /// The token of an echo answer, or nil.
    func answer(in bytes: UnsafeRawBufferPointer) -> ProbeToken? {
        switch kind {
        case .icmpEcho(let identifier):
            var message = bytes
            if family == .ipv4 {
                // An IPv4 raw socket reads the IP header too.
                guard let first = bytes.first, first >> 4 == 4 else { return nil }
                let headerLength = Int(first & 0x0F) * 4
                guard bytes.count >= headerLength + 8 else { return nil }
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
