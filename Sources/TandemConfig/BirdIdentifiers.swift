// Names in a BIRD configuration. BIRD's symbols are letters, digits and '_', at most 64 of them, and share one
// namespace with its keywords (`bgp_path`, `ipv4`, `static`, ...); Tandem's names also allow '.' and '-'.

/// The BIRD protocol names of the BGP tunnels.
enum BirdIdentifiers {
    /// BIRD's longest symbol (`SYM_MAX_LEN`).
    static let maximumLength = 64
    /// Put before every tunnel's name: no BIRD keyword starts with it, so no tunnel name can become one, and
    /// `birdc show protocols` says what each session is.
    static let tunnelPrefix = "tunnel_"

    /// One protocol name per tunnel name, in the same order, distinct: `tunnel_` and the name with '.' and '-'
    /// made '_', cut to 64 characters; a name that another one already took gets `_2`, `_3`, ... (`a-1` and
    /// `a_1` would both be `tunnel_a_1`).
    static func protocolNames(forTunnels tunnels: [String]) -> [String] {
        var taken: Set<String> = []
        return tunnels.map { tunnel in
            let base = String((tunnelPrefix + sanitized(tunnel)).prefix(maximumLength))
            var name = base
            var counter = 2
            while taken.contains(name) {
                let suffix = "_\(counter)"
                name = String(base.prefix(maximumLength - suffix.count)) + suffix
                counter += 1
            }
            taken.insert(name)
            return name
        }
    }

    /// The name with everything but ASCII letters, digits and '_' made '_'.
    static func sanitized(_ name: String) -> String {
        String(
            name.unicodeScalars.map { scalar -> Character in
                let isSymbolCharacter =
                    scalar.isASCII && (scalar.properties.isAlphabetic || ("0"..."9").contains(scalar) || scalar == "_")
                return isSymbolCharacter ? Character(scalar) : "_"
            })
    }
}
