// The `metrics` section: where `tandem run` serves its Prometheus metrics. Off unless the file has the section.

import TandemPacket

extension GatewayConfig {
    /// The `metrics` section: the loopback address and TCP port of the Prometheus endpoint (`GET /metrics`).
    ///
    /// Only loopback addresses (127.0.0.0/8, ::1) are accepted: the endpoint has no authentication, and a gateway's
    /// counters name its tunnels and prefixes. A Prometheus server elsewhere reaches it through a local agent or an
    /// SSH tunnel.
    public struct Metrics: ConfigItem, Hashable {
        /// The default port: 9464, the one OpenTelemetry's Prometheus exporter uses.
        public static let defaultPort: UInt16 = 9464
        /// The default address: `127.0.0.1:9464`.
        public static let defaultListen = "127.0.0.1:\(defaultPort)"

        /// The loopback address the endpoint listens on.
        public var address: AnyIPAddress
        /// The TCP port (1...65535).
        public var port: UInt16
        public var location: SourceLocation
        public var keyLocations: [String: SourceLocation]

        /// Makes the section; nothing is checked.
        public init(
            address: AnyIPAddress = .v4(IPv4Address(127, 0, 0, 1)), port: UInt16 = Metrics.defaultPort,
            location: SourceLocation = .unknown, keyLocations: [String: SourceLocation] = [:]
        ) {
            self.address = address
            self.port = port
            self.location = location
            self.keyLocations = keyLocations
        }

        /// The address as the file writes it: `127.0.0.1:9464`, `[::1]:9464`.
        public var listen: String {
            switch address {
            case .v4(let address): "\(address):\(port)"
            case .v6(let address): "[\(address)]:\(port)"
            }
        }

        /// Reads `ADDRESS:PORT` (IPv4) or `[ADDRESS]:PORT` (IPv6).
        ///
        /// - Returns: The address and port, or a message saying what is wrong.
        public static func parseListen(_ text: String) -> Result<(AnyIPAddress, UInt16), ListenError> {
            let host: Substring
            let portText: Substring
            if text.hasPrefix("[") {
                guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else {
                    return .failure(ListenError("an IPv6 address is written in brackets with a port: [::1]:9464"))
                }
                host = text[text.index(after: text.startIndex)..<close]
                portText = text[text.index(close, offsetBy: 2)...]
            } else {
                guard let colon = text.lastIndex(of: ":") else {
                    return .failure(ListenError("it needs a port: 127.0.0.1:9464"))
                }
                host = text[..<colon]
                portText = text[text.index(after: colon)...]
                if host.contains(":") {
                    return .failure(ListenError("write an IPv6 address in brackets: [::1]:9464"))
                }
            }
            guard let port = UInt16(portText), port != 0, portText.allSatisfy(\.isASCII) else {
                return .failure(ListenError("the port must be a number from 1 to 65535, got '\(portText)'"))
            }
            do throws(AddressParseError) {
                return .success((try AnyIPAddress(host), port))
            } catch {
                return .failure(ListenError("'\(host)' is not a valid \(error.family) address: \(error)"))
            }
        }

        /// Why a `listen` value is not `ADDRESS:PORT`.
        public struct ListenError: Error, Hashable, Sendable {
            public var message: String
            public init(_ message: String) { self.message = message }
        }
    }
}

extension AnyIPAddress {
    /// Whether the address is a loopback address: 127.0.0.0/8 or ::1.
    public var isLoopback: Bool {
        switch self {
        case .v4(let address): address.rawValue >> 24 == 127
        case .v6(let address): address.rawValue == 1
        }
    }
}
