/// Checks that `value` is finite and in `range`, naming the flag.
public func check(_ value: Double, _ flag: String, _ range: ClosedRange<Double>) throws {
    guard value.isFinite, range.contains(value) else {
        throw CLIError("\(flag) \(value): expected a finite number in \(fmtRange(range.lowerBound))...\(fmtRange(range.upperBound))")
    }
}

/// Checks that `value` is in `range`, naming the flag.
public func check(_ value: Int, _ flag: String, _ range: ClosedRange<Int>) throws {
    guard range.contains(value) else {
        throw CLIError("\(flag) \(value): expected a whole number in \(range.lowerBound)...\(range.upperBound)")
    }
}

/// A range bound as the user would type it (whole numbers without a fraction).
public func fmtRange(_ x: Double) -> String { x == x.rounded() && abs(x) < 1e15 ? String(Int64(x)) : String(x) }
