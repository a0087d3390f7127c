// A value behind a POSIX mutex, for state that threads take turns on.
//
// Why not Synchronization's Mutex: on Linux it hands a contended lock over inside the kernel (FUTEX_LOCK_PI), where
// ThreadSanitizer cannot see it, so two threads that took turns under it are reported as a data race, and a real
// race in the same code would be lost among those reports. ThreadSanitizer intercepts pthread_mutex_lock and knows
// its order. The state the pipeline threads share with the control thread (Forwarder) is behind this lock, and
// tools/lib/check-sanitizers runs it under ThreadSanitizer. Neither lock is on a per-packet path.

#if canImport(Glibc)
import Glibc
#endif

/// A value that threads read and change one at a time, behind a `pthread_mutex_t`.
public final class PthreadMutex<Value: Sendable>: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private var value: Value

    /// Makes the lock, holding `value`.
    ///
    /// The corresponding C function is `pthread_mutex_init` (default attributes: it cannot fail on Linux).
    public init(_ value: Value) {
        self.value = value
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deinitialize(count: 1)
        mutex.deallocate()
    }

    /// Runs `body` on the value while holding the lock; returns what `body` returns.
    ///
    /// The corresponding C functions are `pthread_mutex_lock` and `pthread_mutex_unlock`.
    public func withLock<Result, Failure: Error>(
        _ body: (inout Value) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value)
    }
}
