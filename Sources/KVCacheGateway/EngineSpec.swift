import Foundation
import KVCache

/// One engine behind the gateway: its HTTP base URL, where it publishes KV events, and the
/// node id the router knows it by.
///
/// The command-line form is `URL[,events=ADDR][,replay=ADDR][,node=N]`:
/// `http://10.0.0.5:8000,events=tcp://10.0.0.5:5557,replay=tcp://10.0.0.5:5567,node=3`.
/// An engine without `events=` publishes nothing the router can read; the router then tracks
/// it in approximate mode (its own routing decisions stand in for the engine's cache).
public struct EngineSpec: Sendable, Hashable, CustomStringConvertible {
    /// The base URL requests go to (`http://10.0.0.5:8000`), without a trailing `/`.
    public var url: String
    /// The engine's KV-event PUB address (vLLM's `--kv-events-config` endpoint), if any.
    public var events: String?
    /// The engine's replay ROUTER address, if any (lost event batches are asked for again there).
    public var replay: String?
    /// The router's id for this engine, `0 ..< EngineSpec.maximumNodes`.
    public var node: NodeID

    /// One more than the largest node id an engine may have.
    public static let maximumNodes = 4_096

    /// Whether the router follows this engine's own KV events (`false`: approximate mode).
    public var publishesEvents: Bool { events != nil }

    /// The command-line form.
    public var description: String {
        var parts = [url]
        if let events { parts.append("events=\(events)") }
        if let replay { parts.append("replay=\(replay)") }
        parts.append("node=\(node)")
        return parts.joined(separator: ",")
    }

    /// Creates a spec, checking each part.
    /// - Throws: ``GatewayError`` naming the part that is wrong.
    public init(url: String, events: String? = nil, replay: String? = nil, node: NodeID) throws(GatewayError) {
        self.url = try Self.checkedURL(url)
        self.events = try events.map { a throws(GatewayError) in try Self.checkedAddress(a, key: "events", in: url) }
        self.replay = try replay.map { a throws(GatewayError) in try Self.checkedAddress(a, key: "replay", in: url) }
        guard (0..<Self.maximumNodes).contains(node) else {
            throw GatewayError("--engine \(url): node=\(node) is outside 0...\(Self.maximumNodes - 1)")
        }
        guard replay == nil || events != nil else { throw GatewayError("--engine \(url): replay= needs events= as well") }
        self.node = node
    }

    /// Parses `URL[,events=ADDR][,replay=ADDR][,node=N]`.
    /// - Parameter defaultNode: The node id when `node=` is not given.
    /// - Throws: ``GatewayError`` naming the part that is wrong.
    public init(parsing text: String, defaultNode: NodeID) throws(GatewayError) {
        let parts = text.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        guard let url = parts.first, !url.isEmpty else { throw GatewayError("--engine '\(text)': the URL is missing") }
        var fields: [String: String] = [:]
        for part in parts.dropFirst() {
            guard let eq = part.firstIndex(of: "="), !part[..<eq].isEmpty else {
                throw GatewayError("--engine \(url): '\(part)' is not KEY=VALUE (keys: events, replay, node)")
            }
            let key = String(part[..<eq]), value = String(part[part.index(after: eq)...])
            guard ["events", "replay", "node"].contains(key) else {
                throw GatewayError("--engine \(url): unknown key '\(key)' (keys: events, replay, node)")
            }
            guard fields[key] == nil else { throw GatewayError("--engine \(url): \(key)= is given twice") }
            fields[key] = value
        }
        var node = defaultNode
        if let n = fields["node"] {
            guard let parsed = Int(n) else { throw GatewayError("--engine \(url): node='\(n)' is not a whole number") }
            node = parsed
        }
        try self.init(url: url, events: fields["events"], replay: fields["replay"], node: node)
    }

    static func checkedURL(_ text: String) throws(GatewayError) -> String {
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme),
            let host = url.host, !host.isEmpty
        else { throw GatewayError("--engine '\(text)': not an http:// or https:// URL with a host") }
        if let port = url.port, !(1...65_535).contains(port) {
            throw GatewayError("--engine '\(text)': port \(port) is outside 1...65535")
        }
        guard url.query == nil, url.fragment == nil else {
            throw GatewayError("--engine '\(text)': a base URL takes no query or fragment")
        }
        var base = text
        while base.hasSuffix("/") { base.removeLast() }
        return base
    }

    static func checkedAddress(_ address: String, key: String, in url: String) throws(GatewayError) -> String {
        let schemes = ["tcp://", "ipc://", "inproc://"]
        guard schemes.contains(where: { address.hasPrefix($0) }), address.count > 6 else {
            throw GatewayError("--engine \(url): \(key)='\(address)' is not a ZeroMQ address (tcp://HOST:PORT, ipc://PATH)")
        }
        return address
    }
}
