// TUN devices: Tandem's packet inputs and outputs on a live system. One device, one or more queues (one file
// descriptor each, non-blocking); a queue reads straight into the slots of a PacketBatch and writes one packet
// at a time, allocating nothing. Bringing the link up and setting its MTU is the netlink layer's job (RTM_NEWLINK),
// not this file's: the device only needs a file descriptor, the link is configured like any other.

import CTandemLinux
import TandemDataplane

#if canImport(Glibc)
import Glibc
#endif

/// The offloads a TUN device's reader handles (TUNSETOFFLOAD): what the kernel may leave undone in the packets it
/// hands to the reader, described by each packet's ``VirtioNetHeader``.
public struct TunOffloads: OptionSet, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt32

    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// Packets may come with a partial transport checksum (TUN_F_CSUM); the header says where to finish it.
    public static let checksum = TunOffloads(rawValue: UInt32(TUN_F_CSUM))
    /// TCP over IPv4 may come as one large segment to cut (TUN_F_TSO4); needs ``checksum``.
    public static let tcpSegmentation4 = TunOffloads(rawValue: UInt32(TUN_F_TSO4))
    /// TCP over IPv6 may come as one large segment to cut (TUN_F_TSO6); needs ``checksum``.
    public static let tcpSegmentation6 = TunOffloads(rawValue: UInt32(TUN_F_TSO6))
    /// UDP over IPv4 may come as one large datagram to cut (TUN_F_USO4, Linux 6.2); needs ``checksum`` and
    /// ``udpSegmentation6`` with it.
    public static let udpSegmentation4 = TunOffloads(rawValue: UInt32(TUN_F_USO4))
    /// UDP over IPv6 may come as one large datagram to cut (TUN_F_USO6, Linux 6.2); goes with ``udpSegmentation4``.
    public static let udpSegmentation6 = TunOffloads(rawValue: UInt32(TUN_F_USO6))

    /// Everything above.
    public static let all: TunOffloads = [
        .checksum, .tcpSegmentation4, .tcpSegmentation6, .udpSegmentation4, .udpSegmentation6,
    ]

    /// "csum,tso4,tso6,uso4,uso6", or "none".
    public var description: String {
        let names: [(TunOffloads, String)] = [
            (.checksum, "csum"), (.tcpSegmentation4, "tso4"), (.tcpSegmentation6, "tso6"),
            (.udpSegmentation4, "uso4"), (.udpSegmentation6, "uso6"),
        ]
        let present = names.filter { contains($0.0) }.map(\.1)
        return present.isEmpty ? "none" : present.joined(separator: ",")
    }
}

/// The `virtio_net_hdr` the kernel puts before each packet a vnet-header TUN device reads: how to finish the
/// packet's checksum and how to cut it into segments, when the device's ``TunOffloads`` let the kernel leave that
/// undone. In the byte order of the host (the kernel's default for TUN devices on a little-endian host).
public struct VirtioNetHeader: Hashable, Sendable {
    /// VIRTIO_NET_HDR_F_*: 1 (NEEDS_CSUM) the checksum at ``checksumStart`` + ``checksumOffset`` holds only the
    /// pseudo-header's sum; 2 (DATA_VALID) the checksum was checked.
    public var flags: UInt8
    /// VIRTIO_NET_HDR_GSO_*: 0 (NONE) one packet; 1 (TCPV4), 4 (TCPV6), 5 (UDP_L4) a segment to cut into pieces of
    /// ``segmentSize``; 0x80 (ECN) added to TCP.
    public var segmentationType: UInt8
    /// The length of the headers to repeat in each segment.
    public var headerLength: UInt16
    /// The payload of each segment.
    public var segmentSize: UInt16
    /// Where checksumming starts (from the IP header's first byte).
    public var checksumStart: UInt16
    /// Where the checksum field is, from ``checksumStart``.
    public var checksumOffset: UInt16

    public init(
        flags: UInt8 = 0, segmentationType: UInt8 = 0, headerLength: UInt16 = 0, segmentSize: UInt16 = 0,
        checksumStart: UInt16 = 0, checksumOffset: UInt16 = 0
    ) {
        self.flags = flags
        self.segmentationType = segmentationType
        self.headerLength = headerLength
        self.segmentSize = segmentSize
        self.checksumStart = checksumStart
        self.checksumOffset = checksumOffset
    }

    /// Whether the transport checksum is partial (VIRTIO_NET_HDR_F_NEEDS_CSUM): it must be finished before the
    /// packet goes anywhere that does not finish it.
    public var needsChecksum: Bool { flags & UInt8(VIRTIO_NET_HDR_F_NEEDS_CSUM) != 0 }

    /// Whether the packet is a segment to cut (any type but VIRTIO_NET_HDR_GSO_NONE).
    public var isSegmentationOffload: Bool { segmentationType & 0x7F != UInt8(VIRTIO_NET_HDR_GSO_NONE) }

    /// Reads the 10 bytes of a `struct virtio_net_hdr`.
    init(loadingFrom bytes: UnsafeRawPointer) {
        let raw = bytes.loadUnaligned(as: virtio_net_hdr.self)
        self.init(
            flags: raw.flags, segmentationType: raw.gso_type, headerLength: raw.hdr_len, segmentSize: raw.gso_size,
            checksumStart: raw.csum_start, checksumOffset: raw.csum_offset)
    }

    /// Writes the 10 bytes of a `struct virtio_net_hdr`.
    func store(to bytes: UnsafeMutableRawPointer) {
        var raw = virtio_net_hdr()
        raw.flags = flags
        raw.gso_type = segmentationType
        raw.hdr_len = headerLength
        raw.gso_size = segmentSize
        raw.csum_start = checksumStart
        raw.csum_offset = checksumOffset
        bytes.storeBytes(of: raw, as: virtio_net_hdr.self)
    }
}

/// A TUN device (layer 3: IP packets, no link header, no packet information) with its queues, open for as long as
/// this object lives.
///
/// The device is made in the network namespace of the thread that makes this object (run the initializer inside
/// ``NetworkNamespace/withEntered(_:)`` to make it elsewhere). It is not persistent: when the last queue closes, the
/// kernel removes it. If a device of that name exists (a persistent one made with `ip tuntap add`), the queues
/// attach to it, and it stays.
///
/// Bringing the link up, its addresses and its MTU are not set here: that is the netlink layer's job (`ip link` in
/// the tests); a queue's writes fail with EIO while the link is down.
public final class TunDevice: @unchecked Sendable {
    /// The length of the header before each packet of a vnet-header device, and its layout.
    public enum VnetHeaderSize: Int, Hashable, Sendable {
        /// 10 bytes: `struct virtio_net_hdr`.
        case basic = 10
        /// 12 bytes: `struct virtio_net_hdr_mrg_rxbuf` (`num_buffers` after the basic header; Tandem ignores it).
        case mergeableBuffers = 12
    }

    /// Asks for a `virtio_net_hdr` before each packet (IFF_VNET_HDR), and for offloads.
    public struct VnetHeader: Hashable, Sendable {
        /// The header's length (TUNSETVNETHDRSZ).
        public var size: VnetHeaderSize
        /// The offloads to ask for (TUNSETOFFLOAD); if the kernel refuses the UDP ones (EINVAL: before Linux 6.2),
        /// the others are asked for without them. ``TunDevice/offloads`` says what was accepted.
        public var offloads: TunOffloads

        public init(size: VnetHeaderSize = .basic, offloads: TunOffloads = .all) {
            self.size = size
            self.offloads = offloads
        }
    }

    /// The device's name, as the kernel gave it (the name asked for, or the one it chose for a pattern such as
    /// "tnd%d" or an empty name).
    public let name: String
    /// The queues, one file descriptor each; more than one with IFF_MULTI_QUEUE. Valid while this object lives.
    public let queues: [TunQueue]
    /// The offloads the kernel accepted; empty without a vnet header.
    public let offloads: TunOffloads
    /// The length of the header before each packet: 0, 10 or 12.
    public let vnetHeaderSize: Int

    private let counters: UnsafeMutablePointer<TunQueue.Counters>
    private let vnetHeaders: UnsafeMutableRawPointer?

    /// Creates the TUN device `name`, or attaches to it, with `queueCount` queues.
    ///
    /// Every queue is a file descriptor of `/dev/net/tun`, opened non-blocking and close-on-exec, attached to the
    /// device with IFF_TUN | IFF_NO_PI, IFF_MULTI_QUEUE if there is more than one, IFF_VNET_HDR with
    /// `vnetHeader` and IFF_NAPI with `napi`. The corresponding C calls are `open` and `ioctl` (TUNSETIFF,
    /// TUNSETVNETHDRSZ, TUNSETOFFLOAD).
    ///
    /// - Parameters:
    ///   - name: The device name, at most 15 bytes; may hold one "%d" for the kernel to fill, or be empty ("tun%d").
    ///   - queueCount: How many queues; more than one makes a multi-queue device, and the kernel spreads the packets
    ///     it sends to the device over the queues by flow.
    ///   - vnetHeader: With a header before each packet, and offloads; `nil` for plain IP packets.
    ///   - batchCapacity: With a vnet header: the largest ``PacketBatch`` a queue reads into (each queue keeps the
    ///     header of every slot).
    ///   - napi: IFF_NAPI: a packet written to a queue goes to the queue's NAPI context (with GRO) instead of being
    ///     received inside the write; with `/sys/class/net/<name>/threaded` at 1 that context is a kernel thread of
    ///     its own, so the kernel's forwarding of the packet leaves the writing thread.
    /// - Throws: ``SystemError`` naming the device: "creating TUN device tnd0: Operation not permitted" (needs
    ///   CAP_NET_ADMIN), "...: File name too long" (a name of more than 15 bytes), "...: Device or resource busy"
    ///   (the device is open and not multi-queue), "...: Invalid argument" (its flags differ from the open device's).
    public init(
        name: String, queueCount: Int = 1, vnetHeader: VnetHeader? = nil, batchCapacity: Int = 256, napi: Bool = false
    ) throws(SystemError) {
        precondition(queueCount >= 1 && batchCapacity >= 1)
        var flags = IFF_TUN | IFF_NO_PI
        if queueCount > 1 { flags |= IFF_MULTI_QUEUE }
        if vnetHeader != nil { flags |= IFF_VNET_HDR }
        if napi { flags |= IFF_NAPI }

        var descriptors: [CInt] = []
        var actualName = name
        var accepted: TunOffloads = []
        do throws(SystemError) {
            for index in 0..<queueCount {
                let what =
                    index == 0
                    ? "creating TUN device \(actualName)" : "attaching queue \(index) to TUN device \(actualName)"
                let descriptor = try valueOrErrno("opening /dev/net/tun for TUN device \(actualName)") {
                    open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC)
                }
                descriptors.append(descriptor)
                // Queues after the first attach to the name the kernel gave the first (it may have filled a "%d").
                actualName = try Self.attach(descriptor, name: index == 0 ? name : actualName, flags: flags, what)
            }
            if let vnetHeader {
                let first = descriptors[0]
                _ = try valueOrErrno(
                    "setting the vnet header size of TUN device \(actualName) to \(vnetHeader.size.rawValue)"
                ) {
                    CTandemLinux_tunSetVnetHeaderSize(first, CInt(vnetHeader.size.rawValue))
                }
                accepted = try Self.setOffloads(first, vnetHeader.offloads, device: actualName)
            }
        } catch {
            for descriptor in descriptors { close(descriptor) }
            throw error
        }

        self.name = actualName
        offloads = accepted
        vnetHeaderSize = vnetHeader?.size.rawValue ?? 0
        counters = .allocate(capacity: queueCount)
        counters.initialize(repeating: TunQueue.Counters(), count: queueCount)
        let headerBytes = queueCount * batchCapacity * TunQueue.vnetHeaderStride
        vnetHeaders = vnetHeader == nil ? nil : .allocate(byteCount: headerBytes, alignment: 16)
        vnetHeaders?.initializeMemory(as: UInt8.self, repeating: 0, count: headerBytes)
        var queues: [TunQueue] = []
        queues.reserveCapacity(queueCount)
        for (index, descriptor) in descriptors.enumerated() {
            queues.append(
                TunQueue(
                    fileDescriptor: descriptor, index: index, device: actualName, vnetHeaderSize: vnetHeaderSize,
                    vnetHeaders: vnetHeaders.map { $0 + index * batchCapacity * TunQueue.vnetHeaderStride },
                    vnetHeaderCapacity: vnetHeader == nil ? 0 : batchCapacity, counters: counters + index))
        }
        self.queues = queues
    }

    /// Closes every queue; the kernel removes the device when its last queue closes (unless it is persistent).
    deinit {
        for queue in queues { close(queue.fileDescriptor) }
        counters.deallocate()
        vnetHeaders?.deallocate()
    }

    /// Whether the device stays when its last queue closes (TUNSETPERSIST). A persistent device keeps its routes
    /// while no process reads it (a graceful restart: packets to it are dropped, not sent elsewhere); the next
    /// `TunDevice` of that name attaches to it.
    public func setPersistent(_ persistent: Bool) throws(SystemError) {
        let descriptor = queues[0].fileDescriptor
        _ = try valueOrErrno("\(persistent ? "making" : "unmaking") TUN device \(name) persistent") {
            CTandemLinux_tunSetPersist(descriptor, persistent ? 1 : 0)
        }
    }

    /// TUNSETIFF on `descriptor`; returns the device's name.
    private static func attach(
        _ descriptor: CInt, name: String, flags: CInt, _ what: @autoclosure () -> String
    ) throws(SystemError) -> String {
        var actual = [CChar](repeating: 0, count: Int(CTandemLinux_interfaceNameSize))
        _ = try valueOrErrno(what()) { CTandemLinux_tunAttach(descriptor, name, flags, &actual) }
        return String(decoding: actual.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// TUNSETOFFLOAD with `wanted`; without the UDP segmentation offloads if the kernel refuses them.
    private static func setOffloads(
        _ descriptor: CInt, _ wanted: TunOffloads, device: String
    ) throws(SystemError) -> TunOffloads {
        let udp: TunOffloads = [.udpSegmentation4, .udpSegmentation6]
        do throws(SystemError) {
            _ = try valueOrErrno("setting offloads \(wanted) on TUN device \(device)") {
                CTandemLinux_tunSetOffload(descriptor, wanted.rawValue)
            }
            return wanted
        } catch where error.code == EINVAL && !wanted.isDisjoint(with: udp) {
            let fallback = wanted.subtracting(udp)
            _ = try valueOrErrno("setting offloads \(fallback) on TUN device \(device)") {
                CTandemLinux_tunSetOffload(descriptor, fallback.rawValue)
            }
            return fallback
        }
    }
}

/// One queue of a ``TunDevice``: a non-blocking file descriptor that reads and writes whole IP packets.
///
/// A non-owning view, like swift-system's `FileDescriptor`: valid while its device lives. A queue is used by one
/// thread at a time (its counters are plain memory); different queues by different threads.
public struct TunQueue: @unchecked Sendable {
    /// What a queue could not do, counted.
    public struct Counters: Hashable, Sendable {
        /// Packets longer than the slot they were read into, dropped.
        public var oversizedReads: UInt64 = 0
        /// Packets not written because the device's queue was full (EAGAIN), dropped.
        public var droppedWrites: UInt64 = 0

        public init(oversizedReads: UInt64 = 0, droppedWrites: UInt64 = 0) {
            self.oversizedReads = oversizedReads
            self.droppedWrites = droppedWrites
        }
    }

    /// Each slot's header in the side array: room for 12 bytes, 16 apart.
    static let vnetHeaderStride = 16

    /// The file descriptor (for ``EventPoll``).
    public let fileDescriptor: CInt
    /// The queue's place in ``TunDevice/queues``.
    public let index: Int
    /// The device's name (for errors).
    public let device: String
    /// The length of the header before each packet: 0, 10 or 12.
    public let vnetHeaderSize: Int
    private let vnetHeaders: UnsafeMutableRawPointer?
    private let vnetHeaderCapacity: Int
    private let counterStorage: UnsafeMutablePointer<Counters>

    init(
        fileDescriptor: CInt, index: Int, device: String, vnetHeaderSize: Int, vnetHeaders: UnsafeMutableRawPointer?,
        vnetHeaderCapacity: Int, counters: UnsafeMutablePointer<Counters>
    ) {
        self.fileDescriptor = fileDescriptor
        self.index = index
        self.device = device
        self.vnetHeaderSize = vnetHeaderSize
        self.vnetHeaders = vnetHeaders
        self.vnetHeaderCapacity = vnetHeaderCapacity
        counterStorage = counters
    }

    /// The queue's counters.
    public var counters: Counters { counterStorage.pointee }

    /// Reads packets into the free slots of `batch`, until the device has none left to read (EAGAIN) or the batch
    /// is full. Each packet is read straight into its slot (``PacketBatch/nextSlot()``, then
    /// ``PacketBatch/commit(length:timestamp:)``); allocates nothing.
    ///
    /// On a vnet-header device, the `virtio_net_hdr` of each packet goes to a side array, not into the slot: the
    /// slot holds the IP packet from its first byte, and ``vnetHeader(ofSlot:)`` gives the header of the packet in
    /// the same slot. With ``TunOffloads/checksum`` a packet's transport checksum may be partial, and with the
    /// segmentation offloads a packet may be a segment of up to 64 KiB to cut: the header says so, and finishing or
    /// cutting such packets is not done here (yet). A packet longer than its slot is dropped and counted
    /// (``Counters/oversizedReads``), never cut.
    ///
    /// The corresponding C function is `readv` (header, slot, and one byte to tell a packet that does not fit).
    ///
    /// - Parameters:
    ///   - batch: Where the packets go, after those it already holds. With a vnet header, its capacity must not
    ///     exceed the device's `batchCapacity`.
    ///   - timestamp: Every packet's arrival time, in nanoseconds.
    /// - Returns: How many packets were added to the batch (0 if there was none to read).
    /// - Throws: ``SystemError`` ("reading from TUN device tnd0 queue 0: ...") for any error but EAGAIN.
    public func readBatch(into batch: PacketBatch, timestamp: UInt64) throws(SystemError) -> Int {
        precondition(
            vnetHeaderSize == 0 || batch.capacity <= vnetHeaderCapacity, "batch larger than the vnet header side array")
        let descriptor = fileDescriptor
        var added = 0
        // The kernel cuts a packet longer than what the read offers and says nothing: one byte more than the slot,
        // in a scratch byte, tells a packet that fills its slot from one that does not fit.
        var overflow: UInt8 = 0
        while let slot = batch.nextSlot() {
            let header = vnetHeaders.map { $0 + batch.count * Self.vnetHeaderStride }
            let count = try withUnsafeMutableBytes(of: &overflow) { overflow throws(SystemError) in
                var vectors = (
                    iovec(iov_base: header, iov_len: vnetHeaderSize),
                    iovec(iov_base: slot.baseAddress, iov_len: slot.count),
                    iovec(iov_base: overflow.baseAddress, iov_len: 1)
                )
                return try withUnsafeMutableBytes(of: &vectors) { vectors throws(SystemError) in
                    let base = vectors.baseAddress!.assumingMemoryBound(to: iovec.self)
                    return try valueOrWouldBlock(readOperation, { readv(descriptor, base, 3) })
                }
            }
            guard let count else { break }
            let length = count - vnetHeaderSize
            guard length <= slot.count else {
                counterStorage.pointee.oversizedReads &+= 1
                continue
            }
            var segmentSize: UInt16 = 0
            if let header {
                let vnet = VirtioNetHeader(loadingFrom: header)
                if vnet.isSegmentationOffload { segmentSize = vnet.segmentSize }
            }
            batch.commit(length: length, timestamp: timestamp, segmentSize: segmentSize)
            added += 1
        }
        return added
    }

    /// The `virtio_net_hdr` of the packet that ``readBatch(into:timestamp:)`` put in `slot`; only on a vnet-header
    /// device, and valid until the next read into that slot.
    public func vnetHeader(ofSlot slot: Int) -> VirtioNetHeader {
        precondition(vnetHeaderSize != 0, "TUN device \(device) has no vnet header")
        precondition(slot >= 0 && slot < vnetHeaderCapacity)
        return VirtioNetHeader(loadingFrom: vnetHeaders! + slot * Self.vnetHeaderStride)
    }

    /// Writes one IP packet to the device: the kernel receives it as if it had come in on the device. Allocates
    /// nothing and never waits.
    ///
    /// On a vnet-header device, a header of zeros goes before the packet: a whole packet, its checksums complete
    /// (no offload). ``write(_:vnetHeader:)`` passes an offload packet on.
    ///
    /// The corresponding C function is `write` (`writev` with a vnet header).
    ///
    /// - Parameter packet: An IPv4 or IPv6 packet, from its first byte.
    /// - Returns: `true` if the device took the packet; `false` if its queue was full (EAGAIN): the packet is
    ///   dropped and counted (``Counters/droppedWrites``).
    /// - Throws: ``SystemError`` ("writing to TUN device tnd0 queue 0: ..."), e.g. EIO while the link is down,
    ///   EINVAL for bytes that are no IP packet.
    @discardableResult
    public func write(_ packet: UnsafeRawBufferPointer) throws(SystemError) -> Bool {
        try write(packet, vnetHeader: nil)
    }

    /// Writes one IP packet with the offload header it was read with (``vnetHeader(ofSlot:)`` of the queue that read
    /// it): a segmentation-offload packet stays one unit, and the kernel cuts it only where an MTU requires it.
    /// On a device without a vnet header the header is not written (the packet must then be whole).
    ///
    /// - Returns: `true` if the device took the packet; `false` if its queue was full (counted, dropped).
    /// - Throws: ``SystemError``, as ``write(_:)``.
    @discardableResult
    public func write(_ packet: UnsafeRawBufferPointer, vnetHeader: VirtioNetHeader?) throws(SystemError) -> Bool {
        let descriptor = fileDescriptor
        let written: Int?
        if vnetHeaderSize == 0 {
            written = try valueOrWouldBlock(
                writeOperation, { Glibc.write(descriptor, packet.baseAddress, packet.count) })
        } else {
            var zeros: (UInt64, UInt64) = (0, 0)
            written = try withUnsafeMutableBytes(of: &zeros) { zeros throws(SystemError) in
                vnetHeader?.store(to: zeros.baseAddress!)
                var vectors = (
                    iovec(iov_base: zeros.baseAddress, iov_len: vnetHeaderSize),
                    iovec(iov_base: UnsafeMutableRawPointer(mutating: packet.baseAddress), iov_len: packet.count)
                )
                return try withUnsafeMutableBytes(of: &vectors) { vectors throws(SystemError) in
                    let base = vectors.baseAddress!.assumingMemoryBound(to: iovec.self)
                    return try valueOrWouldBlock(writeOperation, { writev(descriptor, base, 2) })
                }
            }
        }
        guard written != nil else {
            counterStorage.pointee.droppedWrites &+= 1
            return false
        }
        return true
    }

    private var readOperation: String { "reading from TUN device \(device) queue \(index)" }
    private var writeOperation: String { "writing to TUN device \(device) queue \(index)" }
}
