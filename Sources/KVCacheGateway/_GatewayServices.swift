import KVCacheZMQ
import Logging
import NIOPosix
import ServiceLifecycle

/// The KV-event subscriber as a service: it follows the engines' events until graceful
/// shutdown.
struct _EventService: Service {
    let subscriber: EngineEventSubscriber

    func run() async throws {
        try await cancelWhenGracefulShutdown { try await subscriber.run() }
    }
}

/// The active health checks of every engine, every interval until graceful shutdown.
struct _HealthCheckService: Service {
    let gateway: Gateway

    func run() async throws {
        let interval = gateway.configuration.healthInterval
        await gateway.checkEngines()
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                await gateway.checkEngines()
            }
        }
    }
}

/// The engines' load reads, every ``GatewayConfiguration/loadInterval``, until graceful
/// shutdown.
struct _EngineLoadService: Service {
    let gateway: Gateway
    let interval: Duration

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                await gateway.readEngineLoads()
                try? await Task.sleep(for: interval)
            }
        }
    }
}

/// The state written to ``GatewayConfiguration/stateDirectory`` every
/// ``GatewayConfiguration/snapshotInterval``, and once more at graceful shutdown (after the
/// services that change it have stopped: it runs first in the group, so it stops last).
struct _StateService: Service {
    let gateway: Gateway

    func run() async throws {
        let interval = gateway.configuration.snapshotInterval
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                if Task.isCancelled { break }
                await write()
            }
        }
        await write()
    }

    /// Writes on NIO's blocking pool: capturing and encoding the state and the file's writes
    /// and flush would otherwise hold an event loop, and its connections, while they run.
    func write() async {
        do {
            _ = try await NIOThreadPool.singleton.runIfActive { try gateway.writeState() }
        } catch {
            gateway.configuration.logger.error("state not written: \(error)")
        }
    }
}
