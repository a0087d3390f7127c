// Some parsers only read files (libpcap's pcap_open_offline, zlib's gzopen, the config loader): the fuzz input is
// written to a file of the process's own first. tmpfs (/dev/shm) keeps that in memory, so it costs a few
// microseconds per input.

import Foundation

/// A file the target rewrites with each input; one per process and name, removed when the process exits normally.
public final class ScratchFile: @unchecked Sendable {
    /// The file's path.
    public let path: String

    /// Picks the path: `/dev/shm` if it is there, else the temporary directory, named after the process id so
    /// that parallel fuzzing jobs (`-jobs=N`) do not share it.
    ///
    /// - Parameter suffix: The file name's end, e.g. `.pcap`, so error messages look like the real thing.
    public init(suffix: String) {
        let directory = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
        path = "\(directory)/tandem-fuzz-\(getpid())\(suffix)"
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

    deinit { unlink(path) }
}
