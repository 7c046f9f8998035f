#ifndef TRACEPROXY_CSSL_SHIM_H
#define TRACEPROXY_CSSL_SHIM_H
// The OpenSSL 3 headers the TLS module uses, and small wrappers for what Swift cannot import:
// function-like macros (most of OpenSSL's "ctrl" API is spelled as macros over SSL_ctrl/BIO_ctrl)
// and option bits built from SSL_OP_BIT, which the importer does not evaluate.
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

/// Options every context gets: renegotiation is refused (the transport's readiness mapping would
/// otherwise need reads during writes); compression is off (CRIME).
static const uint64_t TRACEPROXY_SSL_OP_NO_RENEGOTIATION = SSL_OP_NO_RENEGOTIATION;
static const uint64_t TRACEPROXY_SSL_OP_NO_COMPRESSION = SSL_OP_NO_COMPRESSION;
static const uint64_t TRACEPROXY_SSL_OP_CIPHER_SERVER_PREFERENCE = SSL_OP_CIPHER_SERVER_PREFERENCE;
/// XN_FLAG_RFC2253 is an OR of macros built with shifts and casts.
static const unsigned long TRACEPROXY_XN_FLAG_RFC2253 = XN_FLAG_RFC2253;
/// Marks OpenSSL's shared "the library below failed" reasons ("system lib", "PEM lib").
static const int TRACEPROXY_ERR_RFLAG_COMMON = ERR_RFLAG_COMMON;

static inline long traceproxy_SSL_CTX_set_min_proto_version(SSL_CTX *ctx, int version) {
    return SSL_CTX_set_min_proto_version(ctx, version);
}

static inline long traceproxy_SSL_set_max_proto_version(SSL *ssl, int version) {
    return SSL_set_max_proto_version(ssl, version);
}

static inline long traceproxy_SSL_CTX_set_mode(SSL_CTX *ctx, long mode) { return SSL_CTX_set_mode(ctx, mode); }

static inline long traceproxy_SSL_CTX_set_session_cache_mode(SSL_CTX *ctx, long mode) {
    return SSL_CTX_set_session_cache_mode(ctx, mode);
}

static inline long traceproxy_SSL_set_tlsext_host_name(SSL *ssl, const char *name) {
    return SSL_set_tlsext_host_name(ssl, name);
}

static inline int traceproxy_BIO_pending(BIO *bio) { return BIO_pending(bio); }

/// A memory BIO returns `value` when it is empty: -1 means "retry later" (no more ciphertext yet),
/// 0 means end of stream (the peer closed the connection).
static inline long traceproxy_BIO_set_mem_eof_return(BIO *bio, int value) {
    return BIO_set_mem_eof_return(bio, value);
}

/// The bytes a memory BIO holds, without copying them out.
static inline long traceproxy_BIO_get_mem_data(BIO *bio, char **data) { return BIO_get_mem_data(bio, data); }

static inline void traceproxy_OPENSSL_free(void *p) { OPENSSL_free(p); }

static inline int traceproxy_ERR_GET_LIB(unsigned long e) { return ERR_GET_LIB(e); }
static inline int traceproxy_ERR_GET_REASON(unsigned long e) { return ERR_GET_REASON(e); }

static inline int traceproxy_sk_X509_NAME_num(STACK_OF(X509_NAME) *names) { return sk_X509_NAME_num(names); }
static inline void traceproxy_sk_X509_NAME_pop_free(STACK_OF(X509_NAME) *names) {
    sk_X509_NAME_pop_free(names, X509_NAME_free);
}
#endif
