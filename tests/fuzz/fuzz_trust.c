/*
 * Fuzz target for the trust policy document (refs/meta/trust), which
 * decides who may sign what. Invariants: an accepted policy prints back to
 * exactly the input bytes; lookups by key id find each key; adding grants
 * keeps the policy valid and canonical.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "objects/cjson.h"
#include "objects/trust.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *dump(const struct sk_trust *t, size_t *len)
{
	struct sk_err err;
	json_t *j = sk_trust_to_json(t);
	char *out = NULL;
	if (!j || sk_cjson_dump(j, &out, len, &err) != 0)
		abort();
	json_decref(j);
	return out;
}

/* Grants to the first key and to a new key must leave a valid policy. */
static void mutate(struct sk_trust *t)
{
	struct sk_err err;
	unsigned char pub[32];
	memset(pub, 0xa5, sizeof(pub));
	if (t->nkeys > 0) {
		char *name = strdup(t->keys[0].name);
		unsigned char kpub[32];
		memcpy(kpub, t->keys[0].pub, 32);
		if (sk_trust_add_grant(t, name, kpub, "approver", "refs/services/*", &err) != 0)
			abort();
		free(name);
	}
	int rc = sk_trust_add_grant(t, "fuzz-key", pub, "runner", NULL, &err);
	if (rc != 0 && rc != SK_EEXISTS)
		abort();
	size_t len;
	char *out = dump(t, &len);
	json_t *j = NULL;
	struct sk_trust *back = NULL;
	if (sk_cjson_parse(out, len, &j, &err) != 0 || sk_trust_from_json(&back, j, &err) != 0)
		abort();
	json_decref(j);
	sk_trust_free(back);
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > (1 << 16))
		return 0;
	struct sk_err err;
	json_t *doc = NULL;
	if (sk_cjson_parse(data, size, &doc, &err) != 0)
		return 0;
	struct sk_trust *t = NULL;
	int rc = sk_trust_from_json(&t, doc, &err);
	json_decref(doc);
	if (rc != 0) {
		json_t *s = json_string(err.message);
		if (t || !s || err.message[0] == '\0')
			abort();
		json_decref(s);
		return 0;
	}
	size_t len;
	char *out = dump(t, &len);
	if (len != size || memcmp(out, data, size) != 0)
		abort();
	free(out);
	for (size_t i = 0; i < t->nkeys; i++)
		if (sk_trust_find_key(t, t->keys[i].id) != &t->keys[i])
			abort();
	mutate(t);
	sk_trust_free(t);
	return 0;
}
