/*
 * Fuzz target for `approval` documents as fetched from a remote.
 * Invariants: no crash or leak; a rejected document carries a message;
 * an accepted one is rebuilt byte for byte from its parsed fields, and
 * its signature never verifies under an all-zero public key.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "objects/approval.h"
#include "objects/cjson.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > (1 << 16))
		return 0;
	json_t *doc = NULL;
	struct sk_err err;
	if (sk_cjson_parse(data, size, &doc, &err) != 0)
		return 0;
	struct sk_approval a;
	if (sk_approval_from_json(&a, doc, &err) != 0) {
		if (err.message[0] == '\0')
			abort();
		json_decref(doc);
		return 0;
	}
	json_t *back = sk_approval_to_json(&a, 1);
	char *out = NULL;
	size_t len = 0;
	if (!back || sk_cjson_dump(back, &out, &len, &err) != 0 || len != size ||
	    memcmp(out, data, size) != 0)
		abort();
	static const unsigned char zero[32];
	if (sk_approval_verify(&a, zero, &err) == 0)
		abort();
	free(out);
	json_decref(back);
	json_decref(doc);
	return 0;
}
