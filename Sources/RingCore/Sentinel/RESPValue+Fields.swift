// Sentinel's replies read as fields: SENTINEL MASTER answers a flat array of names and values.

extension RESPValue {
    /// A flat key/value array (SENTINEL MASTER's form) as a dictionary; nil for anything else.
    public var fields: [String: String]? {
        let items: [RESPValue]
        switch self {
        case let .array(e), let .map(e): items = e
        default: return nil
        }
        guard items.count % 2 == 0 else { return nil }
        var out: [String: String] = [:]
        for k in stride(from: 0, to: items.count, by: 2) {
            guard let key = items[k].text, let value = items[k + 1].text else { return nil }
            out[key] = value
        }
        return out
    }
}
