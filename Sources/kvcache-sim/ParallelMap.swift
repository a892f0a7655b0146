import Dispatch
import Foundation

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
final class ParallelResults<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var storage: [Result<T, any Error>?]
    private var finished = 0
    init(count: Int) { storage = Array(repeating: nil, count: count) }
    func set(_ i: Int, _ r: Result<T, any Error>) { lock.lock(); storage[i] = r; finished += 1; lock.unlock() }
    var done: Int { lock.lock(); defer { lock.unlock() }; return finished }
    var results: [Result<T, any Error>?] { lock.lock(); defer { lock.unlock() }; return storage }
}
