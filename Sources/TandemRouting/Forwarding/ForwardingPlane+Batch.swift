// Batch decisions: the way the pipeline asks. A destination lookup is a cache miss into a 32 MiB array; one at
// a time, each packet's miss waits for the previous packet's work to retire. Looking up a whole batch first
// (TandemLPM's batch API keeps several misses in flight) and only then following chains, groups and policies
// makes the misses overlap.

import Synchronization
import TandemLPM
import TandemPacket

/// What a forwarding decision needs from one packet.
public struct PacketKey<Address: IPAddress>: Hashable, Sendable {
    public var destination: Address
    public var source: Address
    public var `protocol`: UInt8
    /// 0 for protocols without ports.
    public var destinationPort: UInt16
    /// The packet's flow hash (``FlowHasher``).
    public var flowHash: UInt32

    @inlinable
    public init(destination: Address, source: Address, protocol: UInt8, destinationPort: UInt16, flowHash: UInt32) {
        self.destination = destination
        self.source = source
        self.protocol = `protocol`
        self.destinationPort = destinationPort
        self.flowHash = flowHash
    }
}

extension ForwardingPlane {
    /// How many destinations one LPM batch looks up (the scratch buffers live on the stack).
    @usableFromInline static var lookupBatch: Int { 64 }

    /// Decides a batch of IPv4 packets: `decisions[i]` for `packets[i]`, as
    /// ``decide(ipv4:source:protocol:destinationPort:flowHash:)`` would.
    /// - Precondition: `decisions.count >= packets.count`.
    @inlinable
    public func decide(
        ipv4 packets: UnsafeBufferPointer<PacketKey<IPv4Address>>,
        into decisions: UnsafeMutableBufferPointer<ForwardingDecision>
    ) {
        decide(packets, table: ipv4, policy: policyV4.load(ordering: .acquiring), into: decisions)
    }

    /// Decides a batch of IPv6 packets: `decisions[i]` for `packets[i]`, as
    /// ``decide(ipv6:source:protocol:destinationPort:flowHash:)`` would.
    /// - Precondition: `decisions.count >= packets.count`.
    @inlinable
    public func decide(
        ipv6 packets: UnsafeBufferPointer<PacketKey<IPv6Address>>,
        into decisions: UnsafeMutableBufferPointer<ForwardingDecision>
    ) {
        decide(packets, table: ipv6, policy: policyV6.load(ordering: .acquiring), into: decisions)
    }

    /// Both families: LPM lookups a chunk at a time, then policies, chains, groups and tunnels per packet.
    @inlinable
    func decide<Table: LPMTable>(
        _ packets: UnsafeBufferPointer<PacketKey<Table.Address>>, table: Table,
        policy: Unmanaged<PolicyClassifier<Table.Address.RawValue>>?,
        into decisions: UnsafeMutableBufferPointer<ForwardingDecision>
    ) {
        precondition(decisions.count >= packets.count)
        withUnsafeTemporaryAllocation(of: Table.Address.self, capacity: Self.lookupBatch) { addresses in
            withUnsafeTemporaryAllocation(of: UInt32.self, capacity: Self.lookupBatch) { chains in
                var start = 0
                while start < packets.count {
                    let count = min(Self.lookupBatch, packets.count &- start)
                    for i in 0..<count { addresses[i] = packets[start &+ i].destination }
                    table.lookup(
                        UnsafeBufferPointer(rebasing: addresses[0..<count]),
                        into: UnsafeMutableBufferPointer(rebasing: chains[0..<count]))
                    for i in 0..<count {
                        let packet = packets[start &+ i]
                        let decision = policyDecision(
                            policy, source: packet.source.rawValue, destination: packet.destination.rawValue,
                            protocol: packet.protocol, destinationPort: packet.destinationPort,
                            flowHash: packet.flowHash)
                        let chain = chains[i]
                        decisions[start &+ i] =
                            decision ?? decide(chain: chain == Table.noMatch ? nil : chain, flowHash: packet.flowHash)
                    }
                    start &+= count
                }
            }
        }
    }
}
