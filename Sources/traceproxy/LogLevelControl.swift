import Logging
import Proxy
import Synchronization

/// `--log-level`, changeable by SIGHUP: every logger in the process asks one atomic for its level,
/// so a reload does not have to find and rebuild the loggers the loops and reporters hold.
enum LogLevelControl {
    private static let level = Atomic<Int>(LogLevel.info.index)

    static func bootstrap(_ initial: LogLevel) {
        set(initial)
        LoggingSystem.bootstrap { label in
            SharedLevelHandler(inner: StreamLogHandler.standardError(label: label))
        }
    }

    static func set(_ value: LogLevel) { level.store(value.index, ordering: .relaxed) }

    fileprivate static var current: Logger.Level {
        switch LogLevel.allCases[level.load(ordering: .relaxed)] {
        case .debug: .debug
        case .info: .info
        case .warning: .warning
        case .error: .error
        }
    }
}

extension LogLevel {
    fileprivate var index: Int { LogLevel.allCases.firstIndex(of: self)! }
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
