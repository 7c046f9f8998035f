import SpanEncoding
import Spans

#if canImport(Glibc)
    import Glibc
#endif

/// Writes each span as one Zipkin v2 JSON object per line (JSON Lines) on standard output, for
/// `--reporter stdout`: easy to read by eye, and `jq`/log shippers take it line by line.
public final class StdoutReporter: SpanReporter {
    public let name: String
    private let process: ServiceProcess
    private let write: @Sendable ([UInt8]) -> Bool

    public convenience init(name: String = "stdout", options: ReporterOptions) {
        // One write(2) per batch, unbuffered: Swift 6 cannot reference stdio's global `stdout`
        // safely, and the lines are complete and flushed as soon as the batch is written.
        self.init(name: name, options: options) { bytes in
            var offset = 0
            while offset < bytes.count {
                let n = bytes.withUnsafeBytes {
                    Glibc.write(STDOUT_FILENO, $0.baseAddress! + offset, $0.count - offset)
                }
                if n > 0 {
                    offset += n
                } else if n < 0 && errno == EINTR {
                    continue
                } else {
                    return false
                }
            }
            return true
        }
    }

    /// `write` receives one batch's lines and flushes them; tests pass a capturing closure.
    public init(name: String, options: ReporterOptions, write: @escaping @Sendable ([UInt8]) -> Bool) {
        self.name = name
        self.process = options.process
        self.write = write
    }

    public func send(_ spans: [SpanRecord]) -> Bool {
        var lines: [UInt8] = []
        ZipkinJSONEncoder.encodeLines(spans, process: process, into: &lines)
        return write(lines)
    }

    public func close() {}
}
