// Signals as events: SIGTERM, SIGINT and SIGHUP read from a descriptor in the event loop (signalfd), instead of
// handlers that may run on any thread at any time.

import CTandemLinux

#if canImport(Glibc)
import Glibc
#endif

/// A signalfd for a set of signals, open for as long as this object lives.
///
/// Making one blocks the signals in the calling thread; threads made afterwards inherit that, so make it first
/// thing in `main`, before any other thread starts (a thread that does not block them would take the default
/// action: for SIGTERM, the end of the process without cleanup).
public final class SignalSource {
    /// The descriptor, for ``EventPoll``; readable while a signal is pending.
    public let descriptor: CInt

    /// Blocks `signals` in the calling thread and opens the descriptor (non-blocking, close-on-exec).
    /// The corresponding C calls are `pthread_sigmask` and `signalfd`.
    public init(_ signals: [CInt]) throws(SystemError) {
        descriptor = try valueOrErrno("opening a signal descriptor for signals \(signals)") {
            signals.withUnsafeBufferPointer { CTandemLinux_signalDescriptor($0.baseAddress, CInt($0.count)) }
        }
    }

    deinit { close(descriptor) }

    /// The signals pending now, in the order they came (each number once per delivery the kernel merged).
    public func pending() throws(SystemError) -> [CInt] {
        var signals: [CInt] = []
        while true {
            let signal = try valueOrErrno("reading the signal descriptor") { CTandemLinux_readSignal(descriptor) }
            if signal == 0 { return signals }
            signals.append(signal)
        }
    }
}
