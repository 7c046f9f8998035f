import HTTP1
import Reactor
import Stats
import TraceView

/// The admin listener's connections: `GET /healthz` and `GET /metrics` (and, with the trace view
/// on, `/traces` and `/api/...`, answered by `TraceViewHTTP`), one request each, then close.
/// Kept apart from the proxy path so a scrape never reaches the upstream.
final class AdminConnection: EventHandler {
    let fd: Int32
    let loop: EventLoop
    let registry: MetricsRegistry
    let traceView: TraceView?
    var input = ByteBuffer()
    var output = ByteBuffer()
    var parser = HTTPParser(kind: .request, limits: .init(maxHeaderBytes: 16 * 1024, maxHeaders: 64))
    var closed = false
    var answered = false
    let deadline: Int64

    init(fd: Int32, loop: EventLoop, registry: MetricsRegistry, traceView: TraceView? = nil) {
        self.fd = fd
        self.loop = loop
        self.registry = registry
        self.traceView = traceView
        deadline = loop.nowMs + 10_000
    }

    func onReadable() {
        if closed { return }
        switch input.read(from: fd, chunk: 4096) {
        case .bytes: break
        case .wouldBlock: return
        case .eof, .error:
            close()
            return
        }
        if answered {
            input.removeAll()
            return
        }
        do {
            while !input.isEmpty {
                let (consumed, event) = try input.withReadableBytes { (b) throws(HTTPParseError) in try parser.next(b) }
                input.consume(consumed)
                if case .head(let head) = event {
                    answer(head)
                    return
                }
                if event == nil && consumed == 0 { break }
            }
        } catch {
            respond(error.status, "text/plain", StatusText.reason(error.status) + "\n")
        }
    }

    private func answer(_ head: HTTPHead) {
        if let view = traceView,
            let r = TraceViewHTTP.respond(
                view: view, method: head.method == .get ? "GET" : head.method == .head ? "HEAD" : "OTHER",
                target: head.target)
        {
            return respond(
                r.status, r.contentType, String(decoding: r.body, as: UTF8.self), withBody: head.method != .head,
                headers: r.headers)
        }
        switch (head.method, head.path) {
        case (.get, "/healthz"):
            respond(200, "text/plain", "ok\n")
        case (.head, "/healthz"):
            respond(200, "text/plain", "ok\n", withBody: false)
        case (.get, "/metrics"):
            respond(200, "text/plain; version=0.0.4; charset=utf-8", registry.render())
        default:
            respond(404, "text/plain", "not found: try /healthz or /metrics\n")
        }
    }

    /// A HEAD answer keeps the GET's Content-Length and drops the body (RFC 9110 section 9.3.2).
    private func respond(
        _ status: Int, _ contentType: String, _ body: String, withBody: Bool = true, headers: [(String, String)] = []
    ) {
        answered = true
        let bytes = SimpleResponse.make(
            status: status, body: body, close: true, extraHeaders: [("Content-Type", contentType)] + headers)
        output.append(withBody ? bytes : Array(bytes.dropLast(body.utf8.count)))
        onWritable()
    }

    func onWritable() {
        if closed { return }
        switch output.write(to: fd) {
        case .bytes, .wouldBlock: break
        case .eof, .error:
            close()
            return
        }
        if output.isEmpty && answered {
            Socket.shutdownWrite(fd)
            loop.setInterest(fd, readable: true, writable: false)
        } else {
            loop.setInterest(fd, readable: true, writable: !output.isEmpty)
        }
    }

    func close() {
        if closed { return }
        closed = true
        loop.closeDescriptor(fd)
    }
}
