import CKVCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Runs rare, long work on a thread of its own, outside the concurrency runtime.
///
/// A task would run on the runtime's executor, and a server may have made its network event
/// loops that executor (SwiftNIO's loops, in `kvcache-gateway`): a table growth of a few
/// milliseconds would then stall every connection of the loop it landed on. A thread made for
/// the work costs tens of microseconds, which work this rare can afford.
enum _DetachedThread {
    /// Starts `body` on a new detached thread named `name` (at most 15 bytes show on Linux).
    /// - Returns: Whether the thread started; when it could not, `body` has not run.
    @discardableResult
    static func start(name: String, _ body: @escaping @Sendable () -> Void) -> Bool {
        let box = Unmanaged.passRetained(_Work(name: name, body: body)).toOpaque()
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        defer { pthread_attr_destroy(&attributes) }
        pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
        #if canImport(Glibc)
        var thread = pthread_t()
        #else
        var thread: pthread_t? = nil
        #endif
        let rc = pthread_create(
            &thread, &attributes,
            { raw in
                #if canImport(Darwin)
                let work = Unmanaged<_Work>.fromOpaque(raw).takeRetainedValue()
                #else
                let work = Unmanaged<_Work>.fromOpaque(raw!).takeRetainedValue()
                #endif
                work.run()
                return nil
            }, box)
        guard rc == 0 else {
            Unmanaged<_Work>.fromOpaque(box).release()
            return false
        }
        return true
    }

    final class _Work: Sendable {
        let name: String
        let body: @Sendable () -> Void

        init(name: String, body: @escaping @Sendable () -> Void) {
            self.name = name
            self.body = body
        }

        func run() {
            kvc_name_thread(name)
            body()
        }
    }
}
