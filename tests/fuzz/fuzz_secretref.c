/*
 * Fuzz target for `secretref` documents as runners and skiff secret read
 * them (pinned by a control another machine wrote). Invariants: no crash
 * or leak; a rejected document carries a message; an accepted one is
 * rebuilt byte for byte by sk_secretref_to_json (reader and builder
 * agree), and its reference passes the provider shape check again.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "objects/cjson.h"
#include "objects/secretref.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > (1 << 16))
		return 0;
	json_t *doc = NULL;
	struct sk_err err;
	if (sk_cjson_parse(data, size, &doc, &err) != 0)
		return 0;
	struct sk_secretref s;
	memset(&err, 0, sizeof(err));
	if (sk_secretref_from_json(&s, doc, &err) != 0) {
		if (err.message[0] == '\0' || s.hook)
			abort();
		json_decref(doc);
		return 0;
	}
	json_t *back = sk_secretref_to_json(&s);
	char *out = NULL;
	size_t len = 0;
	if (!back || sk_cjson_dump(back, &out, &len, &err) != 0 || len != size ||
	    memcmp(out, data, size) != 0 || sk_secretref_check_ref(s.provider, s.ref, &err) != 0)
		abort();
	free(out);
	json_decref(back);
	sk_secretref_clear(&s);
	json_decref(doc);
	return 0;
}
