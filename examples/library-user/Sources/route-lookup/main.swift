// route-lookup PREFIX... -- ADDRESS...: the longest prefix among PREFIX that matches each ADDRESS, with Tandem's
// IPv4 and IPv6 tables (the poptrie behind `tandem lookup`). A prefix's value is its position among the arguments.
import Glibc
import TandemLPM
import TandemPacket

let arguments = Array(CommandLine.arguments.dropFirst())
guard let separator = arguments.firstIndex(of: "--") else {
    print("usage: route-lookup PREFIX... -- ADDRESS...")
    exit(2)
}
let prefixes = arguments[..<separator]
let ipv4 = IPv4Table()
let ipv6 = IPv6Table()
do {
    for (index, text) in prefixes.enumerated() {
        switch try RoutePrefix(text) {
        case .v4(let prefix): ipv4.insert(prefix, value: UInt32(index))
        case .v6(let prefix): ipv6.insert(prefix, value: UInt32(index))
        }
    }
    for text in arguments[(separator + 1)...] {
        let value: UInt32? =
            switch try AnyIPAddress(text) {
            case .v4(let address): ipv4.lookup(address)
            case .v6(let address): ipv6.lookup(address)
            }
        print("\(text) -> \(value.map { prefixes[prefixes.startIndex + Int($0)] } ?? "no route")")
    }
} catch {
    print("route-lookup: \(error)")
    exit(1)
}
