import Foundation
import NIOCore
import NIOFoundationCompat

/// One small JSON request to an engine (tokenize, health, models) with a deadline and a cap on
/// the answer's size, so a misbehaving engine can neither hang nor flood the gateway.
struct _JSONExchange: Sendable {
    let client: EngineClient
    let timeout: Duration
    let maximumBytes: Int

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// `GET url` (`body == nil`) or `POST url` with a JSON body; the status and the body.
    func call(_ url: String, body: Data? = nil) async throws -> (status: Int, body: Data) {
        let answer = try await client.call(url, body: body.map { ByteBuffer(data: $0) }, timeout: timeout, maximumBytes: maximumBytes)
        return (answer.status, Data(buffer: answer.body))
    }

    /// Where and how a decoded answer went wrong, in one line.
    static func reason(_ error: any Error) -> String {
        guard let e = error as? DecodingError else { return "not JSON" }
        switch e {
        case .typeMismatch(_, let c), .valueNotFound(_, let c), .keyNotFound(_, let c), .dataCorrupted(let c):
            let path = c.codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
            return path.isEmpty ? c.debugDescription : "\(path.dropFirst(path.hasPrefix(".") ? 1 : 0)): \(c.debugDescription)"
        @unknown default: return "not JSON"
        }
    }
}

extension TimeAmount {
    init(_ duration: Duration) {
        let (s, atto) = duration.components
        self = .nanoseconds(s * 1_000_000_000 + atto / 1_000_000_000)
    }
}
