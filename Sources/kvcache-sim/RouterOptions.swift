import ArgumentParser
import KVCache
import KVCacheCLI
import KVCacheSim

/// The routers in front of the nodes (``RouterModel``): how many, what they know, how late.
/// `compare` takes a comma-separated list for each of the first four and runs every
/// combination; `replay` takes one value each.
struct RouterOptions: ParsableArguments {
    @Option(
        parsing: .unconditional,
        help: "Routers splitting the traffic round-robin, each with its own selector and its own view of the load (compare: a list)."
    )
    var routers: String = "1"
    @Option(
        help: """
            What routers know of the caches: events (the engines' KV events), approximate (their \
            own routing decisions, for --approximate-ttl), shadow (their own pools replaying what \
            they routed). compare: a list.
            """)
    var routerView: String = "events"
    @Option(
        parsing: .unconditional,
        help: "events view: milliseconds from an engine's cache change to the routers' seeing it (compare: a list).")
    var eventLagMs: String = "0"
    @Option(parsing: .unconditional, help: "events view: seconds a route-time speculative entry counts as held (0: none; compare: a list).")
    var speculativeTtl: String = "0"
    @Option(
        help:
            "What routers know of the loads: ideal (every node's true queue; one router seeing every event at once, else local), local (the requests each sent itself, as a gateway counts them), engine (the nodes' own reports, read every --load-interval-ms, plus its own since). compare: a list."
    )
    var loadView: String = "ideal"
    @Option(parsing: .unconditional, help: "engine load view: milliseconds between reads of the nodes' loads (compare: a list).")
    var loadIntervalMs: String = "100"
    @Option(parsing: .unconditional, help: "approximate view: seconds a routing decision counts as held.")
    var approximateTtl: Double = 120
    @Option(help: "shadow view: the shadow pools' eviction policy (default: the engines').")
    var shadowEviction: String?
    @Option(parsing: .unconditional, help: "shadow view: the shadow pools' capacity, blocks (default: the engines').")
    var shadowCapacity: Int?

    /// The comma-separated names in `text`, each one of `E`'s cases.
    static func cases<E: RawRepresentable & CaseIterable>(_ text: String, _: E.Type, option: String) throws -> [E]
    where E.RawValue == String {
        try parseList(text, option: option) { name in
            guard let v = E(rawValue: name) else {
                throw CLIError("unknown \(option) '\(name)' (expected one of \(E.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            return v
        }
    }

    /// Every combination asked for, events settings only with the events view.
    func models() throws -> [RouterModel] {
        let counts = try parseIntList(routers, option: "--routers", minimum: 1, maximum: 4096)
        let views = try Self.cases(routerView, RouterModel.View.self, option: "--router-view")
        let lags = try parseList(eventLagMs, option: "--event-lag-ms") { try number($0, "--event-lag-ms", 0...1e10) }
        let ttls = try parseList(speculativeTtl, option: "--speculative-ttl") { try number($0, "--speculative-ttl", 0...1e7) }
        let loadViews = try Self.cases(loadView, RouterModel.LoadView.self, option: "--load-view")
        let intervals = try parseList(loadIntervalMs, option: "--load-interval-ms") { try number($0, "--load-interval-ms", 1...1e10) }
        if !loadViews.contains(.engine) && intervals != [100] {
            throw CLIError("--load-interval-ms applies to --load-view engine")
        }
        try check(approximateTtl, "--approximate-ttl", 1e-6...1e7)
        let eviction = try shadowEviction.map(parseEviction)
        if eviction?.needsFuture == true { throw CLIError("--shadow-eviction \(eviction!): a router does not know the future") }
        if let shadowCapacity { try check(shadowCapacity, "--shadow-capacity", 1...(1 << 40)) }
        if !views.contains(.events) && (lags != [0] || ttls != [0]) {
            throw CLIError("--event-lag-ms and --speculative-ttl apply to --router-view events")
        }
        if !views.contains(.shadow) && (shadowEviction != nil || shadowCapacity != nil) {
            throw CLIError("--shadow-eviction and --shadow-capacity apply to --router-view shadow")
        }
        var models: [RouterModel] = []
        for k in counts {
            for view in views {
                for lag in view == .events ? lags : [0] {
                    for ttl in view == .events ? ttls : [0] {
                        for load in loadViews {
                            for interval in load == .engine ? intervals : [100] {
                                var model = RouterModel(
                                    replicas: k, view: view, eventLagSeconds: lag / 1000, speculativeTTL: ttl,
                                    approximateTTL: approximateTtl, shadowEviction: view == .shadow ? eviction : nil,
                                    shadowCapacity: view == .shadow ? shadowCapacity : nil)
                                model.loadView = load
                                model.loadIntervalSeconds = interval / 1000
                                models.append(model)
                            }
                        }
                    }
                }
            }
        }
        return models
    }

    /// The one model of a command that runs one configuration.
    func model() throws -> RouterModel {
        let all = try models()
        guard all.count == 1 else {
            throw CLIError(
                "replay runs one router model; lists in --routers, --router-view, --event-lag-ms or --speculative-ttl are for 'compare'")
        }
        return all[0]
    }

    private func number(_ text: String, _ flag: String, _ range: ClosedRange<Double>) throws -> Double {
        guard let v = Double(text) else { throw CLIError("\(flag) '\(text)': expected a number") }
        try check(v, flag, range)
        return v
    }
}
