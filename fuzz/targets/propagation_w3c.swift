// libFuzzer target: the w3c propagation codec through Propagator(formats: [.w3c]): extract from
// header lines built from the input, then the strip-inject-extract round trip
// (see PropagationSupport.swift for the invariants).

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPropagation(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    checkPropagation(UnsafeRawBufferPointer(start: data, count: size), propagator)
    return 0
}

let propagator = Propagator(formats: [.w3c])
