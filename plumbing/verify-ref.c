/*
 * skiff verify-ref REF [--chain]: the head record's signature and role at
 * constant cost, or with --chain every record back to the first.
 */
#include <string.h>

#include "plumbing/plumbing.h"
#include "refs/refs.h"

static void verify_text(FILE *out, const json_t *r)
{
	const char *oid = json_string_value(json_object_get(r, "oid"));
	fprintf(out, "ok %s seq %" JSON_INTEGER_FORMAT " -> %s, signed by %s (%s)",
		json_string_value(json_object_get(r, "ref")),
		json_integer_value(json_object_get(r, "seq")), oid ? oid : "deleted",
		json_string_value(json_object_get(r, "signer_name")),
		json_string_value(json_object_get(r, "signer")));
	if (json_is_true(json_object_get(r, "chain")))
		fprintf(out, "; chain of %" JSON_INTEGER_FORMAT " records verified",
			json_integer_value(json_object_get(r, "records_checked")));
	fputc('\n', out);
}

int cmd_verify_ref(struct sk_cli *cli, int argc, char **argv, struct sk_err *err)
{
	int chain = 0;
	const char *ref = NULL;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--chain") == 0)
			chain = 1;
		else if (argv[i][0] != '-' && !ref)
			ref = argv[i];
		else
			return sk_cli_usage(cli, err, "unexpected argument '%s'", argv[i]);
	}
	if (!ref)
		return sk_cli_usage(cli, err, "verify-ref needs a REF");
	int rc = sk_ref_name_check(ref, err);
	json_t *info = NULL;
	if (rc == 0)
		rc = sk_refs_verify(cli->repo, ref, chain, &info, err);
	if (rc < 0) {
		json_decref(info);
		return rc;
	}
	json_object_set_new(info, "verified", json_true());
	json_object_set_new(info, "chain", json_boolean(chain));
	sk_cli_result(cli, info, verify_text);
	return 0;
}
