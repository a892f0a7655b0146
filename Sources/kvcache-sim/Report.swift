import Foundation

/// Renders rows of key → value as an aligned table, Markdown, CSV or JSON lines.
enum Report {
    static func render(rows: [[String: String]], keys: [String], format: OutputFormat) -> String {
        switch format {
        case .json:
            return rows.map { row in
                "{" + keys.compactMap { k in row[k].map { "\(jsonString(k)):\(jsonValue($0))" } }.joined(separator: ",") + "}"
            }.joined(separator: "\n")
        case .csv:
            let header = keys.joined(separator: ",")
            let lines = rows.map { row in keys.map { csvField(row[$0] ?? "") }.joined(separator: ",") }
            return ([header] + lines).joined(separator: "\n")
        case .markdown:
            let header = "| " + keys.joined(separator: " | ") + " |"
            let rule = "|" + keys.map { _ in " --- |" }.joined()
            let lines = rows.map { row in "| " + keys.map { row[$0] ?? "" }.joined(separator: " | ") + " |" }
            return ([header, rule] + lines).joined(separator: "\n")
        case .table:
            let widths = keys.map { k in max(k.count, rows.map { ($0[k] ?? "").count }.max() ?? 0) }
            func line(_ cells: [String]) -> String {
                zip(cells, widths).map { c, w in c.count >= w ? c : String(repeating: " ", count: w - c.count) + c }
                    .joined(separator: "  ")
            }
            return ([line(keys)] + rows.map { row in line(keys.map { row[$0] ?? "" }) }).joined(separator: "\n")
        }
    }

    /// A JSON number when `value` reads as one, else a JSON string.
    static func jsonValue(_ value: String) -> String {
        if value.hasPrefix("{") || value.hasPrefix("[") { return value }
        if let d = Double(value), d.isFinite, !value.contains("x"), value.first != "+" { return value }
        if value == "true" || value == "false" { return value }
        return jsonString(value)
    }

    static func csvField(_ s: String) -> String {
        s.contains(",") || s.contains("\"") ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
    }
}
