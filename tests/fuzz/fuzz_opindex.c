/*
 * Fuzz target for the operations index file (.skiff/index/operations, see
 * ops/opindex.h): local bytes that op list never trusts. Invariants: no
 * crash or leak; a rejected file carries a message; an accepted one has
 * its names strictly ascending, done <= steps, and formats back to
 * exactly the bytes it was parsed from (one index, one encoding).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ops/opindex.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > (1 << 20))
		return 0;
	struct sk_opindex ix;
	struct sk_err err;
	if (sk_opindex_parse((const char *)data, size, &ix, &err) != 0) {
		if (err.message[0] == '\0')
			abort();
		sk_opindex_clear(&ix);
		return 0;
	}
	for (size_t i = 0; i < ix.n; i++)
		if ((i > 0 && strcmp(ix.v[i - 1].name, ix.v[i].name) >= 0) ||
		    ix.v[i].done > ix.v[i].steps || ix.v[i].steps < 1)
			abort();
	size_t len = 0;
	char *back = sk_opindex_format(&ix, &len);
	if (len != size || memcmp(back, data, size) != 0)
		abort();
	free(back);
	sk_opindex_clear(&ix);
	return 0;
}
