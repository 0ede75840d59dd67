/*
 * Fuzz target for ref records, read from every ref file and every remote.
 * Invariants: an accepted record prints back to exactly the input bytes
 * (so the signed body is unambiguous), its fields satisfy the documented
 * rules, and rejected input leaves a printable message.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "objects/cjson.h"
#include "objects/refrecord.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > (1 << 16))
		return 0;
	struct sk_refrecord r;
	struct sk_err err;
	if (sk_refrecord_parse(&r, data, size, &err) != 0) {
		json_t *s = json_string(err.message);
		if (!s || err.message[0] == '\0')
			abort();
		json_decref(s);
		return 0;
	}
	if (r.seq < 1 || r.time < 0 || r.has_prev != (r.seq > 1) ||
	    strlen(r.signer) != SK_KEYID_HEXSZ || strncmp(r.ref, "refs/", 5) != 0)
		abort();
	if (r.op[0] && sk_opid_check(r.op, &err) != 0)
		abort();
	char *out = NULL;
	size_t len = 0;
	if (sk_refrecord_dump(&r, 1, &out, &len, &err) != 0 || len != size ||
	    memcmp(out, data, size) != 0)
		abort();
	free(out);
	/* the signed body parses too, without a signature */
	struct sk_refrecord body;
	if (sk_refrecord_dump(&r, 0, &out, &len, &err) != 0 ||
	    sk_refrecord_parse(&body, out, len, &err) != 0 || body.has_sig)
		abort();
	free(out);
	return 0;
}
