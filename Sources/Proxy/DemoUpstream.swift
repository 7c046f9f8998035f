import Dispatch
import HTTP1
import Reactor
import Stats

#if canImport(Glibc)
    import Glibc
#endif

/// `--demo`: a tiny origin on loopback so the first command in README shows traced traffic without
/// any other service. It answers every request with a short JSON document and keeps connections
/// alive; it also prints the trace headers it received, which is what an instrumented app would see.
final class DemoUpstreamConnection: EventHandler {
    let fd: Int32
    let loop: EventLoop
    var input = ByteBuffer()
    var output = ByteBuffer()
    var parser = HTTPParser(kind: .request)
    var closed = false
    var pendingHead: HTTPHead?

    init(fd: Int32, loop: EventLoop) {
        self.fd = fd
        self.loop = loop
    }

    func onReadable() {
        if closed { return }
        switch input.read(from: fd) {
        case .bytes: break
        case .wouldBlock: return
        case .eof, .error:
            close()
            return
        }
        do {
            while !closed {
                let (consumed, event) = try input.withReadableBytes { (b) throws(HTTPParseError) in try parser.next(b) }
                input.consume(consumed)
                switch event {
                case .head(let h): pendingHead = h
                case .end:
                    if let h = pendingHead { respond(h) }
                    pendingHead = nil
                case .body:
                    break
                case .none:
                    if consumed == 0 || input.isEmpty { return }
                }
            }
        } catch {
            output.append(SimpleResponse.make(status: 400, body: "bad request\n", close: true))
            flush()
            close()
        }
    }

    private func respond(_ h: HTTPHead) {
        let traceparent = h.firstValue(lowercasedName: "traceparent") ?? ""
        let body =
            "{\"service\":\"traceproxy-demo-upstream\",\"path\":\"\(jsonEscape(h.target))\",\"traceparent\":\"\(jsonEscape(traceparent))\"}\n"
        output.append(
            SimpleResponse.make(
                status: 200, body: body, close: !h.keepAlive, extraHeaders: [("Content-Type", "application/json")]))
        flush()
        if !h.keepAlive { close() }
    }

    private func flush() {
        _ = output.write(to: fd)
        loop.setInterest(fd, readable: true, writable: !output.isEmpty)
    }

    func onWritable() { flush() }

    func close() {
        if closed { return }
        closed = true
        loop.closeDescriptor(fd)
    }

    private func jsonEscape(_ s: String) -> String {
        var r = ""
        for c in s.unicodeScalars {
            switch c {
            case "\"": r += "\\\""
            case "\\": r += "\\\\"
            default: if c.value < 0x20 { r += " " } else { r.unicodeScalars.append(c) }
            }
        }
        return r
    }
}

/// Sends the proxy a request every couple of seconds in `--demo` mode, so spans appear at once.
enum DemoTraffic {
    static func start(proxy: SocketAddress) -> DispatchSourceTimer {
        let queue = DispatchQueue(label: "traceproxy.demo-traffic")
        let timer = DispatchSource.makeTimerSource(queue: queue)
        let sent = Counter()
        let paths = ["/demo/orders/1042", "/demo/users/7/cart?items=3", "/demo/health"]
        timer.schedule(deadline: .now() + .milliseconds(500), repeating: .seconds(2))
        timer.setEventHandler {
            sent.add()
            sendOnce(proxy, path: paths[sent.value % paths.count])
        }
        timer.resume()
        return timer
    }

    /// One blocking request with a short timeout, off the event loops.
    static func sendOnce(_ address: SocketAddress, path: String) {
        let fd = socket(address.family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        if fd < 0 { return }
        defer { Glibc.close(fd) }
        var tv = timeval(tv_sec: 2, tv_usec: 0)
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        _ = setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var addr = address
        let rc = withUnsafePointer(to: &addr.storage) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, addr.length) }
        }
        if rc != 0 { return }
        let req = Array(
            "GET \(path) HTTP/1.1\r\nHost: demo\r\nUser-Agent: traceproxy-demo\r\nConnection: close\r\n\r\n".utf8)
        _ = req.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        var buf = [UInt8](repeating: 0, count: 4096)
        while buf.withUnsafeMutableBytes({ recv(fd, $0.baseAddress, $0.count, 0) }) > 0 {}
    }
}
