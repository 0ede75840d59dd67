/*
 * skiff release sign | verify. sign writes a `signature` object over a
 * release and creates refs/releases/<svc>/<version> pointing at it,
 * create-only: a release never moves. The release is the id given with
 * --release or, without it, the one `release create` recorded as pending
 * for that version. Every check that can refuse the signer (names,
 * release shape, role, an existing ref) runs before the signature object
 * is written (sk_rel_sign), so a refused signer leaves the store as it
 * was. verify trusts nothing it reads: the ref record, the signature, the
 * signer's role for that ref, the release document (sk_rel_load_signed)
 * and every chunk of every artifact; anything wrong after the ref exists
 * is exit 4.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "objects/file.h"
#include "porcelain/dryrun.h"
#include "porcelain/porcelain.h"
#include "porcelain/release_common.h"

/* --- release sign SERVICE VERSION [--release OID] ----------------------- */

struct sign_args {
	const char *service, *version, *release;
};

static int parse_sign(struct sk_cli *cli, int argc, char **argv, struct sign_args *a,
		      struct sk_err *err)
{
	static const struct option lo[] = {
		{ "release", required_argument, NULL, 'r' },
		{ 0, 0, 0, 0 },
	};
	int c;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (c == 'r')
			a->release = optarg;
		else
			return sk_cli_usage(cli, err, "unknown or incomplete option '%s'",
					    argv[optind - 1]);
	}
	if (argc - optind != 2)
		return sk_cli_usage(cli, err, "release sign takes SERVICE and VERSION");
	a->service = argv[optind];
	a->version = argv[optind + 1];
	return 0;
}

static void sign_text(FILE *out, const json_t *r)
{
	fprintf(out, "signed    %s %s\nref       %s\nsignature %s\nrelease   %s\nsigner    %s (%s)\n",
		json_string_value(json_object_get(r, "service")),
		json_string_value(json_object_get(r, "version")),
		json_string_value(json_object_get(r, "ref")),
		json_string_value(json_object_get(r, "signature")),
		json_string_value(json_object_get(r, "release")),
		json_string_value(json_object_get(r, "signer_name")),
		json_string_value(json_object_get(r, "signer")));
	fprintf(out, "next: skiff release verify %s %s\n",
		json_string_value(json_object_get(r, "service")),
		json_string_value(json_object_get(r, "version")));
}

/* Which release to sign: the id given, or the one release create stored
 * for this version and nobody signed yet. A version already signed is
 * reported as such before the pending index is consulted. */
static int pick_release(struct sk_cli *cli, const struct sign_args *a, struct sk_oid *rel,
			struct sk_err *err)
{
	if (a->release && !sk_oid_is_prefix(a->release))
		return sk_err_set(err, SK_EINVAL, "give the id printed by skiff release create",
				  "'%s' is not a release object id", a->release);
	if (a->release)
		return sk_odb_resolve_prefix(sk_repo_odb(cli->repo), a->release, rel, err);
	int rc = sk_rel_check_unsigned(cli->repo, a->service, a->version, err);
	json_t *cands = NULL;
	if (rc == 0 && (rc = sk_rel_pending_find(cli->repo, a->service, a->version, rel, &cands,
						 err)) == SK_EAMBIGUOUS) {
		json_decref(cli->error_details);
		cli->error_details = json_pack("{s:o}", "candidates", cands);
	}
	return rc;
}

/* --dry-run: every check of the signing path, then the plan; no
 * signature object, no ref. */
static int sign_dry_run(struct sk_cli *cli, const struct sign_args *a, const char *ref,
			const struct sk_oid *rel, struct sk_err *err)
{
	int rc = sk_rel_sign_check(cli->repo, cli->key, a->service, a->version, rel, err);
	if (rc < 0)
		return rc;
	char detail[SK_ERR_MSG], hex[SK_OID_HEXSZ + 1];
	json_t *plan = sk_dry_plan("release sign", a->service);
	json_t *s = sk_dry_step(plan, "write-signature", "low", 1, NULL);
	snprintf(detail, sizeof(detail), "signature over release %.16s… by %s (%s)",
		 sk_oid_tohex(rel, hex), sk_key_name(cli->key), sk_key_id(cli->key));
	json_object_set_new(s, "detail", sk_json_str(detail));
	char name[SK_REF_MAX + 16];
	snprintf(name, sizeof(name), "create-ref %s", ref);
	s = sk_dry_step(plan, name, "medium", 0, NULL);
	snprintf(detail, sizeof(detail), "%s (create-only: a release never moves)", ref);
	json_object_set_new(s, "detail", sk_json_str(detail));
	json_object_set_new(s, "ref", sk_json_str(ref));
	json_object_set_new(s, "old", json_null());
	sk_dry_result(cli, plan,
		      json_pack("{s:s, s:s, s:s, s:o, s:s, s:s}", "service", a->service, "version",
				a->version, "ref", ref, "release", sk_json_oid(rel), "signer",
				sk_key_id(cli->key), "signer_name", sk_key_name(cli->key)));
	return 0;
}

int cmd_release_sign(struct sk_cli *cli, int argc, char **argv, struct sk_err *err)
{
	struct sign_args a = { 0 };
	struct sk_oid rel;
	char ref[SK_REF_MAX + 1];
	json_t *res = NULL;
	int rc = parse_sign(cli, argc, argv, &a, err);
	if (rc == 0)
		rc = sk_rel_ref(ref, sizeof(ref), a.service, a.version, err);
	if (rc == 0)
		rc = pick_release(cli, &a, &rel, err);
	if (rc == 0 && cli->dry_run)
		return sign_dry_run(cli, &a, ref, &rel, err);
	if (rc == 0)
		rc = sk_rel_sign(cli->repo, cli->key, a.service, a.version, &rel, &res, err);
	if (rc == 0)
		sk_cli_result(cli, res, sign_text);
	return rc;
}

/* --- release verify SERVICE VERSION ------------------------------------ */

/* The file object matches the release's record, and every chunk is
 * present and right (sk_rel_verify_artifact names a bad chunk). */
static int check_artifact(struct sk_odb *odb, const struct sk_release_artifact *ra,
			  json_t *arts, struct sk_err *err)
{
	size_t nchunks = 0;
	int rc = sk_rel_verify_artifact(odb, ra, &nchunks, err);
	if (rc < 0)
		return rc;
	char hex[65];
	sk_hex(ra->sha256, 32, hex);
	json_array_append_new(arts, json_pack("{s:s, s:I, s:s, s:I}", "name", ra->name, "size",
					      (json_int_t)ra->size, "sha256", hex, "chunks",
					      (json_int_t)nchunks));
	return 0;
}

static void verify_text(FILE *out, const json_t *r)
{
	fprintf(out, "verified  %s %s\nrelease   %s\nsigner    %s (%s)\n",
		json_string_value(json_object_get(r, "service")),
		json_string_value(json_object_get(r, "version")),
		json_string_value(json_object_get(r, "release")),
		json_string_value(json_object_get(r, "signer_name")),
		json_string_value(json_object_get(r, "signer")));
	size_t i;
	json_t *a;
	json_array_foreach(json_object_get(r, "artifacts"), i, a)
		fprintf(out, "artifact  %-16s %lld bytes, %lld chunks, sha256 %s\n",
			json_string_value(json_object_get(a, "name")),
			(long long)json_integer_value(json_object_get(a, "size")),
			(long long)json_integer_value(json_object_get(a, "chunks")),
			json_string_value(json_object_get(a, "sha256")));
}

static int verify(struct sk_cli *cli, const char *service, const char *version,
		  struct sk_err *err)
{
	struct sk_rel_signed s;
	struct sk_release *r = NULL;
	int rc = sk_rel_load_signed(cli->repo, service, version, &s, &r, err);
	if (rc < 0)
		return rc;
	json_t *arts = json_array();
	for (size_t i = 0; rc == 0 && i < r->nartifacts; i++)
		rc = check_artifact(sk_repo_odb(cli->repo), &r->artifacts[i], arts, err);
	sk_release_free(r);
	if (rc < 0) {
		json_decref(arts);
		return rc;
	}
	sk_cli_result(cli,
		      json_pack("{s:s, s:s, s:o, s:s, s:s, s:o, s:b}", "service", service,
				"version", version, "release", sk_json_oid(&s.sig.release), "signer",
				s.sig.signer, "signer_name", s.signer_name, "artifacts", arts,
				"verified", 1),
		      verify_text);
	return 0;
}

int cmd_release_verify(struct sk_cli *cli, int argc, char **argv, struct sk_err *err)
{
	if (argc != 3 || argv[1][0] == '-' || argv[2][0] == '-')
		return sk_cli_usage(cli, err, "release verify takes SERVICE and VERSION");
	return verify(cli, argv[1], argv[2], err);
}
