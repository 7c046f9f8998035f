import Foundation
import Stats

#if canImport(Glibc)
    import Glibc
#endif

/// A peer program (Python's ssl module, `openssl s_client`/`s_server`) run for one test: its
/// output lines are collected by reader threads, and the test waits for a line instead of
/// sleeping. Killed in `stop` if still running.
final class ChildProcess: @unchecked Sendable {
    private let process = Process()
    private let stdinPipe = Pipe()
    private let lines = Locked(Lines())
    private let arrived = DispatchSemaphore(value: 0)
    private let finished = DispatchGroup()
    let command: String

    private struct Lines {
        var stdout: [String] = []
        var stderr: [String] = []
    }

    init(_ path: String, _ arguments: [String], in directory: URL? = nil) throws {
        command = ([path] + arguments).joined(separator: " ")
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = directory }
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = stdinPipe
        try process.run()
        collect(out.fileHandleForReading.fileDescriptor, stderr: false)
        collect(err.fileHandleForReading.fileDescriptor, stderr: true)
    }

    /// A reader thread per stream: blocking reads until the child closes it.
    private func collect(_ fd: Int32, stderr: Bool) {
        finished.enter()
        let thread = Thread { [self] in
            var pending: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 4096)
            while true {
                let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { break }
                pending += chunk[0..<n]
                while let newline = pending.firstIndex(of: 10) {
                    let line = String(decoding: pending[..<newline], as: UTF8.self)
                    pending.removeSubrange(...newline)
                    append(line, stderr: stderr)
                }
            }
            if !pending.isEmpty { append(String(decoding: pending, as: UTF8.self), stderr: stderr) }
            finished.leave()
            arrived.signal()
        }
        thread.start()
    }

    private func append(_ line: String, stderr: Bool) {
        lines.withLock { l in
            if stderr { l.stderr.append(line) } else { l.stdout.append(line) }
        }
        arrived.signal()
    }

    var stdoutLines: [String] { lines.withLock { $0.stdout } }
    var stderrLines: [String] { lines.withLock { $0.stderr } }

    /// Waits until some line (stdout or stderr) satisfies `match`; nil after `timeout` seconds.
    func waitForLine(timeout: TimeInterval = 10, where match: (String) -> Bool) -> String? {
        let end = Date().addingTimeInterval(timeout)
        while true {
            let all = lines.withLock { $0.stdout + $0.stderr }
            if let line = all.first(where: match) { return line }
            let left = end.timeIntervalSinceNow
            if left <= 0 { return nil }
            _ = arrived.wait(timeout: .now() + left)
        }
    }

    func send(_ text: String) {
        stdinPipe.fileHandleForWriting.write(Data(text.utf8))
    }

    func closeStdin() { try? stdinPipe.fileHandleForWriting.close() }

    /// Waits for the program to exit on its own; false after `timeout`.
    func waitForExit(timeout: TimeInterval = 10) -> Bool {
        guard finished.wait(timeout: .now() + timeout) == .success else { return false }
        process.waitUntilExit()
        return true
    }

    var exitStatus: Int32 { process.terminationStatus }

    func stop() {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        closeStdin()
        _ = finished.wait(timeout: .now() + 5)
        process.waitUntilExit()
    }

    /// Everything it printed, for failure messages.
    var transcript: String {
        lines.withLock { "$ \(command)\n" + ($0.stdout + $0.stderr).joined(separator: "\n") }
    }
}
