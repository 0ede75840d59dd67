/*
 * What the release commands share (porcelain/release*.c): the release
 * ref of a service and version, reading a release under its own name,
 * the one path from a release ref to a trusted release (ref record,
 * signature object, signer role, release document), the one signing path
 * (release sign and release create --sign), and the local index of
 * releases created but not yet signed.
 *
 * The pending index lets `release sign SERVICE VERSION` find what
 * `release create` stored without being given the id. It is a cache of
 * this repository's own work, never a source of trust: each entry is a
 * file .skiff/pending/releases/<svc>/<version>/<release-oid>, created
 * once (O_EXCL, fsynced) after the release object is durable and removed
 * when the version is signed. An unsigned release exists only where it
 * was created (push carries what refs reach), so a local index is the
 * whole truth about it; the release object named is re-read, id-checked
 * and matched against service and version before it is signed.
 */
#ifndef SK_RELEASE_COMMON_H
#define SK_RELEASE_COMMON_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "common/cli.h"
#include "objects/release.h"
#include "objects/signature.h"
#include "objects/trust.h"
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

/* Signs release rel as service/version with key and creates the
 * create-only ref: every check (the release, the signer's role, an
 * existing ref) runs before the signature object is written. An existing
 * ref is SK_EEXISTS. On success clears the version's pending entries and
 * sets *result to {service, version, ref, signature, release, signer,
 * signer_name, time}. */
int sk_rel_sign(struct sk_repo *repo, const struct sk_key *key, const char *service,
		const char *version, const struct sk_oid *rel, json_t **result, struct sk_err *err);
/* Every check sk_rel_sign makes before it writes (the release, the
 * signer's role, an existing ref: SK_EEXISTS), for --dry-run; writes
 * nothing. */
int sk_rel_sign_check(struct sk_repo *repo, const struct sk_key *key, const char *service,
		      const char *version, const struct sk_oid *rel, struct sk_err *err);

/* {oid, ref, signer, signer_name, time}: a signature as release create,
 * show and list report it; from a sk_rel_sign result or a checked ref. */
json_t *sk_rel_signature_json(const json_t *sign_result);
json_t *sk_rel_signed_json(const struct sk_rel_signed *s);

/* SK_EEXISTS (hint: a release never moves) when the version has a ref,
 * live or deleted; 0 when it has none. */
int sk_rel_check_unsigned(struct sk_repo *repo, const char *service, const char *version,
			  struct sk_err *err);

/* Records release oid as created and unsigned; *count (may be NULL) gets
 * how many distinct releases are now pending for the version. */
int sk_rel_pending_add(struct sk_repo *repo, const char *service, const char *version,
		       const struct sk_oid *oid, size_t *count, struct sk_err *err);
/* The one pending release of the version: SK_ENOTFOUND when there is
 * none, SK_EAMBIGUOUS when several (their ids in *candidates, a new JSON
 * array, when candidates is not NULL); both with a hint to pass
 * --release. */
int sk_rel_pending_find(struct sk_repo *repo, const char *service, const char *version,
			struct sk_oid *out, json_t **candidates, struct sk_err *err);
/* Forgets the version's pending entries (best effort: the index is a
 * convenience, and a signed version cannot be signed again anyway). */
void sk_rel_pending_clear(struct sk_repo *repo, const char *service, const char *version);

/* "16.0 MiB", "13 B" into buf. */
const char *sk_rel_human_size(uint64_t n, char *buf, size_t len);

#endif
