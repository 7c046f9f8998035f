import Dispatch
import Proxy
import Reactor
import Reporters

/// `--healthcheck`: one `GET /healthz` to a running traceproxy's admin listener, for container
/// runtimes whose HEALTHCHECK runs a command inside the image (which has no curl).
enum HealthCheck {
    static let timeoutMs = 3_000

    /// The URL asked (a wildcard listen address is asked on loopback) and, unless it answered
    /// 200, why not, on one line.
    static func probe(_ admin: HostPort) -> (url: String, failure: String?) {
        let host =
            switch admin.host {
            case "0.0.0.0", "": "127.0.0.1"
            case "::", "[::]": "::1"
            default: admin.host
            }
        let probed = HostPort(host: host, port: admin.port)
        let url = "http://\(probed)/healthz"
        let address: SocketAddress
        do {
            address = try SocketAddress.resolve(host: host, port: admin.port)
        } catch {
            return (url, "cannot resolve \(host): \(error)")
        }
        let deadline = DispatchTime.now() + .milliseconds(timeoutMs)
        do throws(BlockingTCPConnection.Failure) {
            let connection = try BlockingTCPConnection.connect(to: address, deadline: deadline)
            defer { connection.close() }
            let request = "GET /healthz HTTP/1.1\r\nHost: \(probed)\r\nConnection: close\r\n\r\n"
            try connection.sendAll(Array(request.utf8), deadline: deadline)
            var response: [UInt8] = []
            while !response.contains(UInt8(ascii: "\n")), try connection.receive(into: &response, deadline: deadline) {}
            let statusLine = String(
                decoding: response.prefix { $0 != UInt8(ascii: "\r") && $0 != UInt8(ascii: "\n") }, as: UTF8.self)
            let parts = statusLine.split(separator: " ", maxSplits: 2)
            guard parts.count >= 2, parts[0].hasPrefix("HTTP/1.") else { return (url, "not an HTTP answer") }
            return (url, parts[1] == "200" ? nil : "answered \(statusLine)")
        } catch {
            let reason =
                switch error {
                case .connect(let code): SystemError("connect", code).description
                case .timedOut: "no answer within \(timeoutMs) ms"
                case .io(let code): SystemError("read", code).description
                case .closedByPeer: "connection closed without an answer"
                }
            return (url, reason)
        }
    }
}
