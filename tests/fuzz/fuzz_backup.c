/*
 * Fuzz target for `backup` documents as restore reads them from a ref.
 * Invariants: no crash or leak; a rejected document carries a message; an
 * accepted one is rebuilt byte for byte by sk_backup_to_json (reader and
 * builder agree).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "objects/backup.h"
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
	struct sk_backup b;
	memset(&err, 0, sizeof(err));
	if (sk_backup_from_json(&b, doc, &err) != 0) {
		if (err.message[0] == '\0')
			abort();
		json_decref(doc);
		return 0;
	}
	json_t *back = sk_backup_to_json(&b);
	char *out = NULL;
	size_t len = 0;
	if (!back || sk_cjson_dump(back, &out, &len, &err) != 0 || len != size ||
	    memcmp(out, data, size) != 0)
		abort();
	free(out);
	json_decref(back);
	json_decref(doc);
	return 0;
}
