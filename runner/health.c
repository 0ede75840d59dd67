/*
 * HTTP health probe (see health.h): the shared probe of cloud/probe.h
 * against the workload's port on loopback.
 */
#include "runner/health.h"

#include <stdio.h>

#include "cloud/probe.h"

int sk_runner_probe(int port, const char *path, long long timeout_ms, long long *elapsed_ms)
{
	char addr[32];
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
	int code = sk_probe_http(addr, path, timeout_ms, elapsed_ms);
	return code >= 200 && code < 300 ? 0 : -1;
}
