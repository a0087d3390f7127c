// Fuzz target 1: the packet views and the 5-tuple of TandemPacket, and the address and prefix parsers.
//
// The whole input is taken as a packet (every view over it, the 5-tuple, the TTL / hop limit decrement) and as
// text (the address and prefix parsers). Whatever a view accepts must stay inside its buffer and agree with the
// other views; what the parsers accept must print back to itself.

import FuzzSupport
import TandemPacket

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = FuzzInput(data, size)
    checkViews(input.bytes)
    checkDecrement(input.bytes)
    checkTextParsers(input.bytes)
    return 0
}

/// Every view over `bytes`, checked against the others and the buffer.
private func checkViews(_ bytes: UnsafeRawBufferPointer) {
    let tuple = FiveTuple.parse(bytes)
    if let ipv4 = try? IPv4Header(bytes) {
        let packet = ipv4.packet
        fuzzCheck(packet.count == Int(ipv4.totalLength) && packet.count <= bytes.count, "IPv4 total length")
        fuzzCheck((20...60).contains(ipv4.headerLength) && ipv4.headerLength <= packet.count, "IPv4 IHL")
        fuzzCheck(ipv4.options.count == ipv4.headerLength - 20, "IPv4 options")
        fuzzCheck(ipv4.payload.count == packet.count - ipv4.headerLength, "IPv4 payload")
        fuzzCheck(
            ipv4.isChecksumValid == PacketChecks.ipv4HeaderChecksumIsValid(ipv4),
            "IPv4 checksum check disagrees with RFC 1071")
        _ = (ipv4.dscp, ipv4.ecn, ipv4.identification, ipv4.dontFragment, ipv4.ttl, ipv4.isFirstFragment)
        if ipv4.hasTransportHeader { checkTransport(ipv4.protocol, ipv4.payload) }
        switch tuple {
        case .success(let found):
            fuzzCheck(found.family == .ipv4, "IPv4 5-tuple family")
            fuzzCheck(found.sourceIPv4 == ipv4.source && found.destinationIPv4 == ipv4.destination, "IPv4 addresses")
            fuzzCheck(found.protocol == ipv4.protocol, "IPv4 protocol")
            if ipv4.isFragment { fuzzCheck(found.sourcePort == 0 && found.destinationPort == 0, "fragment ports") }
            if let ports = try? FiveTuple.ports(ipv4: ipv4) {
                fuzzCheck(ports == (found.sourcePort, found.destinationPort), "ports(ipv4:) disagrees with the tuple")
            }
            _ = found.description
        case .failure(let reason):
            fuzzCheck(reason == .transportTruncated, "a valid IPv4 header fails the 5-tuple with \(reason)")
        }
    }
    if let ipv6 = try? IPv6Header(bytes) {
        let packet = ipv6.packet
        fuzzCheck(packet.count == 40 + Int(ipv6.payloadLength) && packet.count <= bytes.count, "IPv6 length")
        fuzzCheck(ipv6.payload.count == Int(ipv6.payloadLength), "IPv6 payload")
        _ = (ipv6.trafficClass, ipv6.flowLabel, ipv6.hopLimit, ipv6.nextHeader)
        switch Result(catching: { () throws(MalformedReason) in try ipv6.upperLayer() }) {
        case .success(let upper):
            fuzzCheck(upper.offset >= 40 && upper.offset <= packet.count, "upper layer offset \(upper.offset)")
            fuzzCheck(
                upper.extensionHeaderCount <= IPv6Header.maxExtensionHeaders, "\(upper.extensionHeaderCount) headers")
            if upper.hasTransportHeader {
                checkTransport(upper.protocol, UnsafeRawBufferPointer(rebasing: packet[upper.offset...]))
            }
            if case .success(let found) = tuple {
                fuzzCheck(found.family == .ipv6 && found.protocol == upper.protocol, "IPv6 5-tuple")
                fuzzCheck(found.source == ipv6.source && found.destination == ipv6.destination, "IPv6 addresses")
                _ = found.description
            }
        case .failure(let reason):
            guard case .failure(let tupleReason) = tuple else {
                fatalError("fuzz check failed: the 5-tuple reads a packet whose chain fails with \(reason)")
            }
            fuzzCheck(tupleReason == reason, "5-tuple says \(tupleReason), the chain \(reason)")
        }
    }
}

/// The transport views over what follows an IP header.
private func checkTransport(_ proto: IPProtocol, _ transport: UnsafeRawBufferPointer) {
    switch proto {
    case .tcp:
        guard let tcp = try? TCPHeader(transport) else { return }
        fuzzCheck(tcp.headerLength >= 20 && tcp.headerLength <= transport.count, "TCP data offset")
        fuzzCheck(tcp.options.count + 20 + tcp.payload.count == transport.count, "TCP options and payload")
        _ = (tcp.sourcePort, tcp.destinationPort, tcp.sequenceNumber, tcp.acknowledgmentNumber, tcp.isSYN)
        _ = (tcp.window, tcp.checksum, tcp.urgentPointer)
    case .udp:
        guard let udp = try? UDPHeader(transport) else { return }
        fuzzCheck(udp.datagram.count >= 8 && udp.datagram.count <= transport.count, "UDP length")
        fuzzCheck(udp.payload.count == udp.datagram.count - 8, "UDP payload")
        _ = (udp.sourcePort, udp.destinationPort, udp.lengthField, udp.checksum)
    case .icmp:
        guard let icmp = try? ICMPHeader(transport) else { return }
        fuzzCheck(icmp.body.count == icmp.message.count - 8, "ICMP body")
        fuzzCheck((icmp.identifier != nil) == icmp.isEcho, "ICMP identifier only for echo")
        _ = (icmp.type, icmp.code, icmp.checksum, icmp.sequenceNumber)
    case .icmpv6:
        guard let icmp = try? ICMPv6Header(transport) else { return }
        fuzzCheck(icmp.body.count == icmp.message.count - 8, "ICMPv6 body")
        fuzzCheck((icmp.identifier != nil) == icmp.isEcho, "ICMPv6 identifier only for echo")
    default:
        return
    }
}

/// Decrementing the TTL changes the TTL and the checksum only, and keeps a right checksum right (RFC 1624).
private func checkDecrement(_ bytes: UnsafeRawBufferPointer) {
    guard let first = bytes.first else { return }
    var copy = Array(bytes)
    let before = copy
    switch first >> 4 {
    case 4:
        let wasValid = (try? IPv4Header(bytes))?.isChecksumValid ?? false
        let result = copy.withUnsafeMutableBytes { IPv4Header.decrementTTL($0) }
        switch result {
        case .decremented(let ttl):
            fuzzCheck(ttl == before[8] - 1 && copy[8] == ttl, "TTL \(before[8]) became \(copy[8]), said \(ttl)")
            for index in copy.indices where ![8, 10, 11].contains(index) {
                fuzzCheck(copy[index] == before[index], "decrementTTL changed byte \(index)")
            }
            if wasValid {
                let header = copy.withUnsafeBytes { (try? IPv4Header($0)).map(PacketChecks.ipv4HeaderChecksumIsValid) }
                fuzzCheck(header == true, "the RFC 1624 update broke a right checksum")
            }
        case .expired: fuzzCheck(bytes.count >= 20 && before[8] <= 1 && copy == before, "expired")
        case .truncated: fuzzCheck(bytes.count < 20 && copy == before, "truncated")
        }
    case 6:
        let result = copy.withUnsafeMutableBytes { IPv6Header.decrementHopLimit($0) }
        switch result {
        case .decremented(let hopLimit):
            fuzzCheck(hopLimit == before[7] - 1 && copy[7] == hopLimit, "hop limit")
            copy[7] = before[7]
            fuzzCheck(copy == before, "decrementHopLimit changed another byte")
        case .expired: fuzzCheck(bytes.count >= 40 && before[7] <= 1 && copy == before, "expired")
        case .truncated: fuzzCheck(bytes.count < 40 && copy == before, "truncated")
        }
    default:
        return
    }
}

/// The address and prefix parsers: the byte parser and the string parser agree; what parses prints back.
private func checkTextParsers(_ bytes: UnsafeRawBufferPointer) {
    guard bytes.count <= 64 else { return }
    let valid = String(validating: bytes, as: UTF8.self)
    let text = String(decoding: bytes, as: UTF8.self)
    if let address = IPv4Address.parse(utf8: bytes) {
        fuzzCheck(valid != nil && (try? IPv4Address(text)) == address, "IPv4 parsers disagree on \(Array(bytes))")
        fuzzCheck((try? IPv4Address(address.description)) == address, "IPv4 \(address) does not print back")
    } else if valid != nil {
        fuzzCheck((try? IPv4Address(text)) == nil, "only the string parser accepts IPv4 \(Array(bytes))")
    }
    if let address = IPv6Address.parse(utf8: bytes) {
        fuzzCheck(valid != nil && (try? IPv6Address(text)) == address, "IPv6 parsers disagree on \(Array(bytes))")
        fuzzCheck((try? IPv6Address(address.description)) == address, "IPv6 \(address) does not print back")
    } else if valid != nil {
        fuzzCheck((try? IPv6Address(text)) == nil, "only the string parser accepts IPv6 \(Array(bytes))")
    }
    if let parsed = IPv4Prefix.parse(utf8: bytes), valid != nil {
        fuzzCheck(((try? IPv4Prefix(text)) != nil) == !parsed.hostBitsSet, "IPv4 prefix parsers on \(text)")
        fuzzCheck((try? IPv4Prefix(parsed.prefix.description)) == parsed.prefix, "IPv4 prefix print back")
    }
    if let parsed = IPv6Prefix.parse(utf8: bytes), valid != nil {
        fuzzCheck(((try? IPv6Prefix(text)) != nil) == !parsed.hostBitsSet, "IPv6 prefix parsers on \(text)")
        fuzzCheck((try? IPv6Prefix(parsed.prefix.description)) == parsed.prefix, "IPv6 prefix print back")
    }
    if let prefix = try? RoutePrefix(text) {
        fuzzCheck((try? RoutePrefix(prefix.description)) == prefix, "route prefix \(prefix) does not print back")
    }
}
