// Fuzz target 11: probe answers, as a probe socket reads them (`ProbeSocket.answer`: ICMP echo replies with the IPv4
// header a raw socket gives, ICMPv6 echo replies, UDP echo datagrams) and as the health checks take them
// (`ProbeLedger.take`). Both are internal: `@testable import`.
//
// Input: one byte choosing the socket's kind and family, then the datagram. Checks: nothing is read past the
// datagram (ASan, on a copy of exactly its size); a token is found only where an echo answer carries one; and an
// answer is taken only if it is exactly the token of a probe in flight: a forged answer (everything the fuzzer
// makes) passes only by equalling one of the tokens the ledger drew, nonce included.

import FuzzSupport
import TandemPacket

@testable import TandemDaemon
@testable import TandemLinux

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    let choice = input.byte()
    let family: IPFamily = choice & 1 == 0 ? .ipv4 : .ipv6
    let kind: ProbeSocket.Kind = choice & 2 == 0 ? .icmpEcho(identifier: 0x0707) : .udpEcho(port: 7)
    let rest = input.takeRest()
    let copy = UnsafeMutableRawBufferPointer.allocate(byteCount: rest.count, alignment: 8)
    defer { copy.deallocate() }
    copy.copyMemory(from: rest)
    let datagram = UnsafeRawBufferPointer(copy)

    guard let token = ProbeSocket.answer(in: datagram, kind: kind, family: family) else { return 0 }
    checkWhereTheTokenIs(token, in: datagram, kind: kind, family: family)

    // Three probes in flight on tunnel 1 (the fuzzer's token names a tunnel of its choosing).
    var ledger = ProbeLedger(tunnel: 1)
    let issued = Set((0..<3).map { ledger.next(now: UInt64($0)) })
    // All in time (arrived at 3, timeout 10): only a forged token is refused.
    if ledger.take(token, arrived: 3, timeout: 10) != nil {
        fuzzCheck(issued.contains(token), "a forged answer \(token) was taken")
    }
    return 0
}

/// The token is the 16 bytes after the echo header (after the IPv4 header for ICMP over IPv4), behind the magic.
private func checkWhereTheTokenIs(
    _ token: ProbeToken, in datagram: UnsafeRawBufferPointer, kind: ProbeSocket.Kind, family: IPFamily
) {
    var offset = 0
    if case .icmpEcho = kind {
        if family == .ipv4 { offset = Int(datagram[0] & 0x0F) * 4 }
        fuzzCheck(datagram[offset] == (family == .ipv4 ? 0 : 129), "not an echo reply")
        offset += 8
    }
    fuzzCheck(datagram.count >= offset + 16, "a token past the end")
    let words = (0..<4).map { datagram.loadUnaligned(fromByteOffset: offset + $0 * 4, as: UInt32.self).bigEndian }
    fuzzCheck(words == [0x544E_4450, token.tunnel, token.sequence, token.nonce], "the token is not where it was read")
}
