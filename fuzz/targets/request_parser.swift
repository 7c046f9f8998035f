// libFuzzer target: the HTTP/1.1 request parser (HTTPParser, kind .request), including chunked
// request bodies and pipelined requests.
//
// Invariants beyond "no crash": the same bytes fed whole, byte by byte and in random pieces give
// the same heads, bodies, ends and errors; every accepted head is well-formed; and the fields the
// proxy forwards (appendForwardableFields) parse again as a head with no body framing, so
// nothing the proxy writes upstream can be framed differently from what it meant; and the whole
// forwarded head (HeadWriter.appendRequestHead, under each underscore policy) parses again with
// the same method and framing, an origin-form target without a fragment for absolute-form (its
// authority the only Host), and no underscore field where the policy drops them.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRequestParser(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = UnsafeRawBufferPointer(start: data, count: size)
    let reference = drive(
        input, kind: .request, feeding: .whole,
        onHead: { head in
            checkHead(head, kind: .request)
            checkForwarding(head)
            checkForwardedRequest(head)
        })
    for feeding in [Feeding.byteByByte, .random] {
        let other = drive(input, kind: .request, feeding: feeding)
        fuzzCheck(sameOutcome(other, reference), "feeding \(feeding) differs:\n\(other)\nvs whole:\n\(reference)")
    }
    return 0
}

/// The forwarded field lines under a fixed request line must parse, unframed, field for field.
func checkForwarding(_ head: HTTPHead) {
    var out = Array("GET / HTTP/1.1\r\n".utf8)
    let before = out.count
    head.appendForwardableFields(to: &out, excluding: ["traceparent"], keepUpgrade: head.isUpgrade)
    let lines = out[before...].filter { $0 == 0x0A }.count
    out += [0x0D, 0x0A]
    var parser = HTTPParser(kind: .request, limits: HTTPParser.Limits(maxHeaders: 10_000))
    out.withUnsafeBytes { p in
        do throws(HTTPParseError) {
            let r = try parser.next(p)
            guard case .head(let h)? = r.event else {
                fuzzCheck(false, "forwarded head incomplete")
                return
            }
            fuzzCheck(r.consumed == p.count, "forwarded head has trailing bytes")
            fuzzCheck(h.framing == .none, "forwarded fields frame a body: \(h.framing)")
            fuzzCheck(h.fields.count == lines, "forwarded \(lines) lines, parsed \(h.fields.count)")
            fuzzCheck(h.firstValue(lowercasedName: "traceparent") == nil, "excluded field forwarded")
        } catch {
            fuzzCheck(false, "forwarded head rejected: \(error)")
        }
    }
}

/// The forwarded request head, as the proxy writes it upstream, under both forwarding policies.
func checkForwardedRequest(_ head: HTTPHead) {
    for policy in [HeadWriter.UnderscorePolicy.drop, .allow] {
        var out: [UInt8] = []
        HeadWriter.appendRequestHead(head, excluding: ["traceparent"], underscores: policy, to: &out) { _ in }
        var parser = HTTPParser(kind: .request, limits: HTTPParser.Limits(maxHeaders: 10_000))
        out.withUnsafeBytes { p in
            do throws(HTTPParseError) {
                guard case .head(let h)? = try parser.next(p).event else {
                    fuzzCheck(false, "forwarded request head incomplete")
                    return
                }
                fuzzCheck(h.method == head.method && h.methodString == head.methodString, "method changed")
                fuzzCheck(h.framing == head.framing, "framing changed: \(h.framing) vs \(head.framing)")
                fuzzCheck(!h.bytes[h.targetRange].contains(UInt8(ascii: "#")), "fragment forwarded")
                switch head.targetForm {
                case .absolute:
                    fuzzCheck(h.targetForm == .origin || h.targetForm == .asterisk, "absolute-form forwarded")
                    fuzzCheck(h.hostFieldCount == 1, "absolute-form: \(h.hostFieldCount) Host fields")
                    fuzzCheck(
                        h.hostValueRange.map { Array(h.bytes[$0]) }
                            == head.authorityRange.map { Array(head.bytes[$0]) },
                        "absolute-form: Host is not the target's authority")
                default:
                    fuzzCheck(h.targetForm == head.targetForm, "target form changed")
                    fuzzCheck(h.hostFieldCount == head.hostFieldCount, "Host fields changed")
                }
                if policy == .drop { fuzzCheck(h.underscoreFieldCount == 0, "underscore field forwarded") }
            } catch {
                fuzzCheck(false, "forwarded request head rejected: \(error)")
            }
        }
    }
}
