/* Preloaded into wrk for the benchmark's "full handshake" cell (built by loadbench.py with cc).
 *
 * wrk keeps one SSL object per connection slot and, on a reconnect, calls SSL_shutdown, SSL_clear
 * and then SSL_set_fd + SSL_connect on the same object. SSL_clear keeps a cleanly shut down
 * session, and TLS 1.3 session tickets arrive in it, so every connection after the first resumes
 * (PSK + ECDHE, no certificate, no signature). That is wrk's "resumed" cell. For a full handshake
 * per connection this wraps SSL_set_fd, which wrk calls once before each new connection's
 * handshake, and gives the SSL object a fresh, empty session first: nothing to resume, so the
 * client offers no PSK. (SSL_set_session(ssl, NULL) would be the obvious call, but OpenSSL 3.0's
 * client crashes on it after SSL_clear.) No OpenSSL headers needed: the few types are opaque. */
#define _GNU_SOURCE
#include <dlfcn.h>

typedef struct ssl_st SSL;
typedef struct ssl_session_st SSL_SESSION;
extern SSL_SESSION *SSL_SESSION_new(void);
extern int SSL_set_session(SSL *ssl, SSL_SESSION *session);
extern void SSL_SESSION_free(SSL_SESSION *session);

int SSL_set_fd(SSL *ssl, int fd) {
    static int (*real)(SSL *, int);
    if (real == 0) real = (int (*)(SSL *, int))dlsym(RTLD_NEXT, "SSL_set_fd");
    SSL_SESSION *fresh = SSL_SESSION_new();
    if (fresh != 0) {
        SSL_set_session(ssl, fresh); /* takes its own reference */
        SSL_SESSION_free(fresh);
    }
    return real(ssl, fd);
}
