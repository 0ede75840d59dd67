/*
 * Fuzz target for the status line of an HTTP answer (cloud/probe.c):
 * the bytes come from a workload or a frontend, untrusted. Invariants:
 * no crash, no read past len; the result is -1 or a code 100..599, and a
 * code only when the input starts with "HTTP/1.".
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cloud/probe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* a copy of exactly size bytes: ASan sees any read past the end */
	char *buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	int code = sk_probe_status_line(buf, size);
	if (code != -1 && (code < 100 || code > 599 || size < 7 || memcmp(buf, "HTTP/1.", 7) != 0))
		abort();
	free(buf);
	return 0;
}
