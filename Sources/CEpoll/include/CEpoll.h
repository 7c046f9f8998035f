#ifndef TRACEPROXY_CEPOLL_H
#define TRACEPROXY_CEPOLL_H
/// Glibc's Swift module does not export <sys/epoll.h> or <sys/eventfd.h>; this shim re-exports the few
/// calls the reactor needs with plain C types so Swift can call them directly.
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>

int traceproxy_epoll_create(void);
int traceproxy_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t token);
/// Fills `tokens` and `events` (parallel arrays of `max` entries); returns the count or -1 with errno.
int traceproxy_epoll_wait(int epfd, uint64_t *tokens, uint32_t *events, int max, int timeout_ms);
int traceproxy_eventfd(void);
/// accept4 with SOCK_NONBLOCK | SOCK_CLOEXEC: one syscall instead of accept + two fcntl.
int traceproxy_accept(int fd, void *addr, unsigned int *len);
/// Monotonic milliseconds from CLOCK_MONOTONIC_COARSE (no syscall through the vDSO).
int64_t traceproxy_monotonic_ms(void);
/// Microseconds since the Unix epoch (CLOCK_REALTIME).
int64_t traceproxy_wall_us(void);
/// Monotonic nanoseconds (CLOCK_MONOTONIC) for span durations.
int64_t traceproxy_monotonic_ns(void);

static const uint32_t TRACEPROXY_EPOLLIN = EPOLLIN;
static const uint32_t TRACEPROXY_EPOLLOUT = EPOLLOUT;
static const uint32_t TRACEPROXY_EPOLLERR = EPOLLERR;
static const uint32_t TRACEPROXY_EPOLLHUP = EPOLLHUP;
static const uint32_t TRACEPROXY_EPOLLRDHUP = EPOLLRDHUP;
static const int TRACEPROXY_EPOLL_CTL_ADD = EPOLL_CTL_ADD;
static const int TRACEPROXY_EPOLL_CTL_MOD = EPOLL_CTL_MOD;
static const int TRACEPROXY_EPOLL_CTL_DEL = EPOLL_CTL_DEL;
#endif
