/// One setting read from a `--config` file: a flag's long name, its values (one for a plain
/// option, several for a repeatable one) and the line it was on, for error messages.
public struct ConfigFileEntry: Equatable, Sendable {
    public var key: String
    public var values: [String]
    public var line: Int

    public init(key: String, values: [String], line: Int) {
        self.key = key
        self.values = values
        self.line = line
    }
}

/// Why a config file was refused: where (file and line, when known) and what, on one line.
public struct ConfigFileError: Error, Equatable, CustomStringConvertible, Sendable {
    public var path: String
    public var line: Int?
    public var message: String

    public init(path: String, line: Int?, _ message: String) {
        self.path = path
        self.line = line
        self.message = message
    }

    public var description: String { line.map { "\(path):\($0): \(message)" } ?? "\(path): \(message)" }
}

/// The `--config` file's grammar: a YAML mapping from flag names (without `--`) to a scalar or a
/// list of scalars. Flat on purpose: every key is a flag documented in `--help`, so there is one
/// vocabulary for the command line, the file and `--print-config`, and nothing to translate.
///
/// This type only reads the shape; whether a key exists and what its value means is decided by
/// the command line's own parser, so the two can never disagree.
public enum ConfigFile {
    public static func load(path: String) throws(ConfigFileError) -> [ConfigFileEntry] {
        guard let text = readTextFile(path) else {
            throw ConfigFileError(path: path, line: nil, "cannot read the file (or it is not UTF-8)")
        }
        return try parse(text, path: path)
    }

    public static func parse(_ text: String, path: String) throws(ConfigFileError) -> [ConfigFileEntry] {
        let root: YAMLNode?
        do {
            root = try YAMLEventReader(text).document()
        } catch {
            throw ConfigFileError(path: path, line: error.line, "not valid YAML: \(error.problem)")
        }
        // An empty file (or one of comments only) configures nothing.
        guard let root else { return [] }
        guard case .mapping(let mapping, _) = root else {
            throw ConfigFileError(
                path: path, line: root.line, "expected a mapping of settings, such as listen: 0.0.0.0:8080")
        }
        var entries: [ConfigFileEntry] = []
        var seen: [String: Int] = [:]
        for (keyNode, valueNode) in mapping {
            let line = keyNode.line
            guard case .scalar(let key, _, _) = keyNode else {
                throw ConfigFileError(path: path, line: line, "expected a setting name")
            }
            if let first = seen[key] {
                throw ConfigFileError(path: path, line: line, "\(key) is set more than once (first on line \(first))")
            }
            seen[key] = line
            entries.append(
                ConfigFileEntry(key: key, values: try values(of: valueNode, key: key, path: path), line: line))
        }
        return entries
    }

    private static func values(of node: YAMLNode, key: String, path: String) throws(ConfigFileError) -> [String] {
        switch node {
        case .scalar(let text, let plain, let line):
            // `key:` with nothing after it is YAML's null, almost always a forgotten value.
            if plain && ["", "~", "null", "Null", "NULL"].contains(text) {
                throw ConfigFileError(path: path, line: line, "\(key) has no value")
            }
            return [text]
        case .sequence(let items, _):
            var out: [String] = []
            for item in items {
                guard case .scalar(let text, _, _) = item else {
                    throw ConfigFileError(path: path, line: item.line, "\(key): expected a list of values")
                }
                out.append(text)
            }
            return out
        case .mapping(_, let line):
            throw ConfigFileError(path: path, line: line, "\(key): expected a value or a list of values")
        case .alias(let line):
            throw ConfigFileError(path: path, line: line, "\(key): YAML aliases are not supported")
        }
    }
}
