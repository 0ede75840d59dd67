/*
 * The one path from a release ref to a trusted release, shared by the
 * release commands and the runner: the ref's head record (signature and
 * role), the signature object and its signer's role for the ref, the
 * release document, and each artifact's file object and chunks. Every
 * object is read with hash verification: a runner acts on nothing else.
 */
#ifndef SK_RELEASE_VERIFY_H
#define SK_RELEASE_VERIFY_H

#include <stddef.h>

#include "common/err.h"
#include "objects/file.h"
#include "objects/release.h"
#include "objects/signature.h"
#include "objects/trust.h"
#include "refs/keys.h"
#include "refs/refs.h"

/* A release ref read and checked: who signed what, and when. */
struct sk_rel_signed {
	char ref[SK_REF_MAX + 1];
	struct sk_oid sig_oid;          /* the signature object the ref points at */
	struct sk_signature sig;        /* its contents: release, signer, time */
	char signer_name[SK_KEY_NAME_MAX + 1];
};

/* refs/releases/<service>/<version> into ref (>= SK_REF_MAX + 1 bytes),
 * after checking both as ref components (SK_EINVAL naming which). */
int sk_rel_ref(char *ref, size_t n, const char *service, const char *version,
	       struct sk_err *err);

/* Reads (id-checked) and strictly validates release oid; when service
 * and version are given the release must be that one (SK_EINVAL). */
int sk_rel_read(struct sk_odb *odb, const struct sk_oid *oid, const char *service,
		const char *version, struct sk_release **out, struct sk_err *err);

/* After a signed ref names an object, its absence or malformation is
 * damage: SK_ENOTFOUND and SK_EINVAL become SK_ECORRUPT (exit 4). */
int sk_rel_damaged(int rc, struct sk_err *err);

/* The signature object sig_oid, named by ref: right type and form, a
 * genuine signature by a key in policy holding a role for ref. Damage to
 * the object is SK_ECORRUPT; otherwise SK_ESIGNATURE or SK_EROLE. */
int sk_rel_check_signature(struct sk_repo *repo, const struct sk_trust *policy,
			   const char *ref, const struct sk_oid *sig_oid, struct sk_rel_signed *out,
			   struct sk_err *err);

/* Everything a reader of a signed release relies on except the artifact
 * bytes: the ref's head record (signature and role), the signature
 * object, its signer's role for the ref, and the release document, which
 * must be service/version. SK_ENOTFOUND (hint: how to sign it) when the
 * version has no live ref; after that, a missing or malformed object is
 * SK_ECORRUPT. rel (may be NULL) receives the release. */
int sk_rel_load_signed(struct sk_repo *repo, const char *service, const char *version,
		       struct sk_rel_signed *out, struct sk_release **rel, struct sk_err *err);

/* The artifact's file object is the one the release describes (size and
 * whole-artifact digest), and every chunk is present, a blob, and hashes
 * right (sk_file_verify names a bad chunk). A problem is damage to a
 * signed release: SK_ECORRUPT naming the artifact. nchunks (may be NULL)
 * receives the chunk count. */
int sk_rel_verify_artifact(struct sk_odb *odb, const struct sk_release_artifact *ra,
			   size_t *nchunks, struct sk_err *err);
/* The file object alone matches the release's size and digest (what a
 * reader checks before sk_file_extract, which checks the chunks as it
 * writes). SK_ECORRUPT naming the artifact. */
int sk_rel_check_file(struct sk_odb *odb, const struct sk_release_artifact *ra,
		      struct sk_err *err);

#endif
