import TandemDataplane
import TandemPacket
import Testing

/// The fragments of `bytes` for `mtu`, each written into an output of exactly `mtu` bytes filled with 0xEE
/// first (so that a byte the fragmenter forgot to write shows).
private func fragment(_ bytes: [UInt8], mtu: Int) -> Result<[[UInt8]], IPv4FragmentationError> {
    bytes.withUnsafeBytes { raw in
        guard let header = try? IPv4Header(raw) else {
            Issue.record("test packet does not parse")
            return .success([])
        }
        do throws(IPv4FragmentationError) {
            let fragmenter = try IPv4Fragmenter(header, mtu: mtu)
            var fragments: [[UInt8]] = []
            for index in 0..<fragmenter.count {
                var output = [UInt8](repeating: 0xEE, count: mtu)
                let length = output.withUnsafeMutableBytes { fragmenter.writeFragment(at: index, into: $0) }
                #expect(length == fragmenter.fragmentLength(at: index))
                fragments.append(Array(output[..<length]))
            }
            return .success(fragments)
        } catch {
            return .failure(error)
        }
    }
}

/// The fragments of `bytes`, recording an issue if the fragmenter refuses.
private func fragments(_ bytes: [UInt8], mtu: Int, sourceLocation: SourceLocation = #_sourceLocation) -> [[UInt8]] {
    switch fragment(bytes, mtu: mtu) {
    case .success(let fragments): return fragments
    case .failure(let error):
        Issue.record("refused: \(error)", sourceLocation: sourceLocation)
        return []
    }
}

/// A fragment's fields, read by hand.
private struct Fields {
    var headerLength: Int
    var identification: UInt16
    var moreFragments: Bool
    /// In bytes.
    var offset: Int
    var options: [UInt8]
    var data: [UInt8]

    init(_ bytes: [UInt8]) {
        headerLength = Int(bytes[0] & 0x0F) * 4
        identification = bytes.get16(at: 4)
        moreFragments = bytes[6] & 0x20 != 0
        offset = Int(bytes.get16(at: 6) & 0x1FFF) * 8
        options = Array(bytes[20..<headerLength])
        data = Array(bytes[headerLength...])
    }
}

/// A simple reassembler (RFC 791 3.2, without holes or overlaps): the fragments sorted by offset must cover the
/// data without gaps, all but the last with MF.
///
/// - Returns: The offset of the first fragment in bytes, the data, and the MF flag of the last fragment.
private func reassemble(_ fragments: [[UInt8]], sourceLocation: SourceLocation = #_sourceLocation)
    -> (offset: Int, data: [UInt8], moreFragments: Bool)?
{
    let sorted = fragments.map(Fields.init).sorted { $0.offset < $1.offset }
    guard let first = sorted.first, let last = sorted.last else { return nil }
    var data: [UInt8] = []
    for (index, piece) in sorted.enumerated() {
        guard piece.offset == first.offset + data.count else {
            Issue.record("gap or overlap at \(piece.offset)", sourceLocation: sourceLocation)
            return nil
        }
        if index < sorted.count - 1 && !piece.moreFragments {
            Issue.record("MF clear before the last fragment", sourceLocation: sourceLocation)
        }
        data += piece.data
    }
    return (first.offset, data, last.moreFragments)
}

/// Checks every rule on the fragments of `original` for `mtu`.
private func checkFragments(
    _ fragments: [[UInt8]], of original: [UInt8], mtu: Int, laterOptions: [UInt8], label: String = "",
    sourceLocation: SourceLocation = #_sourceLocation
) {
    let originalFields = Fields(original)
    let fits = original.count <= mtu
    if fits {
        #expect(
            fragments == [original], "\(label): a packet that fits is left as it is", sourceLocation: sourceLocation)
        return
    }
    for (index, bytes) in fragments.enumerated() {
        let context = "\(label) fragment \(index) of \(fragments.count), mtu \(mtu)"
        #expect(bytes.count <= mtu, "\(context)", sourceLocation: sourceLocation)
        let valid = bytes.withUnsafeBytes { raw -> Bool in
            guard let header = try? IPv4Header(raw) else { return false }
            return header.isChecksumValid && Int(header.totalLength) == bytes.count && !header.dontFragment
        }
        #expect(valid, "\(context): parses, checksum, total length, DF clear", sourceLocation: sourceLocation)
        #expect(bytes[6] & 0x80 == 0, "\(context): reserved flag clear", sourceLocation: sourceLocation)
        // Identification, TOS, TTL, protocol and both addresses are kept.
        #expect(
            bytes[1] == original[1] && Array(bytes[4..<6]) == Array(original[4..<6]), sourceLocation: sourceLocation)
        #expect(Array(bytes[8..<10]) == Array(original[8..<10]), sourceLocation: sourceLocation)
        #expect(Array(bytes[12..<20]) == Array(original[12..<20]), sourceLocation: sourceLocation)
        let fields = Fields(bytes)
        if index == 0 {
            #expect(fields.options == originalFields.options, "\(context)", sourceLocation: sourceLocation)
        } else {
            #expect(fields.options == laterOptions, "\(context)", sourceLocation: sourceLocation)
        }
        if index < fragments.count - 1 {
            #expect(fields.data.count % 8 == 0, "\(context)", sourceLocation: sourceLocation)
            #expect(fields.moreFragments, "\(context)", sourceLocation: sourceLocation)
            // As much data as the MTU allows.
            #expect(mtu - bytes.count < 8, "\(context)", sourceLocation: sourceLocation)
        } else {
            #expect(fields.moreFragments == originalFields.moreFragments, "\(context)", sourceLocation: sourceLocation)
        }
    }
    let whole = reassemble(fragments, sourceLocation: sourceLocation)
    #expect(whole?.data == originalFields.data, "\(label): reassembled data", sourceLocation: sourceLocation)
    #expect(whole?.offset == originalFields.offset, sourceLocation: sourceLocation)
    #expect(whole?.moreFragments == originalFields.moreFragments, sourceLocation: sourceLocation)
}

/// Options to fragment with, and the options the later fragments must carry.
private let optionSets: [(name: String, options: [UInt8], later: [UInt8])] = [
    ("none", [], []),
    ("router alert (copied)", [0x94, 0x04, 0x00, 0x00], [0x94, 0x04, 0x00, 0x00]),
    (
        "mixed, 40 bytes",
        [0x01]  // NOP: not copied
            + [0x07, 0x07, 0x04, 0, 0, 0, 0]  // record route: not copied
            + [0x83, 0x0B, 0x04, 198, 18, 0, 9, 198, 18, 0, 10]  // loose source route: copied
            + [0x44, 0x0C, 0x05, 0x00, 0, 0, 0, 0, 0, 0, 0, 0]  // timestamp: not copied
            + [0x82, 0x04, 0xAA, 0xBB]  // security: copied
            + [0x00]  // end of options: what follows is not looked at
            + [0x94, 0x04, 0x00, 0x00],
        [0x83, 0x0B, 0x04, 198, 18, 0, 9, 198, 18, 0, 10, 0x82, 0x04, 0xAA, 0xBB, 0x00]
    ),
]

@Suite("IPv4 fragmentation")
struct IPv4FragmenterTests {
    @Test(
        "every rule holds and the fragments reassemble, for common and odd MTUs",
        arguments: [68, 69, 70, 71, 75, 100, 576, 577, 1000, 1001, 1280, 1400, 1499, 1500])
    func matrix(mtu: Int) {
        for (name, options, later) in optionSets {
            for dataLength in [0, 1, 7, 8, 9, 47, 48, 1000, 1480, 1481, 4000, 65535 - 20 - options.count] {
                var packet = IPv4Packet()
                packet.ttl = 17
                packet.typeOfService = 0xB8
                packet.options = options
                packet.payload = pattern(dataLength)
                let bytes = packet.build()
                checkFragments(
                    fragments(bytes, mtu: mtu), of: bytes, mtu: mtu, laterOptions: later,
                    label: "options \(name), \(dataLength) bytes of data")
            }
        }
    }

    @Test("1500 bytes for MTU 576: 572 + 572 + 396, offsets 0, 69, 138, as Linux splits it")
    func linuxSizes() {
        var packet = IPv4Packet()
        packet.payload = pattern(1480)
        let pieces = fragments(packet.build(), mtu: 576).map(Fields.init)
        #expect(pieces.map { $0.headerLength + $0.data.count } == [572, 572, 396])
        #expect(pieces.map(\.offset) == [0, 552, 1104])
        #expect(pieces.map(\.moreFragments) == [true, true, false])
        let for1280 = fragments(packet.build(), mtu: 1280).map(Fields.init)
        #expect(for1280.map { $0.headerLength + $0.data.count } == [1276, 244])
    }

    @Test("later fragments drop the options that are not copied, so they carry more data")
    func laterHeaderLength() {
        var packet = IPv4Packet()
        packet.options = optionSets[2].options
        packet.payload = pattern(2000)
        let pieces = fragments(packet.build(), mtu: 576).map(Fields.init)
        #expect(pieces.map(\.headerLength) == [60, 36, 36, 36])
        #expect(pieces.map(\.data.count) == [512, 536, 536, 416])
    }

    @Test("an option with a bad length ends the copied options")
    func badOptionLength() {
        var packet = IPv4Packet()
        packet.options = [0x94, 0x04, 0x00, 0x00, 0x83, 0x01, 0x00, 0x00]
        packet.payload = pattern(200)
        let bytes = packet.build()
        checkFragments(fragments(bytes, mtu: 100), of: bytes, mtu: 100, laterOptions: [0x94, 0x04, 0x00, 0x00])
        packet.options = [0x94, 0x04, 0x00, 0x00, 0x01, 0x83, 0x09, 0x00]  // runs past the header
        let past = packet.build()
        checkFragments(fragments(past, mtu: 100), of: past, mtu: 100, laterOptions: [0x94, 0x04, 0x00, 0x00])
    }

    @Test("a fragment with MF is fragmented again: offsets from its own, MF on every piece")
    func fragmentOfAFragment() {
        for more in [true, false] {
            var packet = IPv4Packet()
            packet.fragmentOffset = 100
            packet.moreFragments = more
            packet.options = [0x94, 0x04, 0x00, 0x00]
            packet.payload = pattern(1000)
            let bytes = packet.build()
            let pieces = fragments(bytes, mtu: 576)
            checkFragments(pieces, of: bytes, mtu: 576, laterOptions: [0x94, 0x04, 0x00, 0x00])
            #expect(pieces.map { Fields($0).offset / 8 } == [100, 169])
            #expect(pieces.map { Fields($0).moreFragments } == [true, more])
        }
    }

    @Test("fragmenting twice (1500, then 576, then 68) reassembles to the datagram")
    func twice() {
        var packet = IPv4Packet()
        packet.identification = 0xBEEF
        packet.options = optionSets[2].options
        packet.payload = pattern(5000)
        let bytes = packet.build()
        let first = fragments(bytes, mtu: 1500)
        checkFragments(first, of: bytes, mtu: 1500, laterOptions: optionSets[2].later)
        var second: [[UInt8]] = []
        for piece in first {
            let smaller = fragments(piece, mtu: 576)
            // A later fragment's options are copied ones only; copying them again keeps them all.
            let later = piece.count == bytes.count ? [] : optionSets[2].later
            checkFragments(smaller, of: piece, mtu: 576, laterOptions: later)
            second += smaller
        }
        var third: [[UInt8]] = []
        for piece in second { third += fragments(piece, mtu: 68) }
        #expect(third.allSatisfy { $0.count <= 68 })
        let whole = reassemble(third.shuffled())
        #expect(whole?.data == pattern(5000))
        #expect(whole?.offset == 0 && whole?.moreFragments == false)
    }

    @Test("a packet that fits is written unchanged, even with DF or MF set")
    func fits() {
        var packet = IPv4Packet()
        packet.dontFragment = true
        packet.payload = pattern(1480)
        #expect(fragments(packet.build(), mtu: 1500) == [packet.build()])
        packet.dontFragment = false
        packet.moreFragments = true
        packet.fragmentOffset = 7
        #expect(fragments(packet.build(), mtu: 1500) == [packet.build()])
    }

    @Test("DF set and too big: refused, to send fragmentation needed")
    func dontFragment() {
        var packet = IPv4Packet()
        packet.dontFragment = true
        packet.payload = pattern(1481)
        #expect(throws: IPv4FragmentationError.dontFragment) { try fragment(packet.build(), mtu: 1500).get() }
    }

    @Test("an MTU below 68 is refused")
    func mtuBelowMinimum() {
        var packet = IPv4Packet()
        packet.payload = pattern(100)
        #expect(throws: IPv4FragmentationError.mtuBelowMinimum) { try fragment(packet.build(), mtu: 67).get() }
        #expect(throws: Never.self) { try fragment(packet.build(), mtu: 68).get() }
    }

    @Test("a fragment whose pieces' offsets would pass 8191 is refused")
    func offsetOverflow() {
        var packet = IPv4Packet()
        packet.fragmentOffset = 8190
        packet.payload = pattern(100)
        #expect(throws: IPv4FragmentationError.offsetOverflow) { try fragment(packet.build(), mtu: 68).get() }
        packet.fragmentOffset = 8000
        packet.payload = pattern(1000)
        let bytes = packet.build()
        checkFragments(fragments(bytes, mtu: 576), of: bytes, mtu: 576, laterOptions: [])
    }
}
