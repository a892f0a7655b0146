import Foundation

/// Where an engine listens: the key of a connection pool.
struct _UpstreamOrigin: Hashable, Sendable, CustomStringConvertible {
    let tls: Bool
    let host: String
    let port: Int
    /// The `Host` header's value, made once: every request to the origin sends it.
    let hostHeader: String

    init(tls: Bool, host: String, port: Int) {
        self.tls = tls
        self.host = host
        self.port = port
        let h = host.utf8.contains(UInt8(ascii: ":")) ? "[\(host)]" : host
        hostHeader = (port == (tls ? 443 : 80)) ? h : "\(h):\(port)"
    }

    var description: String { "\(tls ? "https" : "http")://\(hostHeader)" }
}

/// An engine's URL taken apart once: its origin and the path requests go to.
struct _UpstreamTarget: Sendable {
    var origin: _UpstreamOrigin
    /// The path and query, starting with `/`.
    var path: String

    /// Parses an `http://` or `https://` URL.
    /// - Throws: ``EngineClientError/invalidURL(_:)`` for anything else.
    init(url text: String) throws(EngineClientError) {
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
            var host = url.host, !host.isEmpty
        else { throw .invalidURL(text) }
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        let tls = scheme == "https"
        let port = url.port ?? (tls ? 443 : 80)
        guard (1...65_535).contains(port) else { throw .invalidURL(text) }
        origin = _UpstreamOrigin(tls: tls, host: host, port: port)
        var path = url.path(percentEncoded: true)
        if path.isEmpty { path = "/" }
        if let query = url.query(percentEncoded: true) { path += "?" + query }
        self.path = path
    }

    /// The same origin, at `path` appended to this one's (a base URL's endpoint).
    func appending(_ suffix: String) -> _UpstreamTarget {
        var t = self
        t.path = path == "/" ? suffix : (path.hasSuffix("/") ? String(path.dropLast()) : path) + suffix
        return t
    }
}
