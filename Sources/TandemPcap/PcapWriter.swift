// Writing classic pcap files of raw IP packets, buffered, without libpcap: the replay writes millions of
// packets a second, and pcap_dump's stdio path with a call per packet would be the bottleneck.

import Dispatch

#if canImport(Glibc)
import Glibc
#endif

/// Writes raw IP packets to a classic pcap file with nanosecond timestamps.
///
/// The file is little-endian, magic 0xA1B23C4D (nanosecond timestamps), version 2.4, snapshot length 262144,
/// link type `LINKTYPE_RAW` (101). Records collect in a 1 MiB buffer allocated once and go to the file with
/// `write(2)` when it fills, on ``flush()`` and on ``close()``. Nothing in the file depends on the clock or the
/// machine: the same packets and timestamps give the same bytes.
///
/// A writer is used by one thread at a time. Call ``close()`` to see errors; `deinit` closes quietly.
public final class PcapWriter {
    /// The file header's snapshot length; longer packets are cut to it (and keep their original length).
    public static let snapLength = 262_144
    /// The link type in the file header: `LINKTYPE_RAW`, raw IPv4 and IPv6.
    public static let linkType: UInt32 = 101
    /// The size of the buffer between ``write(_:timestamp:)`` and the file.
    public static let bufferSize = 1 << 20

    static let fileHeaderLength = 24
    static let recordHeaderLength = 16

    /// The file's path, for error messages.
    public let path: String
    /// How many packets ``write(_:timestamp:)`` has taken.
    public private(set) var packetCount = 0
    /// The total length of those packets, in bytes (before any cut to the snapshot length; record headers
    /// and the file header not included).
    public private(set) var byteCount = 0

    /// The descriptor, or -1 once closed.
    private var descriptor: CInt
    private var buffer: UnsafeMutableRawBufferPointer
    /// How many bytes of `buffer` hold data not yet written.
    private var buffered = 0
    private let writeCall: WriteCall
    /// Writing with O_DIRECT: whole 4 KiB blocks from the aligned buffer straight to the device, without the
    /// copy into the page cache, which took 40% of a replay's time (this VM: 0.64 GB/s buffered, 1.9 direct).
    /// File systems without it (tmpfs) and the unaligned tail at the end use ordinary writes.
    private var direct = false
    static let directBlock = 4096
    /// With O_DIRECT a write waits for the device, so full buffers go out on a queue of their own while the
    /// next one fills: `spare` is the second buffer, `idle` is signalled when no background write is pending.
    private var spare: UnsafeMutableRawBufferPointer?
    private var queue: DispatchQueue?
    private let idle = DispatchSemaphore(value: 1)
    private let background = BackgroundFailure()

    /// Creates (or truncates) a pcap file and buffers its file header.
    ///
    /// The corresponding C function is `open` with `O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC | O_NOFOLLOW`, mode
    /// 0644: a symbolic link at `path` is refused, not followed.
    ///
    /// - Parameter path: The file.
    /// - Throws: ``PcapError`` ("creating") with the system's reason, e.g. for a directory or a missing parent.
    public convenience init(path: String) throws(PcapError) {
        try self.init(path: path, writeCall: systemWrite)
        direct = setDirect(true)
        if direct {
            spare = .allocate(byteCount: Self.bufferSize, alignment: Self.directBlock)
            queue = DispatchQueue(label: "tandem.pcap-writer")
        }
    }

    /// Creates a writer whose writes go through `writeCall` (tests inject short writes and `EINTR`).
    init(path: String, writeCall: @escaping WriteCall) throws(PcapError) {
        let descriptor: CInt
        switch valueOrErrno({ systemCreate(path) }) {
        case .success(let value): descriptor = value
        case .failure(let error): throw PcapError(operation: "creating", path: path, reason: error.creationReason)
        }
        self.path = path
        self.descriptor = descriptor
        self.writeCall = writeCall
        buffer = .allocate(byteCount: Self.bufferSize, alignment: Self.directBlock)
        storeFileHeader()
    }

    deinit {
        if descriptor >= 0 {
            try? flush()
            _ = valueOrErrno(retryOnInterrupt: false) { systemClose(descriptor) }
        }
        waitForBackground()
        buffer.deallocate()
        spare?.deallocate()
    }

    /// Adds one record to the file.
    ///
    /// - Parameters:
    ///   - packet: The raw IP packet (IPv4 or IPv6, no link-layer header). Bytes beyond ``snapLength`` are not
    ///     written; the record keeps the packet's full length as its original length.
    ///   - timestamp: Nanoseconds since the Unix epoch, before 2106-02-07 (a pcap file holds 32-bit seconds).
    /// - Throws: ``PcapError`` ("writing") if the writer is closed, the timestamp does not fit, or a full buffer
    ///   cannot be written to the file.
    public func write(_ packet: UnsafeRawBufferPointer, timestamp: UInt64) throws(PcapError) {
        guard descriptor >= 0 else {
            throw PcapError(operation: "writing", path: path, reason: "the writer is closed")
        }
        let seconds = timestamp / 1_000_000_000
        guard seconds <= UInt64(UInt32.max) else {
            throw PcapError(
                operation: "writing", path: path,
                reason: "timestamp \(timestamp) ns is after 2106-02-07T06:28:15Z, the last second a pcap file holds")
        }
        let captured = min(packet.count, Self.snapLength)
        if buffer.count - buffered < Self.recordHeaderLength + captured {
            if direct { try flushWholeBlocks() } else { try flush() }
        }
        storeRecord(
            UnsafeRawBufferPointer(rebasing: packet[..<captured]), seconds: UInt32(seconds),
            nanoseconds: UInt32(timestamp % 1_000_000_000), originalLength: packet.count)
        packetCount += 1
        byteCount += packet.count
    }

    /// Writes the buffered records to the file.
    ///
    /// The corresponding C function is `write`, repeated until every byte is written (it may write fewer bytes
    /// than asked, and is made again when a signal interrupts it).
    ///
    /// - Throws: ``PcapError`` ("writing") with the system's reason, e.g. `ENOSPC`. The bytes not written stay
    ///   buffered.
    public func flush() throws(PcapError) {
        waitForBackground()
        if let failure = background.take() { throw PcapError(operation: "writing", path: path, reason: failure) }
        guard descriptor >= 0, buffered > 0 else { return }
        // An unaligned length cannot go out with O_DIRECT: the rest of the file is written the ordinary way.
        if direct && buffered % Self.directBlock != 0 { direct = !setDirect(false) && direct }
        let base = UnsafeRawPointer(buffer.baseAddress!)
        var written = 0
        while written < buffered {
            switch valueOrErrno({ writeCall(descriptor, base + written, buffered - written) }) {
            case .success(let count) where count > 0:
                written += count
            case .success:
                keepUnwritten(from: written)
                throw PcapError(operation: "writing", path: path, reason: "write wrote nothing; is the disk full?")
            case .failure(let error):
                keepUnwritten(from: written)
                throw PcapError(operation: "writing", path: path, reason: error.reason(from: "write"))
            }
        }
        buffered = 0
    }

    /// Writes the buffered records and closes the file. Closing a closed writer does nothing.
    ///
    /// The corresponding C functions are `write` and `close` (`close` is not repeated on `EINTR`: Linux has
    /// released the descriptor already).
    ///
    /// - Throws: ``PcapError`` ("writing" or "closing") with the system's reason; the descriptor is closed
    ///   either way.
    public func close() throws(PcapError) {
        guard descriptor >= 0 else { return }
        var flushError: PcapError?
        do throws(PcapError) {
            try flush()
        } catch {
            flushError = error
        }
        let result = valueOrErrno(retryOnInterrupt: false) { [descriptor] in systemClose(descriptor) }
        descriptor = -1
        buffered = 0
        if let flushError { throw flushError }
        if case .failure(let error) = result {
            throw PcapError(operation: "closing", path: path, reason: error.reason(from: "close"))
        }
    }

    /// Writes the buffer's whole 4 KiB blocks with O_DIRECT and keeps the rest (under 4 KiB) for later, so that
    /// every direct write starts and ends on a block boundary. Falls back to ordinary writes if the kernel
    /// refuses one.
    private func flushWholeBlocks() throws(PcapError) {
        let aligned = buffered & ~(Self.directBlock - 1)
        guard aligned > 0 else { return }
        if let full = spare, let queue {
            // Wait for the previous buffer to be written, then hand this one over and fill the other.
            waitForBackground()
            if let failure = background.take() { throw PcapError(operation: "writing", path: path, reason: failure) }
            let rest = buffered - aligned
            let outgoing = buffer
            buffer = full
            spare = outgoing
            buffer.baseAddress!.copyMemory(from: outgoing.baseAddress! + aligned, byteCount: rest)
            buffered = rest
            idle.wait()
            let job = BackgroundWrite(
                descriptor: descriptor, bytes: UnsafeRawPointer(outgoing.baseAddress!), count: aligned,
                failure: background)
            queue.async { [idle] in
                job.run()
                idle.signal()
            }
            return
        }
        switch valueOrErrno({ writeCall(descriptor, UnsafeRawPointer(buffer.baseAddress!), aligned) }) {
        case .success(let count) where count == aligned:
            keepUnwritten(from: aligned)
        case .success(let count):
            // A short direct write: take what went out, then continue without O_DIRECT.
            if count > 0 { keepUnwritten(from: count) }
            direct = !setDirect(false) && direct
            try flush()
        case .failure:
            // EINVAL and the like: this file system or device does not take direct writes after all.
            direct = !setDirect(false) && direct
            try flush()
        }
    }

    /// Returns when no background write is pending.
    private func waitForBackground() {
        guard queue != nil else { return }
        idle.wait()
        idle.signal()
    }

    /// Turns O_DIRECT on or off for the file; returns whether the kernel accepted it.
    /// The corresponding C function is `fcntl` (`F_GETFL`, `F_SETFL`).
    private func setDirect(_ on: Bool) -> Bool {
        let flags = fcntl(descriptor, F_GETFL)
        guard flags >= 0 else { return false }
        return fcntl(descriptor, F_SETFL, on ? flags | directFlag : flags & ~directFlag) == 0
    }

    /// Buffers the 24-byte file header.
    private func storeFileHeader() {
        storeLittleEndian(UInt32(0xA1B2_3C4D), at: 0)  // magic: nanosecond timestamps
        storeLittleEndian(UInt16(2), at: 4)  // version major
        storeLittleEndian(UInt16(4), at: 6)  // version minor
        storeLittleEndian(UInt32(0), at: 8)  // thiszone: timestamps are UTC
        storeLittleEndian(UInt32(0), at: 12)  // sigfigs
        storeLittleEndian(UInt32(Self.snapLength), at: 16)
        storeLittleEndian(Self.linkType, at: 20)
        buffered = Self.fileHeaderLength
    }

    /// Buffers one record: its 16-byte header and the packet bytes. The caller has made room for both.
    private func storeRecord(
        _ bytes: UnsafeRawBufferPointer, seconds: UInt32, nanoseconds: UInt32, originalLength: Int
    ) {
        storeLittleEndian(seconds, at: buffered)
        storeLittleEndian(nanoseconds, at: buffered + 4)
        storeLittleEndian(UInt32(bytes.count), at: buffered + 8)
        storeLittleEndian(UInt32(clamping: originalLength), at: buffered + 12)
        let start = buffered + Self.recordHeaderLength
        UnsafeMutableRawBufferPointer(rebasing: buffer[start..<start + bytes.count]).copyMemory(from: bytes)
        buffered = start + bytes.count
    }

    /// Stores an integer little-endian at a byte offset of the buffer; the caller has checked the room.
    @inline(__always)
    private func storeLittleEndian<T: FixedWidthInteger>(_ value: T, at offset: Int) {
        buffer.storeBytes(of: value.littleEndian, toByteOffset: offset, as: T.self)
    }

    /// Moves the bytes a failed flush did not write to the start of the buffer.
    private func keepUnwritten(from written: Int) {
        guard written > 0 else { return }
        buffer.baseAddress!.copyMemory(from: buffer.baseAddress! + written, byteCount: buffered - written)
        buffered -= written
    }
}

// O_DIRECT, which Glibc's module does not export (it is behind _GNU_SOURCE); the value differs by architecture.
#if arch(arm64)
private let directFlag: CInt = 0o200000
#else
private let directFlag: CInt = 0o40000
#endif

/// The first failure of a background write, handed to the writer's thread.
private final class BackgroundFailure: @unchecked Sendable {
    // Written by the queue before it signals `idle`, read by the writer after waiting on it: the semaphore
    // orders the two.
    private var reason: String?
    func record(_ text: String) { if reason == nil { reason = text } }
    func take() -> String? {
        defer { reason = nil }
        return reason
    }
}

/// One buffer's worth of whole blocks, written on the writer's queue.
private struct BackgroundWrite: @unchecked Sendable {
    let descriptor: CInt
    let bytes: UnsafeRawPointer
    let count: Int
    let failure: BackgroundFailure

    /// Writes everything, retrying EINTR; after a short direct write (rare) the rest goes out without O_DIRECT.
    func run() {
        var written = 0
        while written < count {
            switch valueOrErrno({ systemWrite(descriptor, bytes + written, count - written) }) {
            case .success(let done) where done > 0:
                written += done
                if written < count {
                    let flags = fcntl(descriptor, F_GETFL)
                    if flags >= 0 { _ = fcntl(descriptor, F_SETFL, flags & ~directFlag) }
                }
            case .success:
                failure.record("write wrote nothing; is the disk full?")
                return
            case .failure(let error):
                failure.record(error.reason(from: "write"))
                return
            }
        }
    }
}
