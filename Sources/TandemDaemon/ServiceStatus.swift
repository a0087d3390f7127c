// The one line `systemctl status` shows under the unit (STATUS=): the mode, how many tunnels are up, how many remote
// routes Tandem steers, and the last failover. A value compared turn by turn; the text is made only when it changes.

/// What STATUS= says, as a value: two equal statuses make the same line.
struct ServiceStatus: Equatable {
    /// The last change of a connection's selected tunnel.
    struct Failover: Equatable {
        /// The local wall-clock time, "14:02:11".
        var time: String
        var connection: String
        var from: String
        var to: String
    }

    var mode: String
    var tunnelsUp: Int
    var tunnels: Int
    var routes: Int
    var lastFailover: Failover?
    /// Something the reader must know first ("reloading"), or nil.
    var note: String? = nil

    /// "userspace mode; tunnels 2/4 up; 12 routes; last failover 14:02:11 to-cloud a1 -> a2".
    var text: String {
        var parts = ["\(mode) mode", "tunnels \(tunnelsUp)/\(tunnels) up", "\(routes) route\(routes == 1 ? "" : "s")"]
        if let failover = lastFailover {
            parts.append("last failover \(failover.time) \(failover.connection) \(failover.from) -> \(failover.to)")
        }
        if let note { parts.insert(note, at: 0) }
        return parts.joined(separator: "; ")
    }
}
