import KVCache

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Built-in request workloads for the scenarios of the field, generated from a seed so runs
/// are reproducible. With no `--trace`, commands run on one of these.
///
/// Every workload produces a ``Trace`` in Mooncake's shape: 512-token blocks whose ids are
/// prefix ids (equal id ⇔ equal prefix up to that block).
public struct Workload: Sendable, Hashable {
    /// The scenario.
    public enum Scenario: String, Sendable, CaseIterable, Hashable {
        /// Prompts drawn uniformly from a pool of documents (no skew).
        case uniform
        /// Mild skew: Zipf s = 0.6 over documents.
        case lightHotspot = "light-hotspot"
        /// Zipf s = 0.9.
        case mediumHotspot = "medium-hotspot"
        /// Zipf s = 1.1, and a hot document is requested in sequential bursts.
        case strongHotspot = "strong-hotspot"
        /// Zipf s = 1.5 with long bursts: nearly all traffic on a few prefixes.
        case extremeHotspot = "extreme-hotspot"
        /// Multi-turn conversations behind a few shared system prompts (each turn extends
        /// the previous turn's prompt).
        case conversation
    }

    /// The scenario.
    public var scenario: Scenario
    /// Requests to generate (default 10,000).
    public var requests: Int
    /// Seed (default 1).
    public var seed: UInt64
    /// Zipf exponent; `nil` uses the scenario's.
    public var zipfSkew: Double?
    /// Blocks of a shared system prompt in front of every request (default 4).
    public var sharedPrefixBlocks: Int
    /// Distinct system prompts (default 4).
    public var systemPrompts: Int
    /// Distinct documents for the document scenarios (default 2,000).
    public var documents: Int
    /// Mean arrival rate, requests per second, Poisson (default 4).
    public var arrivalRate: Double
    /// Mean prompt length in blocks beyond the shared prefix (default 12).
    public var meanBlocks: Int
    /// Mean output tokens (default 300).
    public var meanOutputTokens: Int
    /// Tokens per block (512).
    public var blockSize: Int

    /// Creates a workload description.
    public init(
        scenario: Scenario = .conversation, requests: Int = 10_000, seed: UInt64 = 1, zipfSkew: Double? = nil,
        sharedPrefixBlocks: Int = 4, systemPrompts: Int = 4, documents: Int = 2_000, arrivalRate: Double = 4,
        meanBlocks: Int = 12, meanOutputTokens: Int = 300, blockSize: Int = 512
    ) {
        self.scenario = scenario
        self.requests = requests
        self.seed = seed
        self.zipfSkew = zipfSkew
        self.sharedPrefixBlocks = sharedPrefixBlocks
        self.systemPrompts = systemPrompts
        self.documents = documents
        self.arrivalRate = arrivalRate
        self.meanBlocks = meanBlocks
        self.meanOutputTokens = meanOutputTokens
        self.blockSize = blockSize
    }

    /// The scenario's Zipf exponent unless overridden.
    public var skew: Double {
        if let zipfSkew { return zipfSkew }
        switch scenario {
        case .uniform: return 0
        case .lightHotspot: return 0.6
        case .mediumHotspot: return 0.9
        case .strongHotspot: return 1.1
        case .extremeHotspot: return 1.5
        case .conversation: return 0.8
        }
    }

    /// Mean length of a sequential burst of requests for one document (1 = none).
    var burst: Int {
        switch scenario {
        case .strongHotspot: return 8
        case .extremeHotspot: return 32
        default: return 1
        }
    }

    /// Checks the parameters.
    public func validate() throws(ConfigurationError) {
        guard requests >= 1 else { throw ConfigurationError(message: "workload requests must be at least 1, got \(requests)") }
        guard arrivalRate > 0 else { throw ConfigurationError(message: "arrival rate must be positive, got \(arrivalRate)") }
        guard documents >= 1, systemPrompts >= 1 else {
            throw ConfigurationError(message: "documents and system prompts must be at least 1")
        }
        guard meanBlocks >= 1 else { throw ConfigurationError(message: "mean blocks must be at least 1, got \(meanBlocks)") }
        guard sharedPrefixBlocks >= 0 else { throw ConfigurationError(message: "shared prefix blocks must not be negative") }
        guard skew >= 0 else { throw ConfigurationError(message: "Zipf skew must not be negative, got \(skew)") }
    }

    /// Generates the trace.
    /// - Throws: ``ConfigurationError`` for invalid parameters.
    public func generate() throws(ConfigurationError) -> Trace {
        try validate()
        var rng = SeededGenerator(seed: seed)
        var ids = _PrefixIDs()
        var trace = Trace(blockSize: blockSize, source: "workload:\(scenario.rawValue) seed \(seed)")
        var clock = 0.0
        let zipf = _Zipf(count: scenario == .conversation ? systemPrompts : documents, skew: skew)
        func gap() -> Double { -log1p(-Double.random(in: 0..<1, using: &rng)) / arrivalRate }
        func length(_ mean: Int) -> Int { max(1, Int((Double(mean) * (0.5 + Double.random(in: 0..<1, using: &rng))).rounded())) }

        switch scenario {
        case .conversation:
            // sessions: a system prompt (Zipf over prompts), then turns that extend the prompt
            struct Session { var chain: [BlockHash]; var turnsLeft: Int }
            var sessions: [Session] = []
            while trace.count < requests {
                clock += gap()
                if sessions.isEmpty || sessions.count < 64 && Double.random(in: 0..<1, using: &rng) < 0.3 {
                    let prompt = zipf.sample(&rng)
                    var chain: [BlockHash] = []
                    for b in 0..<sharedPrefixBlocks { chain.append(ids.id(parent: chain.last, tag: UInt64(prompt) << 20 | UInt64(b))) }
                    sessions.append(Session(chain: chain, turnsLeft: 1 + Int.random(in: 0..<8, using: &rng)))
                }
                let s = Int.random(in: 0..<sessions.count, using: &rng)
                for _ in 0..<length(max(1, meanBlocks / 3)) { sessions[s].chain.append(ids.fresh()) }
                let chain = sessions[s].chain
                let input = chain.count * blockSize - Int.random(in: 0..<blockSize, using: &rng)
                trace.append(timestamp: (clock * 1000).rounded(), inputLength: input, outputLength: length(meanOutputTokens), chain: chain)
                sessions[s].turnsLeft -= 1
                if sessions[s].turnsLeft <= 0 { sessions.remove(at: s) }
            }
        default:
            var current = zipf.sample(&rng)
            var burstLeft = 0
            while trace.count < requests {
                clock += gap()
                if burstLeft <= 0 {
                    current = skew == 0 ? Int.random(in: 0..<documents, using: &rng) : zipf.sample(&rng)
                    burstLeft = burst == 1 ? 1 : 1 + Int.random(in: 0..<(2 * burst), using: &rng)
                }
                burstLeft -= 1
                var chain: [BlockHash] = []
                let prompt = current % systemPrompts
                for b in 0..<sharedPrefixBlocks { chain.append(ids.id(parent: chain.last, tag: UInt64(prompt) << 20 | UInt64(b))) }
                // the document: a fixed chain per document id
                let docBlocks = 4 + (current * 7919) % max(meanBlocks, 1)
                for b in 0..<docBlocks { chain.append(ids.id(parent: chain.last, tag: 1 << 40 | UInt64(current) << 16 | UInt64(b))) }
                // a unique question
                for _ in 0..<length(2) { chain.append(ids.fresh()) }
                let input = chain.count * blockSize - Int.random(in: 0..<blockSize, using: &rng)
                trace.append(timestamp: (clock * 1000).rounded(), inputLength: input, outputLength: length(meanOutputTokens), chain: chain)
            }
        }
        return trace
    }
}

/// Assigns prefix ids: the same (parent, tag) always gets the same id; fresh ids are unique.
struct _PrefixIDs {
    var known: [PairKey: BlockHash] = [:]
    var next: UInt64 = 0
    struct PairKey: Hashable { var parent: UInt64; var tag: UInt64 }

    mutating func id(parent: BlockHash?, tag: UInt64) -> BlockHash {
        let key = PairKey(parent: parent.map { $0.rawValue &+ 1 } ?? 0, tag: tag)
        if let id = known[key] { return id }
        let id = BlockHash(next)
        next += 1
        known[key] = id
        return id
    }

    /// An id never handed out before.
    mutating func fresh() -> BlockHash {
        let id = BlockHash(next)
        next += 1
        return id
    }
}

/// Zipf sampling over `0..<count` with exponent `skew` by inverse CDF.
struct _Zipf {
    let cdf: [Double]

    init(count: Int, skew: Double) {
        var acc = 0.0
        var c: [Double] = []
        c.reserveCapacity(count)
        for r in 1...max(count, 1) {
            acc += pow(Double(r), -skew)
            c.append(acc)
        }
        cdf = c.map { $0 / acc }
    }

    func sample(_ rng: inout SeededGenerator) -> Int {
        let u = Double.random(in: 0..<1, using: &rng)
        var lo = 0, hi = cdf.count - 1
        while lo < hi {
            let mid = (lo + hi) / 2
            if cdf[mid] < u { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }
}
