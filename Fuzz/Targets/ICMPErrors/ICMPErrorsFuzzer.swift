// Fuzz target 4: the ICMP and ICMPv6 error builder, about any packet, into outputs of any allowed size.
//
// The input: `[kind: 1 byte][MTU: 4 bytes][output size: 2 bytes][offending packet]`. The output buffer is exactly
// the chosen size (at least the minimum the builder asks for), so AddressSanitizer catches a write past it. An
// error that is written must parse, have right checksums, come from the gateway, go to the packet's source, carry
// the kind's type, code and MTU, fit its maximum and the buffer, and quote the start of the packet; one that is
// refused must be refused for a reason the rules name.

import FuzzSupport
import TandemDataplane
import TandemPacket

private let builder = ICMPErrorBuilder(
    ipv4Source: IPv4Address(198, 18, 0, 254),
    ipv6Source: IPv6Address(rawValue: 0x2001_0db8_0000_0000_0000_0000_0000_00fe))

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    let choice = input.choice(3)
    let mtu = UInt32(input.uint16()) << 16 | UInt32(input.uint16())
    let kind: ICMPErrorKind = [.timeExceeded, .destinationUnreachable, .packetTooBig(mtu: mtu)][choice]
    let sizeChoice = Int(input.uint16())
    let packet = input.takeRest()
    let isIPv6 = packet.first.map { $0 >> 4 == 6 } ?? false
    // IPv4: 68 (the minimum) up to 2047; IPv6: 1280 (the minimum) up to 2047.
    let minimum = isIPv6 ? ICMPErrorBuilder.ipv6MinimumOutputLength : ICMPErrorBuilder.ipv4MinimumOutputLength
    let outputSize = minimum + sizeChoice % (2048 - minimum)
    var output = [UInt8](repeating: 0xA5, count: outputSize)
    let length = output.withUnsafeMutableBytes { builder.write(kind, about: packet, into: $0) }
    guard let length else {
        checkRefusal(kind, about: packet)
        return 0
    }
    fuzzCheck(length <= outputSize, "an error of \(length) bytes in \(outputSize) bytes")
    output.withUnsafeBytes { raw in
        let error = UnsafeRawBufferPointer(rebasing: raw[0..<length])
        if isIPv6 {
            checkIPv6Error(error, kind: kind, about: packet, outputSize: outputSize)
        } else {
            checkIPv4Error(error, kind: kind, about: packet, outputSize: outputSize)
        }
    }
    return 0
}

/// No error: the packet is not a valid one, or a rule refuses it.
private func checkRefusal(_ kind: ICMPErrorKind, about packet: UnsafeRawBufferPointer) {
    if let header = try? IPv4Header(packet) {
        fuzzCheck(ICMPErrorBuilder.refusal(of: kind, about: header) != nil, "IPv4 error refused without a rule")
    } else if let header = try? IPv6Header(packet) {
        fuzzCheck(ICMPErrorBuilder.refusal(of: kind, about: header) != nil, "IPv6 error refused without a rule")
    }
}

private func checkIPv4Error(
    _ error: UnsafeRawBufferPointer, kind: ICMPErrorKind, about packet: UnsafeRawBufferPointer, outputSize: Int
) {
    guard let offending = try? IPv4Header(packet) else { fatalError("fuzz check failed: an error about no packet") }
    guard let header = try? IPv4Header(error) else { fatalError("fuzz check failed: the IPv4 error does not parse") }
    fuzzCheck(header.packet.count == error.count && error.count <= ICMPErrorBuilder.ipv4MaximumLength, "length")
    fuzzCheck(header.headerLength == 20 && header.protocol == .icmp && header.ttl == 64, "IPv4 error header")
    fuzzCheck(!header.isFragment, "the error is a fragment")
    fuzzCheck(header.typeOfService == (offending.typeOfService & 0x1E) | 0xC0, "TOS")
    fuzzCheck(PacketChecks.ipv4HeaderChecksumIsValid(header), "IPv4 error header checksum")
    fuzzCheck(PacketChecks.icmpChecksumIsValid(header), "ICMP checksum")
    fuzzCheck(header.source == builder.ipv4Source && header.destination == offending.source, "addresses")
    let icmp = header.payload
    fuzzCheck(icmp.count >= 8, "ICMP header cut")
    fuzzCheck((icmp[0], icmp[1]) == kind.ipv4TypeAndCode, "type and code")
    let rest = icmp.bigEndianWord(at: 4)
    if case .packetTooBig(let mtu) = kind {
        fuzzCheck(rest == min(mtu, 65535), "next-hop MTU \(rest) for \(mtu)")
    } else {
        fuzzCheck(rest == 0, "unused field not zero")
    }
    let quote = icmp.dropFirst(8)
    fuzzCheck(offending.packet.starts(with: quote), "the quote is not the start of the packet")
    let room = min(ICMPErrorBuilder.ipv4MaximumLength, outputSize) - 28
    fuzzCheck(quote.count == min(offending.packet.count, room), "a quote of \(quote.count) bytes, \(room) fit")
}

private func checkIPv6Error(
    _ error: UnsafeRawBufferPointer, kind: ICMPErrorKind, about packet: UnsafeRawBufferPointer, outputSize: Int
) {
    guard let offending = try? IPv6Header(packet) else { fatalError("fuzz check failed: an error about no packet") }
    guard let header = try? IPv6Header(error) else { fatalError("fuzz check failed: the IPv6 error does not parse") }
    fuzzCheck(header.packet.count == error.count && error.count <= ICMPErrorBuilder.ipv6MaximumLength, "length")
    fuzzCheck(header.nextHeader == .icmpv6 && header.hopLimit == 64, "IPv6 error header")
    fuzzCheck(header.trafficClass == 0 && header.flowLabel == 0, "traffic class and flow label")
    fuzzCheck(PacketChecks.icmpv6ChecksumIsValid(header), "ICMPv6 checksum")
    fuzzCheck(header.source == builder.ipv6Source && header.destination == offending.source, "addresses")
    let icmp = header.payload
    fuzzCheck(icmp.count >= 8, "ICMPv6 header cut")
    fuzzCheck((icmp[0], icmp[1]) == kind.ipv6TypeAndCode, "type and code")
    let rest = icmp.bigEndianWord(at: 4)
    if case .packetTooBig(let mtu) = kind { fuzzCheck(rest == mtu, "MTU") } else { fuzzCheck(rest == 0, "unused") }
    let quote = icmp.dropFirst(8)
    fuzzCheck(offending.packet.starts(with: quote), "the quote is not the start of the packet")
    let room = min(ICMPErrorBuilder.ipv6MaximumLength, outputSize) - 48
    fuzzCheck(quote.count == min(offending.packet.count, room), "a quote of \(quote.count) bytes, \(room) fit")
}

extension UnsafeRawBufferPointer {
    /// The 32-bit big-endian word at `offset`, read byte by byte.
    fileprivate func bigEndianWord(at offset: Int) -> UInt32 {
        (offset..<offset + 4).reduce(0) { $0 << 8 | UInt32(self[$1]) }
    }
}
