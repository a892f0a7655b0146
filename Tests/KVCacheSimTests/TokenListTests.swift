import Testing

@testable import KVCacheSim

@Suite("TokenList")
struct TokenListTests {
    @Test("commas, spaces and newlines separate tokens")
    func parses() throws {
        #expect(try TokenList.parse("1,2, 3\n4\t5,,6\r\n", source: "x") == [1, 2, 3, 4, 5, 6])
        #expect(try TokenList.parse("4294967295", source: "x") == [UInt32.max])
    }

    @Test("bad tokens are named with their line and position")
    func errors() {
        #expect(
            throws: TokenList.ParseError(
                source: "f.txt", line: 2, position: 3,
                reason: "'1x' is not a token id (a whole number in 0...4294967295)")
        ) {
            try TokenList.parse("1 2\n1x 4", source: "f.txt")
        }
        #expect(throws: TokenList.ParseError.self) { try TokenList.parse("4294967296", source: "x") }
        #expect(throws: TokenList.ParseError.self) { try TokenList.parse("-1", source: "x") }
        #expect(throws: TokenList.ParseError(source: "e", line: 0, position: 0, reason: "no tokens found (the list is empty)")) {
            try TokenList.parse(" \n ", source: "e")
        }
    }
}
