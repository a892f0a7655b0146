// KVEventFlood: a vLLM-compatible KV-event publisher in Swift (msgpack-c + libzmq), sending
// as fast as it can — the second publisher of the subscriber's throughput measurement.
//
//   swift run -c release KVEventFlood tcp://127.0.0.1:47101 400000
//   swift run -c release kvcache-listen --endpoint tcp://127.0.0.1:47101 --duration 10 --format json
import CMsgpack
import CZeroMQ
import Foundation

let args = CommandLine.arguments
let address = args.count > 1 ? args[1] : "tcp://127.0.0.1:47101"
let batches = args.count > 2 ? Int(args[2]) ?? 400_000 : 400_000

/// One KVEventBatch as vLLM encodes it: [ts, [BlockStored {…}, BlockRemoved {…}], rank].
func encode(_ k: UInt64) -> [UInt8] {
    var buffer = msgpack_sbuffer()
    msgpack_sbuffer_init(&buffer)
    defer { msgpack_sbuffer_destroy(&buffer) }
    var pk = msgpack_packer()
    kvz_packer_init(&pk, &buffer)
    func str(_ s: String) { let u = Array(s.utf8); msgpack_pack_str(&pk, u.count); msgpack_pack_str_body(&pk, u, u.count) }
    msgpack_pack_array(&pk, 3)
    msgpack_pack_double(&pk, Date().timeIntervalSince1970)
    msgpack_pack_array(&pk, 2)
    msgpack_pack_map(&pk, 8)
    str("type"); str("BlockStored")
    str("block_hashes"); msgpack_pack_array(&pk, 2); msgpack_pack_uint64(&pk, 4 * k + 1); msgpack_pack_uint64(&pk, 4 * k + 2)
    str("parent_block_hash"); msgpack_pack_nil(&pk)
    str("token_ids"); msgpack_pack_array(&pk, 32); for t in 0..<32 { msgpack_pack_uint32(&pk, UInt32(t)) }
    str("block_size"); msgpack_pack_int(&pk, 16)
    str("lora_id"); msgpack_pack_nil(&pk)
    str("medium"); str("GPU")
    str("lora_name"); msgpack_pack_nil(&pk)
    msgpack_pack_map(&pk, 3)
    str("type"); str("BlockRemoved")
    str("block_hashes"); msgpack_pack_array(&pk, 1); msgpack_pack_uint64(&pk, 4 * k + 1)
    str("medium"); str("GPU")
    msgpack_pack_int(&pk, 0)
    return Array(UnsafeRawBufferPointer(start: buffer.data, count: buffer.size))
}

let context = zmq_ctx_new()
let pub = zmq_socket(context, ZMQ_PUB)
var hwm: Int32 = 1_000_000
zmq_setsockopt(pub, ZMQ_SNDHWM, &hwm, 4)
guard zmq_bind(pub, address) == 0 else { fatalError("bind \(address): \(String(cString: zmq_strerror(zmq_errno())))") }
let payloads = (0..<UInt64(1024)).map(encode)  // encode once, vary the hashes by batch
Thread.sleep(forTimeInterval: 2)  // let subscribers connect
let start = Date()
for seq in 0..<batches {
    var p = payloads[seq & 1023]
    var s = UInt64(seq).bigEndian
    zmq_send(pub, nil, 0, ZMQ_SNDMORE)
    withUnsafeBytes(of: &s) { _ = zmq_send(pub, $0.baseAddress, 8, ZMQ_SNDMORE) }
    _ = p.withUnsafeMutableBytes { zmq_send(pub, $0.baseAddress, $0.count, 0) }
}
let seconds = Date().timeIntervalSince(start)
print("sent \(batches) batches (\(2 * batches) events) in \(String(format: "%.3f", seconds)) s")
Thread.sleep(forTimeInterval: 1)
zmq_close(pub)
zmq_ctx_term(context)
