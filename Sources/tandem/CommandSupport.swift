// Small helpers the commands share: files, directories, standard error.

#if canImport(Glibc)
import Glibc
#endif

/// Reads a whole text file. The corresponding C functions are `open`, `read` and `close`.
func readTextFile(_ path: String) throws -> String {
    let descriptor = open(path, O_RDONLY | O_CLOEXEC)
    guard descriptor >= 0 else { throw CommandError("\(path): \(String(cString: strerror(errno)))") }
    defer { close(descriptor) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65_536)
    while true {
        let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
        if count < 0 {
            if errno == EINTR { continue }
            throw CommandError("\(path): \(String(cString: strerror(errno)))")
        }
        if count == 0 { break }
        bytes += chunk[0..<count]
    }
    return String(decoding: bytes, as: UTF8.self)
}

/// Makes a directory if it is missing. The corresponding C function is `mkdir`.
func makeDirectory(_ path: String) throws {
    if mkdir(path, 0o755) != 0 && errno != EEXIST {
        throw CommandError("cannot make directory \(path): \(String(cString: strerror(errno)))")
    }
}

/// An error of the command line, printed as it is.
struct CommandError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Writes a line to standard error. The corresponding C function is `write`.
func printError(_ line: String) {
    var text = line + "\n"
    text.withUTF8 { bytes in
        var offset = 0
        while offset < bytes.count {
            let written = write(STDERR_FILENO, bytes.baseAddress! + offset, bytes.count - offset)
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else { return }
            offset += written
        }
    }
}

/// Writes a whole text file so that a reader sees the old file or the new one, never a part: the text goes to
/// `PATH.tmp-PID` in the same directory, which is synced and renamed over `path`. The corresponding C functions
/// are `open`, `write`, `fsync`, `rename` and `unlink`.
func writeTextFileAtomically(_ text: String, to path: String, mode: mode_t = 0o644) throws {
    let temporary = path + ".tmp-\(getpid())"
    let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
    guard descriptor >= 0 else {
        throw CommandError("cannot write \(path): open \(temporary): \(String(cString: strerror(errno)))")
    }
    func fail(_ operation: String) -> CommandError {
        let reason = String(cString: strerror(errno))
        close(descriptor)
        unlink(temporary)
        return CommandError("cannot write \(path): \(operation): \(reason)")
    }
    var bytes = Array(text.utf8)
    var offset = 0
    while offset < bytes.count {
        let written = bytes.withUnsafeMutableBytes { write(descriptor, $0.baseAddress! + offset, $0.count - offset) }
        if written < 0 {
            if errno == EINTR { continue }
            throw fail("write")
        }
        offset += written
    }
    guard fsync(descriptor) == 0 else { throw fail("fsync") }
    guard close(descriptor) == 0 else {
        let reason = String(cString: strerror(errno))
        unlink(temporary)
        throw CommandError("cannot write \(path): close: \(reason)")
    }
    guard rename(temporary, path) == 0 else {
        let reason = String(cString: strerror(errno))
        unlink(temporary)
        throw CommandError("cannot write \(path): rename \(temporary): \(reason)")
    }
}
