/// Why a selector decided as it did: the rule that chose and the facts it weighed, each named
/// and typed. ``description`` is derived from them, and only when read.
///
/// Built-in selectors state their rule and facts where they decide:
///
/// ```swift
/// DecisionReason("least loaded", .seconds("queue delay", node.queueDelay))
/// ```
///
/// A custom selector does the same, or gives plain text (`"longest match within budget"`).
/// A reason holds at most four facts, inline: making one allocates nothing.
public struct DecisionReason: Sendable, Hashable, CustomStringConvertible, ExpressibleByStringInterpolation {
    /// The rule that decided, as the selector names it (`"least loaded"`).
    public var rule: String
    @usableFromInline var _f0: Fact?, _f1: Fact?, _f2: Fact?, _f3: Fact?

    /// A reason: `rule` and up to four facts.
    @inlinable
    public init(_ rule: String, _ f0: Fact? = nil, _ f1: Fact? = nil, _ f2: Fact? = nil, _ f3: Fact? = nil) {
        self.rule = rule
        (_f0, _f1, _f2, _f3) = (f0, f1, f2, f3)
    }

    /// A reason given as text, without facts.
    public init(stringLiteral text: String) { self.init(text) }

    /// A reason given as interpolated text, without facts.
    public init(stringInterpolation: DefaultStringInterpolation) { self.init(String(stringInterpolation: stringInterpolation)) }

    /// The facts, in the order the selector gave them.
    public var facts: [Fact] { [_f0, _f1, _f2, _f3].compactMap { $0 } }

    /// The value of the fact named `name`, if the reason has one.
    public subscript(_ name: String) -> Fact.Value? { facts.first { $0.name == name }?.value }

    /// `rule (fact, fact, ...)`.
    public var description: String {
        let facts = facts
        return facts.isEmpty ? rule : "\(rule) (\(facts.map(\.description).joined(separator: ", ")))"
    }

    /// One named, typed fact a rule weighed.
    public struct Fact: Sendable, Hashable, CustomStringConvertible {
        /// What the fact is (`"queue delay"`).
        public var name: String
        /// Its value, with its unit.
        public var value: Value

        /// A value with its unit.
        public enum Value: Sendable, Hashable, CustomStringConvertible {
            /// A time in seconds.
            case seconds(Double)
            /// A number of KV blocks.
            case blocks(Int)
            /// A node.
            case node(NodeID)
            /// A count of something else (requests, ties).
            case count(Int)
            /// A unitless number (a score, a ratio, a weight).
            case number(Double)

            public var description: String {
                switch self {
                case .seconds(let s): return "\(s) s"
                case .blocks(let b): return b == 1 ? "1 block" : "\(b) blocks"
                case .node(let n): return "node \(n)"
                case .count(let c): return String(c)
                case .number(let x): return String(x)
                }
            }
        }

        /// A fact.
        @inlinable
        public init(_ name: String, _ value: Value) {
            self.name = name
            self.value = value
        }

        /// A time in seconds.
        @inlinable public static func seconds(_ name: String, _ value: Double) -> Fact { Fact(name, .seconds(value)) }
        /// A number of blocks.
        @inlinable public static func blocks(_ name: String, _ value: Int) -> Fact { Fact(name, .blocks(value)) }
        /// A node.
        @inlinable public static func node(_ name: String, _ value: NodeID) -> Fact { Fact(name, .node(value)) }
        /// A count.
        @inlinable public static func count(_ name: String, _ value: Int) -> Fact { Fact(name, .count(value)) }
        /// A unitless number.
        @inlinable public static func number(_ name: String, _ value: Double) -> Fact { Fact(name, .number(value)) }

        /// `name value`.
        public var description: String { "\(name) \(value)" }
    }
}

extension DecisionReason {
    /// No node was available.
    public static var noAvailableNode: Self { "no node available" }
}
