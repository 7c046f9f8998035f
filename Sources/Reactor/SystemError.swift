#if canImport(Glibc)
    import Glibc
#endif

/// A failed system call, with errno, for start-up errors and logs.
public struct SystemError: Error, CustomStringConvertible, Sendable {
    public let call: String
    public let errno: Int32
    /// Kept apart from errno because the resolver does not use it: getaddrinfo returns its own
    /// codes and leaves errno at 0, which strerror would render as "Success".
    private let reason: String

    public init(_ call: String, _ errno: Int32) {
        self.call = call
        self.errno = errno
        reason = String(cString: strerror(errno))
    }

    /// A getaddrinfo failure, described by `gai_strerror`.
    public init(call: String, resolverCode: Int32) {
        self.call = call
        errno = 0
        reason = String(cString: gai_strerror(resolverCode))
    }

    public var description: String { "\(call): \(reason)" }
}
