// The walk over the IPv6 extension header chain (RFC 8200 section 4) to the upper-layer header.

/// What an IPv6 fragment header says (RFC 8200 section 4.5).
public struct IPv6FragmentInfo: Hashable, Sendable {
    /// The offset of this fragment's data in units of 8 bytes.
    public var offset: UInt16
    /// The M flag: more fragments follow.
    public var moreFragments: Bool
    /// The identification shared by the fragments of one packet.
    public var identification: UInt32

    /// Makes fragment information.
    ///
    /// - Parameters:
    ///   - offset: The fragment offset in 8-byte units.
    ///   - moreFragments: The M flag.
    ///   - identification: The identification.
    public init(offset: UInt16, moreFragments: Bool, identification: UInt32) {
        self.offset = offset
        self.moreFragments = moreFragments
        self.identification = identification
    }

    /// Whether this is the first fragment: the one whose data starts with the upper-layer header.
    public var isFirst: Bool { offset == 0 }
}

/// Where the extension header chain of an IPv6 packet ends.
public struct IPv6UpperLayer: Hashable, Sendable {
    /// The protocol that follows the extension headers: TCP, UDP, ICMPv6, ESP, ... or ``IPProtocol/noNextHeader``.
    /// For a fragment other than the first it is the protocol of the fragmented packet, whose header is in
    /// the first fragment, not here.
    public var `protocol`: IPProtocol
    /// The offset, from the start of the IPv6 header, where the upper-layer data starts.
    public var offset: Int
    /// How many extension headers were walked.
    public var extensionHeaderCount: Int
    /// The fragment header, if there was one.
    public var fragment: IPv6FragmentInfo?

    /// Makes an end of chain.
    ///
    /// - Parameters:
    ///   - protocol: The upper-layer protocol.
    ///   - offset: Where its data starts, from the start of the IPv6 header.
    ///   - extensionHeaderCount: How many extension headers came before it.
    ///   - fragment: The fragment header, if any.
    public init(protocol: IPProtocol, offset: Int, extensionHeaderCount: Int, fragment: IPv6FragmentInfo?) {
        self.protocol = `protocol`
        self.offset = offset
        self.extensionHeaderCount = extensionHeaderCount
        self.fragment = fragment
    }

    /// Whether the data at ``offset`` starts with the upper-layer header: not for a fragment other than the
    /// first, and not when there is no next header.
    public var hasTransportHeader: Bool {
        (fragment?.isFirst ?? true) && `protocol` != .noNextHeader
    }
}

extension IPv6Header {
    /// The most extension headers ``upperLayer()`` walks. RFC 8200 recommends at most one of each kind
    /// (destination options twice), which is 7 with AH; one more leaves room without allowing a long chain.
    public static let maxExtensionHeaders = 8

    /// Walks the extension headers to the upper-layer header.
    ///
    /// Walked: hop-by-hop options (0, only directly after the fixed header), routing (43), fragment (44),
    /// destination options (60) and AH (51). Anything else ends the walk, including no next header (59),
    /// ESP (50, whose contents are encrypted) and extension headers Tandem does not need to look past
    /// (mobility, HIP, shim6). A fragment other than the first ends the walk at its fragment header, since
    /// the headers after it are in the first fragment.
    ///
    /// - Returns: The upper-layer protocol, the offset of its header and the fragment header, if any.
    /// - Throws: ``MalformedReason``: `hopByHopNotFirst`, `extensionHeaderTruncated` or
    ///   `tooManyExtensionHeaders`.
    public func upperLayer() throws(MalformedReason) -> IPv6UpperLayer {
        let end = packet.count
        var next = nextHeader
        var offset = Self.fixedHeaderLength
        var count = 0
        var fragment: IPv6FragmentInfo? = nil
        while true {
            switch next {
            case .hopByHopOptions, .routing, .fragment, .destinationOptions, .authenticationHeader:
                break
            default:
                return IPv6UpperLayer(protocol: next, offset: offset, extensionHeaderCount: count, fragment: fragment)
            }
            // The bound comes before anything else is read, so a crafted chain costs at most this many steps.
            guard count < Self.maxExtensionHeaders else { throw .tooManyExtensionHeaders }
            if next == .hopByHopOptions && count != 0 { throw .hopByHopNotFirst }
            // Every extension header is at least 8 bytes long, which covers the length byte read below.
            guard end - offset >= 8 else { throw .extensionHeaderTruncated }
            let lengthField = Int(packet.uint8(at: offset + 1))
            let headerLength =
                switch next {
                case .fragment: 8
                // RFC 4302: AH counts 4-byte units, minus 2.
                case .authenticationHeader: (lengthField + 2) * 4
                // The others count 8-byte units after the first 8 bytes.
                default: (lengthField + 1) * 8
                }
            guard headerLength <= end - offset else { throw .extensionHeaderTruncated }
            count += 1
            let following = IPProtocol(rawValue: packet.uint8(at: offset))
            if next == .fragment {
                let offsetAndFlags = packet.bigEndianUInt16(at: offset + 2)
                let info = IPv6FragmentInfo(
                    offset: offsetAndFlags >> 3, moreFragments: offsetAndFlags & 1 != 0,
                    identification: packet.bigEndianUInt32(at: offset + 4))
                fragment = info
                if !info.isFirst {
                    return IPv6UpperLayer(
                        protocol: following, offset: offset + headerLength, extensionHeaderCount: count,
                        fragment: info)
                }
            }
            next = following
            offset += headerLength
        }
    }
}
