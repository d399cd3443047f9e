// The key hash functions nutcracker (twemproxy 0.5.0) accepts for `hash:`, with its exact
// results, including its quirks: on x86-64 its keys are signed `char`, so several functions
// see bytes >= 0x80 sign-extended. Placement compatibility depends on every bit here.

public enum HashFunction: String, CaseIterable, Sendable {
    case oneAtATime = "one_at_a_time"
    case md5
    case crc16
    case crc32
    case crc32a
    case fnv1_64
    case fnv1a_64
    case fnv1_32
    case fnv1a_32
    case hsieh
    case murmur
    case jenkins

    public func hash(_ key: UnsafeRawBufferPointer) -> UInt32 {
        switch self {
        case .oneAtATime: return Hashes.oneAtATime(key)
        case .md5: return Hashes.md5(key)
        case .crc16: return Hashes.crc16(key)
        case .crc32: return Hashes.crc32Short(key)
        case .crc32a: return Hashes.crc32(key)
        case .fnv1_64: return Hashes.fnv1_64(key)
        case .fnv1a_64: return Hashes.fnv1a_64(key)
        case .fnv1_32: return Hashes.fnv1_32(key)
        case .fnv1a_32: return Hashes.fnv1a_32(key)
        case .hsieh: return Hashes.hsieh(key)
        case .murmur: return Hashes.murmur(key)
        case .jenkins: return Hashes.jenkins(key)
        }
    }

    public func hash(_ key: [UInt8]) -> UInt32 { key.withUnsafeBytes { hash($0) } }
    public func hash(_ key: String) -> UInt32 { hash(Array(key.utf8)) }
}

/// Namespace for the individual functions, one small file each.
public enum Hashes {
    /// A C `char` byte widened to 32 bits as x86-64 does: bytes >= 0x80 are negative.
    @inline(__always)
    static func signExtended(_ b: UInt8) -> UInt32 { UInt32(bitPattern: Int32(Int8(bitPattern: b))) }
}
