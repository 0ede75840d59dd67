/*
 * skiff rev-parse NAME: a ref, a full id or an unambiguous prefix to one
 * full id. The resolver here is shared by every command that takes an
 * object name, so names mean the same thing everywhere. A ref is resolved
 * only after its head record verifies (signature, role, target present):
 * every reader verifies, at the constant cost of verify-ref without
 * --chain.
 */
#include <string.h>

#include "objects/odb.h"
#include "plumbing/plumbing.h"
#include "refs/refs.h"

static int is_hex(const char *s)
{
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return 0;
	return 1;
}

/* The oid of a live ref whose head record verifies: one read of the
 * record, which sk_refs_verify already makes. */
static int verified_resolve(struct sk_repo *repo, const char *name, struct sk_oid *out,
			    struct sk_err *err)
{
	json_t *info = NULL;
	int rc = sk_refs_verify(repo, name, 0, &info, err);
	const char *hex = rc == 0 ? json_string_value(json_object_get(info, "oid")) : NULL;
	if (rc == 0 && !hex)
		rc = sk_err_set(err, SK_ENOTFOUND, NULL, "ref %s is deleted", name);
	if (rc == 0)
		rc = sk_oid_fromhex(out, hex, err);
	json_decref(info);
	return rc;
}

int sk_plumbing_resolve(struct sk_repo *repo, const char *name, struct sk_oid *out, char *ref,
			struct sk_err *err)
{
	size_t len = strlen(name);
	if (ref)
		ref[0] = '\0';
	if (len == SK_OID_HEXSZ && is_hex(name)) {
		int rc = sk_oid_fromhex(out, name, err);
		if (rc < 0)
			return rc;
		return sk_odb_have(sk_repo_odb(repo), out, err);
	}
	if (strncmp(name, "refs/", 5) == 0) {
		int rc = sk_ref_name_check(name, err);
		if (rc == 0)
			rc = verified_resolve(repo, name, out, err);
		if (rc == 0 && ref)
			memcpy(ref, name, len + 1); /* checked: at most SK_REF_MAX bytes */
		return rc;
	}
	if (len >= SK_OID_MIN_PREFIX && is_hex(name))
		return sk_odb_resolve_prefix(sk_repo_odb(repo), name, out, err);
	/* A short name is tried under refs/ ("services/api"). */
	char full[SK_REF_MAX + 8];
	snprintf(full, sizeof(full), "refs/%s", name);
	struct sk_err sub;
	sk_err_clear(&sub);
	if (len + 5 <= SK_REF_MAX && sk_ref_name_check(full, &sub) == 0 &&
	    sk_refs_resolve(repo, full, out, &sub) == 0) {
		int rc = verified_resolve(repo, full, out, err);
		if (rc == 0 && ref)
			memcpy(ref, full, strlen(full) + 1);
		return rc;
	}
	return sk_err_set(err, SK_ENOTFOUND, "give a ref (refs/…), a full id or at least 8 hex digits",
			  "'%s' is not a ref, an object id or an id prefix", name);
}

static void rev_parse_text(FILE *out, const json_t *r)
{
	fprintf(out, "%s\n", json_string_value(json_object_get(r, "oid")));
}

int cmd_rev_parse(struct sk_cli *cli, int argc, char **argv, struct sk_err *err)
{
	if (argc != 2 || argv[1][0] == '-')
		return sk_cli_usage(cli, err, "rev-parse takes exactly one NAME");
	struct sk_oid oid;
	char ref[SK_REF_MAX + 1];
	int rc = sk_plumbing_resolve(cli->repo, argv[1], &oid, ref, err);
	if (rc < 0)
		return rc;
	json_t *r = json_pack("{s:s, s:o}", "name", argv[1], "oid", sk_json_oid(&oid));
	if (ref[0])
		json_object_set_new(r, "ref", sk_json_str(ref));
	sk_cli_result(cli, r, rev_parse_text);
	return 0;
}
