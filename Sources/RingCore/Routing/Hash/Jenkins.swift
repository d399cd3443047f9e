// Bob Jenkins's lookup3 "hashlittle" with nutcracker's initial value 13, over unsigned
// bytes in little-endian 32-bit words.

extension Hashes {
    @inline(__always) static func rot(_ x: UInt32, _ k: UInt32) -> UInt32 { (x << k) | (x >> (32 - k)) }

    public static func jenkins(_ key: UnsafeRawBufferPointer) -> UInt32 {
        var a = 0xdeadbeef &+ UInt32(truncatingIfNeeded: key.count) &+ 13
        var b = a
        var c = a
        var length = key.count
        var i = 0
        @inline(__always) func byte(_ j: Int) -> UInt32 { UInt32(key[j]) }
        while length > 12 {
            a = a &+ (byte(i) | byte(i + 1) << 8 | byte(i + 2) << 16 | byte(i + 3) << 24)
            b = b &+ (byte(i + 4) | byte(i + 5) << 8 | byte(i + 6) << 16 | byte(i + 7) << 24)
            c = c &+ (byte(i + 8) | byte(i + 9) << 8 | byte(i + 10) << 16 | byte(i + 11) << 24)
            a = a &- c; a ^= rot(c, 4); c = c &+ b
            b = b &- a; b ^= rot(a, 6); a = a &+ c
            c = c &- b; c ^= rot(b, 8); b = b &+ a
            a = a &- c; a ^= rot(c, 16); c = c &+ b
            b = b &- a; b ^= rot(a, 19); a = a &+ c
            c = c &- b; c ^= rot(b, 4); b = b &+ a
            length -= 12
            i += 12
        }
        if length == 0 { return c }
        // The last 1...12 bytes, each added to its word at its little-endian position.
        for j in 0..<length {
            let v = byte(i + j) << (UInt32(j % 4) * 8)
            switch j / 4 {
            case 0: a = a &+ v
            case 1: b = b &+ v
            default: c = c &+ v
            }
        }
        c ^= b; c = c &- rot(b, 14)
        a ^= c; a = a &- rot(c, 11)
        b ^= a; b = b &- rot(a, 25)
        c ^= b; c = c &- rot(b, 16)
        a ^= c; a = a &- rot(c, 4)
        b ^= a; b = b &- rot(a, 14)
        c ^= b; c = c &- rot(b, 24)
        return c
    }
}
