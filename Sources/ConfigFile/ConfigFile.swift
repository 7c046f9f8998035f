import Yams

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
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigFileError(path: path, line: nil, "cannot read the file")
        }
        return try parse(text, path: path)
    }

    public static func parse(_ text: String, path: String) throws(ConfigFileError) -> [ConfigFileEntry] {
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            throw ConfigFileError(path: path, line: line(of: error), "not valid YAML: \(summary(of: error))")
        } catch {
            throw ConfigFileError(path: path, line: nil, "not valid YAML: \(error)")
        }
        // An empty file (or one of comments only) configures nothing.
        guard let root else { return [] }
        guard case .mapping(let mapping) = root else {
            throw ConfigFileError(
                path: path, line: root.mark?.line, "expected a mapping of settings, such as listen: 0.0.0.0:8080")
        }
        var entries: [ConfigFileEntry] = []
        var seen: [String: Int] = [:]
        for (keyNode, valueNode) in mapping {
            let line = keyNode.mark?.line ?? 0
            guard case .scalar(let keyScalar) = keyNode else {
                throw ConfigFileError(path: path, line: line, "expected a setting name")
            }
            let key = keyScalar.string
            if let first = seen[key] {
                throw ConfigFileError(path: path, line: line, "\(key) is already set on line \(first)")
            }
            seen[key] = line
            entries.append(
                ConfigFileEntry(key: key, values: try values(of: valueNode, key: key, path: path), line: line))
        }
        return entries
    }

    private static func values(of node: Node, key: String, path: String) throws(ConfigFileError) -> [String] {
        switch node {
        case .scalar(let scalar):
            // `key:` with nothing after it is YAML's null, almost always a forgotten value.
            if scalar.style == .plain && ["", "~", "null", "Null", "NULL"].contains(scalar.string) {
                throw ConfigFileError(path: path, line: node.mark?.line, "\(key) has no value")
            }
            return [scalar.string]
        case .sequence(let sequence):
            var out: [String] = []
            for item in sequence {
                guard case .scalar(let scalar) = item else {
                    throw ConfigFileError(path: path, line: item.mark?.line, "\(key): expected a list of values")
                }
                out.append(scalar.string)
            }
            return out
        case .mapping, .alias:
            throw ConfigFileError(path: path, line: node.mark?.line, "\(key): expected a value or a list of values")
        }
    }

    private static func line(of error: YamlError) -> Int? {
        switch error {
        case .scanner(_, _, let mark, _), .parser(_, _, let mark, _), .composer(_, _, let mark, _):
            return mark.line
        case .duplicatedKeysInMapping(_, let context):
            return context.mark.line
        default:
            return nil
        }
    }

    private static func summary(of error: YamlError) -> String {
        switch error {
        case .scanner(_, let problem, _, _), .parser(_, let problem, _, _), .composer(_, let problem, _, _):
            return problem
        case .duplicatedKeysInMapping(let duplicates, _):
            return "set more than once: \(duplicates.sorted().joined(separator: ", "))"
        default:
            return "\(error)"
        }
    }
}
