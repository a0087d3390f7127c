import CZlib

/// An error reading a data file: which file, and what went wrong.
public struct DatasetError: Error, CustomStringConvertible, Sendable {
    public var path: String
    public var line: Int?
    public var message: String
    public init(path: String, line: Int? = nil, message: String) {
        self.path = path
        self.line = line
        self.message = message
    }
    public var description: String {
        if let line { return "\(path):\(line): \(message)" }
        return "\(path): \(message)"
    }
}

/// Reads a text file, gzip-compressed or plain (zlib's `gzread` passes plain files through),
/// and hands each line to `body` as raw bytes without the line ending (LF or CRLF).
/// Lines are views into a reused buffer: valid only during the call.
///
/// The corresponding C calls are `gzopen`, `gzread` and `gzclose`.
public func forEachLine(
    ofFile path: String, _ body: (_ line: UnsafeRawBufferPointer, _ number: Int) throws -> Void
) throws {
    guard let file = gzopen(path, "rb") else {
        throw DatasetError(path: path, message: "cannot open the file (does it exist and is it readable?)")
    }
    defer { gzclose(file) }
    _ = gzbuffer(file, 1 << 20)
    let chunkSize = 1 << 20
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunkSize * 2, alignment: 16)
    defer { buffer.deallocate() }
    var pending = 0  // bytes of an unfinished line kept at the start of the buffer
    var lineNumber = 0
    while true {
        let room = buffer.count - pending
        if room == 0 {
            throw DatasetError(path: path, line: lineNumber + 1, message: "line longer than \(buffer.count) bytes")
        }
        let read = gzread(file, buffer.baseAddress! + pending, UInt32(min(room, chunkSize)))
        if read < 0 {
            var code: Int32 = 0
            let message = gzerror(file, &code).map { String(cString: $0) } ?? "unknown error"
            throw DatasetError(path: path, line: lineNumber, message: "read failed: \(message)")
        }
        let end = pending + Int(read)
        var start = 0
        var index = 0
        let bytes = UnsafeRawBufferPointer(buffer)
        while index < end {
            if bytes[index] == UInt8(ascii: "\n") {
                lineNumber += 1
                var stop = index
                if stop > start, bytes[stop - 1] == UInt8(ascii: "\r") { stop -= 1 }
                try body(UnsafeRawBufferPointer(rebasing: bytes[start..<stop]), lineNumber)
                start = index + 1
            }
            index += 1
        }
        if read == 0 {
            if start < end {
                lineNumber += 1
                var stop = end
                if bytes[stop - 1] == UInt8(ascii: "\r") { stop -= 1 }
                try body(UnsafeRawBufferPointer(rebasing: bytes[start..<stop]), lineNumber)
            }
            return
        }
        // Keep the unfinished tail for the next read.
        pending = end - start
        if pending > 0 && start > 0 { buffer.baseAddress!.copyMemory(from: buffer.baseAddress! + start, byteCount: pending) }
    }
}
