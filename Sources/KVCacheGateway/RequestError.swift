import Hummingbird

/// A request the gateway answers itself, with an OpenAI-style error body:
/// `{"error": {"message": …, "type": …, "param": …, "code": …}}`.
struct RequestError: Error, Sendable {
    var status: HTTPResponse.Status
    var message: String
    var type: String
    var param: String?
    /// Extra headers (`Retry-After` on 429).
    var headers: HTTPFields = [:]

    static func invalid(_ message: String, param: String? = nil) -> RequestError {
        RequestError(status: .badRequest, message: message, type: "invalid_request_error", param: param)
    }
}
