#if canImport(Glibc)
    import Glibc
#endif

/// A failed system call, with errno, for start-up errors and logs.
public struct SystemError: Error, CustomStringConvertible, Sendable {
    public let call: String
    public let errno: Int32
    /// Kept apart from errno because the resolver does not use it: getaddrinfo returns its own
    /// codes and leaves errno at 0, which strerror would render as "Success".
    public let reason: String
    /// The name did not resolve (getaddrinfo failed, or a `ResolvedName` has no address yet).
    public let isResolverFailure: Bool

    public init(_ call: String, _ errno: Int32) {
        self.call = call
        self.errno = errno
        reason = String(cString: strerror(errno))
        isResolverFailure = false
    }

    /// A getaddrinfo failure, described by `gai_strerror`.
    public init(call: String, resolverCode: Int32) {
        self.init(call: call, resolverReason: String(cString: gai_strerror(resolverCode)))
    }

    /// A name that does not resolve, for the reason given.
    public init(call: String, resolverReason: String) {
        self.call = call
        errno = 0
        reason = resolverReason
        isResolverFailure = true
    }

    public var description: String { "\(call): \(reason)" }
}
