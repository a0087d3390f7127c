// The advertise list: prefixes the gateway announces as its own. Each must be a prefix without host bits, never a
// default route (the gateway would offer itself as every peer's way out), and listed once.

import TandemPacket
import Yams

extension ConfigLoader {
    func readAdvertise(_ top: Fields) {
        guard let items = top.list("advertise") else { return }
        var seen: [RoutePrefix: SourceLocation] = [:]
        for item in items {
            let location = reporter.location(item.mark)
            guard case .scalar(let scalar) = item, !item.isNull else {
                reporter.error(
                    location,
                    "each item of 'advertise' must be a prefix such as 198.18.0.0/24 or 2001:db8:1::/48, "
                        + "got \(item.shownAs)")
                continue
            }
            let text = scalar.string
            let prefix: RoutePrefix
            do throws(PrefixError) {
                prefix = try RoutePrefix(text)
            } catch {
                reporter.error(location, "'advertise' item '\(text)' is not a valid prefix: \(error)")
                continue
            }
            if prefix.isDefault {
                reporter.error(
                    location,
                    "'advertise' may not hold the default route \(prefix): every peer would send all its traffic "
                        + "to the gateway; list the site's own prefixes, e.g. 198.18.0.0/24")
                continue
            }
            if let first = seen[prefix] {
                reporter.error(
                    location, "\(prefix) is already in 'advertise' (line \(first.line)); remove one of them")
                continue
            }
            seen[prefix] = location
            advertise.append(GatewayConfig.Advertisement(prefix: prefix, location: location))
        }
    }

    /// Warnings: advertised prefixes that nothing announces, or that are remote prefixes of a connection.
    func warnAboutAdvertise() {
        guard let first = advertise.first else { return }
        if !tunnels.contains(where: { $0.routing == .bgp }) {
            reporter.warning(
                first.location,
                "'advertise' lists \(advertise.count == 1 ? "a prefix" : "\(advertise.count) prefixes") but no tunnel "
                    + "uses BGP, so nothing announces them; add 'routing: bgp' to a tunnel, or remove 'advertise'")
        }
        for advertised in advertise {
            guard
                let route = routes.first(where: {
                    $0.prefix.contains(advertised.prefix) || advertised.prefix.contains($0.prefix)
                })
            else { continue }
            reporter.warning(
                advertised.location,
                "advertised \(advertised.prefix) overlaps route \(route.prefix) to connection '\(route.connection)' "
                    + "(line \(route.location.line)): the gateway would announce a remote prefix as its own; "
                    + "advertise only the site's prefixes")
        }
    }
}
