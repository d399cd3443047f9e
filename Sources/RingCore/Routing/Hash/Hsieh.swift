// Paul Hsieh's SuperFastHash as nutcracker computes it: 16-bit little-endian reads; in a
// 3-byte tail the third byte is a signed char (sign-extended), in a 1-byte tail unsigned.

extension Hashes {
    public static func hsieh(_ key: UnsafeRawBufferPointer) -> UInt32 {
        if key.isEmpty { return 0 }
        @inline(__always) func get16(_ i: Int) -> UInt32 { UInt32(key[i]) | UInt32(key[i + 1]) << 8 }
        var h: UInt32 = 0
        var i = 0
        for _ in 0..<(key.count >> 2) {
            h = h &+ get16(i)
            let tmp = (get16(i + 2) << 11) ^ h
            h = (h << 16) ^ tmp
            i += 4
            h = h &+ (h >> 11)
        }
        switch key.count & 3 {
        case 3:
            h = h &+ get16(i)
            h ^= h << 16
            h ^= signExtended(key[i + 2]) << 18
            h = h &+ (h >> 11)
        case 2:
            h = h &+ get16(i)
            h ^= h << 11
            h = h &+ (h >> 17)
        case 1:
            h = h &+ UInt32(key[i])
            h ^= h << 10
            h = h &+ (h >> 1)
        default:
            break
        }
        h ^= h << 3
        h = h &+ (h >> 5)
        h ^= h << 4
        h = h &+ (h >> 17)
        h ^= h << 25
        h = h &+ (h >> 6)
        return h
    }
}
