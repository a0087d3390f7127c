// Route hygiene: the gateway this models has the rule "destination CIDR blocks of different connections cannot
// overlap". For the file's own routes check-config enforces it (destination mode); a learned route comes from the
// customer's BGP and cannot be refused for it, so it is kept, ranked by the usual rules (longest prefix, then
// specific > system > static > dynamic), and reported once: a log line, an event, a counter, and a mark in `show
// routes`, "may not take effect". What counts as an overlap: a learned prefix and a configured route (static,
// specific, system, derived system) of another connection, one inside the other. Learned prefixes among themselves
// are BGP's business (a more specific route through another connection is how BGP steers traffic), and a prefix
// learned through several connections is ECMP, not an overlap.

import TandemConfig
import TandemJSON
import TandemPacket
import TandemRouting

extension Gateway {
    /// What a learned prefix overlaps among the configured routes of connections it was not learned through, as
    /// "static 198.19.0.0/16 of connection c1"; nil if nothing.
    func overlap(of prefix: RoutePrefix) -> String? {
        // The configured routes are a few hundred at most (a full table is learned, never written): a scan of them
        // per new learned prefix costs less than the hash lookups that learning it took.
        let routes = router.configuration.routes
        guard routes.contains(where: { $0.prefix.family == prefix.family && $0.prefix.overlaps(prefix) }),
            let paths = state.learned[prefix]
        else { return nil }
        let connections = Set(paths.tunnels.compactMap { state.connection(ofTunnel: $0) })
        let overlapping = routes.filter { route in
            route.prefix.family == prefix.family && !connections.contains(route.connection) && route.prefix.overlaps(prefix)
        }
        guard !overlapping.isEmpty else { return nil }
        let shown = overlapping.prefix(3).map { "\($0.source) \($0.prefix) of connection \(router.name(of: $0.connection))" }
        return shown.joined(separator: ", ") + (overlapping.count > 3 ? " and \(overlapping.count - 3) more" : "")
    }

    /// Records whether a prefix just learned overlaps another connection's route, and reports it the first time.
    func noteOverlaps(of prefix: RoutePrefix) {
        guard let what = overlap(of: prefix) else {
            if !state.overlaps.isEmpty { state.overlaps[prefix] = nil }
            return
        }
        guard state.overlaps.updateValue(what, forKey: prefix) == nil else { return }
        overlapsReported += 1
        let tunnels = state.learned[prefix]?.description ?? ""
        log.warning(
            "learned route \(prefix) via tunnel \(tunnels) overlaps \(what): one of them may not take effect (the "
                + "longest prefix wins, then specific > system > static > dynamic); destination CIDR blocks of "
                + "different connections should not overlap")
        log.event(
            "learnedRouteOverlaps",
            [("prefix", .string(prefix.description)), ("tunnels", .string(tunnels)), ("overlaps", .string(what))])
    }

    /// After a reload: the overlaps against the new file's routes (new ones reported, gone ones cleared).
    func recheckOverlaps() {
        for prefix in Array(state.overlaps.keys) where overlap(of: prefix) == nil { state.overlaps[prefix] = nil }
        guard !router.configuration.routes.isEmpty else { return }
        for prefix in state.learned.keys { noteOverlaps(of: prefix) }
    }
}

extension RoutePrefix {
    /// Whether one of the two prefixes holds the other (CIDR blocks either nest or are apart).
    func overlaps(_ other: RoutePrefix) -> Bool { contains(other) || other.contains(self) }
}
