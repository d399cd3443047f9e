// Process log: one line per event, to stderr or the -o file, with a level filter.
// Set up once at startup; written from any worker under a lock. Never on the per-request
// path: it records state changes (listening, upstream lost, config warnings).

#if canImport(Glibc)
import Glibc
#endif

public enum LogLevel: Int, Comparable, Sendable {
    case error = 1, warn = 4, notice = 5, info = 6, debug = 7
    public static func < (a: LogLevel, b: LogLevel) -> Bool { a.rawValue < b.rawValue }

    /// nutcracker's -v takes 0 (emergency) to 11 (pverbose); map onto our five levels.
    public init(verbosity v: Int) {
        switch v {
        case ..<4: self = .error
        case 4: self = .warn
        case 5: self = .notice
        case 6: self = .info
        default: self = .debug
        }
    }
}

public final class Log: @unchecked Sendable {
    public static let shared = Log()
    private var lock = pthread_mutex_t()
    private var file: UnsafeMutablePointer<FILE>? = stderr
    public private(set) var level: LogLevel = .notice

    init() { pthread_mutex_init(&lock, nil) }

    /// Called once at startup, before any worker starts.
    public func configure(level: LogLevel, path: String?) -> Bool {
        self.level = level
        if let p = path {
            guard let f = fopen(p, "a") else { return false }
            file = f
        }
        return true
    }

    /// The log file's descriptor (nil while logging to stderr), which a daemon keeps open.
    public var fileDescriptor: Int32? {
        guard let f = file, f != stderr else { return nil }
        return fileno(f)
    }

    public func write(_ level: LogLevel, _ message: @autoclosure () -> String) {
        guard level <= self.level else { return }
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var tm = tm()
        var secs = now.tv_sec
        gmtime_r(&secs, &tm)
        let stamp = String(Int(tm.tm_year) + 1900) + "-" + pad2(Int(tm.tm_mon) + 1) + "-" + pad2(Int(tm.tm_mday))
            + "T" + pad2(Int(tm.tm_hour)) + ":" + pad2(Int(tm.tm_min)) + ":" + pad2(Int(tm.tm_sec))
            + "." + pad3(Int(now.tv_nsec / 1_000_000)) + "Z"
        let tag: String
        switch level {
        case .error: tag = "error"
        case .warn: tag = "warn"
        case .notice: tag = "notice"
        case .info: tag = "info"
        case .debug: tag = "debug"
        }
        let line = "\(stamp) [\(tag)] \(message())\n"
        pthread_mutex_lock(&lock)
        fputs(line, file)
        fflush(file)
        pthread_mutex_unlock(&lock)
    }

    private func pad2(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }
    private func pad3(_ v: Int) -> String { v < 10 ? "00\(v)" : v < 100 ? "0\(v)" : "\(v)" }
}

public func logError(_ m: @autoclosure () -> String) { Log.shared.write(.error, m()) }
public func logWarn(_ m: @autoclosure () -> String) { Log.shared.write(.warn, m()) }
public func logNotice(_ m: @autoclosure () -> String) { Log.shared.write(.notice, m()) }
public func logInfo(_ m: @autoclosure () -> String) { Log.shared.write(.info, m()) }
public func logDebug(_ m: @autoclosure () -> String) { Log.shared.write(.debug, m()) }
