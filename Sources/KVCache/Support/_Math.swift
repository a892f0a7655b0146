#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// e^x from the platform's C library (KVCache stays free of Foundation).
@usableFromInline
func _exp(_ x: Double) -> Double { exp(x) }
