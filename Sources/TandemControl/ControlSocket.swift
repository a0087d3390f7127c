// Where the control socket of `tandem run` is, for the daemon that opens it and the clients that ask it.

/// Where the control sockets of the gateways running on this host are.
public enum ControlSocket {
    /// The directory of the control sockets (made with mode 0700 by the first gateway that needs it).
    public static let directory = "/run/tandem"

    /// Where the control socket of a gateway (its `gateway.name`) lives by default.
    public static func defaultPath(gateway name: String) -> String { "\(directory)/\(name).sock" }
}
