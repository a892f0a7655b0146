import Foundation

/// A progress line on stderr, shown only when stderr is a terminal and the run takes over a second.
struct Progress {
    let total: Int
    let start = Date()
    let enabled = isatty(2) != 0
    func update(_ done: Int, _ label: String) {
        guard enabled, Date().timeIntervalSince(start) > 1 else { return }
        FileHandle.standardError.write("\r\u{1B}[K[\(done)/\(total)] \(label)".data(using: .utf8)!)
    }
    func finish() {
        guard enabled, Date().timeIntervalSince(start) > 1 else { return }
        FileHandle.standardError.write("\r\u{1B}[K".data(using: .utf8)!)
    }
}
