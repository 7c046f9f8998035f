import Logging
import Proxy
import Synchronization

/// `--log-level`, changeable by SIGHUP: every logger in the process asks one atomic for its level,
/// so a reload does not have to find and rebuild the loggers the loops and reporters hold.
enum LogLevelControl {
    /// The least severe level logged, 0 (debug) to 3 (error); every log statement reads it.
    private static let level = Atomic<UInt8>(1)

    static func bootstrap(_ initial: LogLevel) {
        set(initial)
        LoggingSystem.bootstrap { label in
            SharedLevelHandler(inner: StreamLogHandler.standardError(label: label))
        }
    }

    static func set(_ value: LogLevel) {
        let mapped: Logger.Level =
            switch value {
            case .debug: .debug
            case .info: .info
            case .warning: .warning
            case .error: .error
            }
        level.store(mapped.severity, ordering: .relaxed)
    }

    fileprivate static var current: Logger.Level {
        switch level.load(ordering: .relaxed) {
        case 0: .debug
        case 1: .info
        case 2: .warning
        default: .error
        }
    }
}

extension Logger.Level {
    fileprivate var severity: UInt8 {
        switch self {
        case .trace, .debug: 0
        case .info, .notice: 1
        case .warning: 2
        case .error, .critical: 3
        }
    }
}

/// swift-log's stderr handler, with the level read from `LogLevelControl`.
private struct SharedLevelHandler: LogHandler {
    var inner: StreamLogHandler

    var logLevel: Logger.Level {
        get { LogLevelControl.current }
        set {}
    }

    var metadata: Logger.Metadata {
        get { inner.metadata }
        set { inner.metadata = newValue }
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { inner[metadataKey: key] }
        set { inner[metadataKey: key] = newValue }
    }

    func log(event: LogEvent) {
        inner.log(event: event)
    }
}
