// libFuzzer target: the HTTP/1.1 response parser (HTTPParser, kind .response) with every body
// framing (none, Content-Length, chunked, until close), 1xx interim responses, 101 upgrades and
// responses to HEAD.
//
// The first input byte says which responses answer a HEAD request: bit k (mod 8) for the k-th
// final response, passed to expectResponse(toHEAD:) before it. The rest is the byte stream.
// Invariants: identical results for whole / byte-by-byte / random feeding; well-formed heads;
// a response to HEAD, a 1xx, 204 and 304 never have a body.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzResponseParser(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size >= 1 else { return 0 }
    let mask = data[0]
    let input = UnsafeRawBufferPointer(start: data + 1, count: size - 1)
    let announce: (Int, inout HTTPParser) -> Void = { k, parser in
        parser.expectResponse(toHEAD: mask >> (k % 8) & 1 == 1)
    }
    var finalIndex = 0
    let reference = drive(input, kind: .response, feeding: .whole, beforeMessage: announce) { h in
        checkHead(h, kind: .response)
        let toHEAD = mask >> (finalIndex % 8) & 1 == 1
        if h.status < 200 || h.status == 204 || h.status == 304 || toHEAD {
            fuzzCheck(h.framing == .none, "status \(h.status) (HEAD: \(toHEAD)) with a body")
        }
        if h.status >= 200 { finalIndex += 1 }
    }
    for feeding in [Feeding.byteByByte, .random] {
        let other = drive(input, kind: .response, feeding: feeding, beforeMessage: announce)
        fuzzCheck(sameOutcome(other, reference), "feeding \(feeding) differs:\n\(other)\nvs whole:\n\(reference)")
    }
    return 0
}
