// Kernel mode at parity, or refused: what `gateway.mode: kernel` cannot honour is an error at the key, never
// dropped in silence. The kernel's multipath hash is not symmetric; its seed (net.ipv4.fib_multipath_hash_seed,
// Linux 6.11 on) is a u32; FIB rules match a policy's source, destination, protocol and destination ports, but not
// "traffic to the remote prefixes" (how userspace mode applies a policy route to a default destination); and each
// policy route set needs a table of its own after the tunnel tables.

extension ConfigLoader {
    /// The kernel-mode rules; nothing to check in userspace mode.
    func checkKernelModeParity() {
        guard let gateway, gateway.mode == .kernel else { return }
        let mode = " (gateway.mode: kernel, line \(gateway.location(of: "mode").line))"
        if let ecmp {
            if ecmp.symmetric {
                reporter.error(
                    ecmp.location(of: "symmetric"),
                    "'symmetric: true' cannot be honoured in kernel mode\(mode): the kernel's multipath hash is not "
                        + "symmetric, so the two directions of a flow could take different tunnels; remove "
                        + "'symmetric', or use mode: userspace")
            }
            if ecmp.seed > UInt64(UInt32.max) {
                reporter.error(
                    ecmp.location(of: "seed"),
                    "'seed' \(ecmp.seed) does not fit the kernel's hash seed\(mode), a 32-bit number "
                        + "(net.ipv4.fib_multipath_hash_seed); use at most 4294967295 (0xffffffff)")
            } else if ecmp.seed != 0 && !kernel.multipathHashSeed {
                reporter.error(
                    ecmp.location(of: "seed"),
                    "'seed' cannot be honoured in kernel mode\(mode) on this kernel: it has no "
                        + "net.ipv4.fib_multipath_hash_seed (Linux 6.11 and later have it); remove 'seed' (the kernel "
                        + "then hashes with a random seed of its own), or run Linux 6.11 or later")
            }
        }
        for route in policyRoutes where route.destination.isDefault {
            reporter.error(
                route.location(of: "destination"),
                "policy route \(route.match): a default-route destination cannot be honoured in kernel mode\(mode): "
                    + "userspace mode applies it to the traffic to the remote prefixes only, which a kernel rule "
                    + "cannot select (it would take all traffic from \(route.source), the site's own included); "
                    + "write one policy route per remote prefix as 'destination', or use mode: userspace")
        }
        checkPolicyTables()
    }

    /// Each policy route set's table (after the tunnel tables) must stay at most 252 and off the learning table.
    private func checkPolicyTables() {
        guard let linux else { return }
        let sets = Set(policyRoutes.map { PolicySetKey(match: $0.match, priority: $0.priority) }).count
        guard sets > 0 else { return }
        let last = linux.table(ofPolicySet: sets - 1, tunnels: tunnels.count)
        if last > 252 {
            reporter.error(
                linux.location(of: "table"),
                "'table' \(linux.table) leaves no room for the \(tunnels.count) tunnel tables and the \(sets) policy "
                    + "route set tables after it in kernel mode (tables up to 252); use at most "
                    + "\(Int(linux.table) - Int(last - 252))")
        }
        if let learning {
            let first = linux.table(ofPolicySet: 0, tunnels: tunnels.count)
            if (first...max(first, last)).contains(learning.table) {
                reporter.error(
                    learning.location(of: "table"),
                    "'table' \(learning.table) is one of Tandem's policy route set tables in kernel mode (\(first) to "
                        + "\(last)); Tandem would learn its own routes. Watch another table (254 is main), or move "
                        + "'table' in 'linux'")
            }
        }
    }
}

/// A policy route set's identity: its match and priority.
private struct PolicySetKey: Hashable {
    var match: GatewayConfig.PolicyRoute.Match
    var priority: Int
}
