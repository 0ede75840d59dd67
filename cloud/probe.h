/*
 * One HTTP/1.0 GET over a plain socket, as a client makes it, with one
 * deadline for connect, send and the status line: the runner's health
 * probe of its workload, and a failover's proof that requests through a
 * frontend reach the servers it routed to. Only the status line is read;
 * the peer's bytes are untrusted, so it is parsed strictly
 * (sk_probe_status_line, fuzzed).
 */
#ifndef SK_CLOUD_PROBE_H
#define SK_CLOUD_PROBE_H

#include <stddef.h>

/* GET path from addr ("HOST:PORT", "[V6]:PORT"; a wildcard host 0.0.0.0,
 * * or [::] means this machine's loopback) within timeout_ms: the
 * response's status code, or -1 when none came (refused, timeout, not
 * HTTP). *elapsed_ms (may be NULL) gets the time it took. */
int sk_probe_http(const char *addr, const char *path, long long timeout_ms,
		  long long *elapsed_ms);

/* The status code of "HTTP/1.x NNN ..." at the start of buf (len bytes,
 * the line ending with '\n' somewhere in it), or -1: exactly three
 * digits after one space, 100..599. Pure. */
int sk_probe_status_line(const char *buf, size_t len);

#endif
