import Foundation

/// The part of vLLM's `/tokenize` answer the gateway reads: `tokens`, each in `0 ... UInt32.max`.
struct _TokenizeAnswer: Decodable {
    var tokens: _TokenIDs

    /// The token ids of an answer.
    ///
    /// Every routed text prompt costs one of these, and a prompt's answer holds thousands of
    /// numbers, so the usual shape — an object whose `tokens` member is a list of plain
    /// integers — is read by ``_scanTokenIDs(_:member:)`` in one pass. Anything else (or anything the
    /// scan is unsure of) goes through `JSONDecoder`, which also gives the error.
    static func tokens(in answer: Data) throws -> [UInt32] {
        if let ids = answer.withUnsafeBytes({ _scanTokenIDs($0, member: "tokens") }) { return ids }
        return try JSONDecoder().decode(Self.self, from: answer).tokens.ids
    }
}

/// A JSON list of token ids, each a whole number in `0 ... UInt32.max`.
///
/// Decoded item by item with the decoder's concrete `UInt32` entry point, which avoids the
/// generic per-item dispatch of `[UInt32]`'s own conformance: prompts and `/tokenize` answers
/// carry thousands of ids. An id that does not fit is reported at its index (the decoder's own
/// error for a number out of range names no field).
struct _TokenIDs: Decodable {
    var ids: [UInt32]

    init(from decoder: any Decoder) throws {
        var items = try decoder.unkeyedContainer()
        var ids: [UInt32] = []
        ids.reserveCapacity(items.count ?? 0)
        while !items.isAtEnd {
            let index = items.currentIndex
            do {
                ids.append(try items.decode(UInt32.self))
            } catch {
                let path = decoder.codingPath + [_IndexKey(index)]
                throw DecodingError.dataCorrupted(.init(codingPath: path, debugDescription: "not a token id", underlyingError: error))
            }
        }
        self.ids = ids
    }
}

/// A position in a JSON list, as a coding key.
struct _IndexKey: CodingKey {
    var intValue: Int?
    var stringValue: String { "Index \(intValue ?? 0)" }
    init(_ index: Int) { intValue = index }
    init?(intValue: Int) { self.intValue = intValue }
    init?(stringValue: String) { nil }
}
