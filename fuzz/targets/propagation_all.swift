// libFuzzer target: all propagation codecs at once, in the proxy's default order
// (w3c, b3, jaeger) with the single-header B3 encoding beside the multi one, so that headers of
// several formats in one request interact: extract takes the first valid one and the round trip
// must still read back the same ids in every format.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPropagation(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = UnsafeRawBufferPointer(start: data, count: size)
    checkPropagation(input, defaultOrder)
    // The order matters only for which context wins; try the reverse too.
    checkPropagation(input, reversedOrder)
    return 0
}

let defaultOrder = Propagator(formats: [.w3c, .b3, .b3Single, .jaeger])
let reversedOrder = Propagator(formats: [.jaeger, .b3Single, .b3, .w3c])
