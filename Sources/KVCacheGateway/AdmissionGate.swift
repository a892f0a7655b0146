import Synchronization

/// Bounded concurrency with a bounded queue: at most `limit` requests go to engines at once,
/// at most `queueLimit` wait behind them, and a waiter gives up after a timeout. Beyond the
/// queue a request is refused at once, so memory never grows with the offered load.
final class AdmissionGate: Sendable {
    enum Outcome: Sendable, Equatable {
        /// Go ahead; call ``leave()`` when done.
        case admitted
        /// The queue is full.
        case queueFull
        /// Waited the whole timeout.
        case timedOut
    }

    struct State {
        var running = 0
        var nextTicket: UInt64 = 0
        var queue: [(ticket: UInt64, continuation: CheckedContinuation<Outcome, Never>)] = []
    }

    let limit: Int
    let queueLimit: Int
    let timeout: Duration
    private let state = Mutex(State())

    init(limit: Int, queueLimit: Int, timeout: Duration) {
        self.limit = max(1, limit)
        self.queueLimit = max(0, queueLimit)
        self.timeout = timeout
    }

    /// Requests running and waiting now.
    var load: (running: Int, queued: Int) { state.withLock { ($0.running, $0.queue.count) } }

    /// Waits for a place, at most ``timeout``.
    func enter() async -> Outcome {
        let ticket = state.withLock { s -> UInt64? in
            guard s.running < limit else {
                s.nextTicket &+= 1
                return s.nextTicket
            }
            s.running += 1
            return nil
        }
        guard let ticket else { return .admitted }
        return await withCheckedContinuation { c in
            let now = state.withLock { s -> Outcome? in
                if s.running < limit {
                    s.running += 1
                    return .admitted
                }
                guard s.queue.count < queueLimit else { return .queueFull }
                s.queue.append((ticket, c))
                return nil
            }
            if let now {
                c.resume(returning: now)
                return
            }
            // Started after the waiter is queued, so it can never look for it too early; once
            // the waiter is gone (admitted) the ticket matches nothing.
            Task { [timeout] in
                try? await Task.sleep(for: timeout)
                self.expire(ticket)
            }
        }
    }

    /// Gives the place to the first waiter, or frees it.
    func leave() {
        let next = state.withLock { s -> CheckedContinuation<Outcome, Never>? in
            if s.queue.isEmpty {
                s.running -= 1
                return nil
            }
            return s.queue.removeFirst().continuation
        }
        next?.resume(returning: .admitted)
    }

    private func expire(_ ticket: UInt64) {
        let waiter = state.withLock { s -> CheckedContinuation<Outcome, Never>? in
            guard let i = s.queue.firstIndex(where: { $0.ticket == ticket }) else { return nil }
            return s.queue.remove(at: i).continuation
        }
        waiter?.resume(returning: .timedOut)
    }
}
