import TandemPacket

/// A destination route: traffic for `prefix` goes to `connection`.
///
/// Routes for the same prefix rank by source (specific > system > static > dynamic), then by metric (lower
/// wins). Routes that tie on both form one ECMP next-hop set, spread by weight; weight 0 marks a standby path,
/// used only while every weighted path of the set is down.
public struct Route: Hashable, Sendable, CustomStringConvertible {
    public var prefix: RoutePrefix
    public var source: RouteSource
    public var connection: ConnectionID
    /// 0...100.
    public var weight: UInt8
    public var metric: UInt32

    public init(
        prefix: RoutePrefix, source: RouteSource, connection: ConnectionID, weight: UInt8 = 100, metric: UInt32 = 0
    ) {
        self.prefix = prefix
        self.source = source
        self.connection = connection
        self.weight = min(weight, 100)
        self.metric = metric
    }

    public var description: String {
        "\(prefix) \(source) via \(connection) weight \(weight) metric \(metric)"
    }
}
