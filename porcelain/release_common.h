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
#include "refs/release_verify.h"

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
