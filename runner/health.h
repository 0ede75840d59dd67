/*
 * The health probe: one HTTP/1.0 GET to 127.0.0.1:PORT + path over a
 * plain socket, with one deadline for connect, send and the status line.
 * A 2xx status passes; anything else (refused, timeout, other status)
 * fails.
 */
#ifndef SK_RUNNER_HEALTH_H
#define SK_RUNNER_HEALTH_H

/* 0 when the probe passed, -1 when not; *elapsed_ms gets its duration. */
int sk_runner_probe(int port, const char *path, long long timeout_ms, long long *elapsed_ms);

#endif
