/*
 * skiff show-ref [PATTERN]: live refs, sorted by name. PATTERN is a ref
 * glob or a name prefix that ends at a component boundary. Each listed
 * record is verified (signature and role) before it is shown; one that
 * fails stops the listing with exit 4.
 */
#include <stdlib.h>
#include <string.h>

#include "plumbing/plumbing.h"
#include "refs/refs.h"

static int matches(const char *pattern, const char *name)
{
	if (!pattern)
		return 1;
	if (strchr(pattern, '*'))
		return sk_ref_pattern_match(pattern, name);
	size_t n = strlen(pattern);
	while (n > 0 && pattern[n - 1] == '/')
		n--;
	return strncmp(pattern, name, n) == 0 && (name[n] == '\0' || name[n] == '/');
}

static void show_text(FILE *out, const json_t *r)
{
	size_t i;
	json_t *e;
	json_array_foreach(json_object_get(r, "refs"), i, e)
		fprintf(out, "%s %s\n", json_string_value(json_object_get(e, "oid")),
			json_string_value(json_object_get(e, "ref")));
}

int cmd_show_ref(struct sk_cli *cli, int argc, char **argv, struct sk_err *err)
{
	if (argc > 2 || (argc == 2 && argv[1][0] == '-'))
		return sk_cli_usage(cli, err, "show-ref takes at most one PATTERN");
	const char *pattern = argc == 2 ? argv[1] : NULL;
	struct sk_refrecord *recs = NULL;
	size_t n = 0;
	int rc = sk_refs_list(cli->repo, NULL, 0, &recs, &n, err);
	struct sk_trust *policy = NULL;
	if (rc == 0)
		rc = sk_refs_load_trust(cli->repo, &policy, err); /* verifies refs/meta/trust */
	json_t *arr = json_array();
	for (size_t i = 0; rc == 0 && i < n; i++) {
		if (!matches(pattern, recs[i].ref))
			continue;
		if (strcmp(recs[i].ref, "refs/meta/trust") != 0 &&
		    (rc = sk_refs_verify_record(policy, &recs[i], err)) < 0) {
			snprintf(err->hint, sizeof(err->hint),
				 "run `skiff fsck` for every problem; `skiff verify-ref %s` for this one",
				 recs[i].ref);
			break;
		}
		json_array_append_new(arr, json_pack("{s:s, s:o, s:I, s:s, s:I}", "ref", recs[i].ref,
						     "oid", sk_json_oid(&recs[i].oid), "seq",
						     (json_int_t)recs[i].seq, "signer", recs[i].signer,
						     "time", (json_int_t)recs[i].time));
	}
	free(recs);
	sk_trust_free(policy);
	if (rc < 0) {
		json_decref(arr);
		return rc;
	}
	if (pattern && json_array_size(arr) == 0) {
		json_decref(arr);
		return sk_err_set(err, SK_ENOTFOUND, "skiff show-ref lists every ref",
				  "no ref matches '%s'", pattern);
	}
	sk_cli_result(cli, json_pack("{s:o}", "refs", arr), show_text);
	return 0;
}
