/*
 * Fuzz target for the parsers of haproxy's admin socket answers
 * (cloud/haproxy.c): `show stat` CSV and `get weight`. The socket belongs
 * to another process, so its bytes are untrusted. Invariants: an
 * accepted show stat is {backend: {server: {...}}} with every number a
 * non-negative integer (weight at most 256) and every text printable
 * ASCII within its cap; a refusal leaves nothing allocated and a
 * message; an accepted weight is 0..256.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cloud/haproxy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void printable_or_abort(const char *s, size_t cap)
{
	size_t n = strlen(s);
	if (n > cap)
		abort();
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			abort();
}

static void check_server(const json_t *s)
{
	static const char *const nums[] = { "requests", "hrsp_2xx", "hrsp_5xx",
					    "rtime_ms", "weight",   "sessions" };
	static const char *const texts[] = { "status", "check_status", "addr" };
	if (!json_is_object(s) || json_object_size(s) != 10 ||
	    !json_is_boolean(json_object_get(s, "backup")))
		abort();
	for (size_t i = 0; i < 6; i++) {
		json_t *v = json_object_get(s, nums[i]);
		if (!json_is_integer(v) || json_integer_value(v) < 0)
			abort();
	}
	if (json_integer_value(json_object_get(s, "weight")) > SK_HAPROXY_WEIGHT_MAX)
		abort();
	for (size_t i = 0; i < 3; i++) {
		const char *t = json_string_value(json_object_get(s, texts[i]));
		if (!t)
			abort();
		printable_or_abort(t, SK_HAPROXY_TEXT_MAX);
	}
	if (!*json_string_value(json_object_get(s, "status")))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *out = NULL;
	struct sk_err err;
	err.message[0] = 0;
	if (sk_haproxy_parse_stat((const char *)data, size, &out, &err) == 0) {
		const char *be, *sv;
		json_t *b, *s;
		if (!json_is_object(out))
			abort();
		json_object_foreach(out, be, b) {
			printable_or_abort(be, SK_HAPROXY_NAME_MAX);
			json_object_foreach(b, sv, s) {
				printable_or_abort(sv, SK_HAPROXY_NAME_MAX);
				check_server(s);
			}
		}
		json_decref(out);
	} else if (out || !err.message[0]) {
		abort();
	}
	int w = -1;
	if (sk_haproxy_parse_weight((const char *)data, size, &w, &err) == 0 &&
	    (w < 0 || w > SK_HAPROXY_WEIGHT_MAX))
		abort();
	return 0;
}
