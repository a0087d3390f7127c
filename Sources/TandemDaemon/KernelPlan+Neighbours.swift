// The neighbour entries Tandem keeps in the kernel: each tunnel's next hops, managed, so that the kernel keeps them
// resolved while the tunnel is a standby that no traffic uses. A failover then sends its first packet at once, where
// an idle next hop would make it wait for neighbour discovery, and for RetransTimer (1 s) more if the solicitation
// or its answer was lost (RouteNetlink+Neighbours.swift). Probes keep an IPv4 next hop resolved when the peer is
// the next hop itself, but nothing keeps an IPv6 one: no probe goes there.

import TandemLinux
import TandemPacket

extension KernelPlan {
    /// Each tunnel's next hops on its interface (a tunnel on a point-to-point device has none).
    ///
    /// - Parameter interfaceIndex: The index of each `interface` that exists.
    func nextHopNeighbours(interfaceIndex: [String: UInt32]) -> [NeighbourEntry.Key] {
        var keys: [NeighbourEntry.Key] = []
        for tunnel in config.tunnels {
            guard let interface = tunnel.interface, let index = interfaceIndex[interface] else { continue }
            let hops: [AnyIPAddress] = [tunnel.nextHopIPv4.map { .v4($0) }, tunnel.nextHopIPv6.map { .v6($0) }]
                .compactMap { $0 }
            for hop in hops {
                let key = NeighbourEntry.Key(address: hop, interfaceIndex: index)
                if !keys.contains(key) { keys.append(key) }
            }
        }
        return keys
    }

    /// The changes that make the kernel's entries what `wanted` asks: each wanted entry managed and marked with
    /// Tandem's protocol, and Tandem's managed entries that no tunnel wants any more deleted. An entry the operator
    /// fixed (`nud permanent`, `noarp`) is left as it is: it needs no resolving, and making it managed would make it
    /// dynamic.
    func neighbourChanges(wanted: [NeighbourEntry.Key], present: [NeighbourEntry]) -> [NeighbourChange] {
        let byKey = Dictionary(present.map { ($0.key, $0) }, uniquingKeysWith: { first, _ in first })
        var changes: [NeighbourChange] = []
        for key in wanted {
            if let entry = byKey[key], entry.isStatic || (entry.managed && entry.protocol == marker) { continue }
            changes.append(.keepResolved(key, protocol: marker))
        }
        let keep = Set(wanted)
        for entry in present where entry.managed && entry.protocol == marker && !keep.contains(entry.key) {
            changes.append(.delete(entry.key))
        }
        return changes
    }
}
