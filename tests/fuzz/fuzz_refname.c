/*
 * Fuzz target for ref names and ref patterns, the gate in front of every
 * path built from a ref. Input: NAME, or PATTERN "\n" NAME. Checks that
 * an accepted name can never address anything outside refs/ and that the
 * matcher agrees with itself on accepted names.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "refs/refs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_accepted(const char *name)
{
	size_t len = strlen(name);
	if (len > SK_REF_MAX || strncmp(name, "refs/", 5) != 0 || strstr(name, "..") ||
	    strstr(name, "//") || name[len - 1] == '/' || strstr(name, "/.") ||
	    strstr(name, "/-") || strstr(name, ".lock/") ||
	    (len >= 5 && strcmp(name + len - 5, ".lock") == 0))
		abort();
	for (const char *p = name; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' || *p == '-' || *p == '/'))
			abort();
	/* a plain name is a pattern matching exactly itself */
	if (!sk_ref_pattern_match(name, name) || !sk_ref_pattern_match("refs/**", name))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 1024)
		return 0;
	char *buf = malloc(size + 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	char *nl = memchr(buf, '\n', size);
	const char *name = buf;
	if (nl) {
		*nl = '\0';
		name = nl + 1;
		struct sk_err err;
		(void)sk_ref_pattern_match(buf, name);
		(void)sk_trust_pattern_check(buf, &err);
	}
	struct sk_err err;
	if (sk_ref_name_check(name, &err) == 0)
		check_accepted(name);
	else if (err.code != SK_EINVAL || err.message[0] == '\0')
		abort();
	free(buf);
	return 0;
}
