/// One request to place on a prefill node.
public struct RoutingRequest: Sendable, Hashable {
    /// The request's chained block hashes.
    public var chain: [BlockHash]
    /// Prompt tokens.
    public var inputTokens: Int
    /// Tokens the request is expected to generate.
    public var expectedOutputTokens: Int
    /// Arrival time in seconds (any monotonic origin).
    public var arrival: Double
    /// Tokens per block.
    public var blockSize: Int

    /// Creates a request.
    public init(chain: [BlockHash], inputTokens: Int, expectedOutputTokens: Int = 0, arrival: Double = 0, blockSize: Int = 512) {
        self.chain = chain
        self.inputTokens = inputTokens
        self.expectedOutputTokens = expectedOutputTokens
        self.arrival = arrival
        self.blockSize = blockSize
    }

    /// Prompt tokens not covered by `depth` cached leading blocks.
    /// - Complexity: O(1)
    @inlinable
    public func uncachedTokens(depth: Int) -> Int { max(0, inputTokens - min(depth * blockSize, inputTokens)) }

    /// The number of blocks the prompt fills (the chain may stop before a partial block).
    @inlinable
    public var promptBlocks: Int { (inputTokens + blockSize - 1) / blockSize }
}
