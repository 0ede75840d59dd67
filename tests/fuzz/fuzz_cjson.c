/*
 * Fuzz target for canonical JSON, the parser in front of every JSON
 * object. Invariants: accepted bytes print back identically (one document,
 * one id); canonicalize accepts whatever parse accepts and is the
 * identity on it; canonicalize's output always parses and is a fixed
 * point; every error has a message that is valid UTF-8 (the CLI puts it
 * in a JSON error document).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "objects/cjson.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_message(const struct sk_err *err)
{
	json_t *s = json_string(err->message);
	if (err->message[0] == '\0' || !s)
		abort();
	json_decref(s);
}

static void check_canonical(const uint8_t *data, size_t size, json_t *v)
{
	struct sk_err err;
	char *out = NULL;
	size_t len = 0;
	if (sk_cjson_dump(v, &out, &len, &err) != 0 || len != size || memcmp(out, data, size))
		abort();
	free(out);
	if (sk_cjson_canonicalize(data, size, &out, &len, &err) != 0 || len != size ||
	    memcmp(out, data, size))
		abort();
	free(out);
}

static void check_canonicalize(const uint8_t *data, size_t size)
{
	struct sk_err err;
	char *out = NULL, *again = NULL;
	size_t len = 0, len2 = 0;
	if (sk_cjson_canonicalize(data, size, &out, &len, &err) != 0) {
		check_message(&err);
		return;
	}
	json_t *v = NULL;
	if (sk_cjson_parse(out, len, &v, &err) != 0)
		abort();
	json_decref(v);
	if (sk_cjson_canonicalize(out, len, &again, &len2, &err) != 0 || len2 != len ||
	    memcmp(out, again, len))
		abort();
	free(again);
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > (1 << 16))
		return 0;
	struct sk_err err;
	json_t *v = NULL;
	if (sk_cjson_parse(data, size, &v, &err) == 0) {
		if (!v)
			abort();
		check_canonical(data, size, v);
		json_decref(v);
	} else {
		if (v || err.code != SK_EINVAL)
			abort();
		check_message(&err);
	}
	check_canonicalize(data, size);
	return 0;
}
