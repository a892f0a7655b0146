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
