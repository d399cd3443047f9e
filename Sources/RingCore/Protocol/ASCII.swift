// ASCII case folding for command names and options. Redis compares command names and
// option words case-insensitively byte by byte (strcasecmp), never by Unicode rules; so do we.

public enum ASCII {
    @inlinable @inline(__always)
    public static func lower(_ c: UInt8) -> UInt8 {
        c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z") ? c | 0x20 : c
    }

    /// The bytes folded to lower case.
    public static func lowercased(_ bytes: UnsafeRawBufferPointer) -> [UInt8] {
        bytes.map(lower)
    }

    /// The bytes folded to lower case, as a String (for option words and messages).
    public static func lowercasedString(_ bytes: UnsafeRawBufferPointer) -> String {
        String(decoding: bytes.map(lower), as: UTF8.self)
    }

    /// Whether `bytes` are `word` (given in lower case) in any case, without making a String.
    public static func equalsLowercased(_ bytes: UnsafeRawBufferPointer, _ word: String) -> Bool {
        var i = 0
        for c in word.utf8 {
            if i >= bytes.count || lower(bytes[i]) != c { return false }
            i += 1
        }
        return i == bytes.count
    }

    /// FNV-1a (32-bit) over the lower-cased bytes: the command table's slot hash.
    @inlinable
    public static func caseFoldedHash(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        var h: UInt32 = 2166136261
        for c in bytes { h = (h ^ UInt32(lower(c))) &* 16777619 }
        return h
    }
}
