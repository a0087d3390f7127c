import TandemPacket

/// The plain reference the tables are checked against: one dictionary per prefix length,
/// probed from the longest length down. Obviously right, and slow.
struct ReferenceTable<Prefix: IPPrefix> {
    var byLength: [[Prefix.Address.RawValue: UInt32]] = Array(repeating: [:], count: Prefix.Address.bitWidth + 1)

    @discardableResult
    mutating func insert(_ prefix: Prefix, value: UInt32) -> UInt32? {
        byLength[prefix.length].updateValue(value, forKey: prefix.address.rawValue)
    }

    @discardableResult
    mutating func remove(_ prefix: Prefix) -> UInt32? {
        byLength[prefix.length].removeValue(forKey: prefix.address.rawValue)
    }

    func value(for prefix: Prefix) -> UInt32? { byLength[prefix.length][prefix.address.rawValue] }

    func lookup(_ address: Prefix.Address) -> UInt32? {
        for length in stride(from: Prefix.Address.bitWidth, through: 0, by: -1) where !byLength[length].isEmpty {
            if let value = byLength[length][address.rawValue & Prefix.mask(length: length)] { return value }
        }
        return nil
    }

    func longestLength(_ address: Prefix.Address) -> Int? {
        for length in stride(from: Prefix.Address.bitWidth, through: 0, by: -1) where !byLength[length].isEmpty {
            if byLength[length][address.rawValue & Prefix.mask(length: length)] != nil { return length }
        }
        return nil
    }

    var count: Int { byLength.reduce(0) { $0 + $1.count } }
}
