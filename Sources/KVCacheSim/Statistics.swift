/// Small statistics helpers with the reference definitions.
public enum Statistics {
    /// The `q`-th percentile of ascending `sortedValues` by linear interpolation between the
    /// closest ranks: rank = q/100 · (n − 1). 0 for an empty input.
    public static func percentile(sortedValues: [Double], _ q: Double) -> Double {
        guard !sortedValues.isEmpty else { return 0 }
        let rank = q / 100 * Double(sortedValues.count - 1)
        let lo = Int(rank.rounded(.down)), hi = min(lo + 1, sortedValues.count - 1)
        let frac = rank - Double(lo)
        return sortedValues[lo] + (sortedValues[hi] - sortedValues[lo]) * frac
    }

    /// Mean of `values` (0 when empty).
    public static func mean(_ values: [Double]) -> Double {
        values.isEmpty ? 0 : values.reduce(0, +) / Double(values.count)
    }

    /// Population coefficient of variation: standard deviation / mean (0 when the mean is 0).
    public static func coefficientOfVariation(_ values: [Double]) -> Double {
        let m = mean(values)
        guard m != 0 else { return 0 }
        let variance = values.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(values.count)
        return variance.squareRoot() / m
    }
}
