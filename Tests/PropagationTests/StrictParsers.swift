import Propagation

/// A context read back from injected headers by the strict readers below.
struct StrictContext: Equatable {
    var traceHigh: UInt64
    var traceLow: UInt64
    var span: UInt64
    var parent: UInt64?
    var sampled: Bool?
    var debug: Bool
}

/// Strict readers for what the proxy injects, written independently of our extractors and
/// following the acceptance harness rules: traceparent exactly
/// `00-<32 lower hex>-<16 lower hex>-<2 lower hex>`, B3 ids lower hex (trace 16 or 32, span 16),
/// uber-trace-id four fields of hex.
enum Strict {
    static func isLowerHex(_ s: Substring, count: Int) -> Bool {
        s.count == count && s.allSatisfy { ("0"..."9").contains($0) || ("a"..."f").contains($0) }
    }

    static func traceparent(_ v: String) -> StrictContext? {
        let parts = v.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0] == "00", isLowerHex(parts[1], count: 32),
            isLowerHex(parts[2], count: 16), isLowerHex(parts[3], count: 2)
        else { return nil }
        let high = UInt64(parts[1].prefix(16), radix: 16)!
        let low = UInt64(parts[1].suffix(16), radix: 16)!
        let span = UInt64(parts[2], radix: 16)!
        let flags = UInt8(parts[3], radix: 16)!
        guard high != 0 || low != 0, span != 0 else { return nil }
        return StrictContext(
            traceHigh: high, traceLow: low, span: span, parent: nil, sampled: flags & 1 == 1,
            debug: false)
    }

    static func b3Multi(_ h: [(name: String, value: String)]) -> StrictContext? {
        guard let t = single(h, "X-B3-TraceId"), let s = single(h, "X-B3-SpanId"),
            isLowerHex(Substring(t), count: 16) || isLowerHex(Substring(t), count: 32),
            isLowerHex(Substring(s), count: 16)
        else { return nil }
        var parent: UInt64?
        if let p = single(h, "X-B3-ParentSpanId") {
            guard isLowerHex(Substring(p), count: 16) else { return nil }
            parent = UInt64(p, radix: 16)!
        }
        let debug = single(h, "X-B3-Flags") == "1"
        let sampledHeader = single(h, "X-B3-Sampled")
        let sampled: Bool? = debug ? true : sampledHeader.flatMap { ["1": true, "0": false][$0] }
        return StrictContext(
            traceHigh: t.count == 32 ? UInt64(t.prefix(16), radix: 16)! : 0,
            traceLow: UInt64(t.suffix(16), radix: 16)!, span: UInt64(s, radix: 16)!,
            parent: parent, sampled: sampled, debug: debug)
    }

    static func uber(_ v: String) -> StrictContext? {
        let parts = v.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 4, (1...32).contains(parts[0].count),
            (1...16).contains(parts[1].count), (1...16).contains(parts[2].count),
            (1...2).contains(parts[3].count)
        else { return nil }
        let t = parts[0]
        guard let low = UInt64(t.suffix(16), radix: 16),
            let high = t.count > 16 ? UInt64(t.dropLast(16), radix: 16) : 0,
            let span = UInt64(parts[1], radix: 16), let parent = UInt64(parts[2], radix: 16),
            let flags = UInt8(parts[3], radix: 16)
        else { return nil }
        return StrictContext(
            traceHigh: high, traceLow: low, span: span, parent: parent,
            sampled: flags & 3 != 0, debug: flags & 2 != 0)
    }
}
