// The BIRD 2 configuration of a gateway file (`tandem bird-config`): one BGP session per BGP tunnel over its inside
// /30, the rules the gateway's BGP side keeps (no default route accepted, the dynamic-route quota, only the
// gateway's own prefixes advertised, never one connection's routes to another), and a kernel protocol that puts
// what BGP learns where Tandem learns it. Pure: text in, text out, so it is tested without BIRD; docs/run.md
// ("Running with BIRD") explains each part to the person who runs it.

import TandemPacket

extension GatewayConfig {
    /// The BIRD 2 configuration that runs this gateway's BGP sessions.
    ///
    /// IPv6 (an `ipv6` channel with `extended next hop` on each session, the IPv6 kernel and static protocols) is
    /// written only when the file has IPv6 prefixes (advertised, routes or policy routes): the sessions run over
    /// the IPv4 inside /30s, and a peer without extended next hops would refuse an IPv6 channel.
    ///
    /// - Parameter file: The configuration file's name, for the first line and the diagnostics.
    /// - Returns: The configuration text, ending with a newline.
    /// - Throws: ``ConfigErrors`` when the file cannot give a working BIRD configuration: no BGP tunnel, no
    ///   `learning` section or one that does not learn BIRD's routes (protocol 12), an interface name BIRD cannot
    ///   quote.
    public func birdConfiguration(file: String) throws(ConfigErrors) -> String {
        try checkForBird(file: file)
        return BirdConfigurationWriter(config: self, file: file).text
    }

    /// What makes a BIRD configuration useless or impossible, all at once.
    func checkForBird(file: String) throws(ConfigErrors) {
        var problems: [ConfigDiagnostic] = []
        let bgpTunnels = tunnels.filter { $0.bgp != nil }
        if bgpTunnels.isEmpty {
            let place = tunnels.first?.location(of: "routing") ?? SourceLocation(file: file, line: 0, column: 0)
            problems.append(
                place.diagnostic(
                    .error,
                    "no tunnel uses BGP, so there is no BGP session to configure; add 'routing: bgp' and a 'bgp' "
                        + "block (inside-cidr, peer-asn) to the tunnels that run BGP"))
        }
        if let learning {
            if !learning.protocols.contains(BirdConfigurationWriter.birdProtocol) {
                let names = learning.protocols.map(Learning.protocolName).joined(separator: ", ")
                problems.append(
                    learning.location(of: "protocols").diagnostic(
                        .error,
                        "'protocols' (\(names)) does not include bird (12), the protocol BIRD marks its kernel routes "
                            + "with, so Tandem would not learn what BIRD learns; add bird to 'protocols'"))
            }
        } else {
            problems.append(
                SourceLocation(file: file, line: 0, column: 0).diagnostic(
                    .error,
                    "there is no 'learning' section, so Tandem would not learn the routes BIRD installs; add "
                        + "'learning:' (defaults: table 254, protocols bird and bgp)"))
        }
        for tunnel in bgpTunnels {
            guard let interface = tunnel.interface, interface.contains("\"") else { continue }
            problems.append(
                tunnel.location(of: "interface").diagnostic(
                    .error,
                    "interface '\(interface)' of tunnel '\(tunnel.name)' contains '\"', which a BIRD configuration "
                        + "cannot quote; rename the interface"))
        }
        if !problems.isEmpty { throw ConfigErrors(problems) }
    }
}

/// Writes the text; the configuration has been checked (``GatewayConfig/checkForBird(file:)``).
struct BirdConfigurationWriter {
    /// `RTPROT_BIRD`: BIRD's kernel protocol marks the routes it writes with it.
    static let birdProtocol: UInt8 = 12

    let config: GatewayConfig
    let file: String
    /// The tunnels with a BGP session, in file order, with their BIRD protocol names.
    let sessions: [(tunnel: GatewayConfig.Tunnel, bgp: GatewayConfig.BGP, name: String)]
    /// Whether IPv6 is written: the file has IPv6 prefixes somewhere.
    let usesIPv6: Bool

    init(config: GatewayConfig, file: String) {
        self.config = config
        self.file = file
        let tunnels = config.tunnels.compactMap { tunnel in tunnel.bgp.map { (tunnel: tunnel, bgp: $0) } }
        let names = BirdIdentifiers.protocolNames(forTunnels: tunnels.map(\.tunnel.name))
        sessions = zip(tunnels, names).map { ($0.tunnel, $0.bgp, $1) }
        usesIPv6 =
            config.advertise.contains { $0.prefix.family == .ipv6 }
            || config.routes.contains { $0.prefix.family == .ipv6 }
            || config.policyRoutes.contains { $0.destination.family == .ipv6 }
    }

    /// The families written, IPv4 always.
    var families: [IPFamily] { usesIPv6 ? [.ipv4, .ipv6] : [.ipv4] }

    var text: String {
        var parts = [header, routerID, advertisedSets, device]
        parts += families.compactMap(staticProtocol)
        parts += families.map(kernelProtocol)
        parts.append(importFilter)
        parts += families.map(exportFilter)
        if sessions.contains(where: { $0.bgp.bfd }) { parts.append(bfdProtocol) }
        parts.append(sessionsComment)
        parts += sessions.map { bgpProtocol(tunnel: $0.tunnel, bgp: $0.bgp, name: $0.name) }
        return parts.filter { !$0.isEmpty }.joined(separator: "\n\n") + "\n"
    }

    // MARK: parts

    var header: String {
        let learning = config.learning ?? GatewayConfig.Learning()
        let count = sessions.count == 1 ? "1 BGP session" : "\(sessions.count) BGP sessions"
        let asn = sessions.first.map { " (local ASN \($0.bgp.localASN))" } ?? ""
        // A line break in the file's name would end the comment and put the rest of the name into the configuration.
        let file = String(self.file.map { $0.isNewline ? " " : $0 })
        return """
            # Written by tandem bird-config from \(file); do not edit it by hand: change \(file) and run tandem bird-config again.
            #
            # BIRD 2 configuration of gateway \(config.gateway.name): \(count)\(asn), \(usesIPv6 ? "IPv4 and IPv6" : "IPv4").
            # Learned routes go to kernel table \(learning.table) as proto bird (12), where Tandem learns them ('learning').
            """
    }

    /// Tandem's end of the first session: an address of the gateway's own, unique among its peers.
    var routerID: String {
        guard let first = sessions.first else { return "" }
        return """
            # Tandem's end of the first BGP session (tunnel \(first.tunnel.name)).
            router id \(first.bgp.localAddress);
            """
    }

    var advertisedSets: String {
        let sets = families.compactMap { family -> String? in
            let prefixes = config.advertised(family)
            guard !prefixes.isEmpty else { return nil }
            return "define \(Self.advertiseSet(family)) = [ \(prefixes.map(\.description).joined(separator: ", ")) ];"
        }
        guard !sets.isEmpty else {
            return "# The file advertises no prefix ('advertise'): the sessions announce nothing."
        }
        return (["# The prefixes the gateway announces as its own ('advertise')."] + sets).joined(separator: "\n")
    }

    var device: String {
        """
        # Interfaces and their addresses: the sessions run over the inside /30s of the tunnels' interfaces. No
        # 'protocol direct': the inside /30s are the kernel's connected routes and are never announced.
        protocol device tandem_device {
        }
        """
    }

    /// Originates the advertised prefixes of a family in BIRD's own table, so BGP can export them.
    func staticProtocol(_ family: IPFamily) -> String? {
        let prefixes = config.advertised(family)
        guard !prefixes.isEmpty else { return nil }
        let routes = prefixes.map { "  route \($0) unreachable;" }.joined(separator: "\n")
        return """
            # The advertised \(family) prefixes in BIRD's table, to be exported over BGP. The kernel protocols export BGP
            # routes only, so these never reach the kernel and drop no traffic.
            protocol static \(Self.staticName(family)) {
              \(Self.channel(family));
            \(routes)
            }
            """
    }

    /// BGP-learned routes into the table Tandem learns from; multipath routes merged (ECMP over the connections).
    ///
    /// IPv6 differs: the sessions run over the IPv4 inside /30s, so IPv6 routes come with IPv4 next hops (extended
    /// next hop), and Linux installs no IPv6 route through an IPv4 gateway, nor an IPv6 multipath route of devices
    /// alone. Each IPv6 route is written as a route out of the interface of the session BIRD prefers (`ifname =
    /// ifname` drops the gateway), which Tandem maps to that tunnel; no merging, so no IPv6 ECMP over the sessions.
    func kernelProtocol(_ family: IPFamily) -> String {
        let table = (config.learning ?? GatewayConfig.Learning()).table
        guard family == .ipv6 else {
            return """
                # IPv4 routes learned over BGP into kernel table \(table), as proto bird, equal paths of several sessions
                # merged into one multipath route (ECMP). Nothing is read back from the kernel.
                protocol kernel \(Self.kernelName(family)) {
                  kernel table \(table);
                  merge paths yes;
                  learn off;
                  ipv4 {
                    import none;
                    export where source = RTS_BGP;
                  };
                }
                """
        }
        return """
            # IPv6 routes learned over BGP into kernel table \(table), as proto bird. Their next hops are IPv4 (the sessions
            # run over the inside /30s), which Linux cannot install, nor a multipath IPv6 route of devices alone: each
            # route goes out of the interface of the session BIRD prefers, which Tandem maps to that tunnel (so no IPv6
            # ECMP over the sessions). Nothing is read back from the kernel.
            protocol kernel \(Self.kernelName(family)) {
              kernel table \(table);
              learn off;
              ipv6 {
                import none;
                export filter {
                  if source != RTS_BGP then reject;
                  ifname = ifname;
                  accept;
                };
              };
            }
            """
    }

    var importFilter: String {
        """
        # Routes from a peer: never a default route (0.0.0.0/0 or ::/0).
        filter tandem_import {
          if net.len = 0 then reject;
          accept;
        }
        """
    }

    /// Routes to a peer: the advertised prefixes, from the static protocol that originates them, nothing else.
    func exportFilter(_ family: IPFamily) -> String {
        guard !config.advertised(family).isEmpty else { return "" }
        return """
            # \(family) routes to a peer: only the advertised prefixes, as \(Self.staticName(family)) originates them; never a
            # route learned over BGP (that would announce one connection's routes to another).
            filter \(Self.exportFilterName(family)) {
              if source = RTS_BGP then reject;
              if proto != "\(Self.staticName(family))" then reject;
              if net ~ \(Self.advertiseSet(family)) then accept;
              reject;
            }
            """
    }

    var bfdProtocol: String {
        """
        # BFD for the sessions with 'bfd: true' (BIRD's default timers).
        protocol bfd tandem_bfd {
        }
        """
    }

    var sessionsComment: String {
        let quota = config.limits.dynamicRoutes
        guard quota > 0 else {
            return "# One session per BGP tunnel. limits.dynamic-routes is 0: nothing is imported."
        }
        return """
            # One session per BGP tunnel. Each imports at most \(quota) routes per family (limits.dynamic-routes); past that
            # BIRD drops further routes and keeps the session up (action block), so one peer announcing too much does not
            # take down its connection's routes; Tandem enforces the quota over all sessions together.
            """
    }

    func bgpProtocol(tunnel: GatewayConfig.Tunnel, bgp: GatewayConfig.BGP, name: String) -> String {
        let connection = config.connections.first { $0.tunnels.contains(tunnel.name) }
        var lines = [
            "# Tunnel \(tunnel.name)" + (connection.map { " (connection \($0.name))" } ?? "")
                + ", inside \(bgp.insideCIDR).",
            "protocol bgp \(name) {",
            "  description \"tunnel \(tunnel.name)\";",
            "  local \(bgp.localAddress) as \(bgp.localASN);",
            "  neighbor \(bgp.peerAddress) as \(bgp.peerASN);",
        ]
        if let interface = tunnel.interface { lines.append("  interface \"\(interface)\";") }
        if bgp.bfd { lines.append("  bfd on;") }
        for family in families {
            lines.append("  \(Self.channel(family)) {")
            if family == .ipv6 { lines.append("    extended next hop on;") }
            if config.limits.dynamicRoutes == 0 {
                lines.append("    import none;")
            } else {
                lines.append("    import filter tandem_import;")
                lines.append("    import limit \(config.limits.dynamicRoutes) action block;")
            }
            if config.advertised(family).isEmpty {
                lines.append("    export none;")
            } else {
                lines.append("    export filter \(Self.exportFilterName(family));")
            }
            lines.append("  };")
        }
        lines.append("}")
        return lines.joined(separator: "\n")
    }

    // MARK: names

    static func channel(_ family: IPFamily) -> String { family == .ipv4 ? "ipv4" : "ipv6" }
    static func suffix(_ family: IPFamily) -> String { family == .ipv4 ? "4" : "6" }
    static func advertiseSet(_ family: IPFamily) -> String { "TANDEM_ADVERTISE" + suffix(family) }
    static func staticName(_ family: IPFamily) -> String { "tandem_advertise" + suffix(family) }
    static func kernelName(_ family: IPFamily) -> String { "tandem_kernel" + suffix(family) }
    static func exportFilterName(_ family: IPFamily) -> String { "tandem_export" + suffix(family) }
}
