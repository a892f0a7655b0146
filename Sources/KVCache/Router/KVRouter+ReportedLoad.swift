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
        state.withLock { $0.core.reportLoad(node, running: running, waiting: waiting) }
    }

    /// Forgets what `node`'s engine last reported: its load is this router's own requests
    /// again (its metrics can no longer be read, say).
    /// - Complexity: O(1).
    public func clearReportedLoad(_ node: NodeID) {
        state.withLock { $0.core.clearReportedLoad(node) }
    }
}
