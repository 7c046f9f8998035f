#if canImport(Glibc)
    import Glibc
#endif

/// Writes one line to stderr with write(2): no shared FILE buffer, safe from any thread.
func printError(_ line: String) {
    var s = line
    if !s.hasSuffix("\n") { s += "\n" }
    s.utf8CString.withUnsafeBufferPointer { p in
        _ = write(STDERR_FILENO, p.baseAddress, p.count - 1)
    }
}
