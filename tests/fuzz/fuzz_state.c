/*
 * Fuzz target for `commit` and `control` documents as a remote or a
 * runner reads them. Invariants: no crash or leak; a rejected document
 * carries a message; an accepted commit is rebuilt byte for byte from its
 * parsed fields (reader and builder agree), and an accepted control
 * survives a set/unset of a fresh key unchanged.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "objects/cjson.h"
#include "objects/state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void commit_roundtrip(const json_t *doc, const uint8_t *data, size_t size)
{
	struct sk_commit c;
	struct sk_err err;
	if (sk_commit_from_json(&c, doc, &err) != 0) {
		if (err.message[0] == '\0')
			abort();
		return;
	}
	json_t *back = sk_commit_to_json(&c);
	char *out = NULL;
	size_t len = 0;
	if (!back || sk_cjson_dump(back, &out, &len, &err) != 0 || len != size ||
	    memcmp(out, data, size) != 0)
		abort();
	free(out);
	json_decref(back);
}

static void control_roundtrip(json_t *doc)
{
	struct sk_err err;
	if (sk_control_check(doc, &err) != 0) {
		if (err.message[0] == '\0')
			abort();
		return;
	}
	json_t *copy = json_deep_copy(doc);
	const char *key = "zz-fuzz-probe";
	int had = json_object_get(json_object_get(doc, "settings"), key) != NULL;
	if (!had && sk_control_set(copy, key, "v", &err) == 0 &&
	    (sk_control_check(copy, &err) != 0 || sk_control_set(copy, key, NULL, &err) != 0 ||
	     !json_equal(copy, doc)))
		abort();
	json_decref(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > (1 << 16))
		return 0;
	json_t *doc = NULL;
	struct sk_err err;
	if (sk_cjson_parse(data, size, &doc, &err) != 0)
		return 0;
	if (json_object_get(doc, "actor"))
		commit_roundtrip(doc, data, size);
	else
		control_roundtrip(doc);
	json_decref(doc);
	return 0;
}
