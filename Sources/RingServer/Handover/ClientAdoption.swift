// The new process's side of a client connection moving: a thread reads the predecessor's
// `client` records (each with the connection's descriptor) until it exits, and gives each
// connection to a worker in turn, which serves it on from the session state in the record.
// Bounded: the predecessor exits at the latest at its drain limit.

import CLibUV
import RingCore

#if canImport(Glibc)
import Glibc
#endif

final class ClientAdoption: @unchecked Sendable {
    private let link: HandoverLink
    private var thread: pthread_t?
    private var stopped = false
    private var lock = pthread_mutex_t()

    init(link: HandoverLink, from pid: Int32, workers: [Worker]) {
        self.link = link
        pthread_mutex_init(&lock, nil)
        thread = startThread { [self] in self.run(from: pid, workers: workers) }
    }

    private var isStopped: Bool {
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        return stopped
    }

    private func run(from pid: Int32, workers: [Worker]) {
        // The predecessor's drain limit, and a receive timeout's worth beyond it.
        let limitMs = HandoverDrain.drainLimitMs + UInt64(HandoverLink.ioTimeoutSeconds * 1000)
        let start = uv_hrtime() / 1_000_000
        var adopted = 0
        var next = 0
        while !isStopped && uv_hrtime() / 1_000_000 - start < limitMs && !workers.isEmpty {
            do {
                let (message, fd) = try link.receive(expecting: "client")
                guard case let .client(client) = message, let descriptor = fd else {
                    if let fd = fd { Glibc.close(fd) }
                    logWarn("takeover: pid \(pid) sent '\(message.name)' where a client belongs; ignored")
                    continue
                }
                if workers[next % workers.count].adopt(client, descriptor: descriptor) {
                    adopted += 1
                } else {
                    // This process is itself ending: the client reconnects to whatever serves.
                    Glibc.close(descriptor)
                }
                next += 1
            } catch HandoverError.timedOut {
                continue  // the receive timed out: the predecessor is still draining
            } catch HandoverError.closed {
                break  // it exited
            } catch {
                logWarn("takeover: reading pid \(pid)'s clients: \(error)")
                break
            }
        }
        logNotice("takeover: pid \(pid) passed \(adopted) client connection(s) on")
    }

    /// Ends the thread within a receive timeout.
    func stop() {
        pthread_mutex_lock(&lock)
        stopped = true
        pthread_mutex_unlock(&lock)
        shutdown(link.fd, Int32(SHUT_RDWR))
        if let t = thread { pthread_join(t, nil) }
        thread = nil
        link.close()
    }
}
