/*
 * Fuzz target for the spec compiler: random bytes as YAML. Invariants: no
 * crash or leak; a rejection is SK_EINVAL (or SK_ENOMEM) with a message
 * that is valid UTF-8; an accepted spec dumps as canonical JSON and passes
 * the compiled-form checker a runner applies.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "objects/cjson.h"
#include "objects/spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > SK_SPEC_MAX + 16)
		return 0;
	json_t *spec = NULL;
	struct sk_err err;
	int rc = sk_spec_compile("fuzz.yaml", data, size, &spec, &err);
	if (rc != 0) {
		json_t *s = json_string(err.message);
		if (!s || err.message[0] == '\0' || spec || (rc != SK_EINVAL && rc != SK_ENOMEM))
			abort();
		json_decref(s);
		return 0;
	}
	char *out = NULL;
	size_t len = 0;
	if (sk_cjson_dump(spec, &out, &len, &err) != 0)
		abort();
	json_t *back = NULL;
	if (sk_cjson_parse(out, len, &back, &err) == 0) /* no "v": must fail */
		abort();
	if (sk_spec_check_compiled(spec, NULL, &err) != 0)
		abort();
	free(out);
	json_decref(spec);
	return 0;
}
