// The replies to one dump request, told apart from whatever else is queued on the socket. A request that timed out
// (SO_RCVTIMEO) leaves its late answers in the queue: an ACK, an error, the rest of an earlier dump. Read as the
// next dump's replies, an old error would fail it and an old dump's routes would be taken for the current table.
// Only messages carrying this dump's sequence number and addressed to this socket's port are its replies.

import CMnl

#if canImport(Glibc)
import Glibc
#endif

/// Reads the datagrams of one dump's answer: its replies go to the caller, other requests' leftovers are skipped,
/// NLM_F_DUMP_INTR (the table changed while the kernel walked it, so the dump may miss or repeat entries) is noted.
struct NetlinkDumpReplies {
    /// The dump request's sequence number and the socket's port (the kernel's replies carry both).
    let sequence: UInt32
    let portID: UInt32
    /// Named in errors: "routes", "rules", "nexthops".
    let what: String
    /// NLMSG_DONE arrived: the dump is complete.
    private(set) var done = false
    /// A reply was flagged NLM_F_DUMP_INTR: the dump is not a consistent snapshot and must be asked again.
    private(set) var interrupted = false
    /// Messages of other requests skipped so far (late ACKs, an earlier dump's tail).
    private(set) var skipped = 0

    init(sequence: UInt32, portID: UInt32, what: String) {
        self.sequence = sequence
        self.portID = portID
        self.what = what
    }

    /// Reads one datagram: each of this dump's replies (not NLMSG_DONE, not NLMSG_ERROR) goes to `body`.
    ///
    /// - Throws: ``SystemError`` when the kernel answered this dump with an error (NLMSG_ERROR, or a negative code in
    ///   NLMSG_DONE's payload, which a dump that failed half way carries).
    mutating func read(
        _ datagram: UnsafeRawBufferPointer, _ body: (UnsafePointer<nlmsghdr>) -> Void
    ) throws(SystemError) {
        guard let start = datagram.baseAddress, !done else { return }
        var message = start.assumingMemoryBound(to: nlmsghdr.self)
        var remaining = Int32(clamping: datagram.count)
        while mnl_nlmsg_ok(message, remaining) {
            defer { message = UnsafePointer(mnl_nlmsg_next(message, &remaining)) }
            guard message.pointee.nlmsg_seq == sequence, message.pointee.nlmsg_pid == portID else {
                skipped += 1
                continue
            }
            if message.pointee.nlmsg_flags & UInt16(NLM_F_DUMP_INTR) != 0 { interrupted = true }
            let view = NetlinkMessageView(header: message)
            switch Int32(message.pointee.nlmsg_type) {
            case NLMSG_DONE:
                done = true
                if let code = view.errorCode, code < 0 {
                    throw SystemError(code: -code, operation: "dumping \(what)")
                }
                return
            case NLMSG_ERROR:
                // A dump's NLMSG_ERROR is its refusal (a code of 0 would be an ACK, which a dump does not ask for);
                // one too short to hold a code is refused as EPROTO.
                let code = view.errorCode ?? -EPROTO
                if code != 0 { throw SystemError(code: -code, operation: "dumping \(what)") }
            case NLMSG_NOOP, NLMSG_OVERRUN:
                continue
            default:
                body(message)
            }
        }
    }
}
