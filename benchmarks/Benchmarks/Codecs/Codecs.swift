import Benchmark
import HTTP1
import Propagation
import SpanEncoding
import Spans

/// The proxy makes its parsed head a propagation carrier in the Proxy module; this is the same
/// carrier without depending on the proxy (`forEachValue` is HTTP1's own).
struct HeadCarrier: HeaderSource {
    let head: HTTPHead

    func forEachValue(lowercasedName: String, _ body: (UnsafeRawBufferPointer) -> Void) {
        head.forEachValue(lowercasedName: lowercasedName, body)
    }
}

let benchmarks: @Sendable () -> Void = {
    // Every figure is per operation: the loop body runs `scalingFactor` times per sample and
    // the harness divides time and malloc counts by it.
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .mallocCountTotal, .throughput],
        warmupIterations: 3,
        scalingFactor: .kilo,
        maxDuration: .seconds(1),
        maxIterations: 2_000
    )

    parserBenchmarks()
    propagationBenchmarks()
    recordBenchmarks()
    encodingBenchmarks()
}

// MARK: Request parser

func parserBenchmarks() {
    for (name, request) in [("8 headers", Fixtures.request8), ("30 headers", Fixtures.request30)] {
        Benchmark("HTTPParser: request head, \(name)") { benchmark in
            var parser = HTTPParser(kind: .request)
            let bytes = request
            for _ in benchmark.scaledIterations {
                blackHole(parseOne(&parser, bytes))
            }
        }
    }
}

/// Feeds one complete request and drives the parser to `.end`, as the proxy does per request.
@inline(never)
func parseOne(_ parser: inout HTTPParser, _ bytes: [UInt8]) -> Int {
    bytes.withUnsafeBytes { input in
        var offset = 0
        var fields = 0
        while true {
            let rest = UnsafeRawBufferPointer(rebasing: input[offset...])
            guard let (consumed, event) = try? parser.next(rest) else { return -1 }
            offset += consumed
            switch event {
            case .head(let head): fields = head.fields.count
            case .end: return fields
            case .body, nil: if consumed == 0 && event == nil { return -2 }
            }
        }
    }
}

// MARK: Propagation

func propagationBenchmarks() {
    let cases: [(String, [UInt8], PropagationFormat)] = [
        ("W3C", Fixtures.requestW3C, .w3c),
        ("B3 multi", Fixtures.requestB3, .b3),
        ("Jaeger", Fixtures.requestJaeger, .jaeger),
    ]
    for (name, request, format) in cases {
        Benchmark("Propagation: extract \(name) from a parsed head") { benchmark in
            var parser = HTTPParser(kind: .request)
            guard let parsed = Fixtures.parseHead(&parser, request) else {
                fatalError("fixture for \(name) does not parse")
            }
            let head = HeadCarrier(head: parsed)
            // The proxy's default order, so B3 and Jaeger pay for the formats tried before them.
            let propagator = Propagator(formats: [.w3c, .b3, .jaeger])
            guard propagator.extract(from: head)?.format == format else {
                fatalError("fixture for \(name) does not extract as \(format)")
            }
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations {
                blackHole(propagator.extract(from: head))
            }
        }
    }

    Benchmark("Propagation: inject W3C + B3 + Jaeger") { benchmark in
        let propagator = Propagator(formats: [.w3c, .b3, .jaeger])
        let context = OutgoingContext(
            traceID: TraceID(high: 0x4bf9_2f35_77b3_4da6, low: 0xa3ce_929d_0e0e_4736),
            spanID: SpanID(0x00f0_67aa_0ba9_02b7), parentSpanID: SpanID(0x5d1f_2a3b_4c5d_6e7f),
            sampled: true, debug: false, traceState: nil)
        var out: [UInt8] = []
        out.reserveCapacity(1024)
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            out.removeAll(keepingCapacity: true)
            propagator.inject(context, into: &out)
            blackHole(out.count)
        }
    }
}

// MARK: Spans

/// What the event loop does per sampled request: RequestTracer's record, appended to the loop's
/// reused batch (handed off every 64, as LoopContext does).
func recordBenchmarks() {
    Benchmark("Span: record one request from a parsed head") { benchmark in
        var parser = HTTPParser(kind: .request)
        guard let head = Fixtures.parseHead(&parser, Fixtures.request8) else {
            fatalError("request8 does not parse")
        }
        var batch: [SpanRecord] = []
        batch.reserveCapacity(64)
        let context = OutgoingContext(
            traceID: TraceID(high: 1, low: 2), spanID: SpanID(3), parentSpanID: SpanID(4), sampled: true,
            debug: false, traceState: nil)
        benchmark.startMeasurement()
        for i in benchmark.scaledIterations {
            batch.append(
                SpanRecord(
                    head: head, context: context, kind: .server, startMicros: 1_760_000_000_000_000,
                    durationMicros: 412 + Int64(i & 7), upstreamConnectedOffsetMicros: 35,
                    firstResponseByteOffsetMicros: 390, status: 200, requestBodyBytes: 0,
                    responseBodyBytes: 1832, peer: Fixtures.peer, errorKind: nil, errorMessage: nil))
            if batch.count >= 64 { batch.removeAll(keepingCapacity: true) }
        }
        blackHole(batch.count)
    }
}

// MARK: Span encoding (each span rendered from its record, as the reporters do)

func encodingBenchmarks() {
    let process = ServiceProcess(
        serviceName: "bench-svc",
        tags: [
            Tag("hostname", .string("bench-host")), Tag("ip", .string("127.0.0.1")),
            Tag("jaeger.version", .string("traceproxy-0.1")),
        ],
        spanFacts: SpanFacts(upstreamAddress: "127.0.0.1:3000", upstreamHost: "127.0.0.1:3000"))
    let span = Fixtures.proxySpan(0)
    let batch = (0..<100).map { Fixtures.proxySpan($0) }

    Benchmark("Thrift compact: one proxy span") { benchmark in
        var writer = ThriftCompactWriter(reservingCapacity: 1024)
        var rendered = RenderedSpan()
        for _ in benchmark.scaledIterations {
            writer.removeAll()
            rendered.render(span, process: process)
            JaegerThrift.writeSpan(rendered, into: &writer)
            blackHole(writer.bytes.count)
        }
    }

    Benchmark(
        "Jaeger batch packer: 100 spans into emitBatch datagrams",
        configuration: .init(scalingFactor: .one, maxIterations: 2_000)
    ) { benchmark in
        var packer = JaegerBatchPacker(process: process, maxPacketSize: 65000)
        var seqNo: Int64 = 0
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(packer.pack(batch, seqNo: &seqNo, stats: .init()))
        }
    }

    Benchmark("Zipkin JSON: one proxy span") { benchmark in
        var out: [UInt8] = []
        out.reserveCapacity(4096)
        let one = CollectionOfOne(span)
        for _ in benchmark.scaledIterations {
            out.removeAll(keepingCapacity: true)
            ZipkinJSONEncoder.encode(one, process: process, into: &out)
            blackHole(out.count)
        }
    }

    Benchmark(
        "Zipkin JSON: 100 spans",
        configuration: .init(scalingFactor: .one, maxIterations: 2_000)
    ) { benchmark in
        var out: [UInt8] = []
        out.reserveCapacity(256 * 1024)
        for _ in benchmark.scaledIterations {
            out.removeAll(keepingCapacity: true)
            ZipkinJSONEncoder.encode(batch, process: process, into: &out)
            blackHole(out.count)
        }
    }
}
