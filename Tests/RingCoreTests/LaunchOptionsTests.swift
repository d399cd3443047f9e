// The command line read as nutcracker's getopt_long reads it: combined short flags, values
// attached or separate, --long=value, unique prefixes, and errors for what getopt refuses.
import RingCore
import XCTest

final class LaunchOptionsTests: XCTestCase {
    func parse(_ line: String) -> Result<LaunchOptions, LaunchOptionsError> {
        LaunchOptions.parse(line.split(separator: " ").map(String.init))
    }

    func options(_ line: String, file: StaticString = #filePath, line l: UInt = #line) -> LaunchOptions? {
        switch parse(line) {
        case let .success(o): return o
        case let .failure(e): XCTFail("'\(line)': \(e)", file: file, line: l); return nil
        }
    }

    func error(_ line: String, file: StaticString = #filePath, line l: UInt = #line) -> String {
        switch parse(line) {
        case let .success(o): XCTFail("'\(line)' must fail, got \(o)", file: file, line: l); return ""
        case let .failure(e): return e.message
        }
    }

    func testDefaults() {
        let o = options("")
        XCTAssertEqual(o, LaunchOptions())
        XCTAssertEqual(o?.configPath, "conf/ringproxy.yml")
        XCTAssertEqual(o?.verbosity, 5)
    }

    func testEveryFormOfAValue() {
        for line in ["-c a.yml", "-ca.yml", "--conf-file a.yml", "--conf-file=a.yml", "--config a.yml", "--conf=a.yml", "--conf-f a.yml"] {
            XCTAssertEqual(options(line)?.configPath, "a.yml", line)
        }
    }

    func testCombinedShortFlagsAsGetopt() {
        var expected = LaunchOptions()
        expected.testOnly = true
        expected.configPath = "x.yml"
        XCTAssertEqual(options("-tc x.yml"), expected)
        XCTAssertEqual(options("-tcx.yml"), expected)
        expected.daemonize = true
        expected.verbosity = 6
        XCTAssertEqual(options("-dtv6 -c x.yml"), expected)
        XCTAssertEqual(options("-dt -v 6 --conf-file x.yml"), expected)
    }

    func testWhatGetoptRefuses() {
        XCTAssertEqual(error("-tfoo"), "unknown option '-f' (in '-tfoo')")
        XCTAssertEqual(error("--test-conf=no"), "option '--test-conf' takes no value")
        XCTAssertEqual(error("--bogus"), "unknown option '--bogus'")
        XCTAssertEqual(error("-x"), "unknown option '-x'")
        XCTAssertEqual(error("-c"), "option -c needs a value")
        XCTAssertEqual(error("-t --conf-file"), "option '--conf-file' needs a value")
        XCTAssertEqual(error("--v 3"), "option '--v' is ambiguous (--verbose, --version)")
        XCTAssertEqual(error("-v loud"), "-v takes an integer, not 'loud'")
        XCTAssertEqual(error("-s 0"), "-s must be between 1 and 65535, not 0")
        XCTAssertEqual(error("-t extra"), "unexpected argument 'extra'")
        XCTAssertEqual(error("-t -- extra"), "unexpected argument 'extra'")
        XCTAssertNotNil(options("-t --"))
    }

    func testNutcrackerOnlyOptions() {
        let o = options("-m 16384 -i 30000 -D -d")
        XCTAssertEqual(o?.describeStats, true)
        XCTAssertEqual(o?.daemonize, true)
        XCTAssertEqual(o?.notices.count, 2, "-m and -i are accepted and ignored with a notice")
        XCTAssertTrue(o?.notices.first?.hasPrefix("-m (mbuf size) is ignored") ?? false)
        XCTAssertEqual(options("--mbuf-size=512 --stats-interval 10")?.notices.count, 2)
        XCTAssertEqual(error("-m big"), "-m takes an integer, not 'big'")
        XCTAssertEqual(options("-?")?.showHelp, true)
    }

    func testEverything() {
        var expected = LaunchOptions()
        expected.configPath = "c.yml"
        expected.testOnly = true
        expected.threads = 3
        expected.verbosity = 7
        expected.logFile = "l.log"
        expected.pidFile = "p.pid"
        expected.statsPort = 2222
        expected.statsAddress = "0.0.0.0"
        expected.showVersion = true
        expected.showHelp = true
        XCTAssertEqual(options("-c c.yml -t -T 3 -v 7 -o l.log -p p.pid -s 2222 -a 0.0.0.0 -V -h"), expected)
        XCTAssertEqual(options("--conf-file c.yml --test-conf --threads 3 --verbose 7 --output l.log --pid-file p.pid --stats-port 2222 --stats-addr 0.0.0.0 --version --help"), expected)
    }

    /// --diff is long only (nutcracker has no letter for it) and goes with -t.
    func testDiffWithTest() {
        var expected = LaunchOptions()
        expected.testOnly = true
        expected.configPath = "new.yml"
        expected.diffAgainst = "old.yml"
        for line in ["-t --diff old.yml -c new.yml", "--diff=old.yml -tc new.yml", "-c new.yml --di old.yml -t"] {
            XCTAssertEqual(options(line), expected, line)
        }
        XCTAssertEqual(error("--diff old.yml -c new.yml"), "--diff goes with -t: it lists what the file -t checks would change")
        XCTAssertEqual(error("-t --diff"), "option '--diff' needs a value")
        XCTAssertEqual(error("--d x"), "option '--d' is ambiguous (--diff, --daemonize, --describe-stats)")
        XCTAssertNil(options("-t")?.diffAgainst)
    }

    func testUsageNamesEveryOption() {
        XCTAssertTrue(LaunchOptions.usage.contains("\n      --diff FILE "), LaunchOptions.usage)
        for name in ["--diff", "--conf-file", "--test-conf", "--threads", "--verbose", "--output", "--pid-file", "--stats-port",
                     "--stats-addr", "--daemonize", "--describe-stats", "--stats-interval", "--mbuf-size", "--version", "--help"] {
            XCTAssertTrue(LaunchOptions.usage.contains(name), name)
        }
    }
}
