/// The release, shown by `--version`, in the start-up line, on every span's process
/// (`traceproxy.version`, OTLP's `service.version`) and as `traceproxy_build_info` in /metrics.
public let traceproxyVersion = "0.2.0"
