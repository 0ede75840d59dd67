/*
 * Fuzz target for the file document (the chunk list of a large artifact,
 * read from remotes and releases). Invariants: an accepted document has
 * at most SK_FILE_MAX_CHUNKS chunks of allowed sizes adding up to its
 * size, and prints back to exactly the input bytes; a rejected one fills
 * a non-empty, valid UTF-8 message and returns no file.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "objects/chunker.h"
#include "objects/cjson.h"
#include "objects/file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const struct sk_file *f)
{
	uint64_t sum = 0;
	if (f->nchunks > SK_FILE_MAX_CHUNKS)
		abort();
	for (size_t i = 0; i < f->nchunks; i++) {
		uint64_t s = f->chunks[i].size;
		if (s == 0 || s > SK_CDC_MAX || (i + 1 < f->nchunks && s < SK_CDC_MIN))
			abort();
		sum += s;
	}
	if (sum != f->size)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > (1 << 20))
		return 0;
	struct sk_err err;
	json_t *doc = NULL;
	if (sk_cjson_parse(data, size, &doc, &err) != 0)
		return 0;
	struct sk_file *f = (struct sk_file *)1;
	int rc = sk_file_from_json(&f, doc, &err);
	json_decref(doc);
	if (rc != 0) {
		json_t *s = json_string(err.message);
		if (f || !s || err.message[0] == '\0')
			abort();
		json_decref(s);
		return 0;
	}
	check(f);
	json_t *j = sk_file_to_json(f);
	char *out = NULL;
	size_t len;
	if (!j || sk_cjson_dump(j, &out, &len, &err) != 0)
		abort();
	if (len != size || memcmp(out, data, size) != 0)
		abort();
	free(out);
	json_decref(j);
	sk_file_free(f);
	return 0;
}
