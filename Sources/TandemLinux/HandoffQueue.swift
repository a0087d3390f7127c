// Values handed from a thread that makes them to one that waits for them (a full table's dump read on one thread and
// learned on another as it comes). The producer appends under a lock and writes a byte to a pipe; the consumer takes
// what is there, or blocks in read(2) on the pipe until there is more or the producer finished.

#if canImport(Glibc)
import Glibc
#endif

/// A queue from one producing thread to one consuming thread that blocks while it is empty.
public final class HandoffQueue<Element: Sendable>: Sendable {
    private struct Contents {
        var elements: [Element] = []
        var finished = false
    }

    /// Behind a POSIX mutex, which ThreadSanitizer sees (see PthreadMutex).
    private let contents = PthreadMutex(Contents())
    private let readEnd: FileDescriptor
    private let writeEnd: FileDescriptor

    /// - Throws: ``SystemError`` from `pipe`.
    public init() throws(SystemError) {
        (readEnd, writeEnd) = try FileDescriptor.pipe()
    }

    deinit {
        try? readEnd.close()
        try? writeEnd.close()
    }

    /// Producer: hands one more element over.
    public func put(_ element: Element) {
        contents.withLock { $0.elements.append(element) }
        wake()
    }

    /// Producer: there is nothing more (once).
    public func finish() {
        contents.withLock { $0.finished = true }
        wake()
    }

    /// Whether the producer finished: what it handed over may not all be taken yet.
    public var isFinished: Bool { contents.withLock { $0.finished } }

    /// Consumer: everything handed over and not taken yet, in order, waiting until there is some; nil once the
    /// producer finished and everything was taken.
    public func take() -> [Element]? {
        var wakeups = [UInt8](repeating: 0, count: 256)
        while true {
            let (elements, finished) = contents.withLock { contents in
                defer { contents.elements = [] }
                return (contents.elements, contents.finished)
            }
            if !elements.isEmpty { return elements }
            if finished { return nil }
            // A byte per put or finish; those of elements taken already only make the loop look again.
            switch wakeups.withUnsafeMutableBytes({ try? readEnd.read(into: $0) }) {
            case 0: return nil  // (the pipe is closed only by deinit)
            case nil: usleep(1000)  // A pipe that fails to read: look again in a moment, not in a hot loop.
            default: break
            }
        }
    }

    private func wake() {
        var byte: UInt8 = 1
        _ = withUnsafeBytes(of: &byte) { try? writeEnd.write($0) }
    }
}
