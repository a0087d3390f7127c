// Two gateways in one network namespace must never take each other's kernel state for their own. What a gateway
// owns is its protocol, tables and rule priorities together (KernelPlan.owns), so each of those is a lock: an
// abstract unix socket per ingress device, per table, per rule priority and (kernel mode, whose nexthop ids are
// fixed) one for nexthops. A second instance that would share any of them refuses to start and names the first.

import TandemLinux

#if canImport(Glibc)
import Glibc
#endif

extension Daemon {
    /// The locks this configuration needs, each with what it protects.
    var lockNames: [(name: String, what: String)] {
        var names = [("tandem-ingress-\(config.gateway.ingress)", "ingress device \(config.gateway.ingress)")]
        for table in gateway.state.plan.tables { names.append(("tandem-table-\(table)", "table \(table)")) }
        for priority in gateway.state.plan.rulePriorities {
            names.append(
                ("tandem-rules-\(config.linux.protocol)-\(priority)",
                 "rule priority \(priority) with protocol \(config.linux.protocol)"))
        }
        if config.gateway.mode == .kernel { names.append(("tandem-nexthops", "kernel mode's nexthop objects")) }
        return names
    }

    /// Takes every lock, or none: the first one taken by another process stops the start with its name.
    func takeLocks() throws(DaemonError) {
        var taken: [InstanceLock] = []
        for (name, what) in lockNames {
            do {
                taken.append(try InstanceLock(name: name))
            } catch where error.code == EADDRINUSE {
                let holder = InstanceLock.holder(of: name).map { " (\($0))" } ?? ""
                throw DaemonError(
                    "another tandem run\(holder) owns \(what) in this network namespace; stop it first, or give this "
                        + "gateway its own gateway.ingress, linux.table and linux.rule-priority")
            } catch {
                throw DaemonError("\(error)")
            }
        }
        locks = taken
    }
}
