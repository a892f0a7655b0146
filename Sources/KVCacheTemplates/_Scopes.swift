/// The variables a render sees: the context it was given, and above it the scopes that loops,
/// `with` blocks and macro calls open, innermost last.
///
/// The scopes are few and small, so their variables live in two flat arrays searched from the
/// end: opening a scope (each loop iteration opens one) makes no dictionary, and a name in a
/// scope is found by comparing, not hashing. The context, which can be large, is a dictionary.
struct _Scopes {
    var context: [String: _V]
    private var names: [String] = []
    private var values: [_V] = []
    /// Where each open scope's variables begin in `names` and `values`.
    private var starts: [Int] = []

    init(context: [String: _V]) { self.context = context }

    /// The innermost variable called `name`, if any.
    /// - Complexity: O(variables in open scopes), then O(1) expected in the context.
    func lookup(_ name: String) -> _V? {
        var i = names.count - 1
        while i >= 0 {
            if names[i] == name { return values[i] }
            i -= 1
        }
        return context[name]
    }

    /// Sets `name` in the innermost scope (the context when no scope is open).
    mutating func assign(_ name: String, _ value: _V) {
        guard let start = starts.last else {
            context[name] = value
            return
        }
        var i = names.count - 1
        while i >= start {
            if names[i] == name {
                values[i] = value
                return
            }
            i -= 1
        }
        names.append(name)
        values.append(value)
    }

    /// Opens a scope: variables assigned from now on go into it.
    mutating func open() { starts.append(names.count) }

    /// Closes the innermost scope, forgetting its variables.
    mutating func close() {
        let start = starts.removeLast()
        names.removeSubrange(start...)
        values.removeSubrange(start...)
    }

    /// The context alone with one empty scope open, as a macro's body sees it.
    var isolated: _Scopes {
        var s = _Scopes(context: context)
        s.open()
        return s
    }
}
