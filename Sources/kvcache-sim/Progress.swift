import KVCacheCLI

/// A progress line on stderr, shown only when stderr is a terminal and the run takes over a second.
struct Progress {
    let total: Int
    let start = ContinuousClock.now
    let enabled = standardErrorIsTerminal
    func update(_ done: Int, _ label: String) {
        guard enabled, ContinuousClock.now - start > .seconds(1) else { return }
        writeStandardError("\r\u{1B}[K[\(done)/\(total)] \(label)")
    }
    func finish() {
        guard enabled, ContinuousClock.now - start > .seconds(1) else { return }
        writeStandardError("\r\u{1B}[K")
    }
}
