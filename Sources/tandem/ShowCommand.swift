import ArgumentParser
import TandemControl
import TandemLinux
import TandemPacket

#if canImport(Glibc)
import Glibc
#endif

/// `tandem show`: asks a running gateway (`tandem run`) over its control socket.
struct Show: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show a running gateway's routes, groups, connections, tunnels, counters or status.",
        discussion: """
            Asks the control socket of 'tandem run' (root only). Text output has one line per object; --json \
            gives the same as JSON (keys in docs/run.md). 'show routes' marks each route selected, standby, lost \
            or down, and says why; 'show routes PREFIX' shows the routes of PREFIX (or of the most specific \
            prefix that covers it). 'show status' says whether everything configured is in the kernel, and if \
            not what the kernel refused, why, and when Tandem retries. See docs/run.md, "Looking at a running gateway".
            """)

    enum What: String, ExpressibleByArgument, CaseIterable {
        case routes, groups, connections, tunnels, counters, status
    }

    @Argument(help: "routes, groups, connections, tunnels, counters or status.")
    var what: What

    @Argument(help: "With 'routes': a prefix or an address.")
    var prefix: String?

    @Option(name: .long, help: "With 'routes': show at most this many prefixes.")
    var limit: Int?

    @OptionGroup var client: ControlClientOptions

    func validate() throws {
        if prefix != nil && what != .routes { throw ValidationError("only 'show routes' takes a prefix") }
        if limit != nil && what != .routes { throw ValidationError("only 'show routes' takes --limit") }
        if let limit, limit < 0 { throw ValidationError("--limit must be 0 or more") }
    }

    func run() throws {
        let query: ControlRequest.Query
        switch what {
        case .routes:
            var routePrefix: RoutePrefix?
            if let prefix {
                guard let parsed = try? ControlRequest.prefix(prefix) else {
                    throw ValidationError("'\(prefix)' is neither a prefix nor an address")
                }
                routePrefix = parsed
            }
            query = .routes(prefix: routePrefix, limit: limit)
        case .groups: query = .groups
        case .connections: query = .connections
        case .tunnels: query = .tunnels
        case .counters: query = .counters
        case .status: query = .status
        }
        try client.ask(ControlRequest(query, json: client.json))
    }
}

/// Where the control socket is, and how to answer: shared by `show` and `lookup`.
struct ControlClientOptions: ParsableArguments {
    @Flag(name: .long, help: "Answer in JSON.")
    var json = false

    @Option(name: .long, help: "The control socket (default: /run/tandem/<gateway>.sock).")
    var socket: String?

    @Option(name: .long, help: "The gateway's name (gateway.name), to find /run/tandem/<gateway>.sock.")
    var gateway: String?

    /// The socket path: --socket, or the gateway's, or the only socket in /run/tandem.
    func socketPath() throws -> String {
        if let socket { return socket }
        if let gateway { return ControlSocket.defaultPath(gateway: gateway) }
        let sockets = Self.sockets(in: ControlSocket.directory)
        switch sockets.count {
        case 1: return ControlSocket.directory + "/" + sockets[0]
        case 0: throw CommandError("no gateway runs here (/run/tandem has no control socket); use --socket")
        default:
            throw CommandError(
                "error: several gateways run here (\(sockets.joined(separator: ", "))); choose one with --gateway")
        }
    }

    /// The names ending in .sock in a directory. The corresponding C functions are `opendir`, `readdir`, `closedir`.
    static func sockets(in directory: String) -> [String] {
        guard let handle = opendir(directory) else { return [] }
        defer { closedir(handle) }
        var names: [String] = []
        while let entry = readdir(handle) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name.hasSuffix(".sock") { names.append(name) }
        }
        return names.sorted()
    }

    /// Sends a request and copies the answer to standard output as it comes; an error answer goes to standard
    /// error and exits 1.
    func ask(_ request: ControlRequest) throws {
        let path = try socketPath()
        let connection: UnixConnection
        do {
            connection = try UnixConnection.connect(path: path)
        } catch {
            let hint =
                error.code == EACCES ? " (the control socket is root's)"
                : error.code == ENOENT || error.code == ECONNREFUSED ? " (is tandem run running?)" : ""
            throw CommandError("\(error)\(hint)")
        }
        defer { connection.close() }
        try connection.writeAll(Array((request.line + "\n").utf8))
        var buffer = [UInt8](repeating: 0, count: 65_536)
        var first = true
        var isError = false
        while true {
            let count = try buffer.withUnsafeMutableBytes { (bytes) throws(SystemError) -> Int? in
                try connection.read(into: bytes)
            }
            guard let count else { throw CommandError("the gateway did not answer in time") }
            if count == 0 { break }
            if first {
                isError = buffer[0..<min(count, 7)].elementsEqual("error: ".utf8.prefix(count))
                first = false
            }
            buffer.withUnsafeBytes { bytes in
                var offset = 0
                while offset < count {
                    let written = Glibc.write(isError ? STDERR_FILENO : STDOUT_FILENO, bytes.baseAddress! + offset, count - offset)
                    if written < 0 && errno == EINTR { continue }
                    guard written > 0 else { return }
                    offset += written
                }
            }
        }
        if isError { throw ExitCode(1) }
    }
}
