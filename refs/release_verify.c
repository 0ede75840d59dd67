/*
 * Verifying releases (see release_verify.h). The trust decisions are the
 * library's (sk_refs_verify, sk_refs_check_role, sk_signature_verify);
 * this file only strings them together in the one order every reader of a
 * release uses.
 */
#include "refs/release_verify.h"

#include <stdlib.h>
#include <string.h>

#include "objects/spec.h"

int sk_rel_ref(char *ref, size_t n, const char *service, const char *version,
	       struct sk_err *err)
{
	int rc = sk_spec_component_check(service, SK_SPEC_NAME_MAX, "service", err);
	if (rc == 0)
		rc = sk_release_version_check(version, err);
	if (rc == 0)
		snprintf(ref, n, "refs/releases/%s/%s", service, version);
	return rc;
}

int sk_rel_read(struct sk_odb *odb, const struct sk_oid *oid, const char *service,
		const char *version, struct sk_release **out, struct sk_err *err)
{
	char hex[SK_OID_HEXSZ + 1];
	json_t *doc = NULL;
	*out = NULL;
	int rc = sk_odb_read_json(odb, oid, SK_OBJ_RELEASE, SK_ODB_VERIFY, &doc, err);
	if (rc == 0)
		rc = sk_release_from_json(out, doc, err);
	json_decref(doc);
	if (rc < 0)
		return sk_err_wrap(err, "release %s", sk_oid_tohex(oid, hex));
	if (service && version &&
	    (strcmp((*out)->service, service) != 0 || strcmp((*out)->version, version) != 0))
		return sk_err_set(err, SK_EINVAL, "a release is signed under its own service and version",
				  "release %s is %s %s, not %s %s", sk_oid_tohex(oid, hex),
				  (*out)->service, (*out)->version, service, version);
	return 0;
}

int sk_rel_damaged(int rc, struct sk_err *err)
{
	if (rc == SK_ENOTFOUND || rc == SK_EINVAL) {
		err->code = SK_ECORRUPT;
		return SK_ECORRUPT;
	}
	return rc;
}

static int read_signature(struct sk_odb *odb, const struct sk_oid *oid, struct sk_signature *s,
			  struct sk_err *err)
{
	unsigned char *buf = NULL;
	size_t len = 0;
	enum sk_otype t = SK_OBJ_NONE;
	int rc = sk_odb_read(odb, oid, SK_OBJ_NONE, SK_ODB_VERIFY, &t, &buf, &len, err);
	if (rc == 0 && t != SK_OBJ_SIGNATURE)
		rc = sk_err_set(err, SK_ECORRUPT, NULL, "object is a %s, not a signature",
				sk_otype_name(t));
	if (rc == 0)
		rc = sk_signature_parse(s, buf, len, err);
	free(buf);
	return rc;
}

int sk_rel_check_signature(struct sk_repo *repo, const struct sk_trust *policy,
			   const char *ref, const struct sk_oid *sig_oid, struct sk_rel_signed *out,
			   struct sk_err *err)
{
	char hex[SK_OID_HEXSZ + 1];
	memset(out, 0, sizeof(*out));
	snprintf(out->ref, sizeof(out->ref), "%s", ref);
	out->sig_oid = *sig_oid;
	int rc = read_signature(sk_repo_odb(repo), sig_oid, &out->sig, err);
	if (rc < 0)
		return sk_rel_damaged(sk_err_wrap(err, "%s: signature %s", ref, sk_oid_tohex(sig_oid, hex)),
			       err);
	const struct sk_trust_key *k = sk_trust_find_key(policy, out->sig.signer);
	if (!k)
		return sk_err_set(err, SK_ESIGNATURE, "skiff trust show lists the trusted keys",
				  "%s: signer %s is not in the trust policy", ref, out->sig.signer);
	if ((rc = sk_signature_verify(&out->sig, k->pub, err)) < 0)
		return sk_err_wrap(err, "%s", ref);
	if ((rc = sk_refs_check_role(policy, out->sig.signer, ref, err)) < 0)
		return rc;
	snprintf(out->signer_name, sizeof(out->signer_name), "%s", k->name);
	return 0;
}

/* The live target of a verified release ref. */
static int ref_target(const json_t *info, const char *service, const char *version,
		      struct sk_oid *oid, struct sk_err *err)
{
	const char *hex = json_string_value(json_object_get(info, "oid"));
	if (!hex)
		return sk_err_set(err, SK_ENOTFOUND, "a release never moves: create a new version",
				  "release %s %s was deleted", service, version);
	return sk_oid_fromhex(oid, hex, err);
}

int sk_rel_load_signed(struct sk_repo *repo, const char *service, const char *version,
		       struct sk_rel_signed *out, struct sk_release **rel, struct sk_err *err)
{
	char ref[SK_REF_MAX + 1];
	json_t *info = NULL;
	struct sk_oid sig_oid;
	struct sk_trust *policy = NULL;
	struct sk_release *r = NULL;
	if (rel)
		*rel = NULL;
	int rc = sk_rel_ref(ref, sizeof(ref), service, version, err);
	if (rc == 0 && (rc = sk_refs_verify(repo, ref, 0, &info, err)) == SK_ENOTFOUND)
		rc = sk_err_set(err, SK_ENOTFOUND,
				"skiff release sign SERVICE VERSION signs what release create stored",
				"release %s %s is not signed (no ref %s)", service, version, ref);
	if (rc == 0)
		rc = ref_target(info, service, version, &sig_oid, err);
	json_decref(info);
	if (rc == 0)
		rc = sk_refs_load_trust(repo, &policy, err);
	if (rc == 0)
		rc = sk_rel_check_signature(repo, policy, ref, &sig_oid, out, err);
	sk_trust_free(policy);
	if (rc == 0 && (rc = sk_rel_read(sk_repo_odb(repo), &out->sig.release, service, version,
					 &r, err)) < 0)
		rc = sk_rel_damaged(rc, err); /* a signed release that does not check out */
	if (rc == 0 && rel)
		*rel = r;
	else
		sk_release_free(r);
	return rc;
}

/* f is the file object the release names: same size and digest. */
static int read_matching(struct sk_odb *odb, const struct sk_release_artifact *ra,
			 struct sk_file **f, struct sk_err *err)
{
	int rc = sk_file_read(odb, &ra->file, f, err);
	if (rc == 0 && ((*f)->size != ra->size || memcmp((*f)->sha256, ra->sha256, 32) != 0))
		rc = sk_err_set(err, SK_ECORRUPT, "run skiff fsck",
				"file object does not match the release's size and digest");
	return rc;
}

int sk_rel_check_file(struct sk_odb *odb, const struct sk_release_artifact *ra,
		      struct sk_err *err)
{
	struct sk_file *f = NULL;
	int rc = read_matching(odb, ra, &f, err);
	sk_file_free(f);
	if (rc < 0)
		return sk_rel_damaged(sk_err_wrap(err, "artifact %s", ra->name), err);
	return 0;
}

int sk_rel_verify_artifact(struct sk_odb *odb, const struct sk_release_artifact *ra,
			   size_t *nchunks, struct sk_err *err)
{
	struct sk_file *f = NULL;
	int rc = read_matching(odb, ra, &f, err);
	if (rc == 0)
		rc = sk_file_verify(odb, &ra->file, err);
	if (rc == 0 && nchunks)
		*nchunks = f->nchunks;
	sk_file_free(f);
	if (rc < 0)
		return sk_rel_damaged(sk_err_wrap(err, "artifact %s", ra->name), err);
	return 0;
}
