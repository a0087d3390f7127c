// The gateway's configuration as plain values: what the YAML file says once it has been read and checked.
// docs/config.md describes every key; the defaults below are the ones it lists.

import TandemPacket
import TandemRouting

/// A whole gateway configuration: the gateway itself, ECMP, limits, tunnels, connections, destination routes,
/// policy routes and route learning.
///
/// Read one with ``load(path:)`` or ``parse(yaml:file:)``; both check every rule of docs/config.md and return a
/// configuration only if there is no error. Every item keeps where it was written (``ConfigItem``).
public struct GatewayConfig: Hashable, Sendable {
    /// The gateway: name, forwarding mode, routing mode, local ASN, ingress device.
    public var gateway: Gateway
    /// How flows are spread over the connections of a next-hop group.
    public var ecmp: ECMP
    /// Quotas.
    public var limits: Limits
    /// The ICMP errors the gateway sends (Time Exceeded, Unreachable, Fragmentation Needed / Packet Too Big).
    public var icmp: ICMP = ICMP()
    /// The tunnels, in file order.
    public var tunnels: [Tunnel]
    /// The connections (one or two tunnels each), in file order.
    public var connections: [Connection]
    /// The destination routes, in file order.
    public var routes: [Route]
    /// The policy routes, in file order.
    public var policyRoutes: [PolicyRoute]
    /// Route learning from a routing daemon, if the file asks for it.
    public var learning: Learning?
    /// The prefixes the gateway announces as its own to every BGP peer (`advertise`), in file order.
    public var advertise: [Advertisement] = []
    /// How `tandem run` programs the kernel: protocol number, tables, rules, queues, offloads.
    public var linux: Linux = Linux()
    /// The Prometheus endpoint of `tandem run`; nil (the default) serves no metrics.
    public var metrics: Metrics?
    /// Warnings found while reading: the configuration is valid, but something in it is probably not meant.
    public var warnings: [ConfigDiagnostic]

    /// Makes a configuration. Nothing is checked: use ``parse(yaml:file:)`` for a checked one.
    public init(
        gateway: Gateway, ecmp: ECMP = ECMP(), limits: Limits = Limits(), tunnels: [Tunnel] = [],
        connections: [Connection] = [], routes: [Route] = [], policyRoutes: [PolicyRoute] = [],
        learning: Learning? = nil, warnings: [ConfigDiagnostic] = []
    ) {
        self.gateway = gateway
        self.ecmp = ecmp
        self.limits = limits
        self.tunnels = tunnels
        self.connections = connections
        self.routes = routes
        self.policyRoutes = policyRoutes
        self.learning = learning
        self.warnings = warnings
    }

    /// The tunnel named `name`.
    public func tunnel(named name: String) -> Tunnel? { tunnels.first { $0.name == name } }

    /// The connection named `name`.
    public func connection(named name: String) -> Connection? { connections.first { $0.name == name } }
}

// MARK: - gateway

extension GatewayConfig {
    /// The `gateway` section.
    public struct Gateway: ConfigItem, Hashable {
        /// Who forwards the packets.
        public enum Mode: String, CaseIterable, Sendable {
            /// Tandem reads packets from the ingress TUN device and writes them to the tunnels.
            case userspace
            /// Tandem programs the chosen tunnels into the kernel as routes and next-hop groups; the kernel forwards.
            case kernel
        }

        /// How destination routes of different connections may relate.
        public enum RoutingMode: String, CaseIterable, Sendable {
            /// Destination routing: static routes of different connections must not overlap (rule 1).
            case destination
            /// Policy routing: overlapping static routes are allowed; policy routes say which traffic goes where.
            case policy
        }

        /// The default ingress TUN device.
        public static let defaultIngress = "tandem0"

        /// The gateway's name: 1 to 64 of `A-Z a-z 0-9 _ . -`.
        public var name: String
        /// Who forwards (default userspace).
        public var mode: Mode
        /// The routing mode (default destination).
        public var routingMode: RoutingMode
        /// The default local ASN of BGP tunnels, if set.
        public var localASN: UInt32?
        /// The TUN device the kernel routes remote prefixes into (default `tandem0`).
        public var ingress: String
        public var location: SourceLocation
        public var keyLocations: [String: SourceLocation]

        /// Makes the section; defaults are those of the file format.
        public init(
            name: String, mode: Mode = .userspace, routingMode: RoutingMode = .destination, localASN: UInt32? = nil,
            ingress: String = Gateway.defaultIngress, location: SourceLocation = .unknown,
            keyLocations: [String: SourceLocation] = [:]
        ) {
            self.name = name
            self.mode = mode
            self.routingMode = routingMode
            self.localASN = localASN
            self.ingress = ingress
            self.location = location
            self.keyLocations = keyLocations
        }
    }

    /// The `ecmp` section.
    public struct ECMP: ConfigItem, Hashable {
        /// Which header fields the flow hash covers.
        public enum Hash: String, CaseIterable, Sendable {
            /// Source and destination address.
            case l3
            /// Addresses, protocol and ports (the 5-tuple).
            case l3l4
        }

        /// The default number of buckets.
        public static let defaultBuckets = 1024

        /// The hashed fields (default l3l4).
        public var hash: Hash
        /// Whether both directions of a flow hash alike (default false).
        public var symmetric: Bool
        /// The hash seed (default 0).
        public var seed: UInt64
        /// Resilient-hashing buckets per group: a power of two in 64...65536 (default 1024).
        public var buckets: Int
        public var location: SourceLocation
        public var keyLocations: [String: SourceLocation]

        /// Makes the section; defaults are those of the file format.
        public init(
            hash: Hash = .l3l4, symmetric: Bool = false, seed: UInt64 = 0, buckets: Int = ECMP.defaultBuckets,
            location: SourceLocation = .unknown, keyLocations: [String: SourceLocation] = [:]
        ) {
            self.hash = hash
            self.symmetric = symmetric
            self.seed = seed
            self.buckets = buckets
            self.location = location
            self.keyLocations = keyLocations
        }
    }

    /// The `limits` section.
    public struct Limits: ConfigItem, Hashable {
        /// The default quota of learned routes.
        public static let defaultDynamicRoutes = 50
        /// The default maximum number of policy routes.
        public static let defaultPolicyRoutes = 100

        /// How many routes may be learned from a routing daemon (0...10 000 000, default 50). The RIB enforces it.
        public var dynamicRoutes: Int
        /// How many policy routes the file may hold (1...1024, default 100).
        public var policyRoutes: Int
        public var location: SourceLocation
        public var keyLocations: [String: SourceLocation]

        /// Makes the section; defaults are those of the file format.
        public init(
            dynamicRoutes: Int = Limits.defaultDynamicRoutes, policyRoutes: Int = Limits.defaultPolicyRoutes,
            location: SourceLocation = .unknown, keyLocations: [String: SourceLocation] = [:]
        ) {
            self.dynamicRoutes = dynamicRoutes
            self.policyRoutes = policyRoutes
            self.location = location
            self.keyLocations = keyLocations
        }
    }
}

extension GatewayConfig {
    /// The `icmp` section: where the gateway's ICMP errors come from, and their rate limit (the kernel's
    /// `icmp_ratelimit`, per destination host, and `icmp_msgs_per_sec` / `icmp_msgs_burst`, global).
    public struct ICMP: ConfigItem, Hashable {
        /// The address IPv4 errors come from; without it no IPv4 error is sent.
        public var sourceIPv4: IPv4Address?
        /// The address IPv6 errors come from; without it no IPv6 error is sent.
        public var sourceIPv6: IPv6Address?
        /// One error per destination host per this interval, after a burst (default 1s, 0 = no per-host limit).
        public var rateLimit: Duration
        /// The per-host burst (default 6, the kernel's XRLIM_BURST_FACTOR).
        public var burst: Int
        /// Errors per second over all hosts (default 1000) and that limit's burst (default 50).
        public var messagesPerSecond: Int
        public var messagesBurst: Int
        public var location: SourceLocation
        public var keyLocations: [String: SourceLocation]

        public init(
            sourceIPv4: IPv4Address? = nil, sourceIPv6: IPv6Address? = nil, rateLimit: Duration = .seconds(1),
            burst: Int = 6, messagesPerSecond: Int = 1000, messagesBurst: Int = 50,
            location: SourceLocation = .unknown, keyLocations: [String: SourceLocation] = [:]
        ) {
            self.sourceIPv4 = sourceIPv4
            self.sourceIPv6 = sourceIPv6
            self.rateLimit = rateLimit
            self.burst = burst
            self.messagesPerSecond = messagesPerSecond
            self.messagesBurst = messagesBurst
            self.location = location
            self.keyLocations = keyLocations
        }
    }
}

// MARK: - tunnels

extension GatewayConfig {
    /// One IPsec tunnel to a customer gateway, seen by Tandem as an egress device.
    public struct Tunnel: ConfigItem, Hashable {
        /// How the routes through the tunnel are known.
        public enum Routing: String, CaseIterable, Sendable {
            /// Routes come from the file.
            case `static`
            /// Routes are learned over a BGP session inside the tunnel.
            case bgp
        }

        /// The default MTU.
        public static let defaultMTU = 1400

        /// The tunnel's name, unique in the file.
        public var name: String
        /// The egress TUN device that Tandem writes the tunnel's packets to (userspace mode), unique in the file.
        public var device: String
        /// The real tunnel device the egress leads to (an XFRM/VTI interface, a WireGuard or GRE device, a veth in
        /// tests): `tandem run` routes what it writes to `device` out of this one, and kernel mode's next hops use
        /// it. Needed by `tandem run`, not by a replay.
        public var interface: String?
        /// The next hop on `interface` for IPv4 and IPv6 traffic; needed where `interface` is an Ethernet-like device
        /// (a veth), not on a point-to-point device (VTI, WireGuard, GRE).
        public var nextHopIPv4: IPv4Address?
        public var nextHopIPv6: IPv6Address?
        /// The customer gateway's address.
        public var peer: AnyIPAddress
        /// A free-form zone label (an availability zone); the two tunnels of a connection should differ.
        public var zone: String?
        /// The MTU: 576...65535 for an IPv4 peer, 1280...65535 for an IPv6 peer (default 1400).
        public var mtu: Int
        /// Static or BGP (default static).
        public var routing: Routing
        /// The BGP session, present exactly when `routing` is `.bgp`.
        public var bgp: BGP?
        /// The health check; without one the tunnel always counts as up.
        public var healthCheck: HealthCheck?
        /// Drained by the file: `tandem run` drains the tunnel at start and on each reload (down for selection, its
        /// probes go on), until `tandem undrain`.
        public var drained: Bool
        public var location: SourceLocation
        public var keyLocations: [String: SourceLocation]

        /// Makes a tunnel; defaults are those of the file format.
        public init(
            name: String, device: String, interface: String? = nil, nextHopIPv4: IPv4Address? = nil,
            nextHopIPv6: IPv6Address? = nil, peer: AnyIPAddress, zone: String? = nil, mtu: Int = Tunnel.defaultMTU,
            routing: Routing = .static, bgp: BGP? = nil, healthCheck: HealthCheck? = nil, drained: Bool = false,
            location: SourceLocation = .unknown, keyLocations: [String: SourceLocation] = [:]
        ) {
            self.name = name
            self.device = device
            self.interface = interface
            self.nextHopIPv4 = nextHopIPv4
            self.nextHopIPv6 = nextHopIPv6
            self.peer = peer
            self.zone = zone
            self.mtu = mtu
            self.routing = routing
            self.bgp = bgp
            self.healthCheck = healthCheck
            self.drained = drained
            self.location = location
            self.keyLocations = keyLocations
        }
    }

    /// A tunnel's BGP session.
    public struct BGP: ConfigItem, Hashable {
        /// The tunnel's inside addresses: a /30 in 169.254.0.0/16 outside the reserved ones.
        public var insideCIDR: IPv4Prefix
        /// The gateway's ASN on this session (the tunnel's own, or `gateway.local-asn`).
        public var localASN: UInt32
        /// The customer gateway's ASN.
        public var peerASN: UInt32
        /// Tandem's end of the session: one of the two host addresses of `insideCIDR` (default the first).
        public var localAddress: IPv4Address
        /// The customer gateway's end of the session: the other host address of `insideCIDR` (default the second).
        public var peerAddress: IPv4Address
        /// Whether the session is watched by BFD (default false).
        public var bfd: Bool
        public var location: SourceLocation
        public var keyLocations: [String: SourceLocation]

        /// Makes a BGP session.
        ///
        /// - Parameters:
        ///   - localAddress: Tandem's end; nil: the first host of `insideCIDR`.
        ///   - peerAddress: The peer's end; nil: the second host of `insideCIDR`.
        public init(
            insideCIDR: IPv4Prefix, localASN: UInt32, peerASN: UInt32, localAddress: IPv4Address? = nil,
            peerAddress: IPv4Address? = nil, bfd: Bool = false, location: SourceLocation = .unknown,
            keyLocations: [String: SourceLocation] = [:]
        ) {
            self.insideCIDR = insideCIDR
            self.localASN = localASN
            self.peerASN = peerASN
            self.localAddress = localAddress ?? BGP.firstHost(of: insideCIDR)
            self.peerAddress = peerAddress ?? BGP.secondHost(of: insideCIDR)
            self.bfd = bfd
            self.location = location
            self.keyLocations = keyLocations
        }

        /// The first host address of an inside /30 (169.254.10.1 of 169.254.10.0/30).
        public static func firstHost(of inside: IPv4Prefix) -> IPv4Address {
            IPv4Address(rawValue: inside.address.rawValue &+ 1)
        }

        /// The second host address of an inside /30 (169.254.10.2 of 169.254.10.0/30).
        public static func secondHost(of inside: IPv4Prefix) -> IPv4Address {
            IPv4Address(rawValue: inside.address.rawValue &+ 2)
        }
    }

    /// A tunnel's health check: a probe every `interval`, `downCount` misses in a row take the tunnel down,
    /// `upCount` answers in a row bring it back.
    public struct HealthCheck: ConfigItem, Hashable {
        /// The probe's protocol.
        public enum ProbeProtocol: String, CaseIterable, Sendable {
            /// ICMP (or ICMPv6) echo.
            case icmp
            /// A UDP datagram to `port`, answered by an echo service.
            case udp
        }

        /// The default UDP port (echo).
        public static let defaultPort: UInt16 = 7
        /// The default interval and timeout.
        public static let defaultInterval = Duration.seconds(1)
        /// The default number of misses or answers in a row.
        public static let defaultCount = 3

        /// The probes' source address.
        public var source: AnyIPAddress
        /// The probes' destination address, of the same family as `source`.
        public var destination: AnyIPAddress
        /// ICMP or UDP (default ICMP).
        public var probeProtocol: ProbeProtocol
        /// The UDP port (default 7; meaningful for UDP only).
        public var port: UInt16
        /// Time between probes: 10 ms...1 h (default 1 s).
        public var interval: Duration
        /// How long to wait for an answer: more than 0, at most 1 h (default 1 s).
        public var timeout: Duration
        /// Misses in a row that take the tunnel down: 1...100 (default 3).
        public var downCount: Int
        /// Answers in a row that bring it back: 1...100 (default 3).
        public var upCount: Int
        public var location: SourceLocation
        public var keyLocations: [String: SourceLocation]

        /// Makes a health check; defaults are those of the file format.
        public init(
            source: AnyIPAddress, destination: AnyIPAddress, probeProtocol: ProbeProtocol = .icmp,
            port: UInt16 = HealthCheck.defaultPort, interval: Duration = HealthCheck.defaultInterval,
            timeout: Duration = HealthCheck.defaultInterval, downCount: Int = HealthCheck.defaultCount,
            upCount: Int = HealthCheck.defaultCount, location: SourceLocation = .unknown,
            keyLocations: [String: SourceLocation] = [:]
        ) {
            self.source = source
            self.destination = destination
            self.probeProtocol = probeProtocol
            self.port = port
            self.interval = interval
            self.timeout = timeout
            self.downCount = downCount
            self.upCount = upCount
            self.location = location
            self.keyLocations = keyLocations
        }
    }
}

// MARK: - connections

extension GatewayConfig {
    /// A connection: one tunnel, or a pair of an active and a standby tunnel.
    public struct Connection: ConfigItem, Hashable {
        /// The connection's name, unique in the file.
        public var name: String
        /// One tunnel name (single-tunnel) or two (dual-tunnel: active first, standby second).
        public var tunnels: [String]
        /// How long the active tunnel must be back up before traffic returns to it (default 0 s, at most 1 h).
        public var preemptDelay: Duration
        /// Whether traffic returns to the active tunnel at all (default true); false: it stays on the standby until
        /// the standby fails (non-revertive, keepalived's `nopreempt`), or a reload selects afresh.
        public var preempt: Bool
        /// Flap damping, if set.
        public var damping: Damping?
        /// The weight of the routes learned through the connection, 1...100 (default 100; key `weight`): a prefix
        /// that BGP learns through several connections spreads over them in proportion.
        public var learnedWeight: Int
        public var location: SourceLocation
        public var keyLocations: [String: SourceLocation]

        /// Makes a connection.
        public init(
            name: String, tunnels: [String], preemptDelay: Duration = .zero, preempt: Bool = true,
            damping: Damping? = nil, learnedWeight: Int = Route.defaultWeight, location: SourceLocation = .unknown,
            keyLocations: [String: SourceLocation] = [:]
        ) {
            self.name = name
            self.tunnels = tunnels
            self.preemptDelay = preemptDelay
            self.preempt = preempt
            self.damping = damping
            self.learnedWeight = learnedWeight
            self.location = location
            self.keyLocations = keyLocations
        }

        /// The routing layer's failback: the preempt delay, or nil for never.
        public var failbackDelay: Duration? { preempt ? preemptDelay : nil }

        /// Whether the connection has a standby tunnel.
        public var isDualTunnel: Bool { tunnels.count == 2 }
        /// The active tunnel's name.
        public var active: String { tunnels[0] }
        /// The standby tunnel's name, for a dual-tunnel connection.
        public var standby: String? { tunnels.count == 2 ? tunnels[1] : nil }
    }

    /// Flap damping: a tunnel that goes down more than `flaps` times within `window` is held down for `penalty`.
    public struct Damping: ConfigItem, Hashable {
        /// Flaps allowed within the window: 1...100.
        public var flaps: Int
        /// The window: 1 s...24 h.
        public var window: Duration
        /// How long the tunnel is held down: 1 s...24 h.
        public var penalty: Duration
        public var location: SourceLocation
        public var keyLocations: [String: SourceLocation]

        /// Makes a damping setting.
        public init(
            flaps: Int, window: Duration, penalty: Duration, location: SourceLocation = .unknown,
            keyLocations: [String: SourceLocation] = [:]
        ) {
            self.flaps = flaps
            self.window = window
            self.penalty = penalty
            self.location = location
            self.keyLocations = keyLocations
        }
    }
}

// MARK: - routes

extension GatewayConfig {
    /// A destination route written in the file.
    public struct Route: ConfigItem, Hashable {
        /// The default weight.
        public static let defaultWeight = 100

        /// The destination prefix.
        public var prefix: RoutePrefix
        /// The connection the route leads to.
        public var connection: String
        /// Specific, system or static (default static); never dynamic, which is learned.
        public var source: RouteSource
        /// 0...100 (default 100); 0 makes the connection a standby path for the prefix.
        public var weight: Int
        /// Lower wins among routes of the same prefix and source (default 0).
        public var metric: UInt32
        public var location: SourceLocation
        public var keyLocations: [String: SourceLocation]

        /// Makes a route; defaults are those of the file format.
        public init(
            prefix: RoutePrefix, connection: String, source: RouteSource = .static, weight: Int = Route.defaultWeight,
            metric: UInt32 = 0, location: SourceLocation = .unknown, keyLocations: [String: SourceLocation] = [:]
        ) {
            self.prefix = prefix
            self.connection = connection
            self.source = source
            self.weight = weight
            self.metric = metric
            self.location = location
            self.keyLocations = keyLocations
        }
    }

    /// A policy route: traffic matching source, destination, protocol and ports goes to a connection. Policy
    /// routes are looked at before destination routes, smaller `priority` first.
    public struct PolicyRoute: ConfigItem, Hashable {
        /// What a policy route matches; routes with the same match and priority form one next-hop group.
        public struct Match: Hashable, Sendable, CustomStringConvertible {
            /// The source prefix.
            public var source: RoutePrefix
            /// The destination prefix, of the same family.
            public var destination: RoutePrefix
            /// The IP protocol, or `nil` for any.
            public var ipProtocol: IPProtocol?
            /// The destination ports (TCP and UDP only), or `nil` for any.
            public var destinationPorts: ClosedRange<UInt16>?

            /// Makes a match.
            public init(
                source: RoutePrefix, destination: RoutePrefix, ipProtocol: IPProtocol? = nil,
                destinationPorts: ClosedRange<UInt16>? = nil
            ) {
                self.source = source
                self.destination = destination
                self.ipProtocol = ipProtocol
                self.destinationPorts = destinationPorts
            }

            /// `198.18.0.0/24 -> 0.0.0.0/0 tcp 443`.
            public var description: String {
                var text = "\(source) -> \(destination) \(ipProtocol.map(PolicyRoute.protocolName) ?? "any")"
                if let ports = destinationPorts {
                    text +=
                        ports.lowerBound == ports.upperBound
                        ? " \(ports.lowerBound)" : " \(ports.lowerBound)-\(ports.upperBound)"
                }
                return text
            }
        }

        /// The configuration name of a protocol: `tcp`, `udp`, `icmp`, `icmpv6`, or its number.
        public static func protocolName(_ ipProtocol: IPProtocol) -> String {
            switch ipProtocol {
            case .tcp: "tcp"
            case .udp: "udp"
            case .icmp: "icmp"
            case .icmpv6: "icmpv6"
            default: String(ipProtocol.rawValue)
            }
        }

        /// The source prefix.
        public var source: RoutePrefix
        /// The destination prefix, of the same family as `source`.
        public var destination: RoutePrefix
        /// The IP protocol, or `nil` for any (default any).
        public var ipProtocol: IPProtocol?
        /// The destination ports (TCP and UDP only), or `nil` for any.
        public var destinationPorts: ClosedRange<UInt16>?
        /// 1...100; smaller is evaluated first.
        public var priority: Int
        /// 0...100 (default 100).
        public var weight: Int
        /// The connection the traffic goes to.
        public var connection: String
        public var location: SourceLocation
        public var keyLocations: [String: SourceLocation]

        /// Makes a policy route; defaults are those of the file format.
        public init(
            source: RoutePrefix, destination: RoutePrefix, ipProtocol: IPProtocol? = nil,
            destinationPorts: ClosedRange<UInt16>? = nil, priority: Int, weight: Int = Route.defaultWeight,
            connection: String, location: SourceLocation = .unknown, keyLocations: [String: SourceLocation] = [:]
        ) {
            self.source = source
            self.destination = destination
            self.ipProtocol = ipProtocol
            self.destinationPorts = destinationPorts
            self.priority = priority
            self.weight = weight
            self.connection = connection
            self.location = location
            self.keyLocations = keyLocations
        }

        /// The traffic the route matches.
        public var match: Match {
            Match(source: source, destination: destination, ipProtocol: ipProtocol, destinationPorts: destinationPorts)
        }
    }
}

// MARK: - learning

extension GatewayConfig {
    /// The `learning` section: which kernel routes to learn as dynamic routes.
    public struct Learning: ConfigItem, Hashable {
        /// The default kernel table (254, main).
        public static let defaultTable: UInt32 = 254
        /// The default protocols: bird (12) and bgp (186).
        public static let defaultProtocols: [UInt8] = [12, 186]

        /// The `rtm_protocol` names the file may use, with their numbers (Linux `rtnetlink.h`,
        /// `/etc/iproute2/rt_protos`).
        public static let protocolNames: [(name: String, number: UInt8)] = [
            ("redirect", 1), ("kernel", 2), ("boot", 3), ("static", 4), ("gated", 8), ("ra", 9), ("mrt", 10),
            ("zebra", 11), ("bird", 12), ("dnrouted", 13), ("xorp", 14), ("ntk", 15), ("dhcp", 16),
            ("mrouted", 17), ("keepalived", 18), ("babel", 42), ("openr", 99), ("bgp", 186), ("isis", 187),
            ("ospf", 188), ("rip", 189), ("eigrp", 192),
        ]

        /// The name of an `rtm_protocol` number, or the number itself when it has none.
        public static func protocolName(_ number: UInt8) -> String {
            protocolNames.first { $0.number == number }?.name ?? String(number)
        }

        /// The kernel routing table to watch: 1...4294967295 (default 254).
        public var table: UInt32
        /// The `rtm_protocol` values of the routes to learn (default bird and bgp).
        public var protocols: [UInt8]
        public var location: SourceLocation
        public var keyLocations: [String: SourceLocation]

        /// Makes the section; defaults are those of the file format.
        public init(
            table: UInt32 = Learning.defaultTable, protocols: [UInt8] = Learning.defaultProtocols,
            location: SourceLocation = .unknown, keyLocations: [String: SourceLocation] = [:]
        ) {
            self.table = table
            self.protocols = protocols
            self.location = location
            self.keyLocations = keyLocations
        }
    }
}

// MARK: - linux

extension GatewayConfig {
    /// The `linux` section: how `tandem run` marks and places what it installs in the kernel.
    ///
    /// Remote prefixes go into table `table` (a route into the ingress device, or in kernel mode through Tandem's
    /// nexthop objects); one rule at `rulePriority + 1` sends all traffic to that table. Tunnel number `i` (file
    /// order, from 0) gets table `table + 1 + i` with a default route out of its `interface`, and a rule at
    /// `rulePriority` sends what arrives from its egress device there. Every route, rule and nexthop carries
    /// `protocol`, which is how Tandem finds its own after a crash.
    public struct Linux: ConfigItem, Hashable {
        /// The default protocol number: 201, unused by iproute2's `rt_protos` (name it with a line
        /// `201 tandem` in /etc/iproute2/rt_protos.d/tandem.conf).
        public static let defaultProtocol: UInt8 = 201
        /// The default table of the remote prefixes.
        public static let defaultTable: UInt32 = 200
        /// The default priority of the egress rules.
        public static let defaultRulePriority: UInt32 = 1000
        /// The default length of a TUN device's queues (the kernel's own default for TUN is 500).
        public static let defaultTunQueueLength = 2048
        /// The lengths `tun-queue-length` takes: a queue must hold a batch; the kernel takes up to 2^31 but each
        /// packet may be 64 KiB (offload packets).
        public static let tunQueueLengths = 16...65_536
        /// The default of `tun-queue-delay`. A failover under a flood loses what the queue holds into the failed path:
        /// with 10 ms x 3 probes, 2 ms kept every flood outage of the bench within its 50 ms, 5 ms (CoDel's target)
        /// not quite (docs/benchmarks.md, failover under a flood).
        public static let defaultTunQueueDelay = Duration.milliseconds(2)

        /// The `rtm_protocol` of everything Tandem installs: 5...255 (default 201).
        public var `protocol`: UInt8
        /// The table of the remote prefixes (default 200); the tunnels' tables follow it.
        public var table: UInt32
        /// The priority of the egress rules; the rule for `table` takes the next one (default 1000).
        public var rulePriority: UInt32
        /// Pipeline threads, one TUN queue each: 0 means one per core (default 0).
        public var queues: Int
        /// Packets each queue of a TUN device holds for its pipeline thread (the device's txqueuelen; default
        /// ``defaultTunQueueLength``). Longer absorbs the bursts that come while a thread waits for a core; shorter
        /// keeps the queueing delay low when the traffic is more than the threads forward (see docs/config.md).
        public var tunQueueLength: Int
        /// The delay a standing queue of the ingress device may hold (default ``defaultTunQueueDelay``): when a
        /// queue has not drained for 100 ms and the device overflows, the device's queues are cut to what the pipeline
        /// threads forward in this long, and get `tunQueueLength` back once they drain again without overflowing;
        /// zero keeps `tunQueueLength` always.
        public var tunQueueDelay: Duration
        /// Whether TUN devices use a vnet header with checksum and segmentation offloads (default true).
        public var offloads: Bool
        /// Whether routes, rules and nexthops stay in the kernel when Tandem stops (graceful restart; default false).
        public var keepRoutesOnExit: Bool
        /// Whether traffic for the remote prefixes may take other routes (the main table's default) while Tandem is
        /// not running after a crash (default false: fail closed; userspace mode keeps its TUN devices, and so their
        /// routes, while it runs, so a dead Tandem's traffic is dropped in them).
        public var failOpen: Bool
        public var location: SourceLocation
        public var keyLocations: [String: SourceLocation]

        /// Makes the section; defaults are those of the file format.
        public init(
            protocol: UInt8 = Linux.defaultProtocol, table: UInt32 = Linux.defaultTable,
            rulePriority: UInt32 = Linux.defaultRulePriority, queues: Int = 0,
            tunQueueLength: Int = Linux.defaultTunQueueLength, tunQueueDelay: Duration = Linux.defaultTunQueueDelay,
            offloads: Bool = true,
            keepRoutesOnExit: Bool = false, failOpen: Bool = false, location: SourceLocation = .unknown,
            keyLocations: [String: SourceLocation] = [:]
        ) {
            self.protocol = `protocol`
            self.table = table
            self.rulePriority = rulePriority
            self.queues = queues
            self.tunQueueLength = tunQueueLength
            self.tunQueueDelay = tunQueueDelay
            self.offloads = offloads
            self.keepRoutesOnExit = keepRoutesOnExit
            self.failOpen = failOpen
            self.location = location
            self.keyLocations = keyLocations
        }

        /// The table of tunnel number `index` (its place in the file's `tunnels`).
        public func table(ofTunnel index: Int) -> UInt32 { table + 1 + UInt32(index) }
    }
}
