// The sysctls a router depends on (/proc/sys/net/...), read and written as the files they are, in the network
// namespace of the calling thread.

#if canImport(Glibc)
import Glibc
#endif

/// One `/proc/sys` setting, by its sysctl name (`net.ipv4.ip_forward`; a device name may hold dots, so the name
/// is given as path components).
public struct KernelSetting: Hashable, Sendable, CustomStringConvertible {
    /// The path components under /proc/sys: ["net", "ipv4", "conf", "tnd-a1", "rp_filter"].
    public var components: [String]

    public init(_ components: String...) { self.components = components }

    /// `net.ipv4.ip_forward`.
    public var description: String { components.joined(separator: ".") }

    var path: String { "/proc/sys/" + components.joined(separator: "/") }

    /// The setting's value, without the newline.
    public func read() throws(SystemError) -> String {
        let descriptor = try valueOrErrno("opening \(path)") { open(path, O_RDONLY | O_CLOEXEC) }
        defer { close(descriptor) }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 256, alignment: 1)
        defer { buffer.deallocate() }
        let count = try valueOrErrno("reading \(path)") { Glibc.read(descriptor, buffer.baseAddress, buffer.count) }
        let bytes = UnsafeRawBufferPointer(rebasing: buffer[0..<count])
        var text = String(decoding: bytes, as: UTF8.self)
        while text.last == "\n" { text.removeLast() }
        return text
    }

    /// Sets the value (needs CAP_NET_ADMIN for net settings).
    public func write(_ value: String) throws(SystemError) {
        let descriptor = try valueOrErrno("opening \(path) for writing") { open(path, O_WRONLY | O_CLOEXEC) }
        defer { close(descriptor) }
        var text = value
        _ = try valueOrErrno("writing \(value) to \(path)") {
            text.withUTF8 { Glibc.write(descriptor, $0.baseAddress, $0.count) }
        }
    }
}
