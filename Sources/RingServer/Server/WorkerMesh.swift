// How workers ask each other about their clients without sharing them: each worker has an
// inbox (a locked array) and its loop's async handle; a message is appended under the lock
// and the handle sent, and the worker takes its whole inbox on its own thread. Used only by
// CLIENT LIST/KILL/PAUSE and MONITOR, never by plain requests. Also holds what is process-
// wide for those: which workers have monitors, and INFO's counters as of CONFIG RESETSTAT.

import CLibUV
import RingCore

#if canImport(Glibc)
import Glibc
#endif

/// Every query names its pool: a pool is a server of its own to its clients (its own
/// address and password), so they see, kill, pause and monitor only its clients.
enum MeshMessage {
    /// Describe your clients of `pool` to worker `from`, for its query `token`.
    case describe(token: UInt64, from: Int, pool: Int)
    case described(token: UInt64, [ClientDescription])
    /// Close your clients of `pool` that `filter` matches (`caller` asked, in worker `from`).
    case kill(token: UInt64, from: Int, pool: Int, ClientKillFilter, caller: UInt64)
    case killed(token: UInt64, Int)
    /// CLIENT PAUSE of `pool` (nil: UNPAUSE).
    case pause(pool: Int, ClientPause?)
    /// A worker started or stopped having monitors: look again at `monitorWorkers`.
    case monitorsChanged
    /// Monitor lines from another worker's clients of `pool`, in their order.
    case monitorLines(pool: Int, [UInt8])
}

public final class WorkerMesh: @unchecked Sendable {
    private let lock: UnsafeMutablePointer<pthread_mutex_t>
    private var inboxes: [[MeshMessage]]
    private var wakeups: [LoopAsync?]
    private var monitorCounts: [Int]
    /// Per pool and command: calls and microseconds at the last CONFIG RESETSTAT, which
    /// INFO's commandstats subtract (the /metrics counters themselves never go back).
    private var baseline: [Int: (calls: UInt64, usec: UInt64)] = [:]

    public init(workers: Int) {
        lock = .allocate(capacity: 1)
        pthread_mutex_init(lock, nil)
        inboxes = Array(repeating: [], count: workers)
        wakeups = Array(repeating: nil, count: workers)
        monitorCounts = Array(repeating: 0, count: workers)
    }

    deinit {
        pthread_mutex_destroy(lock)
        lock.deallocate()
    }

    var workerCount: Int { inboxes.count }

    private func locked<T>(_ body: () -> T) -> T {
        pthread_mutex_lock(lock)
        defer { pthread_mutex_unlock(lock) }
        return body()
    }

    func register(worker: Int, wakeup: LoopAsync) {
        locked { wakeups[worker] = wakeup }
    }

    /// The worker's loop is ending: nothing more is delivered to it.
    func unregister(worker: Int) {
        locked {
            wakeups[worker] = nil
            inboxes[worker].removeAll()
        }
    }

    /// False when the worker has stopped (its answer will never come).
    @discardableResult
    func post(_ message: MeshMessage, to worker: Int) -> Bool {
        let wakeup: LoopAsync? = locked {
            guard let w = wakeups[worker] else { return nil }
            inboxes[worker].append(message)
            return w
        }
        wakeup?.send()
        return wakeup != nil
    }

    func take(worker: Int) -> [MeshMessage] {
        locked {
            let messages = inboxes[worker]
            inboxes[worker].removeAll()
            return messages
        }
    }

    /// Worker `worker` now has `count` monitors; every worker is told when that changes
    /// whether it has any.
    func setMonitors(worker: Int, count: Int) {
        let changed = locked { () -> Bool in
            let was = monitorCounts[worker] > 0
            monitorCounts[worker] = count
            return was != (count > 0)
        }
        if changed { for w in 0..<workerCount { post(.monitorsChanged, to: w) } }
    }

    /// The workers that have at least one monitor.
    func monitorWorkers() -> [Int] {
        locked { monitorCounts.indices.filter { monitorCounts[$0] > 0 } }
    }

    func setBaseline(_ values: [Int: (calls: UInt64, usec: UInt64)]) {
        locked { baseline = values }
    }

    func baseline(_ key: Int) -> (calls: UInt64, usec: UInt64) {
        locked { baseline[key] ?? (0, 0) }
    }
}
