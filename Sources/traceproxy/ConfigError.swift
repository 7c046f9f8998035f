/// A command-line or environment value that cannot become part of a `ProxyConfig`.
///
/// `description` is the whole message the user sees, on one line, so that scripts and service
/// managers that keep only the last log line still show which flag or variable to fix.
struct ConfigError: Error, CustomStringConvertible, Equatable {
    var description: String
    /// The flag or variable the value was given for, when the error is about one value.
    var subject: String?

    init(message: String) { description = message }

    /// `invalid value "abc" for --upstream-timeout-ms: expected a positive integer`
    init(invalid value: String, for subject: String, _ reason: String) {
        description = "invalid value \"\(value)\" for \(subject): \(reason)"
        self.subject = subject
    }
}
