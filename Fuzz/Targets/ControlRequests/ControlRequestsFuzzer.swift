// Fuzz target 7: control requests and their answers, as the control socket serves them: the bytes a client sends,
// `ControlServer.requestStatus` finding the line, `ControlServer.answer` reading it (`ControlRequest(line:)`) and
// answering it from a small gateway's view (`GatewayView.answer`: show routes, groups, connections, tunnels,
// counters, status; lookup). The server's and the view's functions are internal: `@testable import`.
//
// A request that reads must write itself back as the same request (`line`); one that does not gets one error
// line. An answer ends with a newline, and a JSON answer is one valid JSON document.

import Foundation
import FuzzSupport
import TandemConfig
import TandemControl
import TandemLinux
import TandemRouting

@testable import TandemDaemon

/// A gateway with a pair of tunnels, a backup, ECMP, a specific route and a policy route: something to show.
/// (`nonisolated(unsafe)`: libFuzzer calls the target from one thread.)
nonisolated(unsafe) private let view: GatewayView = {
    let yaml = """
        gateway: {name: gw, ingress: tnd-in}
        tunnels:
          - {name: a1, device: tnd-a1, interface: gw-a, zone: z1, peer: 198.18.1.2}
          - {name: a2, device: tnd-a2, interface: gw-b, zone: z2, peer: 198.18.2.2}
          - {name: b1, device: tnd-b1, zone: z1, peer: 198.18.3.2}
        connections:
          - {name: to-cloud, tunnels: [a1, a2]}
          - {name: backup, tunnels: [b1]}
        routes:
          - {prefix: 198.19.0.0/16, connection: to-cloud}
          - {prefix: 198.19.0.0/16, connection: backup, metric: 10}
          - {prefix: 198.19.5.0/24, connection: backup, source: specific}
          - {prefix: 2001:db8:100::/48, connection: to-cloud}
          - {prefix: 2001:db8:100::/48, connection: backup}
        policy-routes:
          - {source: 198.18.0.0/24, destination: 198.20.0.0/24, protocol: tcp, destination-ports: 443, priority: 2, connection: backup}
        """
    do {
        let config = try GatewayConfig.parse(yaml: yaml, file: "gw.yaml")
        var capacity = ForwardingPlane.Capacity()
        capacity.chains = 1 << 8
        capacity.groups = 1 << 4
        capacity.connections = 1 << 4
        let (router, controller) = try config.makeRouter(capacity: capacity, at: MonotonicInstant(nanoseconds: 0))
        return GatewayView(
            config: config, router: router, controller: controller, probes: { _ in ProbeStatistics() },
            counters: nil)
    } catch {
        fatalError("the fuzz gateway does not build: \(error)")
    }
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = FuzzInput(data, size)
    let bytes = Array(input.bytes)
    let length: Int
    switch ControlServer.requestStatus(bytes) {
    case .incomplete:
        fuzzCheck(!bytes.contains(10), "a request with a newline is incomplete")
        return 0
    case .malformed:
        fuzzCheck(bytes.prefix(ControlRequest.maximumLineLength + 1).allSatisfy { $0 != 10 }, "a short line refused")
        return 0
    case .complete(let end):
        length = end
    }
    fuzzCheck(length <= ControlRequest.maximumLineLength + 1 && bytes[length - 1] == 10, "the line ends at \(length)")
    let line = bytes[..<length]
    let answer = collect(ControlServer.answer(line, { view.answer($0) }))
    fuzzCheck(answer.last == 10, "an answer without its final newline")
    let text = String(decoding: line.dropLast(), as: UTF8.self)
    let request: ControlRequest
    do {
        request = try ControlRequest(line: text)
    } catch {
        fuzzCheck(answer.starts(with: Array("error: ".utf8)), "an unreadable request answered without an error")
        fuzzCheck(answer.firstIndex(of: 10) == answer.count - 1, "an error answer of more than one line")
        return 0
    }
    let again = try? ControlRequest(line: request.line)
    fuzzCheck(again == request, "'\(text)' reads as \(request), written back as '\(request.line)', read as \(String(describing: again))")
    if request.json && !answer.starts(with: Array("error: ".utf8)) {
        let parsed = try? JSONSerialization.jsonObject(with: Data(answer))
        fuzzCheck(parsed != nil, "the JSON answer to '\(text)' is not JSON")
    }
    return 0
}

/// Every part of an answer, as the server would send them.
private func collect(_ answer: StreamServer.Answer) -> [UInt8] {
    switch answer {
    case .bytes(let bytes):
        return bytes
    case .parts(let next):
        var bytes: [UInt8] = []
        while next(&bytes) {}
        return bytes
    }
}
