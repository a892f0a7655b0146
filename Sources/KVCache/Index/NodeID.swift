/// A serving node, as a small integer (0 ..< the index's node capacity).
public typealias NodeID = Int
