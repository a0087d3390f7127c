// Work too long for an event loop's thread (a full routing table's dump takes a second or more), done on a thread
// of its own whose result comes back to the loop's thread: the worker stores it and writes a byte to a pipe the
// loop watches; the loop's handler takes the result, joins the thread and calls `done`. The loop's thread never
// waits for the worker.

#if canImport(Glibc)
import Glibc
#endif

/// One piece of work on a named thread of its own, its result delivered on an ``EventLoop``'s thread.
public final class BackgroundJob<Result: Sendable> {
    /// What the worker and the loop share: the result, and the pipe's write end (closed by the worker when done).
    private final class Handoff: Sendable {
        /// Behind a POSIX mutex, which ThreadSanitizer sees (see PthreadMutex), like HandoffQueue and JoinableJob.
        let result = PthreadMutex<Result?>(nil)
        let writeEnd: FileDescriptor
        init(writeEnd: FileDescriptor) { self.writeEnd = writeEnd }
    }

    private let readEnd: FileDescriptor
    private let thread: pthread_t
    private weak var loop: EventLoop?
    /// Whether the result was delivered (or the job abandoned): the pipe and thread are gone then.
    private var finished = false

    /// Starts `work` on a thread named `name`; `done` gets its result on `loop`'s thread.
    ///
    /// - Throws: ``SystemError`` from `pipe`, `pthread_create` or `epoll_ctl`; nothing runs then.
    public init(
        name: String, in loop: EventLoop, work: @escaping @Sendable () -> Result,
        done: @escaping (Result) -> Void
    ) throws(SystemError) {
        let (readEnd, writeEnd) = try FileDescriptor.pipe()
        let handoff = Handoff(writeEnd: writeEnd)
        do {
            thread = try SystemThread.start(name: name) {
                let result = work()
                handoff.result.withLock { $0 = result }
                // The end of the stream wakes the loop (level-triggered, so even if it came before the register).
                try? handoff.writeEnd.close()
            }
        } catch {
            try? readEnd.close()
            try? writeEnd.close()
            throw error
        }
        self.readEnd = readEnd
        self.loop = loop
        do {
            try loop.register(readEnd) { [weak self] _ in
                guard let self, !finished, let result = handoff.result.withLock({ $0.take() }) else { return }
                finish()
                done(result)
            }
        } catch {
            finish()
            throw error
        }
    }

    /// Waits for the worker if it still runs (it ends on its own; its result is dropped).
    deinit { finish() }

    private func finish() {
        guard !finished else { return }
        finished = true
        try? loop?.deregister(readEnd)
        try? readEnd.close()
        pthread_join(thread, nil)
    }
}
