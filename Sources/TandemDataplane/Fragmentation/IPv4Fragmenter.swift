// Splitting an IPv4 packet into fragments that fit an MTU (RFC 791 section 3.2, Linux `ip_do_fragment`).

import TandemPacket

/// Why an IPv4 packet cannot be fragmented.
public enum IPv4FragmentationError: UInt8, Error, Hashable, Sendable, CaseIterable, CustomStringConvertible {
    /// The packet is larger than the MTU and has DF set: send ICMP fragmentation needed instead
    /// (``ICMPErrorKind/packetTooBig(mtu:)``).
    case dontFragment
    /// The MTU is below 68, the smallest an IPv4 link may have (RFC 791), which is what guarantees that a
    /// 60-byte header leaves room for 8 bytes of data.
    case mtuBelowMinimum
    /// The packet is a fragment whose data would reach past the largest fragment offset (8191 × 8 bytes), so
    /// the offsets of its pieces cannot be written; no real datagram is that long.
    case offsetOverflow

    public var description: String {
        switch self {
        case .dontFragment: "larger than the mtu with don't-fragment set"
        case .mtuBelowMinimum: "mtu below the ipv4 minimum of 68"
        case .offsetOverflow: "fragment offsets would pass 8191"
        }
    }
}

/// The fragments of one IPv4 packet for one MTU, written one at a time into caller-owned buffers.
///
/// Make it from the packet and the MTU, then write fragments `0..<count` with ``writeFragment(at:into:)``
/// (each needs ``fragmentLength(at:)`` bytes, at most `mtu`). A packet that fits is one "fragment": the packet,
/// unchanged.
///
/// The rules (RFC 791 3.2, as Linux's `ip_do_fragment` applies them):
/// - every fragment but the last carries a multiple of 8 bytes of data, as much as the MTU allows;
/// - the first fragment keeps the whole header, options included; the others keep only the options whose
///   copied flag (0x80) is set, in order, padded with zeros (end of options) to a multiple of 4. End of options
///   ends the list; no-operation is not copied; an option whose length byte is below 2 or runs past the header
///   ends the list too, as in Linux's `ip_options_fragment`. (Linux keeps the first header's length and
///   overwrites the options it does not copy with no-operations; dropping them gives the later fragments a
///   few more bytes of data, and both are what RFC 791 allows);
/// - each fragment gets its own total length and header checksum; MF on every fragment but the last, and on
///   the last too if the packet was itself a fragment with MF; the offset is the packet's own offset plus the
///   fragment's position / 8, so that a fragment is fragmented again correctly; DF and the reserved flag are
///   clear; identification, TOS, TTL, protocol and addresses are kept.
///
/// Like the header view it holds, the fragmenter is valid only while the packet's buffer is. Nothing here
/// allocates.
public struct IPv4Fragmenter {
    /// The smallest MTU an IPv4 link may have (RFC 791): a 60-byte header and 8 bytes of data.
    public static let minimumMTU = 68

    /// The packet being fragmented.
    public let packet: IPv4Header
    /// The MTU every fragment fits in.
    public let mtu: Int
    /// The number of fragments; 1 if the packet fits the MTU as it is.
    public let count: Int
    /// The header length of the first fragment: the packet's own.
    public let firstHeaderLength: Int
    /// The header length of the other fragments: 20 plus the copied options, padded to a multiple of 4.
    public let laterHeaderLength: Int
    /// The data bytes the first fragment carries.
    let firstDataLength: Int
    /// The data bytes every later fragment carries, but the last, which may carry fewer.
    let laterDataLength: Int

    /// Plans the fragments of `packet` for `mtu`.
    ///
    /// - Parameters:
    ///   - packet: A checked IPv4 packet.
    ///   - mtu: The MTU of the link the fragments go out on.
    /// - Throws: ``IPv4FragmentationError``: `mtuBelowMinimum`; `dontFragment` if the packet does not fit and
    ///   has DF set; `offsetOverflow` for a fragment whose pieces' offsets would not fit the field.
    public init(_ packet: IPv4Header, mtu: Int) throws(IPv4FragmentationError) {
        guard mtu >= Self.minimumMTU else { throw .mtuBelowMinimum }
        self.packet = packet
        self.mtu = mtu
        firstHeaderLength = packet.headerLength
        laterHeaderLength = IPv4Header.minimumLength + ((Self.copyOptions(packet.options, into: nil) + 3) & ~3)
        let dataLength = packet.packet.count - firstHeaderLength
        if packet.packet.count <= mtu {
            count = 1
            firstDataLength = dataLength
            laterDataLength = 0
            return
        }
        guard !packet.dontFragment else { throw .dontFragment }
        // mtu >= 68 and headers <= 60 bytes: both are at least 8.
        firstDataLength = (mtu - firstHeaderLength) & ~7
        laterDataLength = (mtu - laterHeaderLength) & ~7
        // The packet does not fit, so the first fragment leaves some data over.
        let rest = dataLength - firstDataLength
        count = 1 + (rest + laterDataLength - 1) / laterDataLength
        let lastStart = firstDataLength + (count - 2) * laterDataLength
        guard Int(packet.fragmentOffset) + lastStart / 8 <= 0x1FFF else { throw .offsetOverflow }
    }

    /// The bytes of the packet's data (after its header) that fragment `index` carries.
    ///
    /// - Parameter index: A fragment, `0..<count`.
    /// - Returns: The range, in bytes from the start of the packet's data.
    public func dataRange(at index: Int) -> Range<Int> {
        precondition(index >= 0 && index < count, "fragment index \(index) outside 0..<\(count)")
        let dataLength = packet.packet.count - firstHeaderLength
        guard index > 0 else { return 0..<min(firstDataLength, dataLength) }
        let start = firstDataLength + (index - 1) * laterDataLength
        return start..<min(start + laterDataLength, dataLength)
    }

    /// The length of fragment `index`, header included; at most `mtu` (unless `count` is 1 and the packet fit).
    ///
    /// - Parameter index: A fragment, `0..<count`.
    /// - Returns: The length in bytes.
    public func fragmentLength(at index: Int) -> Int {
        (index == 0 ? firstHeaderLength : laterHeaderLength) + dataRange(at: index).count
    }

    /// Writes fragment `index` at the start of `output`.
    ///
    /// - Parameters:
    ///   - index: A fragment, `0..<count`.
    ///   - output: Where the fragment goes; at least ``fragmentLength(at:)`` bytes (`mtu` bytes always do).
    /// - Returns: The length of the fragment.
    /// - Precondition: `index` is in `0..<count` and `output` is long enough.
    public func writeFragment(at index: Int, into output: UnsafeMutableRawBufferPointer) -> Int {
        let range = dataRange(at: index)
        let headerLength = index == 0 ? firstHeaderLength : laterHeaderLength
        let length = headerLength + range.count
        precondition(output.count >= length, "fragment of \(length) bytes into \(output.count) bytes of output")
        if count == 1 {
            output.copy(packet.packet, to: 0)
            return length
        }
        if index == 0 {
            output.copy(packet.header, to: 0)
        } else {
            output.copy(UnsafeRawBufferPointer(rebasing: packet.packet[0..<IPv4Header.minimumLength]), to: 0)
            output.storeByte(0x40 | UInt8(headerLength / 4), at: 0)
            let end = IPv4Header.minimumLength + Self.copyOptions(packet.options, into: output)
            for padding in end..<headerLength { output.storeByte(0, at: padding) }
        }
        output.storeBigEndian(UInt16(length), at: 2)
        let moreFragments = index < count - 1 || packet.moreFragments
        let offset = packet.fragmentOffset + UInt16(range.lowerBound / 8)
        output.storeBigEndian((moreFragments ? 0x2000 : 0) | offset, at: 6)
        output.storeBigEndian(UInt16(0), at: 10)
        output.storeBigEndian(InternetChecksum.checksum(output.readOnly(0..<headerLength)), at: 10)
        let dataStart = firstHeaderLength + range.lowerBound
        output.copy(
            UnsafeRawBufferPointer(rebasing: packet.packet[dataStart..<dataStart + range.count]), to: headerLength)
        return length
    }

    /// Walks `options` and copies those with the copied flag to `output` from byte 20, if given.
    ///
    /// - Parameters:
    ///   - options: The options of the packet's header.
    ///   - output: The fragment being written, or `nil` to measure only.
    /// - Returns: The length of the copied options, before padding.
    static func copyOptions(_ options: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer?) -> Int {
        let endOfOptions: UInt8 = 0
        let noOperation: UInt8 = 1
        let copiedFlag: UInt8 = 0x80
        var index = 0
        var copied = 0
        while index < options.count {
            let type = options[index]
            if type == endOfOptions { break }
            if type == noOperation {
                index += 1
                continue
            }
            guard index + 1 < options.count else { break }
            let length = Int(options[index + 1])
            guard length >= 2, length <= options.count - index else { break }
            if type & copiedFlag != 0 {
                output?.copy(
                    UnsafeRawBufferPointer(rebasing: options[index..<index + length]),
                    to: IPv4Header.minimumLength + copied)
                copied += length
            }
            index += length
        }
        return copied
    }
}
