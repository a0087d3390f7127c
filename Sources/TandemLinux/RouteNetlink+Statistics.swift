// A device's counters over the same rtnetlink socket: RTM_GETSTATS for one device, asking for its 64-bit link
// statistics alone (a few hundred bytes, where RTM_GETLINK answers with the whole device). What the daemon reads of
// its ingress TUN device: the packets the kernel dropped because the device's queue was full.

import CMnl

#if canImport(Glibc)
import Glibc
#endif

/// A device's 64-bit link statistics, the part Tandem reads.
public struct LinkStatistics: Hashable, Sendable {
    public var transmittedPackets: UInt64
    /// Packets dropped on transmit; for a TUN device, those that found the reader's queue full.
    public var transmitDropped: UInt64

    public init(transmittedPackets: UInt64, transmitDropped: UInt64) {
        self.transmittedPackets = transmittedPackets
        self.transmitDropped = transmitDropped
    }

    /// Reads the payload of IFLA_STATS_LINK_64 (struct rtnl_link_stats64); nil when shorter than the fields read.
    static func parse(stats64 payload: UnsafeRawBufferPointer) -> LinkStatistics? {
        let transmitted = MemoryLayout<rtnl_link_stats64>.offset(of: \.tx_packets)!
        let dropped = MemoryLayout<rtnl_link_stats64>.offset(of: \.tx_dropped)!
        guard payload.count >= dropped + 8 else { return nil }
        return LinkStatistics(
            transmittedPackets: payload.loadUnaligned(fromByteOffset: transmitted, as: UInt64.self),
            transmitDropped: payload.loadUnaligned(fromByteOffset: dropped, as: UInt64.self))
    }
}

extension RouteNetlink {
    /// The device's link statistics now.
    ///
    /// - Throws: ``SystemError`` "reading the statistics of device N" for the kernel's refusal (ENODEV: no such
    ///   device) or an answer without IFLA_STATS_LINK_64 (EPROTO).
    public func statistics(ofLink index: UInt32) throws(SystemError) -> LinkStatistics {
        let operation = "reading the statistics of device \(index)"
        return try get(UInt16(RTM_GETSTATS), headerSize: MemoryLayout<if_stats_msg>.size, operation: operation) {
            header in
            let request = UnsafeMutableRawPointer(header).advanced(by: MemoryLayout<nlmsghdr>.size)
                .assumingMemoryBound(to: if_stats_msg.self)
            request.pointee.family = UInt8(AF_UNSPEC)
            request.pointee.ifindex = index
            request.pointee.filter_mask = 1 << (UInt32(IFLA_STATS_LINK_64) - 1)
        } answer: { view throws(SystemError) in
            guard view.header.pointee.nlmsg_type == UInt16(RTM_NEWSTATS) else { return nil }
            var statistics: LinkStatistics?
            view.forEachAttribute(headerSize: MemoryLayout<if_stats_msg>.size) { attribute in
                if attribute.type == UInt16(IFLA_STATS_LINK_64) {
                    statistics = LinkStatistics.parse(stats64: attribute.payload)
                }
            }
            guard let statistics else { throw SystemError(code: EPROTO, operation: operation) }
            return statistics
        }
    }
}
