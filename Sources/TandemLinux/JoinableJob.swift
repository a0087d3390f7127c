// Work that can overlap the starting thread's own, on a thread of its own whose result the starting thread takes
// when it needs it, by joining the thread. Unlike BackgroundJob, no event loop is involved: the daemon uses it where
// the control thread waits for the result anyway (at start, the rules go into the kernel while it learns a full
// table's routes, and Tandem's table while it fills the forwarding plane).

#if canImport(Glibc)
import Glibc
#endif

/// One piece of work on a named thread of its own; ``wait()`` joins the thread and returns its result.
public final class JoinableJob<Value: Sendable> {
    /// Where the worker leaves its result (read after the join, which orders the two threads' memory anyway; behind
    /// a POSIX mutex all the same, which ThreadSanitizer sees, see PthreadMutex).
    private let slot = PthreadMutex<Value?>(nil)
    private var thread: pthread_t?

    /// Starts `work` on a thread named `name`.
    ///
    /// - Throws: ``SystemError`` from `pthread_create`; nothing runs then.
    public init(name: String, work: @escaping @Sendable () -> Value) throws(SystemError) {
        let slot = self.slot
        thread = try SystemThread.start(name: name) {
            let value = work()
            slot.withLock { $0 = value }
        }
    }

    /// Waits for the work to end and returns its result (the same each time it is asked).
    public func wait() -> Value? {
        join()
        return slot.withLock { $0 }
    }

    /// A job dropped without ``wait()`` is still waited for: its thread never outlives it.
    deinit { join() }

    private func join() {
        guard let thread else { return }
        pthread_join(thread, nil)
        self.thread = nil
    }
}
