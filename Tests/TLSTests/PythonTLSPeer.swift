import Foundation
import XCTest

/// A TLS peer written with Python's `ssl` module (its own OpenSSL binding, its own state
/// machine): one JSON line per event on stdout ("listening", "handshake", "handshake_failed",
/// "eof", "error", "done"). The script is written next to the test certificates at run time.
final class PythonTLSPeer {
    let child: ChildProcess
    /// The server's port, or the port the client connected to.
    let port: UInt16

    private init(child: ChildProcess, port: UInt16) {
        self.child = child
        self.port = port
    }

    /// Starts a server and waits until it listens.
    static func server(_ arguments: [String], file: StaticString = #filePath, line: UInt = #line) throws
        -> PythonTLSPeer
    {
        let child = try ChildProcess("/usr/bin/python3", [try scriptPath(), "server"] + arguments)
        let peer = PythonTLSPeer(child: child, port: 0)
        guard let listening = peer.event("listening"), let port = listening["port"] as? Int else {
            child.stop()
            throw TestPKI.SetupError("the Python TLS server did not start:\n\(child.transcript)")
        }
        return PythonTLSPeer(child: child, port: UInt16(port))
    }

    static func client(port: UInt16, _ arguments: [String]) throws -> PythonTLSPeer {
        let child = try ChildProcess("/usr/bin/python3", [try scriptPath(), "client", "--port", "\(port)"] + arguments)
        return PythonTLSPeer(child: child, port: port)
    }

    /// The first event named `name` (waiting up to `timeout` seconds for it).
    func event(_ name: String, timeout: TimeInterval = 15) -> [String: Any]? {
        guard
            let line = child.waitForLine(timeout: timeout, where: { Self.parse($0)?["event"] as? String == name })
        else { return nil }
        return Self.parse(line)
    }

    /// The first event that settles a handshake: "handshake" or "handshake_failed".
    func handshakeOutcome(timeout: TimeInterval = 15) -> [String: Any]? {
        guard
            let line = child.waitForLine(
                timeout: timeout,
                where: { ["handshake", "handshake_failed"].contains(Self.parse($0)?["event"] as? String ?? "") })
        else { return nil }
        return Self.parse(line)
    }

    func stop() { child.stop() }

    var transcript: String { child.transcript }

    private static func parse(_ line: String) -> [String: Any]? {
        guard line.hasPrefix("{") else { return nil }
        return (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any]
    }

    private static let script: Result<String, Error> = Result {
        let path = try TestPKI.get().path("tls_peer.py")
        try source.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    private static func scriptPath() throws -> String { try script.get() }

    private static let source = #"""
        import argparse, json, socket, ssl, sys

        def report(**fields):
            print(json.dumps(fields), flush=True)

        p = argparse.ArgumentParser()
        p.add_argument("role", choices=["server", "client"])
        p.add_argument("--port", type=int, default=0)
        p.add_argument("--cert")
        p.add_argument("--key")
        p.add_argument("--ca")
        p.add_argument("--require-client-cert", action="store_true")
        p.add_argument("--server-name")
        p.add_argument("--no-verify", action="store_true")
        p.add_argument("--alpn", default="")
        p.add_argument("--min-version", choices=["1.2", "1.3"])
        p.add_argument("--max-version", choices=["1.2", "1.3"])
        p.add_argument("--ciphers")
        p.add_argument("--small-buffers", action="store_true")
        # echo | send:N (send N bytes, then read until EOF) | send-then-close-notify:N |
        # send-then-abort:N (FIN, no close_notify) | request:TEXT (send, read until EOF)
        p.add_argument("--action", default="echo")
        a = p.parse_args()

        versions = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}
        server = a.role == "server"
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER if server else ssl.PROTOCOL_TLS_CLIENT)
        if a.min_version:
            ctx.minimum_version = versions[a.min_version]
        if a.max_version:
            ctx.maximum_version = versions[a.max_version]
        if a.cert:
            ctx.load_cert_chain(a.cert, a.key)
        if a.ca:
            ctx.load_verify_locations(a.ca)
        if server and a.require_client_cert:
            ctx.verify_mode = ssl.CERT_REQUIRED
        if not server and a.no_verify:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        if a.alpn:
            ctx.set_alpn_protocols(a.alpn.split(","))
        if a.ciphers:
            ctx.set_ciphers(a.ciphers)
        sni = []
        if server:
            ctx.sni_callback = lambda sslobj, name, context: sni.append(name)

        def pattern(n):
            block = bytes(range(251))
            return (block * (n // 251 + 1))[:n]

        def subject(tls):
            cert = tls.getpeercert()
            if not cert:
                return None
            return ",".join(k + "=" + v for rdn in cert["subject"] for (k, v) in rdn)

        def read_to_end(tls):
            total = b""
            while True:
                try:
                    data = tls.recv(65536)
                except ssl.SSLEOFError:
                    return total, False
                if not data:
                    return total, True
                total += data

        def act(tls):
            action, _, arg = a.action.partition(":")
            if action == "echo":
                total = 0
                while True:
                    try:
                        data = tls.recv(65536)
                    except ssl.SSLEOFError:
                        report(event="eof", clean=False, bytes=total)
                        return
                    if not data:
                        report(event="eof", clean=True, bytes=total)
                        break
                    total += len(data)
                    tls.sendall(data)
                tls.unwrap()
            elif action == "send":
                tls.sendall(pattern(int(arg)))
                report(event="sent")
                data, clean = read_to_end(tls)
                report(event="eof", clean=clean, bytes=len(data))
                if clean:
                    tls.unwrap()
            elif action == "send-then-close-notify":
                tls.sendall(pattern(int(arg)))
                tls.unwrap()
                report(event="unwrapped")
            elif action == "send-then-abort":
                # FIN without close_notify. Not close(): unread data (our session tickets) would
                # turn it into a reset.
                tls.sendall(pattern(int(arg)))
                tls.shutdown(socket.SHUT_WR)
                while tls.recv(65536):
                    pass
            elif action == "request":
                tls.sendall(arg.encode())
                data, clean = read_to_end(tls)
                report(event="eof", clean=clean, bytes=len(data), text=data[:200].decode(errors="replace"),
                       pattern=data == pattern(len(data)))

        def serve(tls):
            report(event="handshake", version=tls.version(), cipher=tls.cipher()[0],
                   alpn=tls.selected_alpn_protocol(), sni=sni[0] if sni else None, peer=subject(tls))
            try:
                act(tls)
            except (ssl.SSLError, OSError) as e:
                report(event="error", error=str(e))
            tls.close()

        def small(s):
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if a.small_buffers:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 32768)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32768)

        if server:
            ls = socket.socket()
            ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            small(ls)
            ls.bind(("127.0.0.1", a.port))
            ls.listen(8)
            report(event="listening", port=ls.getsockname()[1])
            raw, _ = ls.accept()
            small(raw)
            try:
                tls = ctx.wrap_socket(raw, server_side=True, suppress_ragged_eofs=False)
            except (ssl.SSLError, OSError) as e:
                report(event="handshake_failed", error=str(e))
                raw.close()
            else:
                serve(tls)
        else:
            raw = socket.socket()
            small(raw)
            raw.connect(("127.0.0.1", a.port))
            try:
                tls = ctx.wrap_socket(raw, server_hostname=a.server_name, suppress_ragged_eofs=False)
            except (ssl.SSLError, OSError) as e:
                report(event="handshake_failed", error=str(e))
                raw.close()
            else:
                serve(tls)
        report(event="done")
        """#
}
