// Some parsers only read files (libpcap's pcap_open_offline, zlib's gzopen, the config loader): the fuzz input is
// written to a file of the process's own first. tmpfs (/dev/shm) keeps that in memory, so it costs a few
// microseconds per input.

import Foundation

/// A file the target rewrites with each input, one per process and name.
///
/// It lives in `$TANDEM_FUZZ_SCRATCH` if set (tools/fuzz makes one directory per run on tmpfs and removes it at the
/// end, also after a crash, where no exit handler runs), else in `/dev/shm` or the temporary directory, and is
/// removed when the process exits (libFuzzer calls `exit` at the end of a run).
public final class ScratchFile: @unchecked Sendable {
    /// The file's path.
    public let path: String

    /// Picks the path, named after the process id so that parallel jobs (`-jobs=N`) do not share it.
    ///
    /// - Parameter suffix: The file name's end, e.g. `.pcap`, so error messages look like the real thing.
    public init(suffix: String) {
        let directory =
            ProcessInfo.processInfo.environment["TANDEM_FUZZ_SCRATCH"]
            ?? (FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory())
        path = "\(directory)/tandem-fuzz-\(getpid())\(suffix)"
        ScratchFile.removeAtExit(path)
    }

    /// Replaces the file's contents with `bytes`; a failure to write stops the target (it would test nothing).
    public func write(_ bytes: UnsafeRawBufferPointer) {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        fuzzCheck(descriptor >= 0, "cannot create \(path): errno \(errno)")
        defer { close(descriptor) }
        var written = 0
        while written < bytes.count {
            let result = Foundation.write(descriptor, bytes.baseAddress! + written, bytes.count - written)
            fuzzCheck(result > 0, "cannot write \(path): errno \(errno)")
            written += result
        }
    }

    /// The files to remove at exit. (`nonisolated(unsafe)`: libFuzzer runs the target on one thread, and the exit
    /// handler runs after it.)
    nonisolated(unsafe) private static var paths: [String] = []

    /// Registers `path` for removal when the process exits; the handler is installed with the first file.
    private static func removeAtExit(_ path: String) {
        if paths.isEmpty { atexit { for path in ScratchFile.paths { unlink(path) } } }
        paths.append(path)
    }
}
