import Foundation
import TandemLinux
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The notification socket against a datagram socket of the test's own standing in for systemd: a path in a
/// temporary directory and an abstract name; $NOTIFY_SOCKET read and removed; $WATCHDOG_USEC and $WATCHDOG_PID.
/// Serialized: the tests change the process's environment.
@Suite(.serialized)
struct SystemdNotifySocketTests {
    /// A bound AF_UNIX datagram socket, closed (and its file removed) at the end.
    final class Receiver {
        let descriptor: CInt
        let path: String?

        /// Binds to `address`: a path, or "@name" for the abstract namespace.
        init(address: String) throws {
            descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard descriptor >= 0 else { throw SystemError(code: errno, operation: "socket") }
            var storage = sockaddr_un()
            storage.sun_family = sa_family_t(AF_UNIX)
            var bytes = Array(address.utf8)
            let abstract = bytes.first == UInt8(ascii: "@")
            if abstract { bytes[0] = 0 }
            withUnsafeMutableBytes(of: &storage.sun_path) { path in
                for (index, byte) in bytes.enumerated() { path[index] = byte }
            }
            let length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count + (abstract ? 0 : 1))
            path = abstract ? nil : address
            let bound = withUnsafePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) }
            }
            guard bound == 0 else { throw SystemError(code: errno, operation: "binding \(address)") }
            var timeout = timeval(tv_sec: 5, tv_usec: 0)
            setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        }

        deinit {
            close(descriptor)
            if let path { unlink(path) }
        }

        /// The next datagram, as text.
        func receive() throws -> String {
            var buffer = [UInt8](repeating: 0, count: 4096)
            let count = recv(descriptor, &buffer, buffer.count, 0)
            guard count >= 0 else { throw SystemError(code: errno, operation: "receiving") }
            return String(decoding: buffer[..<count], as: UTF8.self)
        }
    }

    static func temporaryDirectory() throws -> String {
        let path = NSTemporaryDirectory() + "tandem-notify-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
        return path
    }

    @Test func aPathFromTheEnvironment() throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let receiver = try Receiver(address: directory + "/notify")
        setenv("NOTIFY_SOCKET", directory + "/notify", 1)
        let socket = try #require(try SystemdNotifySocket.fromEnvironment())
        // Read once and gone: a child would not inherit it.
        #expect(getenv("NOTIFY_SOCKET") == nil)
        #expect(socket.address == directory + "/notify")
        // Close-on-exec.
        #expect(fcntl(socket.descriptor.rawValue, F_GETFD) & FD_CLOEXEC != 0)
        try socket.send("READY=1")
        try socket.send("RELOADING=1\nMONOTONIC_USEC=123")
        try socket.send("STATUS=userspace mode; tunnels 2/2 up; 2 routes")
        #expect(try receiver.receive() == "READY=1")
        #expect(try receiver.receive() == "RELOADING=1\nMONOTONIC_USEC=123")
        #expect(try receiver.receive() == "STATUS=userspace mode; tunnels 2/2 up; 2 routes")
    }

    @Test func anAbstractName() throws {
        let name = "@tandem-notify-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let receiver = try Receiver(address: name)
        setenv("NOTIFY_SOCKET", name, 1)
        let socket = try #require(try SystemdNotifySocket.fromEnvironment())
        try socket.send("WATCHDOG=1")
        #expect(try receiver.receive() == "WATCHDOG=1")
    }

    @Test func unsetEmptyAndUnsupported() throws {
        unsetenv("NOTIFY_SOCKET")
        #expect(try SystemdNotifySocket.fromEnvironment() == nil)
        setenv("NOTIFY_SOCKET", "", 1)
        #expect(try SystemdNotifySocket.fromEnvironment() == nil)
        setenv("NOTIFY_SOCKET", "vsock:2:1234", 1)
        #expect(throws: SystemError.self) { try SystemdNotifySocket.fromEnvironment() }
        #expect(getenv("NOTIFY_SOCKET") == nil)
    }

    /// Nothing bound there: an error that names the address, and no SIGPIPE (the test process would die).
    @Test func nobodyListening() throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let socket = try SystemdNotifySocket(address: directory + "/absent")
        let error = #expect(throws: SystemError.self) { try socket.send("READY=1") }
        #expect(error?.code == ENOENT)
        #expect(error?.operation.contains(directory + "/absent") == true)
    }

    @Test func watchdogVariables() {
        #expect(SystemdWatchdog.interval(usec: "30000000", pid: nil, ourPID: 42) == 30_000_000)
        #expect(SystemdWatchdog.interval(usec: "30000000", pid: "42", ourPID: 42) == 30_000_000)
        #expect(SystemdWatchdog.interval(usec: "30000000", pid: "43", ourPID: 42) == nil)
        #expect(SystemdWatchdog.interval(usec: "0", pid: nil, ourPID: 42) == nil)
        #expect(SystemdWatchdog.interval(usec: "x", pid: nil, ourPID: 42) == nil)
        #expect(SystemdWatchdog.interval(usec: nil, pid: "42", ourPID: 42) == nil)
        setenv("WATCHDOG_USEC", "2000000", 1)
        setenv("WATCHDOG_PID", "\(getpid())", 1)
        #expect(SystemdWatchdog.intervalFromEnvironment() == 2_000_000)
        #expect(getenv("WATCHDOG_USEC") == nil && getenv("WATCHDOG_PID") == nil)
    }
}
