/*
 * skiff release sign | verify. sign writes a `signature` object over a
 * release and creates refs/releases/<svc>/<version> pointing at it,
 * create-only: a release never moves. Every check that can refuse the
 * signer (names, release shape, role, an existing ref) runs through
 * sk_refs_update_plan before the signature object is written, so a
 * refused signer leaves the store as it was. verify trusts nothing it
 * reads: the ref record, the signature, the signer's role for that ref,
 * the release document and every chunk of every artifact; anything wrong
 * after the ref exists is exit 4.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "objects/cjson.h"
#include "objects/file.h"
#include "objects/release.h"
#include "objects/signature.h"
#include "objects/spec.h"
#include "porcelain/porcelain.h"
#include "refs/keys.h"
#include "refs/refs.h"


static int release_ref(char *ref, size_t n, const char *service, const char *version,
		       struct sk_err *err)
{
	int rc = sk_spec_component_check(service, SK_SPEC_NAME_MAX, "service", err);
	if (rc == 0)
		rc = sk_release_version_check(version, err);
	if (rc == 0)
		snprintf(ref, n, "refs/releases/%s/%s", service, version);
	return rc;
}

/* Reads and strictly validates a release object; its service and version
 * must be the ones asked for. */
static int read_release(struct sk_odb *odb, const struct sk_oid *oid, const char *service,
			const char *version, struct sk_release **out, struct sk_err *err)
{
	char hex[SK_OID_HEXSZ + 1];
	json_t *doc = NULL;
	int rc = sk_odb_read_json(odb, oid, SK_OBJ_RELEASE, SK_ODB_VERIFY, &doc, err);
	if (rc == 0)
		rc = sk_release_from_json(out, doc, err);
	json_decref(doc);
	if (rc < 0)
		return sk_err_wrap(err, "release %s", sk_oid_tohex(oid, hex));
	if (strcmp((*out)->service, service) != 0 || strcmp((*out)->version, version) != 0)
		return sk_err_set(err, SK_EINVAL, "a release is signed under its own service and version",
				  "release %s is %s %s, not %s %s", sk_oid_tohex(oid, hex),
				  (*out)->service, (*out)->version, service, version);
	return 0;
}

/* --- release sign SERVICE VERSION --release OID ------------------------ */

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
	if (argc - optind != 2 || !a->release)
		return sk_cli_usage(cli, err, "release sign takes SERVICE, VERSION and --release OID");
	a->service = argv[optind];
	a->version = argv[optind + 1];
	return 0;
}

/* The signed document, its canonical bytes and id (nothing written). */
static int build_signature(const struct sk_key *key, const struct sk_oid *rel, char **bytes,
			   size_t *len, struct sk_oid *oid, struct sk_err *err)
{
	struct sk_signature s;
	memset(&s, 0, sizeof(s));
	s.release = *rel;
	snprintf(s.signer, sizeof(s.signer), "%s", sk_key_id(key));
	s.time = (int64_t)time(NULL);
	char *msg = NULL;
	size_t mlen = 0;
	int rc = sk_signature_message(&s, &msg, &mlen, err);
	if (rc < 0)
		return rc;
	rc = sk_key_sign(key, SK_SIGN_DOMAIN_SIGNATURE, msg, mlen, s.sig);
	free(msg);
	if (rc < 0)
		return sk_err_set(err, rc, NULL, "signing the release failed");
	s.has_sig = 1;
	json_t *doc = sk_signature_to_json(&s, 1);
	rc = sk_cjson_dump(doc, bytes, len, err);
	json_decref(doc);
	if (rc == 0)
		sk_oid_hash(oid, SK_OBJ_SIGNATURE, *bytes, *len);
	return rc;
}

static void sign_text(FILE *out, const json_t *r)
{
	fprintf(out, "signed    %s %s\nref       %s\nsignature %s\nrelease   %s\nsigner    %s\n",
		json_string_value(json_object_get(r, "service")),
		json_string_value(json_object_get(r, "version")),
		json_string_value(json_object_get(r, "ref")),
		json_string_value(json_object_get(r, "signature")),
		json_string_value(json_object_get(r, "release")),
		json_string_value(json_object_get(r, "signer")));
}

/* The plan runs with the release as a stand-in target (it exists; the
 * signature does not yet): names, role and create-only are checked
 * before anything is written. */
static int sign(struct sk_cli *cli, const struct sign_args *a, struct sk_err *err)
{
	struct sk_odb *odb = sk_repo_odb(cli->repo);
	char ref[SK_REF_MAX + 1];
	struct sk_oid rel, sig_oid;
	struct sk_release *r = NULL;
	char *bytes = NULL;
	size_t len = 0;
	int rc = release_ref(ref, sizeof(ref), a->service, a->version, err);
	if (rc == 0 && !sk_oid_is_prefix(a->release))
		rc = sk_err_set(err, SK_EINVAL, "give the id printed by skiff release create",
				"'%s' is not a release object id", a->release);
	if (rc == 0)
		rc = sk_odb_resolve_prefix(odb, a->release, &rel, err);
	if (rc == 0)
		rc = read_release(odb, &rel, a->service, a->version, &r, err);
	struct sk_ref_update up = { .ref = ref, .new_oid = rel, .expect = SK_EXPECT_ABSENT };
	if (rc == 0)
		rc = sk_refs_update_plan(cli->repo, cli->key, &up, 1, NULL, err);
	if (rc == 0)
		rc = build_signature(cli->key, &rel, &bytes, &len, &sig_oid, err);
	if (rc == 0)
		rc = sk_odb_write(odb, SK_OBJ_SIGNATURE, bytes, len, &sig_oid, err);
	up.new_oid = sig_oid;
	if (rc == 0)
		rc = sk_refs_update(cli->repo, cli->key, &up, 1, NULL, err);
	if (rc == SK_ECONFLICT || rc == SK_EEXISTS)
		rc = sk_err_set(err, SK_EEXISTS, "a release never moves: create a new version",
				"release %s %s is already signed (%s)", a->service, a->version, ref);
	if (rc == 0)
		sk_cli_result(cli,
			      json_pack("{s:s, s:s, s:s, s:o, s:o, s:s, s:s}", "service", a->service,
					"version", a->version, "ref", ref, "signature",
					sk_json_oid(&sig_oid), "release", sk_json_oid(&rel), "signer",
					sk_key_id(cli->key), "signer_name", sk_key_name(cli->key)),
			      sign_text);
	free(bytes);
	sk_release_free(r);
	return rc;
}

int cmd_release_sign(struct sk_cli *cli, int argc, char **argv, struct sk_err *err)
{
	struct sign_args a = { 0 };
	int rc = parse_sign(cli, argc, argv, &a, err);
	return rc < 0 ? rc : sign(cli, &a, err);
}

/* --- release verify SERVICE VERSION ------------------------------------ */

/* After the ref exists, a missing or malformed object is damage. */
static int damaged(int rc, struct sk_err *err)
{
	if (rc == SK_ENOTFOUND || rc == SK_EINVAL) {
		err->code = SK_ECORRUPT;
		return SK_ECORRUPT;
	}
	return rc;
}

/* The signature object the ref points at: right type, strict shape, a
 * genuine signature by a key the trust policy allows to sign ref (the
 * same role decision as for ref records: release-signer by default). */
static int check_signature(struct sk_repo *repo, const char *ref, const struct sk_oid *oid,
			   struct sk_signature *s, json_t *res, struct sk_err *err)
{
	char hex[SK_OID_HEXSZ + 1];
	unsigned char *buf = NULL;
	size_t len = 0;
	enum sk_otype t = SK_OBJ_NONE;
	int rc = sk_odb_read(sk_repo_odb(repo), oid, SK_OBJ_NONE, SK_ODB_VERIFY, &t, &buf, &len,
			     err);
	if (rc == 0 && t != SK_OBJ_SIGNATURE)
		rc = sk_err_set(err, SK_ECORRUPT, NULL, "object is a %s, not a signature",
				sk_otype_name(t));
	if (rc == 0)
		rc = sk_signature_parse(s, buf, len, err);
	free(buf);
	if (rc < 0)
		return damaged(sk_err_wrap(err, "%s: signature %s", ref, sk_oid_tohex(oid, hex)), err);
	struct sk_trust *policy = NULL;
	if ((rc = sk_refs_load_trust(repo, &policy, err)) < 0)
		return rc;
	const struct sk_trust_key *k = sk_trust_find_key(policy, s->signer);
	if (!k)
		rc = sk_err_set(err, SK_ESIGNATURE, "skiff trust show lists the trusted keys",
				"%s: signer %s is not in the trust policy", ref, s->signer);
	else if ((rc = sk_signature_verify(s, k->pub, err)) < 0)
		sk_err_wrap(err, "%s", ref);
	else
		rc = sk_refs_check_role(policy, s->signer, ref, err);
	if (rc == 0)
		json_object_set_new(res, "signer_name", sk_json_str(k->name));
	sk_trust_free(policy);
	return rc;
}

/* The file object matches the release's record, and every chunk is
 * present and right (sk_file_verify names a bad chunk). */
static int check_artifact(struct sk_odb *odb, const struct sk_release_artifact *ra,
			  json_t *arts, struct sk_err *err)
{
	struct sk_file *f = NULL;
	int rc = sk_file_read(odb, &ra->file, &f, err);
	if (rc == 0 && (f->size != ra->size || memcmp(f->sha256, ra->sha256, 32) != 0))
		rc = sk_err_set(err, SK_ECORRUPT, NULL,
				"file object does not match the release's size and digest");
	if (rc == 0)
		rc = sk_file_verify(odb, &ra->file, err);
	if (rc == 0) {
		char hex[65];
		sk_hex(ra->sha256, 32, hex);
		json_array_append_new(arts, json_pack("{s:s, s:I, s:s, s:I}", "name", ra->name,
						      "size", (json_int_t)ra->size, "sha256", hex,
						      "chunks", (json_int_t)f->nchunks));
	}
	sk_file_free(f);
	if (rc < 0)
		return damaged(sk_err_wrap(err, "artifact %s", ra->name), err);
	return 0;
}

static int check_release(struct sk_odb *odb, const struct sk_signature *s, const char *service,
			 const char *version, json_t *res, struct sk_err *err)
{
	struct sk_release *r = NULL;
	int rc = read_release(odb, &s->release, service, version, &r, err);
	if (rc < 0) {
		sk_release_free(r);
		return damaged(rc, err); /* a signed release that does not check out */
	}
	json_t *arts = json_array();
	for (size_t i = 0; rc == 0 && i < r->nartifacts; i++)
		rc = check_artifact(odb, &r->artifacts[i], arts, err);
	json_object_set_new(res, "artifacts", arts);
	sk_release_free(r);
	return rc;
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

static int ref_target(json_t *info, struct sk_oid *oid, struct sk_err *err)
{
	const char *hex = json_string_value(json_object_get(info, "oid"));
	if (!hex)
		return sk_err_set(err, SK_ENOTFOUND, NULL, "release ref is deleted");
	return sk_oid_fromhex(oid, hex, err);
}

static int verify(struct sk_cli *cli, const char *service, const char *version,
		  struct sk_err *err)
{
	char ref[SK_REF_MAX + 1];
	json_t *info = NULL, *res = NULL;
	struct sk_oid oid;
	struct sk_signature s;
	int rc = release_ref(ref, sizeof(ref), service, version, err);
	if (rc == 0 && (rc = sk_refs_verify(cli->repo, ref, 0, &info, err)) == SK_ENOTFOUND)
		snprintf(err->hint, sizeof(err->hint), "sign it with: skiff release sign %s %s "
			 "--release OID", service, version);
	if (rc == 0)
		rc = ref_target(info, &oid, err);
	json_decref(info);
	if (rc < 0)
		return rc;
	res = json_pack("{s:s, s:s}", "service", service, "version", version);
	rc = check_signature(cli->repo, ref, &oid, &s, res, err);
	if (rc == 0)
		rc = check_release(sk_repo_odb(cli->repo), &s, service, version, res, err);
	if (rc < 0) {
		json_decref(res);
		return rc;
	}
	json_object_set_new(res, "release", sk_json_oid(&s.release));
	json_object_set_new(res, "signer", sk_json_str(s.signer));
	json_object_set_new(res, "verified", json_true());
	sk_cli_result(cli, res, verify_text);
	return 0;
}

int cmd_release_verify(struct sk_cli *cli, int argc, char **argv, struct sk_err *err)
{
	if (argc != 3 || argv[1][0] == '-' || argv[2][0] == '-')
		return sk_cli_usage(cli, err, "release verify takes SERVICE and VERSION");
	return verify(cli, argv[1], argv[2], err);
}
