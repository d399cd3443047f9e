// Which arguments of a request are keys, from the command table's metadata: a fixed range
// (first, last, step) and, for EVAL-like commands, a count argument followed by that many
// keys. Pure index arithmetic; the caller reads the bytes.

public enum KeyPositionError: Error, Equatable {
    case badKeyCount
    case keyCountTooLarge
}

public struct KeyPositions {
    /// Calls `body` with the argument index of every key, in order. `argc` includes the
    /// command name; `keyCountValue` is the already-parsed count argument for commands
    /// that have one (see `RedisCommandSpec.keyCount`).
    @inlinable
    public static func forEach(_ spec: RedisCommandSpec, argc: Int, keyCountValue: Int?,
                               _ body: (Int) throws -> Void) rethrows {
        if spec.firstKey > 0 && spec.keyStep > 0 {
            let last = spec.lastKey >= 0 ? spec.lastKey : argc + spec.lastKey
            var i = spec.firstKey
            while i <= last && i < argc {
                try body(i)
                i += spec.keyStep
            }
        }
        if let kc = spec.keyCount, let n = keyCountValue {
            var i = kc.firstKey
            for _ in 0..<n {
                if i >= argc { break }
                try body(i)
                i += kc.step
            }
        }
    }

    /// Validates a count argument as Redis does: a non-negative integer no larger than the
    /// arguments that follow it.
    public static func validateKeyCount(_ spec: RedisCommandSpec, argc: Int, value: Int?) -> Result<Int, KeyPositionError> {
        guard let kc = spec.keyCount else { return .success(0) }
        guard let n = value, n >= 0 else { return .failure(.badKeyCount) }
        // Positions available for keys, counted without multiplying a client-chosen n.
        let available = argc > kc.firstKey ? (argc - kc.firstKey - 1) / kc.step + 1 : 0
        if n > available { return .failure(.keyCountTooLarge) }
        return .success(n)
    }
}

/// Parses a request argument as a decimal integer, as Redis's string2ll does (no spaces,
/// optional minus sign, no leading plus).
@inlinable
public func parseInteger(_ bytes: UnsafeRawBufferPointer) -> Int? {
    if bytes.isEmpty || bytes.count > 19 { return nil }
    var i = 0
    var negative = false
    if bytes[0] == UInt8(ascii: "-") { negative = true; i = 1; if bytes.count == 1 { return nil } }
    var v = 0
    while i < bytes.count {
        let c = bytes[i]
        guard c >= UInt8(ascii: "0"), c <= UInt8(ascii: "9") else { return nil }
        // 19 digits can exceed Int.max: out of range is "not an integer", as in Redis.
        let (times10, o1) = v.multipliedReportingOverflow(by: 10)
        let (sum, o2) = times10.addingReportingOverflow(Int(c - UInt8(ascii: "0")))
        if o1 || o2 { return nil }
        v = sum
        i += 1
    }
    return negative ? -v : v
}
