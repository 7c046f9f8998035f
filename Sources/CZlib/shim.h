#ifndef TRACEPROXY_CZLIB_SHIM_H
#define TRACEPROXY_CZLIB_SHIM_H
#include <zlib.h>

/// deflateInit2 is a macro (it passes ZLIB_VERSION and sizeof(z_stream)), which Swift cannot import.
static inline int traceproxy_deflateInit2(z_streamp strm, int level, int method, int windowBits, int memLevel,
                                          int strategy) {
    return deflateInit2(strm, level, method, windowBits, memLevel, strategy);
}

/// inflateInit2 is a macro for the same reason.
static inline int traceproxy_inflateInit2(z_streamp strm, int windowBits) {
    return inflateInit2(strm, windowBits);
}
#endif
