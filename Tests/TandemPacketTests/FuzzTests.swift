@testable import TandemPacket
import Testing

/// Random, truncated and mutated packets through every view. A crash fails the whole test run; beyond that,
/// every packet must either parse or give a reason, and what parses must stay inside its buffer.
@Suite("Fuzzing the views")
struct FuzzTests {
    @Test("200,000 random, truncated and mutated packets never crash; each parses or gives a reason")
    func packets() {
        var random = SplitMix64(seed: 0x7A4D_E3)
        var seen = Set<MalformedReason>()
        var parsed = 0
        for _ in 0..<200_000 {
            var bytes = randomPacket(using: &random)
            mutate(&bytes, using: &random)
            if case .success = exercise(bytes, seen: &seen) { parsed += 1 }
        }
        // The generator must reach both sides, and every reason, or the run proves little.
        #expect(parsed > 40_000)
        #expect(
            seen == Set(MalformedReason.allCases), "not reached: \(Set(MalformedReason.allCases).subtracting(seen))")
    }

    @Test("the port readers' shortcut for protocols with ports reads what the general rules read, on 200,000 packets")
    func transportShortcuts() {
        var random = SplitMix64(seed: 0x7A4D_E4)
        var compared = (ipv4: 0, ipv6: 0)
        // The ports (and for IPv6 the protocol) as numbers, or -1 and the reason.
        func outcome(_ read: () throws(MalformedReason) -> [Int]) -> [Int] {
            do throws(MalformedReason) { return try read() } catch { return [-1, Int(error.rawValue)] }
        }
        for _ in 0..<200_000 {
            var bytes = randomPacket(using: &random)
            mutate(&bytes, using: &random)
            bytes.withUnsafeBytes { raw in
                if let header = try? IPv4Header(raw), !header.isFragment {
                    let shortcut = outcome { () throws(MalformedReason) in
                        let ports = try FiveTuple.ports(ipv4: header)
                        return [Int(ports.source), Int(ports.destination)]
                    }
                    let general = outcome { () throws(MalformedReason) in
                        let ports = try FiveTuple.portsOfOtherProtocols(ipv4: header)
                        return [Int(ports.source), Int(ports.destination)]
                    }
                    check(shortcut == general, "IPv4 \(bytes): \(shortcut) against \(general)")
                    compared.ipv4 += 1
                }
                if let header = try? IPv6Header(raw) {
                    let shortcut = outcome { () throws(MalformedReason) in
                        let transport = try FiveTuple.transport(ipv6: header)
                        return [Int(transport.protocol.rawValue), Int(transport.source), Int(transport.destination)]
                    }
                    let general = outcome { () throws(MalformedReason) in
                        let transport = try FiveTuple.transportBehindExtensionHeaders(ipv6: header)
                        return [Int(transport.protocol.rawValue), Int(transport.source), Int(transport.destination)]
                    }
                    check(shortcut == general, "IPv6 \(bytes): \(shortcut) against \(general)")
                    compared.ipv6 += 1
                }
            }
        }
        #expect(compared.ipv4 > 20_000 && compared.ipv6 > 20_000, "\(compared)")
    }

    @Test("address and prefix parsers never crash on random bytes and agree with each other")
    func text() {
        var random = SplitMix64(seed: 0x7E47)
        let alphabet = Array("0123456789abcdefABCDEF:./ %-+x\r\n".utf8) + [0, 0x80, 0xC3, 0xFF]
        for _ in 0..<100_000 {
            let bytes = random.bytes(Int.random(in: 0...48, using: &random), from: alphabet)
            bytes.withUnsafeBytes { raw in
                let text = String(decoding: bytes, as: UTF8.self)
                let valid = String(validating: bytes, as: UTF8.self) != nil
                if let address = IPv4Address.parse(utf8: raw) {
                    check(valid && (try? IPv4Address(text)) == address, "IPv4 \(bytes)")
                    check((try? IPv4Address(address.description)) == address, "IPv4 round trip \(bytes)")
                } else if valid {
                    check((try? IPv4Address(text)) == nil, "IPv4 throwing parser accepts \(bytes)")
                }
                if let address = IPv6Address.parse(utf8: raw) {
                    check(valid && (try? IPv6Address(text)) == address, "IPv6 \(bytes)")
                    check((try? IPv6Address(address.description)) == address, "IPv6 round trip \(bytes)")
                } else if valid {
                    check((try? IPv6Address(text)) == nil, "IPv6 throwing parser accepts \(bytes)")
                }
                if let prefix = IPv4Prefix.parse(utf8: raw), valid {
                    check(((try? IPv4Prefix(text)) != nil) == !prefix.hostBitsSet, "IPv4 prefix \(bytes)")
                }
                if let prefix = IPv6Prefix.parse(utf8: raw), valid {
                    check(((try? IPv6Prefix(text)) != nil) == !prefix.hostBitsSet, "IPv6 prefix \(bytes)")
                }
            }
        }
    }
}

/// Records an issue only when `condition` fails: `#expect` in a loop of hundreds of thousands costs too much.
private func check(
    _ condition: Bool, _ message: @autoclosure () -> String, sourceLocation: SourceLocation = #_sourceLocation
) {
    if !condition { Issue.record(Comment(rawValue: message()), sourceLocation: sourceLocation) }
}

/// Runs every view over `bytes`, checks what they return, and collects the reasons they give.
private func exercise(_ bytes: [UInt8], seen: inout Set<MalformedReason>) -> Result<FiveTuple, MalformedReason> {
    let tuple = bytes.withUnsafeBytes { raw in
        let tuple = FiveTuple.parse(raw)
        if case .failure(let reason) = tuple { seen.insert(reason) }

        do throws(MalformedReason) {
            let header = try IPv4Header(raw)
            check(header.packet.count == Int(header.totalLength) && header.packet.count <= raw.count, "IPv4 length")
            check((20...60).contains(header.headerLength) && header.headerLength <= header.packet.count, "IHL")
            check(header.options.count == header.headerLength - 20, "options")
            check(header.payload.count == header.packet.count - header.headerLength, "payload")
            _ = (header.dscp, header.ecn, header.identification, header.dontFragment, header.ttl, header.headerChecksum)
            _ = (header.source, header.destination, header.isFirstFragment, header.isChecksumValid)
            if header.hasTransportHeader { transport(header.protocol, header.payload, seen: &seen) }
            if case .success(let found) = tuple {
                check(found.family == .ipv4 && found.sourceIPv4 == header.source, "5-tuple family")
            }
        } catch {
            seen.insert(error)
        }

        do throws(MalformedReason) {
            let header = try IPv6Header(raw)
            check(
                header.packet.count == 40 + Int(header.payloadLength) && header.packet.count <= raw.count, "IPv6 length"
            )
            _ = (header.trafficClass, header.flowLabel, header.hopLimit, header.source, header.destination)
            let upper = try header.upperLayer()
            check(upper.offset <= header.packet.count && upper.offset >= 40, "upper-layer offset")
            check(upper.extensionHeaderCount <= IPv6Header.maxExtensionHeaders, "chain bound")
            if upper.hasTransportHeader {
                transport(upper.protocol, header.packet[upper.offset...], seen: &seen)
            }
            if case .success(let found) = tuple {
                check(found.family == .ipv6 && found.source == header.source, "5-tuple family")
            }
        } catch {
            seen.insert(error)
        }
        return tuple
    }

    // The in-place rewrites: never crash, and a header that was right stays right.
    var copy = bytes
    copy.withUnsafeMutableBytes { raw in
        let wasValid = (try? IPv4Header(UnsafeRawBufferPointer(raw)))?.isChecksumValid ?? false
        let result = IPv4Header.decrementTTL(raw)
        if wasValid, case .decremented = result {
            check((try? IPv4Header(UnsafeRawBufferPointer(raw)))?.isChecksumValid == true, "checksum after TTL")
        }
        _ = IPv6Header.decrementHopLimit(raw)
    }
    return tuple
}

/// Runs the transport view of `proto` over `bytes`.
private func transport(_ proto: IPProtocol, _ bytes: UnsafeRawBufferPointer, seen: inout Set<MalformedReason>) {
    do throws(MalformedReason) {
        switch proto {
        case .tcp:
            let header = try TCPHeader(bytes)
            check(header.headerLength <= bytes.count && header.options.count == header.headerLength - 20, "TCP")
            _ = (header.sourcePort, header.destinationPort, header.flags, header.payload.count)
        case .udp:
            let header = try UDPHeader(bytes)
            _ = (header.sourcePort, header.lengthField, header.payload.count)
        case .icmp:
            let header = try ICMPHeader(bytes)
            _ = (header.identifier, header.sequenceNumber, header.body.count)
        case .icmpv6:
            let header = try ICMPv6Header(bytes)
            _ = (header.identifier, header.sequenceNumber, header.body.count)
        default:
            break
        }
    } catch {
        seen.insert(error)
    }
}

private func transport(_ proto: IPProtocol, _ slice: Slice<UnsafeRawBufferPointer>, seen: inout Set<MalformedReason>) {
    transport(proto, UnsafeRawBufferPointer(rebasing: slice), seen: &seen)
}

/// A packet of a random kind: IPv4 or IPv6 built from parts (often valid), or random bytes.
private func randomPacket(using random: inout SplitMix64) -> [UInt8] {
    let protocols: [IPProtocol] = [
        .tcp, .udp, .icmp, .icmpv6, .sctp, .gre, .esp, .noNextHeader, IPProtocol(rawValue: 200),
    ]
    func upper(_ proto: IPProtocol) -> [UInt8] {
        func port() -> UInt16 { UInt16.random(in: 0...UInt16.max, using: &random) }
        let payload = random.bytes(Int.random(in: 0...24, using: &random))
        switch proto {
        case .tcp:
            return tcpSegment(
                source: port(), destination: port(), dataOffset: UInt8.random(in: 5...7, using: &random),
                payload: payload)
        case .udp, .sctp: return udpDatagram(source: port(), destination: port(), payload: payload)
        case .icmp, .icmpv6:
            let types: [UInt8] = [0, 8, 3, 11, 128, 129, 1, 135]
            return icmpMessage(type: types.randomElement(using: &random)!, identifier: port(), body: payload)
        default: return payload
        }
    }

    switch Int.random(in: 0..<20, using: &random) {
    case 0..<9:
        var builder = IPv4Builder()
        builder.proto = protocols.randomElement(using: &random)!
        builder.ttl = UInt8.random(in: 0...255, using: &random)
        builder.options = [UInt8](repeating: 1, count: Int.random(in: 0...10, using: &random) * 4)
        if Int.random(in: 0..<5, using: &random) == 0 {
            builder.moreFragments = Bool.random(using: &random)
            builder.fragmentOffset = UInt16.random(in: 0...3, using: &random)
        }
        builder.payload = upper(builder.proto)
        return builder.build()
    case 9..<18:
        var headers: [ExtensionHeader] = []
        for index in 0..<Int.random(in: 0...10, using: &random) {
            switch Int.random(in: 0..<5, using: &random) {
            case 0 where index == 0 || Int.random(in: 0..<4, using: &random) == 0:
                headers.append(.hopByHop(length: UInt8.random(in: 0...2, using: &random)))
            case 1: headers.append(.routing(length: UInt8.random(in: 0...2, using: &random)))
            case 2:
                headers.append(
                    .fragment(offset: UInt16.random(in: 0...2, using: &random), more: Bool.random(using: &random)))
            case 3: headers.append(.authentication(length: UInt8.random(in: 1...6, using: &random)))
            default: headers.append(.destinationOptions(length: UInt8.random(in: 0...2, using: &random)))
            }
        }
        let proto = protocols.randomElement(using: &random)!
        var builder = IPv6Builder(headers, then: proto, upper(proto))
        builder.hopLimit = UInt8.random(in: 0...255, using: &random)
        return builder.build()
    default:
        var bytes = random.bytes(Int.random(in: 0...128, using: &random))
        if !bytes.isEmpty && Bool.random(using: &random) { bytes[0] = Bool.random(using: &random) ? 0x45 : 0x60 }
        return bytes
    }
}

/// Truncates, damages or extends `bytes`, or leaves them alone.
private func mutate(_ bytes: inout [UInt8], using random: inout SplitMix64) {
    let kind = Int.random(in: 0..<10, using: &random)
    if kind >= 3 && kind < 6 || kind == 9, !bytes.isEmpty {
        bytes.removeLast(Int.random(in: 1...bytes.count, using: &random))
    }
    if kind >= 6, !bytes.isEmpty {
        for _ in 0..<Int.random(in: 1...4, using: &random) {
            // Mostly in the headers, where the checks are.
            let position = Int.random(
                in: 0..<min(bytes.count, Bool.random(using: &random) ? 64 : bytes.count), using: &random)
            bytes[position] =
                Bool.random(using: &random)
                ? UInt8.random(in: 0...255, using: &random)
                : bytes[position] ^ (1 << UInt8.random(in: 0...7, using: &random))
        }
    }
    if kind == 1, bytes.count >= 6 {
        // A zero length field: IPv4 total length (bytes 2-3) or IPv6 payload length (bytes 4-5).
        let offset = bytes[0] >> 4 == 6 ? 4 : 2
        bytes[offset] = 0
        bytes[offset + 1] = 0
    }
    if kind == 2 {
        bytes += random.bytes(Int.random(in: 1...16, using: &random))
    }
}
