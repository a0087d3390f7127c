import Foundation
import Glibc
import TandemLinux
import Testing

/// Everything a non-blocking descriptor has now.
func drain(_ descriptor: FileDescriptor) throws -> [UInt8] {
    try descriptor.setNonBlocking(true)
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
        let count = try buffer.withUnsafeMutableBytes { (all) throws(SystemError) in try descriptor.read(into: all) }
        guard let count, count > 0 else { return bytes }
        bytes += buffer[..<count]
    }
}

@Suite("non-blocking line writer", .serialized)
struct NonBlockingLineWriterTests {
    /// A pipe nobody reads: the writes return at once, the lines that do not fit are counted, and the ones that
    /// went out are whole. The pipe's own descriptor stays blocking for its other holders. Both ways: through a
    /// description of the writer's own, and polling for room on the shared one.
    @Test(arguments: [true, false]) func aPipeWhoseReaderNeverReads(reopening: Bool) throws {
        let pipe = try FileDescriptor.pipe()
        defer {
            try? pipe.readEnd.close()
            try? pipe.writeEnd.close()
        }
        let writer = NonBlockingLineWriter(descriptor: pipe.writeEnd, reopening: reopening)
        #expect(writer.method == (reopening ? .privateNonBlockingDescription : .pollThenWrite))
        let line = "tandem: " + String(repeating: "x", count: 91) + "\n"
        var results: [Bool] = []
        for _ in 0..<2000 { results.append(writer.write(line)) }
        #expect(writer.droppedLines > 0)
        #expect(writer.writtenLines + writer.droppedLines == 2000)
        #expect(results.count { $0 } == writer.writtenLines)
        #expect(try pipe.writeEnd.statusFlags() & O_NONBLOCK == 0, "the shared description turned non-blocking")
        let text = String(decoding: try drain(pipe.readEnd), as: UTF8.self)
        #expect(text == String(repeating: line, count: writer.writtenLines))
    }

    /// A pipe whose reader closed: EPIPE, counted; with SIGPIPE ignored (as `tandem run` does) the process lives.
    @Test(arguments: [true, false]) func aPipeWhoseReaderClosed(reopening: Bool) throws {
        signal(SIGPIPE, SIG_IGN)
        let pipe = try FileDescriptor.pipe()
        defer { try? pipe.writeEnd.close() }
        let writer = NonBlockingLineWriter(descriptor: pipe.writeEnd, reopening: reopening)
        try pipe.readEnd.close()
        #expect(!writer.write("tandem: one\n"))
        #expect(!writer.write("tandem: two"))
        #expect(writer.droppedLines == 2 && writer.writtenLines == 0)
        #expect(writer.lastError?.code == EPIPE)
        // A writer made after the reader left (an anonymous pipe can still be opened again: only a named FIFO
        // refuses a writer without a reader).
        let late = NonBlockingLineWriter(descriptor: pipe.writeEnd, reopening: reopening)
        #expect(!late.write("tandem: three\n"))
        #expect(late.droppedLines == 1 && late.lastError?.code == EPIPE)
    }

    /// A line longer than the pipe holds: what fits goes, the rest goes before any later line, and lines that
    /// come while it waits are dropped: the reader never sees a torn or interleaved line.
    @Test func aLongLineIsFinishedBeforeTheNext() throws {
        let pipe = try FileDescriptor.pipe()
        defer {
            try? pipe.readEnd.close()
            try? pipe.writeEnd.close()
        }
        let writer = NonBlockingLineWriter(descriptor: pipe.writeEnd)
        let long = String(repeating: "a", count: 100_000) + "\n"
        #expect(writer.write(long))
        #expect(!writer.write("b\n"))
        var seen = try drain(pipe.readEnd)
        #expect(seen.count < long.utf8.count)
        #expect(writer.write("c\n"))
        seen += try drain(pipe.readEnd)
        #expect(String(decoding: seen, as: UTF8.self) == long + "c\n")
        #expect(writer.writtenLines == 2 && writer.droppedLines == 1)
        #expect(writer.flush())
    }

    /// A socket (the journal's stream): send without waiting, the socket itself left blocking.
    @Test func aSocketThatIsNotRead() throws {
        let (mine, peer) = try FileDescriptor.socketPair()
        defer {
            try? mine.close()
            try? peer.close()
        }
        let writer = NonBlockingLineWriter(descriptor: mine)
        #expect(writer.method == .sendWithoutWaiting)
        for index in 0..<20_000 { writer.write("tandem: line \(index)") }
        #expect(writer.droppedLines > 0)
        #expect(try mine.statusFlags() & O_NONBLOCK == 0)
        let text = String(decoding: try drain(peer), as: UTF8.self)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.count == writer.writtenLines + 1 && lines.last == "")
        #expect(lines.dropLast().allSatisfy { $0.hasPrefix("tandem: line ") })
    }

    /// A regular file is written directly; a descriptor that is not open is never written (its number could be
    /// reused by something else) and every line counts as dropped.
    @Test func aFileAndAClosedDescriptor() throws {
        let path = NSTemporaryDirectory() + "tandem-log-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { unlink(path) }
        let file = try FileDescriptor.open(path, O_WRONLY | O_CREAT | O_TRUNC)
        defer { try? file.close() }
        let writer = NonBlockingLineWriter(descriptor: file)
        #expect(writer.method == .direct)
        #expect(writer.write("tandem: ready"))
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "tandem: ready\n")

        let closed = NonBlockingLineWriter(descriptor: FileDescriptor(rawValue: 1 << 30))
        #expect(closed.method == .closed)
        #expect(!closed.write("tandem: lost\n"))
        #expect(closed.droppedLines == 1)
    }
}
