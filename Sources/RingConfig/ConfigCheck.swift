// `ringproxy -t`: checks a file as a reload reads it (loaded and validated completely, errors
// naming file, line and key) and, given the running file (`--diff`), says what a reload
// would change. Returns the lines to print and the exit status; main.swift prints them.

public struct ConfigCheck: Equatable, Sendable {
    /// For stdout: the verdict, then the changes.
    public var output: [String] = []
    /// For stderr: warnings and errors.
    public var errors: [String] = []
    /// 0: the file is good; 1: it (or the running file) is not, as for a failed start.
    public var status: Int32 = 0

    /// Checks `path`; with `running`, also the running file, and lists what would change.
    public static func run(path: String, running: String?) -> ConfigCheck {
        var check = ConfigCheck()
        let new: ProxyConfig
        do {
            new = try ConfigLoader.load(path: path)
        } catch {
            check.errors.append("ringproxy: configuration error: \(error)")
            check.status = 1
            return check
        }
        check.errors += new.warnings.map { "ringproxy: warning: \($0)" }
        check.output.append("ringproxy: configuration file '\(path)' syntax is ok (\(new.pools.count) pool(s))")
        guard let running else { return check }
        do {
            let old = try ConfigLoader.load(path: running)
            check.output.append("ringproxy: changes from '\(running)':")
            check.output += ConfigDiff(running: old, new: new).lines.map { "  " + $0 }
        } catch {
            // Without the running config there is nothing to compare against; the new file
            // itself is fine, but the check asked for was not done.
            check.errors.append("ringproxy: running configuration error: \(error)")
            check.status = 1
        }
        return check
    }
}
