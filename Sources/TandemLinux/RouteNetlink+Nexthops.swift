// Nexthop objects (Linux 5.3; resilient groups 5.13): next hops the kernel keeps apart from routes, which routes
// name by id (RTA_NH_ID). A failover then is one RTM_NEWNEXTHOP replacing a group's members, whatever the number
// of routes through the group, instead of one route message per route.

import CMnl
import TandemPacket

#if canImport(Glibc)
import Glibc
#endif

/// A nexthop object: an id, the protocol that owns it, and what it is.
public struct NexthopObject: Hashable, Sendable, CustomStringConvertible {
    /// A member of a group: a nexthop object's id and its share.
    public struct GroupMember: Hashable, Sendable {
        public var id: UInt32
        /// The member's share, 1...256 (the kernel keeps weight - 1 in a byte; other values are clamped).
        public var weight: UInt16

        public init(id: UInt32, weight: UInt16 = 1) {
            self.id = id
            self.weight = weight
        }
    }

    public enum Kind: Hashable, Sendable {
        /// Out of a device (NHA_OIF), through a gateway (NHA_GATEWAY) or to destinations on the link (nil).
        /// `family` is the object's (the gateway's) family: IPv4 objects serve IPv4 routes, IPv6 objects IPv6 ones.
        case device(UInt32, gateway: AnyIPAddress?, family: IPFamily)
        /// A group of other objects (NHA_GROUP), which must exist first. Without `resilientBuckets`, a hash-threshold
        /// group (NEXTHOP_GRP_TYPE_MPATH); with it, a resilient group (NEXTHOP_GRP_TYPE_RES, Linux 5.13) of that many
        /// hash buckets, which moves only the flows of a member that goes away. The bucket count is fixed at
        /// creation: a replace may change the members, not the buckets.
        case group([GroupMember], resilientBuckets: UInt16?)
        /// Drops the traffic (NHA_BLACKHOLE). The kernel hangs it on the loopback device, which must be up: in a new
        /// namespace, where `lo` starts down, adding one fails with ENETDOWN.
        case blackhole(family: IPFamily)
    }

    public var id: UInt32
    /// The nh_protocol that marks the object's owner, as rtm_protocol marks a route's.
    public var `protocol`: UInt8
    public var kind: Kind

    public init(id: UInt32, protocol: UInt8, kind: Kind) {
        self.id = id
        self.protocol = `protocol`
        self.kind = kind
    }

    /// As `ip nexthop` prints it, with device indexes: "id 1001 via 198.18.0.2 dev #3 proto 201",
    /// "id 1003 group 1001/1002,3 type resilient buckets 64 proto 201".
    public var description: String {
        let what: String
        switch kind {
        case .device(let device, let gateway, _):
            what = "\(gateway.map { "via \($0) " } ?? "")dev #\(device)"
        case .group(let members, let buckets):
            let list = members.map { $0.weight == 1 ? "\($0.id)" : "\($0.id),\($0.weight)" }.joined(separator: "/")
            what = "group \(list)\(buckets.map { " type resilient buckets \($0)" } ?? "")"
        case .blackhole:
            what = "blackhole"
        }
        return "id \(id) \(what) proto \(self.protocol)"
    }
}

/// One change to the nexthop objects.
public enum NexthopChange: Hashable, Sendable {
    /// Adds the object; with `replace`, replaces the object of the same id (its kind must stay: a device object
    /// stays a device object, a group a group of the same type and bucket count), and every route through it
    /// follows at once.
    case add(NexthopObject, replace: Bool)
    /// Deletes the object. The kernel also deletes the routes through it, and removes it from its groups.
    case delete(id: UInt32)

    /// "adding nexthop 1001".
    var operation: String {
        switch self {
        case .add(let object, let replace): "\(replace ? "replacing" : "adding") nexthop \(object.id)"
        case .delete(let id): "deleting nexthop \(id)"
        }
    }
}

extension RouteNetlink {
    /// Adds, replaces and deletes nexthop objects in batches (RTM_NEWNEXTHOP, RTM_DELNEXTHOP); returns the ones the
    /// kernel refused, each with its errno and operation ("adding nexthop 1001: File exists"). Changes go in order,
    /// and each stands alone: a group's members must come before the group, in this call or an earlier one.
    public func apply(nexthops changes: [NexthopChange]) throws(SystemError) -> [SystemError] {
        try refusals(applying: changes).map(\.error)
    }

    /// ``apply(nexthops:)``, each refusal with the position of its change in `changes`.
    public func refusals(applying changes: [NexthopChange]) throws(SystemError) -> [Refusal] {
        try performReportingIndices(
            count: changes.count, what: "nexthops", operation: { changes[$0].operation },
            write: { index, sequence, header in Self.put(changes[index], sequence: sequence, into: header) })
    }

    /// The nexthop objects (of one protocol, if given), from a dump (RTM_GETNEXTHOP with NLM_F_DUMP).
    public func nexthops(protocol proto: UInt8? = nil) throws(SystemError) -> [NexthopObject] {
        try dump(UInt16(RTM_GETNEXTHOP), family: AF_UNSPEC, headerSize: MemoryLayout<nhmsg>.size, what: "nexthops") {
            reply in
            guard reply.pointee.nlmsg_type == UInt16(RTM_NEWNEXTHOP), let object = Self.parseNexthop(reply),
                proto == nil || object.protocol == proto
            else { return nil }
            return object
        }
    }

    /// Writes one RTM_NEWNEXTHOP or RTM_DELNEXTHOP message, with an ACK requested.
    private static func put(_ change: NexthopChange, sequence: UInt32, into header: UnsafeMutablePointer<nlmsghdr>) {
        header.pointee.nlmsg_seq = sequence
        let message = mnl_nlmsg_put_extra_header(header, MemoryLayout<nhmsg>.size).assumingMemoryBound(to: nhmsg.self)
        switch change {
        case .delete(let id):
            header.pointee.nlmsg_type = UInt16(RTM_DELNEXTHOP)
            header.pointee.nlmsg_flags = UInt16(NLM_F_REQUEST | NLM_F_ACK)
            message.pointee.nh_family = UInt8(AF_UNSPEC)
            mnl_attr_put_u32(header, UInt16(NHA_ID), id)
        case .add(let object, let replace):
            header.pointee.nlmsg_type = UInt16(RTM_NEWNEXTHOP)
            header.pointee.nlmsg_flags = UInt16(
                NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | (replace ? NLM_F_REPLACE : NLM_F_EXCL))
            message.pointee.nh_protocol = object.protocol
            mnl_attr_put_u32(header, UInt16(NHA_ID), object.id)
            switch object.kind {
            case .device(let device, let gateway, let family):
                message.pointee.nh_family = family.addressFamily
                mnl_attr_put_u32(header, UInt16(NHA_OIF), device)
                if let gateway { putAddress(gateway, type: UInt16(NHA_GATEWAY), into: header) }
            case .group(let members, let buckets):
                // A group has no family of its own: its members have theirs.
                message.pointee.nh_family = UInt8(AF_UNSPEC)
                var entries = members.map { member in
                    nexthop_grp(id: member.id, weight: UInt8(clamping: Int(member.weight) - 1), resvd1: 0, resvd2: 0)
                }
                mnl_attr_put(header, UInt16(NHA_GROUP), MemoryLayout<nexthop_grp>.stride * entries.count, &entries)
                if let buckets {
                    mnl_attr_put_u16(header, UInt16(NHA_GROUP_TYPE), UInt16(NEXTHOP_GRP_TYPE_RES))
                    let nest = mnl_attr_nest_start(header, UInt16(NHA_RES_GROUP))
                    mnl_attr_put_u16(header, UInt16(NHA_RES_GROUP_BUCKETS), buckets)
                    mnl_attr_nest_end(header, nest)
                } else {
                    mnl_attr_put_u16(header, UInt16(NHA_GROUP_TYPE), UInt16(NEXTHOP_GRP_TYPE_MPATH))
                }
            case .blackhole(let family):
                message.pointee.nh_family = family.addressFamily
                mnl_attr_put(header, UInt16(NHA_BLACKHOLE), 0, nil)
            }
        }
    }

    /// Reads a nexthop message: id, protocol, and device and gateway, group, or blackhole. Nil for kinds Tandem does
    /// not make (FDB nexthops, encapsulations are read as their device), and for a malformed message (shorter than
    /// nhmsg, an id, device, gateway or group type of the wrong size, a group that is not whole entries).
    static func parseNexthop(_ header: UnsafePointer<nlmsghdr>) -> NexthopObject? {
        let view = NetlinkMessageView(header: header)
        guard let message = view.familyHeader(nhmsg.self) else { return nil }
        var id: UInt32?
        var device: UInt32?
        var gateway: AnyIPAddress?
        var blackhole = false
        var fdb = false
        var members: [NexthopObject.GroupMember]?
        var groupType = UInt16(NEXTHOP_GRP_TYPE_MPATH)
        var buckets: UInt16?
        var malformed = false
        view.forEachAttribute(headerSize: MemoryLayout<nhmsg>.size) { attribute in
            switch Int32(attribute.type) {
            case Int32(NHA_ID): id = attribute.u32.marking(&malformed)
            case Int32(NHA_OIF): device = attribute.u32.marking(&malformed)
            case Int32(NHA_GATEWAY): gateway = attribute.address.marking(&malformed)
            case Int32(NHA_BLACKHOLE): blackhole = true
            case Int32(NHA_FDB): fdb = true
            case Int32(NHA_GROUP_TYPE): groupType = attribute.u16.marking(&malformed) ?? groupType
            case Int32(NHA_GROUP): members = groupMembers(attribute).marking(&malformed)
            case Int32(NHA_RES_GROUP):
                attribute.forEachNested { inner in
                    if inner.type == UInt16(NHA_RES_GROUP_BUCKETS) { buckets = inner.u16.marking(&malformed) }
                }
            default: break
            }
        }
        guard let id, !fdb, !malformed else { return nil }
        let kind: NexthopObject.Kind
        if let members {
            kind = .group(members, resilientBuckets: groupType == UInt16(NEXTHOP_GRP_TYPE_RES) ? buckets ?? 0 : nil)
        } else {
            guard let family = IPFamily(addressFamily: message.nh_family) else { return nil }
            if blackhole {
                kind = .blackhole(family: family)
            } else {
                kind = .device(device ?? 0, gateway: gateway, family: family)
            }
        }
        return NexthopObject(id: id, protocol: message.nh_protocol, kind: kind)
    }

    /// The members of an NHA_GROUP attribute: an array of struct nexthop_grp; nil unless the payload is whole
    /// entries. The weight is weight - 1 on the wire, its low byte in `weight`; Linux 6.12 puts the high byte in
    /// the old `resvd1` (zero before).
    private static func groupMembers(_ attribute: NetlinkAttribute) -> [NexthopObject.GroupMember]? {
        let payload = attribute.payload
        let entrySize = MemoryLayout<nexthop_grp>.size
        guard payload.count % entrySize == 0 else { return nil }
        return (0..<payload.count / entrySize).map { index in
            let entry = payload.loadUnaligned(fromByteOffset: index * entrySize, as: nexthop_grp.self)
            let stored = Int(entry.resvd1) << 8 | Int(entry.weight)
            return NexthopObject.GroupMember(id: entry.id, weight: UInt16(clamping: stored + 1))
        }
    }
}

extension IPFamily {
    /// AF_INET or AF_INET6, as a netlink family header's byte.
    var addressFamily: UInt8 { UInt8(self == .ipv4 ? AF_INET : AF_INET6) }

    /// The family of an AF_INET or AF_INET6 byte; nil for another.
    init?(addressFamily: UInt8) {
        switch Int32(addressFamily) {
        case AF_INET: self = .ipv4
        case AF_INET6: self = .ipv6
        default: return nil
        }
    }
}
