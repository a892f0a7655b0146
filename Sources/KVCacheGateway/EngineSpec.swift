import Foundation
import KVCache
import KVCacheZMQ

/// What an engine does in the deployment.
public enum EngineRole: String, Sendable, Hashable, CaseIterable {
    /// Prefill and decode, the whole request (`--engine`).
    case whole = "engine"
    /// Prefill only: it computes the prompt's KV cache and hands it to a decode engine
    /// (`--prefill`).
    case prefill
    /// Decode: it takes the KV cache a prefill engine computed, or prefills a short uncached
    /// suffix itself, and generates the answer (`--decode`).
    case decode

    /// The command-line flag that declares an engine of this role.
    public var flag: String { "--\(rawValue)" }
}

/// One engine behind the gateway: its HTTP base URL, where it publishes KV events, its
/// data-parallel ranks, and the node ids the router knows them by.
///
/// The command-line form is `URL[,events=ADDR][,replay=ADDR][,node=N][,dp=N]`:
/// `http://10.0.0.5:8000,events=tcp://10.0.0.5:5557,replay=tcp://10.0.0.5:5567,node=3`.
/// An engine without `events=` publishes nothing the router can read; the router then tracks
/// it in approximate mode (its own routing decisions stand in for the engine's cache).
///
/// An engine with `dp=N` (vLLM's `--data-parallel-size N` behind one address) is N nodes,
/// `node ..< node + N`: rank *r* keeps its own KV cache, publishes its own events on the
/// event and replay addresses offset by *r* (the port plus *r*; `_dp`*r* appended to an
/// `ipc://` or `inproc://` path, as vLLM does), and takes the requests sent with
/// `X-data-parallel-rank: r`.
public struct EngineSpec: Sendable, Hashable, CustomStringConvertible {
    /// The base URL requests go to (`http://10.0.0.5:8000`), without a trailing `/`.
    public var url: String
    /// The engine's KV-event PUB address (vLLM's `--kv-events-config` endpoint) of rank 0, if any.
    public var events: String?
    /// The engine's replay ROUTER address of rank 0, if any (lost event batches are asked for
    /// again there).
    public var replay: String?
    /// The router's id for this engine's rank 0, `0 ..< EngineSpec.maximumNodes`.
    public var node: NodeID
    /// The engine's data-parallel ranks, each a node of its own (default 1).
    public var dataParallelSize: Int
    /// What the engine does (default ``EngineRole/whole``).
    public var role: EngineRole

    /// One more than the largest node id an engine may have.
    public static let maximumNodes = 4_096
    /// The most data-parallel ranks one engine may have.
    public static let maximumDataParallelSize = 1_024

    /// Whether the router follows this engine's own KV events (`false`: approximate mode).
    public var publishesEvents: Bool { events != nil }

    /// The nodes of the engine's ranks: rank *r* is `node + r`.
    public var nodes: Range<NodeID> { node..<(node + dataParallelSize) }

    /// The rank `node` is, if it is one of this engine's.
    public func rank(of node: NodeID) -> Int? { nodes.contains(node) ? node - self.node : nil }

    /// Rank `rank`'s KV-event PUB address.
    public func eventsAddress(rank: Int) -> String? { events.flatMap { EngineEventSubscriber.Endpoint.address($0, rank: rank) } }

    /// Rank `rank`'s replay address.
    public func replayAddress(rank: Int) -> String? { replay.flatMap { EngineEventSubscriber.Endpoint.address($0, rank: rank) } }

    /// The command-line form.
    public var description: String {
        var parts = [url]
        if let events { parts.append("events=\(events)") }
        if let replay { parts.append("replay=\(replay)") }
        parts.append("node=\(node)")
        if dataParallelSize != 1 { parts.append("dp=\(dataParallelSize)") }
        return parts.joined(separator: ",")
    }

    /// Creates a spec, checking each part.
    /// - Throws: ``GatewayError`` naming the part that is wrong.
    public init(
        url: String, events: String? = nil, replay: String? = nil, node: NodeID, dataParallelSize: Int = 1,
        role: EngineRole = .whole
    ) throws(GatewayError) {
        let flag = role.flag
        self.url = try Self.checkedURL(url, flag: flag)
        self.events = try events.map { a throws(GatewayError) in try Self.checkedAddress(a, key: "events", in: url, flag: flag) }
        self.replay = try replay.map { a throws(GatewayError) in try Self.checkedAddress(a, key: "replay", in: url, flag: flag) }
        guard (1...Self.maximumDataParallelSize).contains(dataParallelSize) else {
            throw GatewayError("\(flag) \(url): dp=\(dataParallelSize) is outside 1...\(Self.maximumDataParallelSize)")
        }
        guard node >= 0, node + dataParallelSize <= Self.maximumNodes else {
            let last = Self.maximumNodes - dataParallelSize
            throw GatewayError(
                dataParallelSize == 1
                    ? "\(flag) \(url): node=\(node) is outside 0...\(last)"
                    : "\(flag) \(url): node=\(node) with dp=\(dataParallelSize) is outside 0...\(last) (its ranks are nodes \(node)...\(node + dataParallelSize - 1))"
            )
        }
        guard replay == nil || events != nil else { throw GatewayError("\(flag) \(url): replay= needs events= as well") }
        for (key, address) in [("events", events), ("replay", replay)] {
            guard let address else { continue }
            guard EngineEventSubscriber.Endpoint.address(address, rank: dataParallelSize - 1) != nil else {
                throw GatewayError(
                    "\(flag) \(url): \(key)='\(address)' needs a port, and its ranks' ports (the port plus the rank) must stay within 65535"
                )
            }
        }
        self.node = node
        self.dataParallelSize = dataParallelSize
        self.role = role
    }

    /// Parses `URL[,events=ADDR][,replay=ADDR][,node=N][,dp=N]`.
    /// - Parameters:
    ///   - defaultNode: The node id of rank 0 when `node=` is not given.
    ///   - role: What the engine does (names the flag in errors).
    /// - Throws: ``GatewayError`` naming the part that is wrong.
    public init(parsing text: String, defaultNode: NodeID, role: EngineRole = .whole) throws(GatewayError) {
        let flag = role.flag
        let keys = ["events", "replay", "node", "dp"]
        let parts = text.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        guard let url = parts.first, !url.isEmpty else { throw GatewayError("\(flag) '\(text)': the URL is missing") }
        var fields: [String: String] = [:]
        for part in parts.dropFirst() {
            guard let eq = part.firstIndex(of: "="), !part[..<eq].isEmpty else {
                throw GatewayError("\(flag) \(url): '\(part)' is not KEY=VALUE (keys: \(keys.joined(separator: ", ")))")
            }
            let key = String(part[..<eq]), value = String(part[part.index(after: eq)...])
            guard keys.contains(key) else {
                throw GatewayError("\(flag) \(url): unknown key '\(key)' (keys: \(keys.joined(separator: ", ")))")
            }
            guard fields[key] == nil else { throw GatewayError("\(flag) \(url): \(key)= is given twice") }
            fields[key] = value
        }
        func number(_ key: String) throws(GatewayError) -> Int? {
            guard let text = fields[key] else { return nil }
            guard let n = Int(text) else { throw GatewayError("\(flag) \(url): \(key)='\(text)' is not a whole number") }
            return n
        }
        try self.init(
            url: url, events: fields["events"], replay: fields["replay"], node: number("node") ?? defaultNode,
            dataParallelSize: number("dp") ?? 1, role: role)
    }

    static func checkedURL(_ text: String, flag: String = EngineRole.whole.flag) throws(GatewayError) -> String {
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme),
            let host = url.host, !host.isEmpty
        else { throw GatewayError("\(flag) '\(text)': not an http:// or https:// URL with a host") }
        if let port = url.port, !(1...65_535).contains(port) {
            throw GatewayError("\(flag) '\(text)': port \(port) is outside 1...65535")
        }
        guard url.query == nil, url.fragment == nil else {
            throw GatewayError("\(flag) '\(text)': a base URL takes no query or fragment")
        }
        var base = text
        while base.hasSuffix("/") { base.removeLast() }
        return base
    }

    static func checkedAddress(_ address: String, key: String, in url: String, flag: String) throws(GatewayError) -> String {
        let schemes = ["tcp://", "ipc://", "inproc://"]
        guard schemes.contains(where: { address.hasPrefix($0) }), address.count > 6 else {
            throw GatewayError("\(flag) \(url): \(key)='\(address)' is not a ZeroMQ address (tcp://HOST:PORT, ipc://PATH)")
        }
        return address
    }
}
