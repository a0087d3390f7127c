import Foundation
import TandemLinux
import Testing

let isRoot = getuid() == 0

/// A network namespace with a veth pair (this kernel has no dummy devices), made for a test and removed after it
/// (also when it fails), with everything in it: the kernel removes the devices of a namespace it destroys.
/// Addresses only from 198.18.0.0/15 and 2001:db8::/32; nothing leaves the namespace.
final class TestNamespace {
    let namespace: NetworkNamespace
    let device = "v0"

    init() throws {
        namespace = NetworkNamespace(name: "tandem-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try Self.ip(["netns", "add", namespace.name])
        do {
            try Self.ip(["-n", namespace.name, "link", "add", device, "type", "veth", "peer", "name", "v1"])
            try Self.ip(["-n", namespace.name, "link", "set", "v1", "up"])
            try Self.ip(["-n", namespace.name, "link", "set", device, "up"])
            try Self.ip(["-n", namespace.name, "addr", "add", "198.18.0.1/24", "dev", device])
            try Self.ip(["-n", namespace.name, "-6", "addr", "add", "2001:db8::1/64", "dev", device, "nodad"])
        } catch {
            _ = try? Self.ip(["netns", "del", namespace.name])
            throw error
        }
    }

    deinit { _ = try? Self.ip(["netns", "del", namespace.name]) }

    /// Makes a namespace, runs `body` with it, removes it, and checks that `ip netns list` no longer shows it.
    static func with(_ body: (TestNamespace) throws -> Void) throws {
        var name = ""
        do {
            let lab = try TestNamespace()
            name = lab.namespace.name
            try body(lab)
        }
        #expect(!(try ip(["netns", "list"]).contains(name)), "namespace \(name) was left behind")
    }

    /// Runs `ip` with arguments; returns its output, throws with its error output if it fails.
    @discardableResult
    static func ip(_ arguments: [String]) throws -> String { try run("/usr/sbin/ip", arguments) }

    /// Runs a program to its end; returns its output, throws with its error output if it fails.
    @discardableResult
    static func run(_ executable: String, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let errorText = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw CommandFailure(description: "\(executable) \(arguments.joined(separator: " ")): \(errorText)")
        }
        return text
    }

    struct CommandFailure: Error, CustomStringConvertible { var description: String }

    /// The device's index inside the namespace.
    func deviceIndex() throws -> UInt32 { try namespace.withEntered { if_nametoindex(device) } }

    /// A netlink socket opened inside the namespace.
    func netlink() throws -> RouteNetlink { try namespace.withEntered { () throws(SystemError) in try RouteNetlink() } }

    /// The kernel's own listing of a table's routes with a protocol: the oracle.
    func kernelRoutes(table: UInt32, protocol proto: UInt8, family: String) throws -> [String] {
        try Self.ip(["-n", namespace.name, family, "route", "show", "table", String(table), "proto", String(proto)])
            .split(separator: "\n").map(String.init)
    }

    /// A TUN device made inside the namespace (a TUN device belongs to the namespace of the thread that opens it).
    func tunDevice(
        name: String = "tnd0", queueCount: Int = 1, vnetHeader: TunDevice.VnetHeader? = nil, napi: Bool = false
    ) throws -> TunDevice {
        try namespace.withEntered { () throws(SystemError) in
            try TunDevice(name: name, queueCount: queueCount, vnetHeader: vnetHeader, napi: napi)
        }
    }

    /// Gives the TUN device 198.18.5.1/24 and brings it up (the netlink layer's job; `ip` here).
    func configureTun(_ name: String = "tnd0") throws {
        try Self.ip(["-n", namespace.name, "addr", "add", "198.18.5.1/24", "dev", name])
        try Self.ip(["-n", namespace.name, "link", "set", name, "up"])
    }

    /// Runs a Python script inside the namespace to its end; returns its output.
    @discardableResult
    func python(_ script: String) throws -> String {
        try Self.ip(["netns", "exec", namespace.name, "/usr/bin/python3", "-c", script])
    }

    /// Starts a Python script inside the namespace; it runs alongside the test.
    func startPython(_ script: String) throws -> BackgroundProcess {
        try BackgroundProcess(["netns", "exec", namespace.name, "/usr/bin/python3", "-u", "-c", script])
    }
}

/// An `ip` command that runs alongside a test, read line by line; stopped when released.
final class BackgroundProcess {
    private let process = Process()
    private let output = Pipe()
    private var buffered = Data()

    init(_ arguments: [String]) throws {
        process.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
        process.arguments = arguments
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
    }

    deinit {
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
    }

    /// The next line of output (blocking), or nil at its end.
    func readLine() -> String? {
        while true {
            if let newline = buffered.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: buffered[..<newline], as: UTF8.self)
                buffered.removeSubrange(...newline)
                return line
            }
            let more = output.fileHandleForReading.availableData
            if more.isEmpty { return nil }
            buffered.append(more)
        }
    }
}
