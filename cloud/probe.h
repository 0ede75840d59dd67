/*
 * Requests through a load balancer's frontend, as a client would make
 * them: one HTTP/1.0 GET over a plain socket, so a failover can prove
 * that traffic reaches the servers it routed to (their request counters
 * move by what it sent).
 */
#ifndef SK_CLOUD_PROBE_H
#define SK_CLOUD_PROBE_H

/* GET path from listen ("HOST:PORT", "[V6]:PORT"; a wildcard host
 * 0.0.0.0 or [::] means this machine's loopback) within timeout_ms: the
 * response's status code, or -1 when none came (refused, timeout, not
 * HTTP). */
int sk_probe_http(const char *listen, const char *path, long long timeout_ms);

#endif
