import CYAML

#if canImport(Glibc)
    import Glibc
#endif

/// The part of YAML a settings file uses, read with libyaml's event parser: one document of
/// mappings, sequences and scalars, each with the line it starts on.
///
/// libyaml (the parser Yams and PyYAML wrap) is used directly because Yams brings Foundation and
/// its ICU data along, which made the static binary four times larger for the sake of one file.
indirect enum YAMLNode {
    case scalar(String, plain: Bool, line: Int)
    case sequence([YAMLNode], line: Int)
    case mapping([(key: YAMLNode, value: YAMLNode)], line: Int)
    case alias(line: Int)

    var line: Int {
        switch self {
        case .scalar(_, _, let line), .sequence(_, let line), .mapping(_, let line), .alias(let line): line
        }
    }
}

/// A libyaml syntax error: its description and line.
struct YAMLSyntaxError: Error {
    var problem: String
    var line: Int?
}

/// Owns one libyaml parser over a private copy of the text.
final class YAMLEventReader {
    private var parser = yaml_parser_t()
    private let input: UnsafeMutableBufferPointer<UInt8>

    init(_ text: String) {
        let bytes = Array(text.utf8)
        input = .allocate(capacity: max(1, bytes.count))
        _ = input.initialize(from: bytes)
        yaml_parser_initialize(&parser)
        yaml_parser_set_input_string(&parser, input.baseAddress, bytes.count)
    }

    deinit {
        yaml_parser_delete(&parser)
        input.deallocate()
    }

    /// The whole text as one document's root node; nil for an empty stream.
    func document() throws(YAMLSyntaxError) -> YAMLNode? {
        try expect(YAML_STREAM_START_EVENT)
        let first = try next()
        if first.type == YAML_STREAM_END_EVENT { return nil }
        guard first.type == YAML_DOCUMENT_START_EVENT else { throw unexpected(first) }
        let root = try node(try next())
        try expect(YAML_DOCUMENT_END_EVENT)
        let end = try next()
        guard end.type == YAML_STREAM_END_EVENT else {
            throw YAMLSyntaxError(problem: "expected one document, found another", line: end.line)
        }
        return root
    }

    private func node(_ event: Event) throws(YAMLSyntaxError) -> YAMLNode {
        switch event.type {
        case YAML_SCALAR_EVENT:
            return .scalar(event.scalar, plain: event.plain, line: event.line)
        case YAML_ALIAS_EVENT:
            return .alias(line: event.line)
        case YAML_SEQUENCE_START_EVENT:
            var items: [YAMLNode] = []
            while true {
                let e = try next()
                if e.type == YAML_SEQUENCE_END_EVENT { break }
                items.append(try node(e))
            }
            return .sequence(items, line: event.line)
        case YAML_MAPPING_START_EVENT:
            var pairs: [(key: YAMLNode, value: YAMLNode)] = []
            while true {
                let e = try next()
                if e.type == YAML_MAPPING_END_EVENT { break }
                let key = try node(e)
                pairs.append((key, try node(try next())))
            }
            return .mapping(pairs, line: event.line)
        default:
            throw unexpected(event)
        }
    }

    /// The facts of one event, copied out so libyaml's memory is freed at once.
    private struct Event {
        var type: yaml_event_type_t
        var line: Int
        var scalar = ""
        var plain = false
    }

    private func next() throws(YAMLSyntaxError) -> Event {
        var event = yaml_event_t()
        guard yaml_parser_parse(&parser, &event) == 1 else {
            let problem = parser.problem.map { String(cString: $0) } ?? "unreadable YAML"
            throw YAMLSyntaxError(problem: problem, line: Int(parser.problem_mark.line) + 1)
        }
        defer { yaml_event_delete(&event) }
        var out = Event(type: event.type, line: Int(event.start_mark.line) + 1)
        if event.type == YAML_SCALAR_EVENT {
            let s = event.data.scalar
            out.scalar = String(decoding: UnsafeBufferPointer(start: s.value, count: Int(s.length)), as: UTF8.self)
            out.plain = s.style == YAML_PLAIN_SCALAR_STYLE
        }
        return out
    }

    private func expect(_ type: yaml_event_type_t) throws(YAMLSyntaxError) {
        let e = try next()
        guard e.type == type else { throw unexpected(e) }
    }

    private func unexpected(_ e: Event) -> YAMLSyntaxError {
        YAMLSyntaxError(problem: "unexpected YAML structure", line: e.line)
    }
}

/// The file's bytes as UTF-8 text, without Foundation.
func readTextFile(_ path: String) -> String? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 16 * 1024)
    while true {
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n < 0 && errno == EINTR { continue }
        guard n >= 0 else { return nil }
        if n == 0 { break }
        bytes.append(contentsOf: chunk[0..<n])
    }
    return String(validating: bytes, as: UTF8.self)
}
