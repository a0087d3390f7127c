// Long-running POSIX threads with names (`top -H`, /proc/PID/task/TID/comm show who is who), and the per-thread
// privilege calls a thread that parses untrusted input makes first: no capabilities, no new privileges.

import CTandemLinux

#if canImport(Glibc)
import Glibc
#endif

/// A plain POSIX thread for a long-running loop (a pipeline thread must not be a task on a shared pool).
public enum SystemThread {
    private final class Body {
        let name: String
        let run: () -> Void
        init(name: String, _ run: @escaping () -> Void) {
            self.name = name
            self.run = run
        }
    }

    /// Starts a thread named `name` (at most 15 bytes are kept) that runs `run`.
    ///
    /// The corresponding C functions are `pthread_create` and `pthread_setname_np`.
    public static func start(name: String, _ run: @escaping @Sendable () -> Void) throws(SystemError) -> pthread_t {
        var thread = pthread_t()
        let body = Unmanaged.passRetained(Body(name: name, run)).toOpaque()
        let result = pthread_create(
            &thread, nil,
            { argument in
                let body = Unmanaged<Body>.fromOpaque(argument!).takeRetainedValue()
                SystemThread.nameCallingThread(body.name)
                body.run()
                return nil
            }, body)
        guard result == 0 else {
            Unmanaged<Body>.fromOpaque(body).release()
            throw SystemError(code: result, operation: "starting thread \(name)")
        }
        return thread
    }

    /// Names the calling thread (the kernel keeps 15 bytes).
    public static func nameCallingThread(_ name: String) {
        _ = CTandemLinux_setThreadName(String(name.utf8.prefix(15))!)
    }

    /// The processor time the calling thread has used, in nanoseconds: set beside a wall-clock interval, it tells
    /// work from waiting for a core. The corresponding C function is `clock_gettime(CLOCK_THREAD_CPUTIME_ID)`.
    public static var callingThreadCPUTime: UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
        return UInt64(time.tv_sec) &* 1_000_000_000 &+ UInt64(time.tv_nsec)
    }

    /// The calling thread's name.
    public static var callingThreadName: String {
        var buffer = [CChar](repeating: 0, count: 16)
        _ = CTandemLinux_threadName(&buffer, buffer.count)
        return String(cString: buffer)
    }
}

extension ProcessCapabilities {
    /// Sets PR_SET_NO_NEW_PRIVS on the calling thread (threads made afterwards inherit it): no exec can grant
    /// privileges again. The corresponding C call is `prctl(PR_SET_NO_NEW_PRIVS, 1)`.
    public static func forbidNewPrivileges() throws(SystemError) {
        _ = try valueOrErrno("setting PR_SET_NO_NEW_PRIVS") { CTandemLinux_forbidNewPrivileges() }
    }

    /// Whether PR_SET_NO_NEW_PRIVS is set on the calling thread.
    public static var newPrivilegesForbidden: Bool { CTandemLinux_newPrivilegesForbidden() == 1 }
}
