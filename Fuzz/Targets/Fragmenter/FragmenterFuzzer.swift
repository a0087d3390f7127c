// Fuzz target 3: the IPv4 fragmenter. Fragment, check every fragment, reassemble, compare with the packet.
//
// The input: `[MTU: 2 bytes][packet]`. Each fragment is written into a buffer of exactly the length the fragmenter
// announces, so that AddressSanitizer catches a write past it. The fragments must be right IPv4 packets within
// the MTU, carry the data in order without gaps, and put back together (header of the first, data of all) give the
// packet again, but for DF, which fragmenting clears.

import FuzzSupport
import TandemDataplane
import TandemPacket

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    // MTUs from 0 to 2047: below the IPv4 minimum of 68 (refused), around it, and the usual link MTUs.
    let mtu = Int(input.uint16() & 0x07FF)
    let packetBytes = input.takeRest()
    guard let packet = try? IPv4Header(packetBytes) else { return 0 }
    let fragmenter: IPv4Fragmenter
    do {
        fragmenter = try IPv4Fragmenter(packet, mtu: mtu)
    } catch {
        switch error {
        case .mtuBelowMinimum: fuzzCheck(mtu < IPv4Fragmenter.minimumMTU, "MTU \(mtu) refused as below 68")
        case .dontFragment: fuzzCheck(packet.dontFragment && packet.packet.count > mtu, "DF refusal")
        case .offsetOverflow: fuzzCheck(packet.fragmentOffset > 0, "offset overflow of an unfragmented packet")
        }
        return 0
    }
    fuzzCheck(mtu >= IPv4Fragmenter.minimumMTU, "fragmenting for MTU \(mtu)")
    fuzzCheck(fragmenter.count >= 1, "no fragments")
    let fragments = (0..<fragmenter.count).map { index in
        var bytes = [UInt8](repeating: 0xA5, count: fragmenter.fragmentLength(at: index))
        let written = bytes.withUnsafeMutableBytes { fragmenter.writeFragment(at: index, into: $0) }
        fuzzCheck(written == bytes.count, "fragment \(index): wrote \(written) of \(bytes.count) announced bytes")
        return bytes
    }
    if fragmenter.count == 1 {
        fuzzCheck(packet.packet.count <= mtu, "one fragment for a packet that does not fit")
        fuzzCheck(fragments[0].elementsEqual(packet.packet), "a packet that fits is not left as it is")
        return 0
    }
    var data: [UInt8] = []
    for (index, fragment) in fragments.enumerated() {
        fuzzCheck(fragment.count <= mtu, "fragment \(index) of \(fragment.count) bytes for MTU \(mtu)")
        fragment.withUnsafeBytes { raw in
            guard let header = try? IPv4Header(raw) else { fatalError("fuzz check failed: fragment \(index) parses") }
            checkFragment(header, index: index, of: fragmenter, dataSoFar: data.count)
            data += header.payload
        }
    }
    fuzzCheck(data.elementsEqual(packet.payload), "the fragments' data is not the packet's")
    checkReassembly(first: fragments[0], dataLength: data.count, packet: packet)
    return 0
}

/// One fragment's header against the packet's.
private func checkFragment(_ header: IPv4Header, index: Int, of fragmenter: IPv4Fragmenter, dataSoFar: Int) {
    let packet = fragmenter.packet
    let last = index == fragmenter.count - 1
    fuzzCheck(header.packet.count == Int(header.totalLength), "fragment total length")
    fuzzCheck(PacketChecks.ipv4HeaderChecksumIsValid(header), "fragment \(index) header checksum")
    fuzzCheck(
        header.headerLength == (index == 0 ? fragmenter.firstHeaderLength : fragmenter.laterHeaderLength),
        "fragment \(index) header length \(header.headerLength)")
    fuzzCheck(
        header.identification == packet.identification && header.typeOfService == packet.typeOfService
            && header.ttl == packet.ttl && header.protocol == packet.protocol && header.source == packet.source
            && header.destination == packet.destination, "fragment \(index) changed a header field it keeps")
    fuzzCheck(!header.dontFragment && header.packet[6] & 0x80 == 0, "fragment \(index) keeps DF or the reserved flag")
    fuzzCheck(header.moreFragments == (!last || packet.moreFragments), "fragment \(index) MF")
    fuzzCheck(
        Int(header.fragmentOffset) * 8 == Int(packet.fragmentOffset) * 8 + dataSoFar,
        "fragment \(index) at offset \(header.fragmentOffset) after \(dataSoFar) bytes")
    if !last { fuzzCheck(header.payload.count % 8 == 0 && header.payload.count > 0, "fragment data not 8-aligned") }
    if index == 0 {
        fuzzCheck(header.options.elementsEqual(packet.options), "the first fragment does not keep every option")
    } else {
        checkCopiedOptions(header.options, from: packet.options)
    }
}

/// A later fragment's options: only those with the copied flag, in order, then zeros.
private func checkCopiedOptions(_ options: UnsafeRawBufferPointer, from original: UnsafeRawBufferPointer) {
    var expected: [UInt8] = []
    var index = 0
    while index < original.count {
        let type = original[index]
        if type == 0 { break }
        if type == 1 {
            index += 1
            continue
        }
        guard index + 1 < original.count else { break }
        let length = Int(original[index + 1])
        guard length >= 2, index + length <= original.count else { break }
        if type & 0x80 != 0 { expected += original[index..<index + length] }
        index += length
    }
    fuzzCheck(options.count == (expected.count + 3) & ~3, "\(options.count) bytes of copied options")
    fuzzCheck(options.prefix(expected.count).elementsEqual(expected), "copied options")
    fuzzCheck(options.dropFirst(expected.count).allSatisfy { $0 == 0 }, "options padding")
}

/// The first fragment's header with the whole data, its length, offset and MF put back, is the packet but for DF.
private func checkReassembly(first: [UInt8], dataLength: Int, packet: IPv4Header) {
    let headerLength = packet.headerLength
    var rebuilt = Array(first[0..<headerLength])
    let total = headerLength + dataLength
    rebuilt[2] = UInt8(total >> 8)
    rebuilt[3] = UInt8(total & 0xFF)
    rebuilt[6] = packet.packet[6] & ~0x40
    rebuilt[7] = packet.packet[7]
    var expected = Array(packet.header)
    expected[6] &= ~0x40
    for index in [10, 11] {
        rebuilt[index] = 0
        expected[index] = 0
    }
    fuzzCheck(rebuilt == expected, "the reassembled header is not the packet's")
}
