/// Puts each node's events back into event-ID order, so that no event is lost to reordering
/// and none is applied twice.
///
/// A node's events are numbered `firstEventID, firstEventID + 1, …`. An event is *admitted*:
/// - the next expected ID: apply it, then every held event that is now next (``nextReady(of:)``);
/// - an ID already applied or already held: a duplicate, ignored and counted;
/// - a later ID: held until the IDs before it arrive (a replay fills the gap); if it reveals
///   IDs never seen before, they are reported once as an ``EventGap``.
///
/// A node's first event need not be `firstEventID`: if it is later, the IDs before it are a
/// gap, reported like any other. A gap that is never filled is given up either explicitly
/// (``skipGap(of:)``, e.g. when the engine no longer has the range) or when more than
/// ``maximumHeld`` events of one node wait behind it; the held events are then applied in
/// order and the missing IDs counted as ``Statistics/skippedEvents``.
///
/// The ID `UInt64.max` is never valid (it would leave no next ID); such events are counted as
/// ``Statistics/invalidEvents`` and ignored.
public struct EventSequencer<Event: Sendable>: Sendable {
    /// What happened to an admitted event.
    public enum Admission: Sendable, Hashable {
        /// It is the node's next event: apply it, then drain ``nextReady(of:)``.
        case inOrder
        /// Its ID was applied or is held already: ignore it.
        case duplicate
        /// It is held until the events before it arrive; `gap` names IDs seen for the first
        /// time as missing (ask the node to replay them).
        case held(gap: EventGap?)
        /// Its ID is `UInt64.max`: ignore it.
        case invalid
    }

    /// Counters.
    public struct Statistics: Sendable, Hashable {
        /// Events ignored because their ID was applied or held already.
        public var duplicates = 0
        /// Events held because they arrived before an earlier one.
        public var held = 0
        /// Gaps reported.
        public var gaps = 0
        /// Missing IDs given up (never applied).
        public var skippedEvents: UInt64 = 0
        /// Events with the invalid ID `UInt64.max`.
        public var invalidEvents = 0
        /// All zero.
        public init() {}
    }

    struct _Stream: Sendable {
        var next: UInt64
        var seenThrough: UInt64?
        var held: [UInt64: Event] = [:]
        var lastApplied: UInt64?
        var skipThrough: UInt64?
    }

    /// The ID each node's stream starts at.
    public let firstEventID: UInt64
    /// The most events held for one node before its oldest gap is given up.
    public let maximumHeld: Int
    /// The counters so far.
    public private(set) var statistics = Statistics()
    var _streams: [NodeID: _Stream] = [:]

    /// Creates a sequencer.
    ///
    /// - Parameters:
    ///   - firstEventID: The ID of every node's first event (0 for vLLM and KVCache's own
    ///     event numbering).
    ///   - maximumHeld: The most events held per node behind a gap (at least 1).
    public init(firstEventID: UInt64 = 0, maximumHeld: Int = 10_000) {
        self.firstEventID = firstEventID
        self.maximumHeld = max(1, maximumHeld)
    }

    /// Admits one event of `node` with `id`; see ``Admission`` for what the caller does next.
    ///
    /// An event held beyond ``maximumHeld`` gives up the node's gaps: the caller then finds
    /// the held events in ``nextReady(of:)`` as for an in-order one, so drain it after
    /// `.held` too.
    /// - Complexity: O(1) expected; O(held events) when a gap is given up.
    public mutating func admit(_ event: Event, id: UInt64, node: NodeID) -> Admission {
        guard id != .max else {
            statistics.invalidEvents += 1
            return .invalid
        }
        let first = firstEventID
        return _streams[node, default: _Stream(next: first)]._admit(
            event, id: id, node: node, maximum: maximumHeld,
            statistics: &statistics)
    }

    /// The node's held event that is next in order, removed, or `nil` when the node waits
    /// for a missing one (or holds nothing).
    /// - Complexity: O(1) expected
    public mutating func nextReady(of node: NodeID) -> Event? {
        guard _streams[node]?.held.isEmpty == false else { return nil }
        let (event, skipped) = _streams[node]!._popNext()
        statistics.skippedEvents += skipped
        return event
    }

    /// Gives up the node's missing events: its held events become ready in ID order
    /// (drain ``nextReady(of:)``) as if the gaps before them were empty.
    ///
    /// - Complexity: O(1); draining costs O(h) per remaining gap for h held events.
    public mutating func skipGap(of node: NodeID) {
        guard _streams[node] != nil else { return }
        _streams[node]!.skipThrough = _streams[node]!.held.keys.max()
    }

    /// Forgets a node's stream: its next event starts it again at ``firstEventID``.
    public mutating func reset(node: NodeID) { _streams[node] = nil }

    /// The last ID applied for `node`, if any.
    public func lastApplied(of node: NodeID) -> UInt64? { _streams[node]?.lastApplied }

    /// Events of `node` held behind a gap.
    public func heldCount(of node: NodeID) -> Int { _streams[node]?.held.count ?? 0 }

    /// Events held behind gaps, all nodes.
    public var heldCount: Int { _streams.values.reduce(0) { $0 + $1.held.count } }
}

extension EventSequencer._Stream {
    mutating func _admit(
        _ event: Event, id: UInt64, node: NodeID, maximum: Int,
        statistics: inout EventSequencer.Statistics
    ) -> EventSequencer.Admission {
        if id < next || held[id] != nil {
            statistics.duplicates += 1
            return .duplicate
        }
        if id == next {
            next = id + 1
            lastApplied = id
            if seenThrough.map({ id > $0 }) ?? true { seenThrough = id }
            return .inOrder
        }
        // id > next: missing IDs between what was seen and this one are new
        let from = seenThrough.map { $0 + 1 } ?? next
        var gap: EventGap?
        if id > from {
            gap = EventGap(node: node, from: from, to: id - 1)
            statistics.gaps += 1
        }
        if seenThrough.map({ id > $0 }) ?? true { seenThrough = id }
        held[id] = event
        statistics.held += 1
        if held.count > maximum { skipThrough = held.keys.max() }
        return .held(gap: gap)
    }

    /// The next held event, jumping over missing IDs while a skip is in force; also returns
    /// how many IDs were jumped.
    mutating func _popNext() -> (Event?, UInt64) {
        var skipped: UInt64 = 0
        if held[next] == nil, let through = skipThrough, next <= through, let oldest = held.keys.min() {
            skipped = oldest - next
            next = oldest
        }
        guard let e = held.removeValue(forKey: next) else {
            if held.isEmpty { skipThrough = nil }
            return (nil, skipped)
        }
        lastApplied = next
        next += 1
        if let through = skipThrough, next > through { skipThrough = nil }
        return (e, skipped)
    }
}
