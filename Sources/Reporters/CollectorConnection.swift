import Dispatch
import Reactor
import TLS

/// The Zipkin reporter's connection to its collector: plain TCP, or TLS over it for
/// `zipkin+https://`, with the same deadlines either way. Worker thread only.
final class CollectorConnection {
    private let tcp: BlockingTCPConnection
    private let tls: BlockingTLSConnection?

    /// Why the last attempt failed, for the pipeline's warning (a TLS verification failure names
    /// its reason there, not only in a counter).
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    private init(tcp: BlockingTCPConnection, tls: BlockingTLSConnection?) {
        self.tcp = tcp
        self.tls = tls
    }

    /// Connects to `address` and, with a context, runs the TLS handshake for `serverName`.
    static func open(
        to address: SocketAddress, tls context: TLSContext?, serverName: String, deadline: DispatchTime
    ) throws(Failure) -> CollectorConnection {
        let tcp: BlockingTCPConnection
        do {
            tcp = try BlockingTCPConnection.connect(to: address, deadline: deadline)
        } catch {
            throw Failure(description: "connect to \(address): \(error)")
        }
        guard let context else { return CollectorConnection(tcp: tcp, tls: nil) }
        do {
            let session = try context.makeSession(serverName: serverName)
            return CollectorConnection(
                tcp: tcp, tls: try BlockingTLSConnection(fd: tcp.fd, session: session, deadline: deadline))
        } catch let error as TLSError {
            tcp.close()
            throw Failure(description: "TLS to \(address): \(error.message)")
        } catch {
            tcp.close()
            throw Failure(description: "TLS to \(address): \(error)")
        }
    }

    func sendAll(_ bytes: [UInt8], deadline: DispatchTime) throws {
        if let tls { try tls.sendAll(bytes, deadline: deadline) } else { try tcp.sendAll(bytes, deadline: deadline) }
    }

    /// Appends what arrives to `buffer`; false at the end of the stream.
    func receive(into buffer: inout [UInt8], deadline: DispatchTime) throws -> Bool {
        if let tls { return try tls.receive(into: &buffer, deadline: deadline) }
        return try tcp.receive(into: &buffer, deadline: deadline)
    }

    func close() {
        tls?.shutdown(deadline: DispatchTime.now() + .milliseconds(100))
        tcp.close()
    }
}
