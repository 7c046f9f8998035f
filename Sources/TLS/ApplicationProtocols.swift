import CSSL

/// ALPN lists in their wire form (each name preceded by its length), and the server's choice.
enum ApplicationProtocols {
    static func wireFormat(_ names: [String]) throws(TLSError) -> [UInt8] {
        var wire: [UInt8] = []
        for name in names {
            let bytes = Array(name.utf8)
            guard (1...255).contains(bytes.count) else {
                throw TLSError(.configuration, "ALPN protocol name \(name.debugDescription) must be 1 to 255 bytes")
            }
            wire.append(UInt8(bytes.count))
            wire += bytes
        }
        if wire.count > 65_535 { throw TLSError(.configuration, "the ALPN protocol list is too long") }
        return wire
    }

    /// The first of the server's protocols (in its preference order) that the client offered, as an
    /// offset and length into `client`; nil when there is none or the client's list is malformed.
    static func select(server: UnsafeRawBufferPointer, client: UnsafeRawBufferPointer) -> (Int, Int)? {
        var s = 0
        while s < server.count {
            let sLength = Int(server[s])
            let sName = UnsafeRawBufferPointer(rebasing: server[(s + 1)..<(s + 1 + sLength)])
            var c = 0
            while c < client.count {
                let cLength = Int(client[c])
                guard cLength > 0, c + 1 + cLength <= client.count else { return nil }
                if cLength == sLength
                    && UnsafeRawBufferPointer(rebasing: client[(c + 1)..<(c + 1 + cLength)]).elementsEqual(sName)
                {
                    return (c + 1, cLength)
                }
                c += 1 + cLength
            }
            s += 1 + sLength
        }
        return nil
    }

    /// SSL_CTX_set_alpn_select_cb's callback. `arg` is the context's list: a 2-byte length, then the
    /// wire form. No match answers NOACK (carry on without ALPN) rather than failing the handshake:
    /// a client offering only h2 learns from the missing ALPN that it gets HTTP/1.1, and curl and
    /// browsers cope with that.
    static let selectCallback:
        @convention(c) (
            OpaquePointer?, UnsafeMutablePointer<UnsafePointer<UInt8>?>?, UnsafeMutablePointer<UInt8>?,
            UnsafePointer<UInt8>?, UInt32, UnsafeMutableRawPointer?
        ) -> Int32 = { _, out, outLength, input, inputLength, arg in
            guard let out, let outLength, let input, let arg else { return SSL_TLSEXT_ERR_NOACK }
            let serverLength = Int(arg.load(as: UInt16.self))
            let server = UnsafeRawBufferPointer(start: arg + 2, count: serverLength)
            let client = UnsafeRawBufferPointer(start: input, count: Int(inputLength))
            guard let (offset, length) = select(server: server, client: client) else { return SSL_TLSEXT_ERR_NOACK }
            out.pointee = input + offset
            outLength.pointee = UInt8(length)
            return SSL_TLSEXT_ERR_OK
        }
}
