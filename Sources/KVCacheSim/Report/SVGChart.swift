#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Minimal, dependency-free SVG charts for reports: a line chart (hit ratio against capacity)
/// and a horizontal bar chart (configurations ranked by a metric), with axes, tick labels,
/// axis titles and a legend.
public enum SVGChart {
    /// One line of a line chart.
    public struct Series: Sendable {
        public var name: String
        public var points: [(x: Double, y: Double)]
        public var dashed: Bool
        public init(name: String, points: [(x: Double, y: Double)], dashed: Bool = false) {
            self.name = name
            self.points = points
            self.dashed = dashed
        }
    }

    static let palette = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"]

    static func escape(_ s: String) -> String {
        s.replacing("&", with: "&amp;").replacing("<", with: "&lt;").replacing(">", with: "&gt;")
    }

    static func format(_ v: Double) -> String {
        if v == 0 { return "0" }
        if abs(v) >= 1_000_000 { return String(format3: v / 1_000_000) + "M" }
        if abs(v) >= 1_000 { return String(format3: v / 1_000) + "k" }
        return String(format3: v)
    }

    /// Tick values for `lo ... hi` (about five, at 1/2/5 × 10ⁿ steps).
    static func ticks(_ lo: Double, _ hi: Double) -> [Double] {
        guard hi > lo else { return [lo] }
        let raw = (hi - lo) / 5
        let mag = pow10(floor(log10(raw)))
        let step = [1.0, 2, 5, 10].map { $0 * mag }.first { $0 >= raw } ?? raw
        var t = (lo / step).rounded(.up) * step
        var out: [Double] = []
        while t <= hi + step * 1e-9 { out.append(t); t += step }
        return out
    }

    /// A line chart. With `logX`, the x axis is logarithmic (capacities).
    public static func lineChart(
        title: String, xLabel: String, yLabel: String, series: [Series], logX: Bool = false,
        width: Double = 760, height: Double = 440
    ) -> String {
        let left = 70.0, right = 190.0, top = 40.0, bottom = 56.0
        let pw = width - left - right, ph = height - top - bottom
        let xs = series.flatMap { $0.points.map(\.x) }.filter { !logX || $0 > 0 }
        let ys = series.flatMap { $0.points.map(\.y) }
        let fx: (Double) -> Double = logX ? { log10($0) } : { $0 }
        let (x0, x1) = (fx(xs.min() ?? 0), fx(xs.max() ?? 1))
        let yMax = max(ys.max() ?? 1, 1e-9) * 1.05
        let y0 = min(0, ys.min() ?? 0)
        func px(_ x: Double) -> Double { left + (x1 > x0 ? (fx(x) - x0) / (x1 - x0) : 0.5) * pw }
        func py(_ y: Double) -> Double { top + ph - (y - y0) / (yMax - y0) * ph }
        var svg = header(width, height, title)
        // axes
        svg += "<line x1=\"\(left)\" y1=\"\(top + ph)\" x2=\"\(left + pw)\" y2=\"\(top + ph)\" stroke=\"#333\"/>\n"
        svg += "<line x1=\"\(left)\" y1=\"\(top)\" x2=\"\(left)\" y2=\"\(top + ph)\" stroke=\"#333\"/>\n"
        for t in ticks(y0, yMax) {
            let y = py(t)
            svg += "<line x1=\"\(left)\" y1=\"\(y)\" x2=\"\(left + pw)\" y2=\"\(y)\" stroke=\"#e5e5e5\"/>\n"
            svg += "<text x=\"\(left - 8)\" y=\"\(y + 4)\" text-anchor=\"end\">\(format(t))</text>\n"
        }
        let xTicks: [Double] =
            logX
            ? (Int(floor(x0))...Int(ceil(x1))).flatMap { e in [1.0, 2, 5].map { $0 * pow10(Double(e)) } }.filter {
                fx($0) >= x0 - 1e-9 && fx($0) <= x1 + 1e-9
            }
            : ticks(xs.min() ?? 0, xs.max() ?? 1)
        for t in xTicks {
            let x = px(t)
            svg += "<line x1=\"\(x)\" y1=\"\(top + ph)\" x2=\"\(x)\" y2=\"\(top + ph + 5)\" stroke=\"#333\"/>\n"
            svg += "<text x=\"\(x)\" y=\"\(top + ph + 20)\" text-anchor=\"middle\">\(format(t))</text>\n"
        }
        svg += "<text x=\"\(left + pw / 2)\" y=\"\(height - 12)\" text-anchor=\"middle\">\(escape(xLabel))</text>\n"
        svg +=
            "<text x=\"18\" y=\"\(top + ph / 2)\" text-anchor=\"middle\" transform=\"rotate(-90 18 \(top + ph / 2))\">\(escape(yLabel))</text>\n"
        for (i, s) in series.enumerated() {
            let color = palette[i % palette.count]
            let pts = s.points.filter { !logX || $0.x > 0 }.map { "\(px($0.x)),\(py($0.y))" }.joined(separator: " ")
            svg +=
                "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\"\(s.dashed ? " stroke-dasharray=\"6 4\"" : "") points=\"\(pts)\"/>\n"
            for p in s.points where !logX || p.x > 0 {
                svg += "<circle cx=\"\(px(p.x))\" cy=\"\(py(p.y))\" r=\"2.5\" fill=\"\(color)\"/>\n"
            }
            let ly = top + 10 + Double(i) * 20
            svg +=
                "<line x1=\"\(left + pw + 16)\" y1=\"\(ly)\" x2=\"\(left + pw + 40)\" y2=\"\(ly)\" stroke=\"\(color)\" stroke-width=\"2\"\(s.dashed ? " stroke-dasharray=\"6 4\"" : "")/>\n"
            svg += "<text x=\"\(left + pw + 46)\" y=\"\(ly + 4)\">\(escape(s.name))</text>\n"
        }
        return svg + "</svg>\n"
    }

    /// A horizontal bar chart of `bars` (label, value), in the given order. When the values
    /// span more than two decades the axis is logarithmic, so outliers do not flatten the rest.
    public static func barChart(title: String, valueLabel: String, bars: [(label: String, value: Double)], width: Double = 760) -> String {
        let left = 250.0, right = 70.0, top = 40.0, rowHeight = 22.0, bottom = 50.0
        let height = top + bottom + rowHeight * Double(max(bars.count, 1))
        let pw = width - left - right
        let vMax = max(bars.map(\.value).max() ?? 1, 1e-12) * 1.05
        let positive = bars.map(\.value).filter { $0 > 0 }
        let logScale = (positive.min().map { vMax / $0 > 100 } ?? false)
        let vMin = logScale ? pow10(floor(log10(positive.min()!))) : 0
        func px(_ v: Double) -> Double {
            logScale
                ? left + max(0, log10(max(v, vMin)) - log10(vMin)) / (log10(vMax) - log10(vMin)) * pw
                : left + max(0, v) / vMax * pw
        }
        var svg = header(width, height, title)
        let axisY = top + rowHeight * Double(bars.count)
        let tickValues =
            logScale ? (Int(log10(vMin))...Int(ceil(log10(vMax)))).map { pow10(Double($0)) }.filter { $0 <= vMax } : ticks(0, vMax)
        for t in tickValues {
            svg += "<line x1=\"\(px(t))\" y1=\"\(top)\" x2=\"\(px(t))\" y2=\"\(axisY)\" stroke=\"#e5e5e5\"/>\n"
            svg += "<text x=\"\(px(t))\" y=\"\(axisY + 18)\" text-anchor=\"middle\">\(format(t))</text>\n"
        }
        for (i, b) in bars.enumerated() {
            let y = top + Double(i) * rowHeight
            svg +=
                "<rect x=\"\(left)\" y=\"\(y + 3)\" width=\"\(px(b.value) - left)\" height=\"\(rowHeight - 6)\" fill=\"\(palette[i % palette.count])\"/>\n"
            svg += "<text x=\"\(left - 8)\" y=\"\(y + rowHeight / 2 + 4)\" text-anchor=\"end\">\(escape(b.label))</text>\n"
            svg += "<text x=\"\(px(b.value) + 6)\" y=\"\(y + rowHeight / 2 + 4)\">\(format(b.value))</text>\n"
        }
        svg += "<line x1=\"\(left)\" y1=\"\(top)\" x2=\"\(left)\" y2=\"\(axisY)\" stroke=\"#333\"/>\n"
        svg += "<line x1=\"\(left)\" y1=\"\(axisY)\" x2=\"\(left + pw)\" y2=\"\(axisY)\" stroke=\"#333\"/>\n"
        svg +=
            "<text x=\"\(left + pw / 2)\" y=\"\(height - 10)\" text-anchor=\"middle\">\(escape(valueLabel + (logScale ? ", log scale" : "")))</text>\n"
        return svg + "</svg>\n"
    }

    static func header(_ width: Double, _ height: Double, _ title: String) -> String {
        """
        <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" viewBox="0 0 \(Int(width)) \(Int(height))" font-family="Helvetica, Arial, sans-serif" font-size="12">
        <rect width="100%" height="100%" fill="white"/>
        <text x="\(width / 2)" y="22" text-anchor="middle" font-size="15" font-weight="bold">\(escape(title))</text>

        """
    }
}

func pow10(_ x: Double) -> Double { pow(10, x) }

extension String {
    /// Up to three significant decimals, no trailing zeros.
    init(format3 v: Double) {
        var s = String(Double((v * 1000).rounded()) / 1000)
        if s.hasSuffix(".0") { s.removeLast(2) }
        self = s
    }
}
