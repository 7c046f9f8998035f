#ifndef TRACEPROXY_CTLSFUZZ_SHIM_H
#define TRACEPROXY_CTLSFUZZ_SHIM_H
// Helpers for the tls_server_handshake fuzz target (fuzz/targets/tls_server_handshake.swift), for what
// Swift cannot write itself. Not part of the product: only fuzz/run.sh compiles it.
#include <stdint.h>
#include <openssl/rand.h>

/// Replaces OpenSSL's random source with `bytes` (a deterministic generator of the target), so
/// that client and server randoms, key shares, signatures and tickets are the same on every run of
/// an input: a failure replays exactly, the same input fed in different pieces can be compared
/// byte for byte, and a recorded client flight still matches the server's answer in a later run.
/// RAND_set_rand_method is deprecated in OpenSSL 3 but still consulted first by RAND_bytes_ex and
/// RAND_priv_bytes_ex, which is all that libssl and the default provider's key generation use.
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wdeprecated-declarations"
static inline int traceproxy_fuzz_rand_status(void) { return 1; }

static inline int traceproxy_fuzz_install_rand(int (*bytes)(unsigned char *buf, int num)) {
    static RAND_METHOD method;
    method.bytes = bytes;
    method.pseudorand = bytes;
    method.status = traceproxy_fuzz_rand_status;
    return RAND_set_rand_method(&method);
}
#pragma clang diagnostic pop

/// libFuzzer's extra coverage counters: libssl is not instrumented, so the target reports what it
/// observes inside OpenSSL (handshake state transitions, ClientHello extensions, failure texts) as
/// features here. libFuzzer finds the array through its section (__start_/__stop_ symbols). It is a
/// static local so that the function, which the Swift compiler emits, carries it along.
static inline void traceproxy_fuzz_feature(uint32_t index) {
    static uint8_t counters[8192] __attribute__((section("__libfuzzer_extra_counters"), used));
    uint8_t *c = &counters[index % 8192];
    if (*c != 255) *c += 1;
}
#endif
