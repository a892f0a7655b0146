extension KVRouter {
    /// Records the load `node`'s engine reports itself (from its metrics, say): the requests
    /// it runs and those waiting. Several routers in front of the same engines then share
    /// their load through the engines: from now until the next report, the node's
    /// ``NodeState/activeRequests`` is what this router runs there now, plus what the engine
    /// ran beyond this router's own requests when it reported.
    ///
    /// A report that counts fewer requests than this router has in flight there (it was read
    /// before some arrived) adds nothing. Counts are clamped to `0 ... 1 << 30`.
    /// - Complexity: O(1).
    public func reportLoad(_ node: NodeID, running: Int, waiting: Int) {
        let reported = min(max(running, 0), 1 << 30) + min(max(waiting, 0), 1 << 30)
        state.withLock { s in
            guard let info = s.nodes[node] else { return }
            let own = s.states[info.slot].activeRequests - info.remoteRequests
            let remote = max(0, reported - own)
            s.states[info.slot].activeRequests = own + remote
            s.nodes[node]!.remoteRequests = remote
            s.operations += 1
        }
    }

    /// Forgets what `node`'s engine last reported: its load is this router's own requests
    /// again (its metrics can no longer be read, say).
    /// - Complexity: O(1).
    public func clearReportedLoad(_ node: NodeID) {
        state.withLock { s in
            guard let info = s.nodes[node], info.remoteRequests != 0 else { return }
            s.states[info.slot].activeRequests -= info.remoteRequests
            s.nodes[node]!.remoteRequests = 0
            s.operations += 1
        }
    }
}
