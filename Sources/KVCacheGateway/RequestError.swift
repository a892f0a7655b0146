import Foundation
import Hummingbird
import NIOCore

/// A request the gateway answers itself, with an OpenAI-style error body:
/// `{"error": {"message": …, "type": …, "param": …, "code": …}}`.
struct RequestError: Error, Sendable, HTTPResponseError {
    var status: HTTPResponse.Status
    var message: String
    var type: String
    var param: String?
    /// Extra headers (`Retry-After` on 429).
    var headers: HTTPFields = [:]

    static func invalid(_ message: String, param: String? = nil) -> RequestError {
        RequestError(status: .badRequest, message: message, type: "invalid_request_error", param: param)
    }

    func response(from request: Request, context: some RequestContext) throws -> Response { response }

    /// The error as a response.
    var response: Response {
        var fields: HTTPFields = [.contentType: "application/json"]
        fields.append(contentsOf: headers)
        return Response(status: status, headers: fields, body: ResponseBody(byteBuffer: body))
    }

    /// The error's JSON body, its keys sorted.
    var body: ByteBuffer {
        var error: [String: Any] = ["message": message, "type": type, "code": status.code]
        error["param"] = param ?? NSNull()
        let data = (try? JSONSerialization.data(withJSONObject: ["error": error], options: [.sortedKeys])) ?? Data("{}".utf8)
        return ByteBuffer(bytes: data)
    }
}
