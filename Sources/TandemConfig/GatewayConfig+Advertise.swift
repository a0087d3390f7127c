// The `advertise` list: the prefixes the gateway announces as its own over every BGP session. Tandem itself does
// not announce anything; `tandem bird-config` writes them into the routing daemon's configuration.

import TandemPacket

extension GatewayConfig {
    /// One prefix of the `advertise` list.
    public struct Advertisement: Hashable, Sendable {
        /// The prefix, IPv4 or IPv6; never a default route.
        public var prefix: RoutePrefix
        /// Where the prefix is written.
        public var location: SourceLocation

        /// Makes an advertised prefix.
        public init(prefix: RoutePrefix, location: SourceLocation = .unknown) {
            self.prefix = prefix
            self.location = location
        }
    }

    /// The advertised prefixes of one family, in file order.
    public func advertised(_ family: IPFamily) -> [RoutePrefix] {
        advertise.map(\.prefix).filter { $0.family == family }
    }
}
