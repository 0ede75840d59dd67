/*
 * Fuzz target for release documents as a runner or remote reads them.
 * Invariants: no crash or leak; an accepted document is rebuilt exactly by
 * sk_release_build from its own parts (so validator and builder agree on
 * what a release is, byte for byte), and every artifact name is unique.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "objects/cjson.h"
#include "objects/release.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void rebuild(const struct sk_release *r, const uint8_t *data, size_t size)
{
	json_t *spec = json_deep_copy(r->doc);
	json_t *src = json_object_get(r->doc, "source");
	struct sk_release_source s = { json_string_value(json_object_get(src, "commit")),
				       json_string_value(json_object_get(src, "builder")) };
	json_object_del(spec, "artifacts");
	json_object_del(spec, "source");
	json_object_del(spec, "version");
	json_object_del(spec, "v");
	json_t *doc = NULL;
	struct sk_err err;
	if (sk_release_build(&doc, r->service, r->version, spec, r->artifacts, r->nartifacts, &s,
			     &err) != 0)
		abort();
	char *out = NULL;
	size_t len = 0;
	if (sk_cjson_dump(doc, &out, &len, &err) != 0 || len != size ||
	    memcmp(out, data, size) != 0)
		abort();
	free(out);
	json_decref(doc);
	json_decref(spec);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > (1 << 16))
		return 0;
	struct sk_release *r = NULL;
	struct sk_err err;
	if (sk_release_parse(&r, data, size, &err) != 0) {
		json_t *s = json_string(err.message);
		if (!s || err.message[0] == '\0' || r)
			abort();
		json_decref(s);
		return 0;
	}
	for (size_t i = 0; i < r->nartifacts; i++)
		if (sk_release_artifact(r, r->artifacts[i].name) != &r->artifacts[i])
			abort();
	rebuild(r, data, size);
	sk_release_free(r);
	return 0;
}
