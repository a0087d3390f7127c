// Userspace mode: the ingress device's queue length under overload (IngressQueueGovernor.swift has the why). Every
// interval the control thread reads what the pipeline threads say of their queues and the device's drop counter, and
// makes the governor's change with one RTM_NEWLINK (IFLA_TXQLEN), which the kernel applies to every queue of the
// device: a shorter queue keeps the packets that were first in it and drops the rest, and from then on drops what
// comes when it is full.

import TandemLinux
import TandemRouting

extension Daemon {
    /// Looks at the ingress queues every ``IngressQueueGovernor/interval`` and changes their length when the
    /// governor says so.
    func governIngressQueue(now: UInt64) {
        guard var governor = ingressQueue, now >= nextIngressQueueLook, let forwarder, let ingress,
            let index = deviceIndices[ingress.name]
        else { return }
        nextIngressQueueLook = now &+ IngressQueueGovernor.interval
        // The drops say whether a cut queue still overflows; one small request (RTM_GETSTATS) per look.
        let dropped = try? netlink.statistics(ofLink: index).transmitDropped
        let decision = governor.observe(forwarder.queueReadings, dropped: dropped, at: now)
        ingressQueue = governor
        guard let decision else { return }
        let change = LinkChange(index: index, name: ingress.name, transmitQueueLength: UInt32(decision.length))
        do {
            if let failure = try netlink.apply([change]).first { throw failure }
        } catch {
            // The queues keep their length; the governor asks again at its next look (one warning while it fails).
            if !ingressQueueRefused {
                log.warning("ingress device \(ingress.name): setting its queue length to \(decision.length): \(error)")
            }
            ingressQueueRefused = true
            return
        }
        ingressQueueRefused = false
        ingressQueue?.applied(decision)
        switch decision {
        case .shorten(let length, let rate):
            log.event(
                "ingressQueueShortened",
                [
                    ("device", .string(ingress.name)), ("length", .number(Double(length))),
                    ("packetsPerSecond", .number(Double(rate))),
                    ("targetDelayMs", .number(config.linux.tunQueueDelay.milliseconds)),
                ])
        case .restore(let length):
            log.event("ingressQueueRestored", [("device", .string(ingress.name)), ("length", .number(Double(length)))])
        }
    }

    /// The governor of a userspace gateway's ingress device (``ingressQueue`` stays nil in kernel mode).
    func makeIngressQueueGovernor() -> IngressQueueGovernor {
        IngressQueueGovernor(
            configuredLength: config.linux.tunQueueLength,
            targetDelay: UInt64(config.linux.tunQueueDelay.totalNanoseconds))
    }
}
