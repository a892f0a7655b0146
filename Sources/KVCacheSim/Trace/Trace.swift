import KVCache

/// A request trace in memory: per request its arrival, lengths and block chain, with every
/// chain stored back to back in one array.
public struct Trace: Sendable {
    /// One request's fixed-size record; its blocks are `blocks[blockStart ..< blockStart + blockCount]`.
    @frozen
    public struct Record: Sendable, Hashable {
        /// Arrival time in milliseconds (as in Mooncake traces).
        public var timestamp: Double
        /// Prompt tokens.
        public var inputLength: Int
        /// Generated tokens.
        public var outputLength: Int
        /// Where the request's chain starts in ``Trace/blocks``.
        public var blockStart: Int
        /// The number of blocks in the chain.
        public var blockCount: Int

        /// Creates a record.
        public init(timestamp: Double, inputLength: Int, outputLength: Int, blockStart: Int, blockCount: Int) {
            self.timestamp = timestamp
            self.inputLength = inputLength
            self.outputLength = outputLength
            self.blockStart = blockStart
            self.blockCount = blockCount
        }
    }

    /// Requests in arrival order.
    public var records: [Record]
    /// Every request's chain, concatenated.
    public var blocks: [BlockHash]
    /// Tokens per block (512 for Mooncake traces).
    public var blockSize: Int
    /// Where the trace came from (a path or a generator's description).
    public var source: String

    /// An empty trace.
    public init(blockSize: Int = 512, source: String = "") {
        records = []
        blocks = []
        self.blockSize = blockSize
        self.source = source
    }

    /// The number of requests.
    public var count: Int { records.count }

    /// Appends a request.
    public mutating func append(timestamp: Double, inputLength: Int, outputLength: Int, chain: some Sequence<BlockHash>) {
        let start = blocks.count
        blocks.append(contentsOf: chain)
        records.append(
            Record(
                timestamp: timestamp, inputLength: inputLength, outputLength: outputLength,
                blockStart: start, blockCount: blocks.count - start))
    }

    /// The chain of request `i`.
    public func chain(_ i: Int) -> ArraySlice<BlockHash> {
        let r = records[i]
        return blocks[r.blockStart..<r.blockStart + r.blockCount]
    }

    /// Calls `body` with request `i`'s chain as a buffer (no copy).
    @inlinable
    public func withChain<R>(_ i: Int, _ body: (UnsafeBufferPointer<BlockHash>) throws -> R) rethrows -> R {
        let r = records[i]
        return try blocks.withUnsafeBufferPointer { all in
            try body(UnsafeBufferPointer(rebasing: all[r.blockStart..<r.blockStart + r.blockCount]))
        }
    }

    /// Total prompt tokens.
    public var totalInputTokens: Int { records.reduce(0) { $0 + $1.inputLength } }
}
