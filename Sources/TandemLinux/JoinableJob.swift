// Work that can overlap the starting thread's own, on a thread of its own whose result the starting thread takes
// when it needs it, by joining the thread. Unlike BackgroundJob, no event loop is involved: the daemon's start uses
// it before its loop runs (the rules go into the kernel while the control thread learns a full table's routes).

import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// One piece of work on a named thread of its own; ``wait()`` joins the thread and returns its result.
public final class JoinableJob<Value: Sendable> {
    /// Where the worker leaves its result (read after the join, which orders the two threads' memory anyway).
    private final class Slot: Sendable {
        let value = Mutex<Value?>(nil)
    }

    private let slot = Slot()
    private var thread: pthread_t?

    /// Starts `work` on a thread named `name`.
    ///
    /// - Throws: ``SystemError`` from `pthread_create`; nothing runs then.
    public init(name: String, work: @escaping @Sendable () -> Value) throws(SystemError) {
        let slot = self.slot
        thread = try SystemThread.start(name: name) {
            let value = work()
            slot.value.withLock { $0 = value }
        }
    }

    /// Waits for the work to end and returns its result (nil only if the work never returned: it trapped).
    public func wait() -> Value? {
        join()
        return slot.value.withLock { $0 }
    }

    /// A job dropped without ``wait()`` is still waited for: its thread never outlives it.
    deinit { join() }

    private func join() {
        guard let thread else { return }
        pthread_join(thread, nil)
        self.thread = nil
    }
}
