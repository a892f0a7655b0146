import Dispatch
import Synchronization

/// Runs `count` jobs on all cores and returns their results in order (the first error wins).
func parallelMap<T: Sendable>(_ count: Int, label: @Sendable (Int) -> String, _ job: @Sendable (Int) throws -> T) throws -> [T] {
    let box = ParallelResults<T>(count: count)
    let progress = Progress(total: count)
    DispatchQueue.concurrentPerform(iterations: count) { i in
        box.set(i, Result { try job(i) })
        progress.update(box.done, label(i))
    }
    progress.finish()
    return try box.results.map { try $0!.get() }
}

/// Results filled in from several threads under a lock.
final class ParallelResults<T: Sendable>: Sendable {
    private struct State {
        var storage: [Result<T, any Error>?]
        var finished = 0
    }
    private let state: Mutex<State>
    init(count: Int) { state = Mutex(State(storage: Array(repeating: nil, count: count))) }
    func set(_ i: Int, _ r: sending Result<T, any Error>) {
        state.withLock {
            $0.storage[i] = r
            $0.finished += 1
        }
    }
    var done: Int { state.withLock { $0.finished } }
    var results: [Result<T, any Error>?] { state.withLock { $0.storage } }
}
