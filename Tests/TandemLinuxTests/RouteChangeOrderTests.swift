import Testing
import TandemLinux
import TandemPacket

struct RouteChangeOrderTests {
    private func change(_ text: String, delete: Bool = false) -> RouteChange {
        // The literals are valid: a bad one is a mistake in this file, not a case.
        let prefix: RoutePrefix = text.contains(":") ? .v6(try! IPv6Prefix(text)) : .v4(try! IPv4Prefix(text))
        let route = KernelRoute(prefix: prefix, table: 100, protocol: 200, target: .device(3))
        return delete ? .delete(route) : .add(route, replace: true)
    }

    @Test func longestPrefixesGoFirstAndEqualLengthsKeepTheirOrder() {
        let changes = [
            change("198.18.0.0/16"), change("198.19.1.0/24"), change("2001:db8::/32"), change("0.0.0.0/0"),
            change("198.19.0.0/24", delete: true), change("2001:db8:1::/48"), change("198.18.4.0/24"),
            change("2001:db8::1/128"), change("198.18.0.0/15"),
        ]
        let ordered = RouteChange.inInstallationOrder(changes)
        #expect(
            ordered == [
                change("2001:db8::1/128"), change("2001:db8:1::/48"), change("2001:db8::/32"), change("198.19.1.0/24"),
                change("198.19.0.0/24", delete: true), change("198.18.4.0/24"), change("198.18.0.0/16"),
                change("198.18.0.0/15"), change("0.0.0.0/0"),
            ])
        #expect(RouteChange.inInstallationOrder([]).isEmpty)
    }
}
