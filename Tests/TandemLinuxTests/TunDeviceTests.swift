import Foundation
import TandemDataplane
import TandemLinux
import TandemPacket
import Testing

/// 198.18.5.1: the namespace's own address on the TUN device.
let tunLocal = IPv4Address(198, 18, 5, 1)
/// 198.18.5.2: an address behind the TUN device (Tandem's side).
let tunRemote = IPv4Address(198, 18, 5, 2)

/// Sends UDP datagrams from inside the namespace to 198.18.5.2 (routed into the TUN device), one per source port.
func sendUDP(in lab: TestNamespace, payload: String, sourcePorts: ClosedRange<Int>) throws {
    try lab.python(
        """
        import socket
        for port in range(\(sourcePorts.lowerBound), \(sourcePorts.upperBound + 1)):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind(('198.18.5.1', port))
            s.sendto(b'\(payload)', ('198.18.5.2', 9999))
            s.close()
        """)
}

/// Reads from the queues until `wanted` UDP datagrams to 198.18.5.2:9999 came (or 5 s passed); other packets
/// (IPv6 router solicitations, MLD) are skipped. Returns the datagrams' payloads, by queue, and the vnet header
/// of each.
func receiveUDP(
    from queues: [TunQueue], wanted: Int
) throws -> (payloads: [[String]], headers: [VirtioNetHeader]) {
    let poll = try EventPoll(capacity: 8)
    for queue in queues { try poll.add(queue.fileDescriptor) }
    let batch = PacketBatch(capacity: 64, slotSize: 65_535)
    var payloads = Array(repeating: [String](), count: queues.count)
    var headers: [VirtioNetHeader] = []
    let deadline = Date().addingTimeInterval(5)
    while payloads.joined().count < wanted && Date() < deadline {
        let ready = try poll.wait(timeoutMilliseconds: 100)
        for entry in 0..<ready {
            #expect(poll.readyEvents(entry).contains(.readable))
            let queue = try #require(queues.first { $0.fileDescriptor == poll.readyDescriptor(entry) })
            batch.removeAll()
            let count = try queue.readBatch(into: batch, timestamp: 7)
            #expect(count == batch.count && count > 0)
            for slot in 0..<batch.count {
                #expect(batch.timestamp(of: slot) == 7)
                let packet = UnsafeRawBufferPointer(batch.packet(slot))
                guard packet.first.map({ $0 >> 4 }) == 4, let ip = try? IPv4Header(packet),
                    ip.protocol == .udp, ip.destination == tunRemote, packet.count >= ip.headerLength + 8
                else { continue }
                let udp = packet[ip.headerLength...]
                #expect(ip.source == tunLocal)
                #expect(Int(ip.totalLength) == packet.count)
                #expect(UInt16(udp[udp.startIndex + 2]) << 8 | UInt16(udp[udp.startIndex + 3]) == 9999)
                payloads[queue.index].append(String(decoding: udp.dropFirst(8), as: UTF8.self))
                if queue.vnetHeaderSize != 0 { headers.append(queue.vnetHeader(ofSlot: slot)) }
            }
        }
    }
    return (payloads, headers)
}

/// A UDP datagram in an IPv4 packet with both checksums right.
func udpPacket(
    from source: IPv4Address, to destination: IPv4Address, sourcePort: UInt16, destinationPort: UInt16,
    payload: String
) -> [UInt8] {
    let data = Array(payload.utf8)
    let udpLength = 8 + data.count
    let total = 20 + udpLength
    func bytes(_ value: UInt16) -> [UInt8] { [UInt8(value >> 8), UInt8(value & 0xFF)] }
    func bytes(_ value: UInt32) -> [UInt8] { bytes(UInt16(value >> 16)) + bytes(UInt16(value & 0xFFFF)) }
    var ip: [UInt8] = [0x45, 0] + bytes(UInt16(total)) + [0, 1, 0x40, 0, 64, 17, 0, 0]
    ip += bytes(source.rawValue) + bytes(destination.rawValue)
    let ipChecksum = ip.withUnsafeBytes { InternetChecksum.checksum($0) }
    ip[10...11] = bytes(ipChecksum)[...]
    var udp = bytes(sourcePort) + bytes(destinationPort) + bytes(UInt16(udpLength)) + [0, 0] + data
    let pseudo = bytes(source.rawValue) + bytes(destination.rawValue) + [0, 17] + bytes(UInt16(udpLength))
    let sum = InternetChecksum.add(
        pseudo.withUnsafeBytes { InternetChecksum.sum($0) }, udp.withUnsafeBytes { InternetChecksum.sum($0) })
    let udpChecksum = ~sum == 0 ? 0xFFFF : ~sum
    udp[6...7] = bytes(udpChecksum)[...]
    return ip + udp
}

/// Writes a UDP datagram to 198.18.5.1:7777 into the queue and returns what a listener in the namespace received:
/// "198.18.5.2 <payload>".
func writeUDPToTheKernel(in lab: TestNamespace, through queue: TunQueue, payload: String) throws -> String? {
    let listener = try lab.startPython(
        """
        import socket
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(('198.18.5.1', 7777))
        s.settimeout(5)
        print('ready')
        data, address = s.recvfrom(2048)
        print(address[0], data.decode())
        """)
    #expect(listener.readLine() == "ready")
    let packet = udpPacket(from: tunRemote, to: tunLocal, sourcePort: 5555, destinationPort: 7777, payload: payload)
    let written = try packet.withUnsafeBytes { bytes throws(SystemError) in try queue.write(bytes) }
    #expect(written)
    return listener.readLine()
}

@Suite(.serialized, .enabled(if: isRoot, "needs root to make network namespaces and TUN devices"))
struct TunDeviceTests {
    @Test func readsThePacketsTheKernelRoutesIntoTheDevice() throws {
        try TestNamespace.with { lab in
            let tun = try lab.tunDevice()
            #expect(tun.name == "tnd0")
            #expect(tun.queues.count == 1)
            #expect(tun.offloads == [])
            #expect(tun.vnetHeaderSize == 0)
            // The device is in the namespace, not in the root namespace.
            let details = try TestNamespace.ip(["-n", lab.namespace.name, "-d", "link", "show", "tnd0"])
            #expect(details.contains("tun type tun pi off vnet_hdr off"))
            #expect(details.contains("persist off"))
            #expect(throws: TestNamespace.CommandFailure.self) { try TestNamespace.ip(["link", "show", "tnd0"]) }
            try lab.configureTun()

            // Nothing to read yet but what the kernel sends by itself: readBatch returns at EAGAIN.
            let batch = PacketBatch(capacity: 4, slotSize: 2048)
            _ = try tun.queues[0].readBatch(into: batch, timestamp: 0)

            try sendUDP(in: lab, payload: "tandem", sourcePorts: 40000...40002)
            let received = try receiveUDP(from: tun.queues, wanted: 3)
            #expect(received.payloads == [["tandem", "tandem", "tandem"]])
            #expect(tun.queues[0].counters == TunQueue.Counters())
        }
    }

    @Test func aFullBatchStopsTheReadAndALongPacketIsCountedNotTruncated() throws {
        try TestNamespace.with { lab in
            let tun = try lab.tunDevice()
            try Self.disableIPv6(lab)
            try lab.configureTun()
            try sendUDP(in: lab, payload: "one", sourcePorts: 40000...40002)
            // A batch of two takes two and leaves the third for the next read.
            let batch = PacketBatch(capacity: 2, slotSize: 1280)
            #expect(try tun.queues[0].readBatch(into: batch, timestamp: 1) == 2)
            #expect(try tun.queues[0].readBatch(into: batch, timestamp: 1) == 0)
            batch.removeAll()
            #expect(try tun.queues[0].readBatch(into: batch, timestamp: 1) == 1)
            // A datagram longer than a slot (1280 bytes) is dropped and counted.
            try lab.python(
                """
                import socket
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                s.sendto(b'x' * 1400, ('198.18.5.2', 9999))
                """)
            batch.removeAll()
            #expect(try tun.queues[0].readBatch(into: batch, timestamp: 1) == 0)
            #expect(tun.queues[0].counters.oversizedReads == 1)
            // One that fills its slot exactly is whole.
            try lab.python(
                """
                import socket
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                s.sendto(b'x' * (1280 - 28), ('198.18.5.2', 9999))
                """)
            #expect(try tun.queues[0].readBatch(into: batch, timestamp: 1) == 1)
            #expect(batch.packet(0).count == 1280)
            #expect(tun.queues[0].counters.oversizedReads == 1)
        }
    }

    @Test func theKernelReceivesWhatIsWritten() throws {
        try TestNamespace.with { lab in
            let tun = try lab.tunDevice()
            let queue = tun.queues[0]
            // While the link is down, a write is an error that names the device.
            let packet = udpPacket(from: tunRemote, to: tunLocal, sourcePort: 5555, destinationPort: 7777, payload: "x")
            let down = try #require(throws: SystemError.self) {
                try packet.withUnsafeBytes { bytes throws(SystemError) in try queue.write(bytes) }
            }
            #expect(down.description == "writing to TUN device tnd0 queue 0: Input/output error")

            try lab.configureTun()
            #expect(
                try writeUDPToTheKernel(in: lab, through: queue, payload: "from tandem") == "198.18.5.2 from tandem")
            #expect(queue.counters.droppedWrites == 0)
        }
    }

    /// IFF_NAPI (TANDEM_TUN_NAPI=1, the experiment of tools/bench-forwarding): what a queue writes reaches the kernel
    /// through the queue's NAPI context, from either queue, and the kernel's packets still reach the reader.
    @Test func aNAPIDeviceDeliversWhatIsWrittenThroughItsQueues() throws {
        try TestNamespace.with { lab in
            let tun = try lab.tunDevice(queueCount: 2, vnetHeader: TunDevice.VnetHeader(), napi: true)
            try lab.configureTun()
            for queue in tun.queues {
                #expect(
                    try writeUDPToTheKernel(in: lab, through: queue, payload: "napi \(queue.index)")
                        == "198.18.5.2 napi \(queue.index)")
            }
            try sendUDP(in: lab, payload: "to napi", sourcePorts: 40000...40031)
            #expect(try receiveUDP(from: tun.queues, wanted: 32).payloads.joined().count == 32)
        }
    }

    @Test func twoQueuesShareOneMultiQueueDevice() throws {
        try TestNamespace.with { lab in
            let tun = try lab.tunDevice(queueCount: 2)
            #expect(tun.queues.map(\.index) == [0, 1])
            #expect(tun.queues[0].fileDescriptor != tun.queues[1].fileDescriptor)
            #expect(tun.queues.allSatisfy { $0.device == "tnd0" })
            let details = try TestNamespace.ip(["-n", lab.namespace.name, "-d", "link", "show", "tnd0"])
            #expect(details.contains("multi_queue numqueues 2"))
            try lab.configureTun()

            // The kernel spreads flows over the queues: 32 flows reach both (all on one: 2^-31).
            try sendUDP(in: lab, payload: "spread", sourcePorts: 40000...40031)
            let received = try receiveUDP(from: tun.queues, wanted: 32)
            #expect(received.payloads.joined().count == 32)
            #expect(received.payloads.allSatisfy { !$0.isEmpty }, "\(received.payloads.map(\.count))")
            // Either queue writes into the same device.
            #expect(
                try writeUDPToTheKernel(in: lab, through: tun.queues[1], payload: "queue 1") == "198.18.5.2 queue 1")
        }
    }

    @Test(arguments: [TunDevice.VnetHeaderSize.basic, .mergeableBuffers])
    func aVnetHeaderDeviceTakesOffloadsAndKeepsTheHeaderAside(size: TunDevice.VnetHeaderSize) throws {
        try TestNamespace.with { lab in
            let tun = try lab.tunDevice(vnetHeader: TunDevice.VnetHeader(size: size))
            #expect(tun.vnetHeaderSize == size.rawValue)
            #expect(tun.queues[0].vnetHeaderSize == size.rawValue)
            // Checksum and TCP segmentation offloads are old; UDP segmentation came with Linux 6.2, both or none.
            #expect(tun.offloads.isSuperset(of: [.checksum, .tcpSegmentation4, .tcpSegmentation6]), "\(tun.offloads)")
            #expect(tun.offloads.contains(.udpSegmentation4) == tun.offloads.contains(.udpSegmentation6))
            let details = try TestNamespace.ip(["-n", lab.namespace.name, "-d", "link", "show", "tnd0"])
            #expect(details.contains("vnet_hdr on"))
            try lab.configureTun()

            // The slot holds the IP packet from its first byte; the header went aside. With the checksum offload,
            // the kernel leaves the UDP checksum partial and says where it is: 20 + 6.
            try sendUDP(in: lab, payload: "vnet", sourcePorts: 40000...40000)
            let received = try receiveUDP(from: tun.queues, wanted: 1)
            #expect(received.payloads == [["vnet"]])
            #expect(received.headers == [VirtioNetHeader(flags: 1, checksumStart: 20, checksumOffset: 6)])
            #expect(received.headers.first?.needsChecksum == true)
            #expect(received.headers.first?.isSegmentationOffload == false)

            // Writing puts a header of zeros before the packet: the kernel takes it whole.
            #expect(try writeUDPToTheKernel(in: lab, through: tun.queues[0], payload: "vnet") == "198.18.5.2 vnet")
        }
    }

    @Test func offloadsTheKernelRefusesAreLeftOut() throws {
        try TestNamespace.with { lab in
            // UDP segmentation for IPv4 alone: the kernel refuses it (EINVAL, before 6.2 as after), and the rest goes.
            let tun = try lab.tunDevice(vnetHeader: TunDevice.VnetHeader(offloads: [.checksum, .udpSegmentation4]))
            #expect(tun.offloads == .checksum)
            #expect(tun.offloads.description == "csum")
        }
    }

    @Test func aVnetHeaderDeviceWithoutOffloadsGetsCompletePackets() throws {
        try TestNamespace.with { lab in
            let tun = try lab.tunDevice(vnetHeader: TunDevice.VnetHeader(size: .mergeableBuffers, offloads: []))
            #expect(tun.offloads == [])
            try lab.configureTun()
            try sendUDP(in: lab, payload: "plain", sourcePorts: 40000...40000)
            let received = try receiveUDP(from: tun.queues, wanted: 1)
            #expect(received.payloads == [["plain"]])
            #expect(received.headers == [VirtioNetHeader()])
        }
    }

    @Test func errorsNameTheOperationAndTheDevice() throws {
        try TestNamespace.with { lab in
            // Longer than 15 bytes: refused before the kernel sees (and would cut) it.
            let long = try #require(throws: SystemError.self) { try lab.tunDevice(name: "tandem-long-name0") }
            #expect(long.description == "creating TUN device tandem-long-name0: File name too long")
            #expect(long.code == ENAMETOOLONG)

            do {
                let tun = try lab.tunDevice()
                // A single-queue device is busy while open.
                let busy = try #require(throws: SystemError.self) { try lab.tunDevice() }
                #expect(busy.description == "creating TUN device tnd0: Device or resource busy")
                // Multi-queue flags for a device that is not multi-queue.
                let mismatch = try #require(throws: SystemError.self) { try lab.tunDevice(queueCount: 2) }
                #expect(mismatch.description == "creating TUN device tnd0: Invalid argument")
                #expect(tun.name == "tnd0")
            }
            // The failed attempts left nothing open: the device goes with its last queue (persist off).
            #expect(throws: TestNamespace.CommandFailure.self) {
                try TestNamespace.ip(["-n", lab.namespace.name, "link", "show", "tnd0"])
            }
        }
    }

    @Test func theKernelFillsInAPatternName() throws {
        try TestNamespace.with { lab in
            let tun = try lab.tunDevice(name: "tnd%d", queueCount: 2)
            #expect(tun.name == "tnd0")
            #expect(tun.queues.allSatisfy { $0.device == "tnd0" })
            #expect(
                try TestNamespace.ip(["-n", lab.namespace.name, "-d", "link", "show", "tnd0"])
                    .contains("numqueues 2"))
        }
    }

    /// Keeps the kernel's own IPv6 packets (router solicitations, MLD) out of a test that counts packets.
    static func disableIPv6(_ lab: TestNamespace) throws {
        try TestNamespace.ip([
            "netns", "exec", lab.namespace.name, "sysctl", "-q", "-w", "net.ipv6.conf.tnd0.disable_ipv6=1",
        ])
    }
}
