// Running in the background (nutcracker's -d). The process forks before any loop or thread
// exists, so each child is a plain single-threaded copy; the caller's process exits only once
// the daemon listens (0) or has failed to start (1). Never call it once a loop or thread runs.

#if canImport(Glibc)
import Glibc
#endif

public enum Daemon {
    /// Detaches: the calling process waits here and exits with the daemon's start-up result;
    /// the daemon (a grandchild in a new session, same working directory, so relative paths
    /// keep their meaning) returns the call to make once it serves. The daemon closes every
    /// descriptor it inherited except stdin, stdout, stderr and `keeping` (a log file): a
    /// caller waiting for them to close (a shell pipe, a supervisor) is not held open by it.
    /// Returns nil, without forking, when the system refuses (the reason is on stderr).
    public static func detach(keeping: [Int32] = []) -> DaemonReadiness? {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { return refused("pipe") }
        let first = fork()
        if first < 0 { Glibc.close(fds[0]); Glibc.close(fds[1]); return refused("fork") }
        if first > 0 {
            // The caller's process: exit 0 once the daemon says it serves, 1 if it ends first.
            Glibc.close(fds[1])
            var byte: UInt8 = 0
            var n: Int
            repeat { n = read(fds[0], &byte, 1) } while n < 0 && errno == EINTR
            var status: Int32 = 0
            waitpid(first, &status, 0)
            exit(n == 1 ? 0 : 1)
        }
        // First child: a new session without a terminal, then one more fork so the daemon
        // is not a session leader and can never acquire a controlling terminal again.
        Glibc.close(fds[0])
        setsid()
        signal(SIGHUP, SIG_IGN)
        let second = fork()
        if second < 0 { _exit(1) }
        if second > 0 { _exit(0) }
        closeInheritedDescriptors(keeping: keeping + [fds[1]])
        return DaemonReadiness(fd: fds[1])
    }

    /// Closes every open descriptor above stderr except `keeping` (listed from /proc).
    private static func closeInheritedDescriptors(keeping: [Int32]) {
        guard let dir = opendir("/proc/self/fd") else { return }
        var open: [Int32] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if let fd = Int32(name) { open.append(fd) }
        }
        let listing = dirfd(dir)
        closedir(dir)
        for fd in open where fd > 2 && fd != listing && !keeping.contains(fd) { Glibc.close(fd) }
    }

    private static func refused(_ call: String) -> DaemonReadiness? {
        fputs("ringproxy: cannot daemonize: \(call): \(String(cString: strerror(errno)))\n", stderr)
        return nil
    }
}

/// Held by the daemon until it serves. Until then its stdin, stdout and stderr are still
/// the caller's, so a start-up error reaches the terminal.
public final class DaemonReadiness {
    /// The pipe's write end; the waiting process reads one byte or end-of-file.
    private var fd: Int32

    init(fd: Int32) { self.fd = fd }

    /// The daemon serves: stdin, stdout and stderr become /dev/null (a log file set with -o
    /// stays open), and the waiting process exits 0.
    public func ready() {
        guard fd >= 0 else { return }
        let null = open("/dev/null", O_RDWR)
        if null >= 0 {
            for std: Int32 in 0...2 { dup2(null, std) }
            if null > 2 { Glibc.close(null) }
        }
        var byte: UInt8 = 1
        _ = write(fd, &byte, 1)
        Glibc.close(fd)
        fd = -1
    }
}
