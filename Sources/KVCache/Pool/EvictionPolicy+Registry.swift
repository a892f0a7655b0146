extension EvictionPolicy {
    /// The registry: every algorithm a policy can name, in the order ``allCases`` lists them.
    /// A new algorithm is one file and one line here.
    @inlinable
    static func _forEachAlgorithm<Visitor: _AlgorithmVisitor>(_ visitor: inout Visitor) {
        visitor.visit(LRU.self)
        visitor.visit(FIFO.self)
        visitor.visit(LFU.self)
        visitor.visit(SIEVE.self)
        visitor.visit(S3FIFO.self)
        visitor.visit(ARC.self)
        visitor.visit(LengthAware.self)
        visitor.visit(LeafLRU.self)
        visitor.visit(Belady.self)
    }
}
