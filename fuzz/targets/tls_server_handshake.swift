// libFuzzer target: a server `TLSSession` (Sources/TLS, OpenSSL through memory BIOs) fed ciphertext a
// peer controls.
//
// Input: byte 0 is a control byte (see `TLSControl`). Raw mode: the rest is the client's byte
// stream, fed in the pieces the control byte picks, with a handshake step, a plaintext read and a
// ciphertext take after each piece, then end of input. Mutual mode: byte 1 configures a live client
// (our `TLSSession`, client role, trusting the fixture CA; see `ClientSetup`), and the rest is a list
// of `FlightEdit`s applied to the client's flights on their way to the server (corrupt, truncate,
// reorder, refragment, inject records), so the server gets past the ClientHello into the deeper
// handshake states and the record layer.
//
// Invariants beyond "no crash, no ASan report":
// - after end of input the handshake is never still in progress; failed => `failure` set, no info,
//   no plaintext, a handshake-time message, never the `configuration` category, and on a server
//   that verifies nothing never a category only our own verification produces; done => `info` with
//   TLS 1.2 or 1.3, a cipher, ALPN nil or http/1.1, a sane SNI, the peer subject only under mTLS
//   and then the fixture client's;
// - plaintext only after the handshake is done; the server's output is whole, well-formed records;
// - every call after the end (handshake step, read, write, peer-alert check, key update, shutdown,
//   take, EOF again) returns without trapping and reports the same failure;
// - the same input fed whole and in the control byte's pieces (with its read-buffer size) ends the
//   same: state, failure reason and message, handshake info, plaintext, close_notify and the records
//   the server wrote, by type and length (the random source is deterministic, see FuzzRandom);
// - mutual mode: the plaintext the server reads is a prefix of what the client wrote, all of it
//   once close_notify was read; a server that finished agrees with the client on version, cipher,
//   ALPN, SNI and certificates; with no edits the handshake succeeds (or fails with the expected
//   reason: `version` for a TLS 1.2 client against the TLS 1.3-only server, `certificate_required`
//   for a client without a certificate against mTLS).

import CSSL

#if canImport(Glibc)
    import Glibc
#endif

/// The input's first byte. Bit 0: mutual mode. Bits 1-2: the `ServerVariant`. Bits 3-5: the
/// `TLSFeeding`. Bits 6-7: the size of the server's plaintext read buffer (16384, 1, 7, 300).
struct TLSControl {
    let raw: UInt8

    static let readSizes = [16_384, 1, 7, 300]

    init(raw: UInt8) { self.raw = raw }

    init(mutual: Bool, server: ServerVariant, feeding: TLSFeeding = .whole, readSizeIndex: Int = 0) {
        raw = UInt8((mutual ? 1 : 0) | server.rawValue << 1 | feeding.rawValue << 3 | readSizeIndex << 6)
    }

    var mutual: Bool { raw & 1 != 0 }
    var server: ServerVariant { ServerVariant(rawValue: Int(raw >> 1) & 3)! }
    var feeding: TLSFeeding { TLSFeeding(rawValue: Int(raw >> 3) & 7)! }
    var readSize: Int { Self.readSizes[Int(raw >> 6)] }
}

// MARK: - the two modes

func runRaw(_ bytes: [UInt8], server: ServerVariant, feeding: TLSFeeding, readSize: Int) -> ServerDriver {
    FuzzRandom.reset()
    let driver = ServerDriver(server, readSize: readSize)
    driver.feed(bytes, feeding)
    driver.finish()
    return driver
}

struct MutualRun {
    let server: ServerDriver
    let client: TLSSession
    /// The plaintext the client's writes took.
    let sent: [UInt8]
    /// Everything the server was fed, after the edits.
    let delivered: [UInt8]
}

/// What the client sends once its handshake is done, in three writes (three records).
let clientRequest = Array("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n".utf8)

func runMutual(
    setup: ClientSetup, edits: [FlightEdit], server variant: ServerVariant, feeding: TLSFeeding, readSize: Int
) -> MutualRun {
    FuzzRandom.reset()
    let client: TLSSession
    do {
        client = try FuzzRandom.with(.client) {
            try TLSWorld.shared.clients[setup.contextIndex].makeSession(serverName: setup.serverName)
        }
    } catch {
        fatalError("client session: \(error)")
    }
    if setup.maxTLS12 { _ = traceproxy_SSL_set_max_proto_version(client.handleForTesting, TLS1_2_VERSION) }
    let server = ServerDriver(variant, readSize: readSize)
    var flights = 0
    var delivered: [UInt8] = []
    var sent: [UInt8] = []
    var held: [UInt8] = []
    var closed = false
    var wroteRequest = false

    func deliver(_ produced: [UInt8]) {
        var bytes = produced
        var effects = FlightEdit.Effects()
        for e in edits where e.flight == flights { e.apply(to: &bytes, &effects) }
        flights += 1
        if effects.holdBack {
            held += bytes
            return
        }
        bytes += held
        held = []
        delivered += bytes
        server.feed(bytes, feeding)
        if effects.close { closed = true }
    }

    func clientReads() {
        FuzzRandom.with(.client) {
            client.advanceHandshake()
            var buffer = [UInt8](repeating: 0, count: 4096)
            while case .bytes = client.readPlaintext(into: &buffer) {}
        }
    }

    for _ in 0..<16 {
        var moved = false
        FuzzRandom.with(.client) { _ = client.advanceHandshake() }
        let handshake = client.takeCiphertext()
        if !handshake.isEmpty {
            deliver(handshake)
            moved = true
        }
        if !closed && client.handshakeState == .done && !wroteRequest {
            wroteRequest = true
            FuzzRandom.with(.client) {
                for piece in [clientRequest[0..<5], clientRequest[5..<18], clientRequest[18...]] {
                    if case .bytes(let n) = client.writePlaintext(Array(piece)) { sent += piece.prefix(n) }
                }
                if setup.closeNotify { client.shutdown() }
            }
            let data = client.takeCiphertext()
            if !data.isEmpty {
                deliver(data)
                moved = true
            }
        }
        if closed { break }
        let answer = server.takeNewOutput()
        if !answer.isEmpty {
            client.feedCiphertext(answer)
            clientReads()
            moved = true
        }
        if !moved { break }
    }
    if !closed && !held.isEmpty {
        delivered += held
        server.feed(held, feeding)
    }
    server.finish()
    // The server's last words (an alert, session tickets) reach the client too.
    client.feedCiphertext(server.takeNewOutput())
    clientReads()
    return MutualRun(server: server, client: client, sent: sent, delivered: delivered)
}

// MARK: - invariants

/// The server's output: whole records of a known type and version, no longer than TLS allows.
/// A plaintext alert may carry any version: refusing the ClientHello's version, OpenSSL writes its
/// protocol_version alert with the client's legacy_version in the record header
/// (tls_early_post_process_client_hello), whatever 16 bits the client sent.
func checkRecords(_ out: [UInt8]) {
    var pos = 0
    while pos < out.count {
        fuzzCheck(out.count - pos >= 5, "server output ends in a partial record header")
        let type = out[pos]
        let length = Int(out[pos + 3]) << 8 | Int(out[pos + 4])
        fuzzCheck((20...23).contains(type), "server wrote a record of type \(type)")
        fuzzCheck(
            (out[pos + 1] == 3 && (1...3).contains(out[pos + 2])) || (type == 21 && length == 2),
            "server wrote record version \(out[pos + 1]).\(out[pos + 2])")
        fuzzCheck(length <= 16_384 + 2048, "server wrote a \(length)-byte record")
        fuzzCheck(pos + 5 + length <= out.count, "server output ends in a partial record")
        pos += 5 + length
    }
}

/// The consistent-end invariants of one server session (see the file header).
func checkServer(_ driver: ServerDriver) {
    let s = driver.session
    let variant = driver.variant
    let outcome = driver.outcome
    fuzzCheck(s.handshakeState != .inProgress, "handshake still in progress after end of input: \(outcome)")
    if let failure = s.failure {
        fuzzCheck(failure.reason != .configuration, "session failure classified as configuration: \(outcome)")
        fuzzCheck(!failure.message.isEmpty, "empty failure message")
        if variant != .clientCertificates {
            // Only our own chain or name check produces these; this server checks nothing.
            fuzzCheck(
                failure.reason != .hostnameMismatch && failure.reason != .certificateVerifyFailed,
                "server that verifies nothing failed with \(failure.reason): \(outcome)")
        }
    }
    switch s.handshakeState {
    case .inProgress: break
    case .failed:
        fuzzCheck(s.failure != nil, "failed without a failure")
        fuzzCheck(s.info == nil, "failed handshake with info: \(outcome)")
        fuzzCheck(s.failure!.message.hasPrefix("TLS handshake failed"), "handshake failure message: \(outcome)")
        fuzzCheck(driver.plaintext.isEmpty && !s.receivedCloseNotify, "plaintext from a failed handshake")
    case .done:
        guard let info = s.info else {
            fuzzCheck(false, "handshake done without info")
            return
        }
        fuzzCheck(["TLSv1.2", "TLSv1.3"].contains(info.protocolVersion), "version \(info.protocolVersion)")
        fuzzCheck(variant != .tls13Only || info.protocolVersion == "TLSv1.3", "TLS 1.3-only server did \(info)")
        fuzzCheck(!info.cipher.isEmpty, "no cipher: \(info)")
        fuzzCheck(
            info.applicationProtocol == nil || info.applicationProtocol == "http/1.1", "ALPN outside ours: \(info)")
        if let name = info.serverName {
            fuzzCheck(!name.isEmpty && name.utf8.count <= 255, "SNI \(name.debugDescription)")
        }
        if variant == .clientCertificates {
            fuzzCheck(info.peerSubject == TLSFixture.clientSubject, "mTLS peer subject: \(info)")
        } else {
            fuzzCheck(info.peerSubject == nil, "a peer certificate on a server that asked for none: \(info)")
        }
        if let failure = s.failure {
            fuzzCheck(failure.message.hasPrefix("TLS session failed"), "session failure message: \(outcome)")
        }
    }
    checkRecords(driver.output)
}

/// Every call after the end of input: none traps, a failure is reported again unchanged.
func exerciseAfterEnd(_ driver: ServerDriver) {
    let s = driver.session
    let state = s.handshakeState
    let failure = s.failure
    FuzzRandom.with(.server) {
        fuzzCheck(s.advanceHandshake() == state, "advanceHandshake changed \(state)")
        var small = [UInt8](repeating: 0, count: 16)
        let read = s.readPlaintext(into: &small)
        if let failure {
            fuzzCheck(read == .error(failure), "read after failure: \(read)")
        } else {
            fuzzCheck(read == .closed, "read after end of input: \(read)")
        }
        _ = s.noticePeerAlert()
        let write = s.writePlaintext([0x41, 0x42])
        if let failure { fuzzCheck(write == .error(failure), "write after failure: \(write)") }
        _ = s.requestKeyUpdate()
        s.shutdown()
        checkRecords(s.takeCiphertext())
        _ = s.hasBufferedInput
        _ = s.pendingCiphertextCount
        s.feedEOF()
        let again = s.readPlaintext(into: &small)
        fuzzCheck(again == (s.failure.map { .error($0) } ?? .closed), "second read after end: \(again)")
        if state == .failed { fuzzCheck(s.failure == failure, "failure changed after the end") }
    }
}

func checkMutual(_ run: MutualRun, setup: ClientSetup, variant: ServerVariant, edits: [FlightEdit]) {
    let server = run.server.session
    let client = run.client
    let plaintext = run.server.plaintext
    fuzzCheck(run.sent.starts(with: plaintext), "server read \(plaintext) but the client sent \(run.sent)")
    if server.receivedCloseNotify {
        fuzzCheck(plaintext == run.sent, "close_notify read before all of the client's data")
    }
    if server.handshakeState == .done, let si = server.info {
        fuzzCheck(
            client.handshakeState == .done,
            "server finished, client \(client.handshakeState) \(client.failure.map { "\($0)" } ?? "")")
        if let ci = client.info {
            fuzzCheck(
                si.protocolVersion == ci.protocolVersion && si.cipher == ci.cipher
                    && si.applicationProtocol == ci.applicationProtocol,
                "server \(si) and client \(ci) disagree")
            fuzzCheck(ci.peerSubject == TLSFixture.serverSubject, "client saw \(ci)")
        }
        fuzzCheck(si.protocolVersion == (setup.maxTLS12 ? "TLSv1.2" : "TLSv1.3"), "negotiated \(si) for \(setup.raw)")
        fuzzCheck(
            si.applicationProtocol == (setup.alpn.contains("http/1.1") ? "http/1.1" : nil),
            "ALPN \(si) for \(setup.alpn)")
        fuzzCheck(si.serverName == (setup.serverName == "localhost" ? "localhost" : nil), "SNI \(si)")
    }
    guard edits.isEmpty else { return }
    let outcome = run.server.outcome
    if variant == .tls13Only && setup.maxTLS12 {
        fuzzCheck(server.failure?.reason == .version, "TLS 1.2 client against TLS 1.3 only: \(outcome)")
    } else if variant == .clientCertificates && !setup.certificate {
        fuzzCheck(server.failure?.reason == .certificateRequired, "mTLS without a certificate: \(outcome)")
    } else {
        fuzzCheck(
            server.handshakeState == .done && client.handshakeState == .done, "clean handshake failed: \(outcome)")
        fuzzCheck(plaintext == clientRequest, "clean run delivered \(plaintext.count) bytes")
        fuzzCheck(server.receivedCloseNotify == setup.closeNotify, "close_notify \(server.receivedCloseNotify)")
        fuzzCheck(server.failure == nil, "clean run failed: \(outcome)")
    }
}

/// The same outcome whatever the pieces: every field, the server's output record by record (with
/// the deterministic random source the same records, alerts and lengths).
func checkSame(_ a: ServerDriver, _ b: ServerDriver, _ what: String) {
    let x = a.outcome
    let y = b.outcome
    if verbose { print("  \(what): \(y)") }
    guard x != y else { return }
    var fields: [String] = []
    if x.state != y.state || x.reason != y.reason { fields.append("state/reason") }
    if x.message != y.message { fields.append("message") }
    if x.info != y.info { fields.append("info") }
    if x.plaintext != y.plaintext { fields.append("plaintext \(x.plaintext) vs \(y.plaintext)") }
    if x.closeNotify != y.closeNotify { fields.append("closeNotify") }
    if x.output != y.output { fields.append("output records \(x.output) vs \(y.output)") }
    fuzzCheck(false, "fed whole vs \(what), \(fields.joined(separator: ", ")) differ:\n  \(x)\n  \(y)")
}

// MARK: - entry points

/// TLS_FUZZ_VERBOSE=1: print each run's outcome (for replaying a reproducer by hand).
let verbose = getenv("TLS_FUZZ_VERBOSE") != nil

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTLSServerHandshake(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size >= 1 else { return 0 }
    let input = Array(UnsafeBufferPointer(start: data, count: size))
    let control = TLSControl(raw: input[0])
    let variant = control.server
    let plain = control.feeding == .whole && control.readSize == TLSControl.readSizes[0]
    let what = "\(control.feeding), read size \(control.readSize)"
    if !control.mutual {
        let bytes = Array(input.dropFirst())
        let reference = runRaw(bytes, server: variant, feeding: .whole, readSize: TLSControl.readSizes[0])
        if verbose { print("raw, \(variant) server: \(reference.outcome)") }
        checkServer(reference)
        if !plain {
            let other = runRaw(bytes, server: variant, feeding: control.feeding, readSize: control.readSize)
            checkServer(other)
            checkSame(reference, other, what)
            exerciseAfterEnd(other)
        }
        exerciseAfterEnd(reference)
        return 0
    }
    guard size >= 2 else { return 0 }
    let setup = ClientSetup(raw: input[1])
    let edits = FlightEdit.parse(input[2...])
    let reference = runMutual(
        setup: setup, edits: edits, server: variant, feeding: .whole, readSize: TLSControl.readSizes[0])
    if verbose {
        print("mutual, \(variant) server, client \(setup.raw), \(edits.count) edits: \(reference.server.outcome)")
    }
    checkServer(reference.server)
    checkMutual(reference, setup: setup, variant: variant, edits: edits)
    if !plain {
        let other = runMutual(
            setup: setup, edits: edits, server: variant, feeding: control.feeding, readSize: control.readSize)
        checkServer(other.server)
        checkMutual(other, setup: setup, variant: variant, edits: edits)
        checkSame(reference.server, other.server, what)
        exerciseAfterEnd(other.server)
    }
    exerciseAfterEnd(reference.server)
    return 0
}

/// Builds the contexts before the first input. With TLS_FUZZ_SEED_DIR set, writes the recorded
/// seeds there instead and exits (see fuzz/README.md).
@_cdecl("LLVMFuzzerInitialize")
public func tlsFuzzInitialize(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>
) -> CInt {
    _ = TLSWorld.shared
    if let dir = getenv("TLS_FUZZ_SEED_DIR") {
        recordSeeds(into: String(cString: dir))
        exit(0)
    }
    return 0
}

// MARK: - recorded seeds

/// Live handshakes of the client configurations that matter, written as seeds: for raw mode the
/// whole client->server stream (it replays to a complete handshake and request, thanks to the
/// deterministic random source), and its ClientHello alone; for mutual mode the setup without
/// edits and with a few.
func recordSeeds(into dir: String) {
    func write(_ name: String, _ bytes: [UInt8]) {
        let path = "\(dir)/\(name)"
        guard let f = fopen(path, "w") else { fatalError("cannot write \(path)") }
        _ = bytes.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, f) }
        fclose(f)
    }
    let cases: [(name: String, server: ServerVariant, client: UInt8)] = [
        ("tls13-alpn-sni-close", .plain, 0x82),
        ("tls12-alpn-sni-close", .plain, 0x83),
        ("tls12-cbc-h2-close", .cbcFirst, 0xB7),
        ("tls12-chacha-ip", .plain, 0x61),
        ("tls12-gcm", .plain, 0x11),
        ("tls13-h2only", .plain, 0x04),
        ("tls13-mtls-close", .clientCertificates, 0x8A),
        ("tls12-mtls-close", .clientCertificates, 0x8B),
        ("tls13-mtls-nocert", .clientCertificates, 0x82),
        ("tls13only-tls13", .tls13Only, 0x82),
        ("tls13only-tls12", .tls13Only, 0x83),
    ]
    var written = 0
    for c in cases {
        let setup = ClientSetup(raw: c.client)
        let run = runMutual(setup: setup, edits: [], server: c.server, feeding: .whole, readSize: 16_384)
        checkServer(run.server)
        checkMutual(run, setup: setup, variant: c.server, edits: [])
        let raw = TLSControl(mutual: false, server: c.server).raw
        write("recorded-raw-\(c.name)", [raw] + run.delivered)
        let hello = recordRanges(run.delivered).first.map { Array(run.delivered[$0]) } ?? []
        write("recorded-raw-hello-\(c.name)", [raw] + hello)
        write("recorded-mutual-\(c.name)", [TLSControl(mutual: true, server: c.server).raw, c.client])
        written += 3
        print("\(c.name): server \(run.server.outcome)")
    }
    let edited: [(name: String, client: UInt8, edits: [FlightEdit])] = [
        ("tls13-refragment-hello", 0x82, [FlightEdit(flight: 0, kind: .refragment, offset: 0, value: 100)]),
        ("tls12-refragment-hello", 0x83, [FlightEdit(flight: 0, kind: .refragment, offset: 0, value: 7)]),
        ("tls13-hold-finished", 0x82, [FlightEdit(flight: 1, kind: .holdBack, offset: 0, value: 0)]),
        ("tls13-swap-data", 0x82, [FlightEdit(flight: 2, kind: .swapRecords, offset: 0, value: 1)]),
        ("tls12-swap-ccs", 0x83, [FlightEdit(flight: 1, kind: .swapRecords, offset: 1, value: 2)]),
        ("tls12-cut-finished", 0x83, [FlightEdit(flight: 1, kind: .truncateAndClose, offset: 90, value: 0)]),
        ("tls13-alert-first", 0x82, [FlightEdit(flight: 0, kind: .insertAlert, offset: 0, value: 0)]),
        ("tls13-empty-record", 0x82, [FlightEdit(flight: 0, kind: .insertEmptyRecord, offset: 0, value: 3)]),
        ("tls13-flip-sni", 0x82, [FlightEdit(flight: 0, kind: .xorByte, offset: 130, value: 0x20)]),
        ("tls12-replay-data", 0x83, [FlightEdit(flight: 2, kind: .replayRecord, offset: 1, value: 0)]),
    ]
    for e in edited {
        let control = TLSControl(mutual: true, server: .plain).raw
        write("recorded-mutual-\(e.name)", [control, e.client] + e.edits.flatMap(\.encoded))
        written += 1
    }
    print("wrote \(written) seeds to \(dir)")
}
