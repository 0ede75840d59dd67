/*
 * Refs: the only door to names that point at objects. A ref's file under
 * .skiff/refs/ holds its current ref record (objects/refrecord.h); every
 * record is also stored as a `refrecord` object, so a ref's history is a
 * hash chain. Updates are compare-and-swap: each names the oid it expects
 * (or expects absence), takes an O_EXCL lock file, writes the signed
 * record into it, fsyncs, checks the expectation, and renames it into
 * place. Objects before refs, always: the refrecord object is durable
 * before the ref moves. A multi-ref update is all-or-nothing: a journal
 * written after every lock is taken makes the renames roll forward if
 * the writer dies half-way.
 *
 * Every record written is first checked against the trust policy, and
 * every record read for verification is checked for signature, role and
 * chain linkage (decisions in refs/trust.c, chains in refs/verify.c).
 * The transaction protocol and its crash recovery are in refs/txn.c.
 */
#ifndef SK_REFS_H
#define SK_REFS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "objects/odb.h"
#include "objects/refrecord.h"
#include "objects/trust.h"
#include "refs/keys.h"

struct sk_repo;

/* Ref names: "refs/" + components of [A-Za-z0-9._-], no "..", no empty
 * component, no leading '.' or '-', no ".lock" suffix on any component, at
 * most 255 bytes. Checked before touching the file system. */
int sk_ref_name_check(const char *name, struct sk_err *err);
/* Remote-tracking refs: refs/remotes/<remote>/<rest> holds, verbatim,
 * the signed records of refs/<rest> as fetched from <remote>. The records
 * keep their own name, so that is what their signatures and roles are
 * checked against. Only fetch writes there (sk_refs_adopt). */
#define SK_REFS_REMOTES "refs/remotes/"
/* The name the records stored under name carry: name itself, or refs/<rest>
 * for refs/remotes/<remote>/<rest> (written into buf, n >= SK_REF_MAX+1). */
const char *sk_refs_record_name(const char *name, char *buf, size_t n);

/* Ref glob match (see objects/trust.h for the syntax). */
int sk_ref_pattern_match(const char *pattern, const char *name);

/* --- repository ----------------------------------------------------- */

/* Creates DIR/.skiff (objects, refs, config) and the initial trust policy
 * with key as root and operator, signed by key. SK_EEXISTS if present.
 * With key NULL: a repository without a trust policy, for a cache whose
 * refs/meta/trust comes from a remote (--direct). */
int sk_repo_init(struct sk_repo **out, const char *dir, const struct sk_key *key,
		 struct sk_err *err);
/* Opens the repository at dir/.skiff when dir is given; otherwise
 * $SKIFF_DIR, otherwise searching upward from the current directory. */
int sk_repo_open(struct sk_repo **out, const char *dir, struct sk_err *err);
void sk_repo_free(struct sk_repo *repo);
struct sk_odb *sk_repo_odb(struct sk_repo *repo);
const char *sk_repo_path(const struct sk_repo *repo); /* the .skiff directory */
/* Identity recorded in .skiff/config at init ("" when none). */
const char *sk_repo_identity(const struct sk_repo *repo);

/* --direct: a repository used as a verified cache of a remote. Before a
 * ref is read, source->ref brings the remote's current record in (verified
 * and stored as this repository's own) or returns SK_ENOTFOUND when the
 * remote has none, which the read then reports. It may read and write refs
 * itself; it is responsible for not recursing on a name it is handling. */
struct sk_repo_source {
	int (*ref)(void *ctx, struct sk_repo *repo, const char *name, struct sk_err *err);
	void *ctx;
};
void sk_repo_set_source(struct sk_repo *repo, const struct sk_repo_source *src);

/* --- reading -------------------------------------------------------- */

/* Reads the current record; SK_ENOTFOUND when the ref never existed. A
 * deleted ref returns its tombstone (has_oid == 0). */
int sk_refs_read(struct sk_repo *repo, const char *name, struct sk_refrecord *out,
		 struct sk_err *err);
/* The oid a live ref points at; SK_ENOTFOUND when absent or deleted. */
int sk_refs_resolve(struct sk_repo *repo, const char *name, struct sk_oid *out,
		    struct sk_err *err);
/* Records of refs matching pattern (NULL: all), sorted by name, tombstones
 * skipped unless with_deleted. Remote-tracking refs (refs/remotes/…) are
 * listed only for a pattern under refs/remotes/, and their records carry
 * the remote's names (see sk_refs_record_name). *out malloc'd. */
int sk_refs_list(struct sk_repo *repo, const char *pattern, int with_deleted,
		 struct sk_refrecord **out, size_t *n, struct sk_err *err);

/* --- updating ------------------------------------------------------- */

enum sk_ref_expect {
	SK_EXPECT_ANY = 0, /* no precondition */
	SK_EXPECT_ABSENT,  /* create: must not exist (or be deleted) */
	SK_EXPECT_OID,     /* must currently point at old */
};

struct sk_ref_update {
	const char *ref;
	int delete;            /* write a tombstone instead of new_oid */
	struct sk_oid new_oid;
	enum sk_ref_expect expect;
	struct sk_oid old_oid;
	const char *op;        /* operation id or NULL */
	/* --dry-run only: new_oid names an object the caller has not written
	 * yet (it would write it before the real update), so the plan skips
	 * the "object exists" check. sk_refs_update refuses it. */
	int pending;
};

/* Applies n updates as one transaction signed by key: all or nothing;
 * n == 0 is a no-op. Fails with SK_ECONFLICT (an expectation does not
 * hold; message names the ref and both oids), SK_ELOCKED (another writer
 * holds a lock), SK_EROLE (key may not sign that ref), SK_ENOTFOUND (new
 * oid not in the store, or deleting a ref that is absent or deleted),
 * SK_EINVAL (bad name, duplicate ref, deleting refs/meta/trust or pointing
 * it at anything but a policy with a root key), and I/O codes. A failure
 * after a multi-ref transaction's commit point says so in its hint; the
 * next sk_repo_open completes it. records (may be NULL) receives the n
 * new records, in the order of ups. */
int sk_refs_update(struct sk_repo *repo, const struct sk_key *key,
		   const struct sk_ref_update *ups, size_t n, struct sk_refrecord *records,
		   struct sk_err *err);

/* Stores a record received from elsewhere (a remote), byte for byte, as
 * ref name's current record: for fetch's refs/remotes/<remote>/… and for
 * following a remote's ref. The bytes must be a signed record whose ref is
 * sk_refs_record_name(name); the caller has verified signature, role and
 * sequence. The record is stored as a refrecord object first; then, under
 * the ref's lock, the current record must be the one with id expect
 * (NULL: the ref must be absent or deleted) -- SK_ECONFLICT otherwise. */
int sk_refs_adopt(struct sk_repo *repo, const char *name, const void *bytes, size_t len,
		  const struct sk_oid *expect, struct sk_err *err);
/* The current record's object id (the hash of the ref file's bytes), and
 * *bytes (malloc'd; may be NULL) the bytes. SK_ENOTFOUND when absent. */
int sk_refs_read_record(struct sk_repo *repo, const char *name, struct sk_refrecord *out,
			struct sk_oid *id, char **bytes, size_t *len, struct sk_err *err);

/* Lock files present under .skiff/refs, for fsck: a JSON array of the
 * names of the locked refs (strings), sorted. A lock may belong to a live
 * writer; one that stays is stale (its writer died before committing). */
int sk_refs_stale_locks(struct sk_repo *repo, json_t **out, struct sk_err *err);

/* --dry-run: every check sk_refs_update makes (names, trust, targets,
 * expectations against the current records), no lock and no write.
 * records receives the unsigned records an update would write now. */
int sk_refs_update_plan(struct sk_repo *repo, const struct sk_key *key,
			const struct sk_ref_update *ups, size_t n, struct sk_refrecord *records,
			struct sk_err *err);

/* --- verification --------------------------------------------------- */

/* The current trust policy (head of refs/meta/trust). */
int sk_refs_load_trust(struct sk_repo *repo, struct sk_trust **out, struct sk_err *err);

/* Verifies one record: signature by a key in policy, and a role the
 * policy allows for the record's ref. For refs/meta/trust the policy must
 * be the one the record's predecessor points at (root signs changes). */
int sk_refs_verify_record(const struct sk_trust *policy, const struct sk_refrecord *r,
			  struct sk_err *err);
/* The role decision alone: may key keyid sign ref under policy (the first
 * rule matching ref names the roles; a grant's scope must cover ref)?
 * SK_EROLE otherwise. Used for records and for release signatures alike. */
int sk_refs_check_role(const struct sk_trust *policy, const char *keyid, const char *ref,
		       struct sk_err *err);

/* 1 when key keyid holds role through a grant whose scope covers ref
 * (approvals: "approver" for the operation's service ref). */
int sk_refs_has_role(const struct sk_trust *policy, const char *keyid, const char *role,
		     const char *ref);

/* verify-ref: the head record (constant cost), or with chain every record
 * back to seq 1 (linkage, seq, ref name, signatures, roles). info (may be
 * NULL) receives {ref, oid, seq, signer, signer_name, records_checked}. */
int sk_refs_verify(struct sk_repo *repo, const char *name, int chain, json_t **info,
		   struct sk_err *err);

/* Calls fn for each record from the head back (at most max when max > 0);
 * the record objects are read with hash verification and checked for
 * linkage (same ref, seq down by one): SK_ECORRUPT otherwise. fn returning
 * a negative code stops the walk with it; a positive value stops quietly. */
int sk_refs_walk(struct sk_repo *repo, const char *name, size_t max,
		 int (*fn)(const struct sk_refrecord *, const struct sk_oid *record_oid, void *),
		 void *arg, struct sk_err *err);

/* --- rollback memory ------------------------------------------------ */

/* Highest seq seen for ref from remote (0 when never seen). */
int sk_refs_seen_get(struct sk_repo *repo, const char *remote, const char *ref, uint64_t *seq,
		     struct sk_err *err);
/* SK_EROLLBACK when seq is below what was seen; otherwise remembers
 * max(seen, seq) durably. */
int sk_refs_seen_note(struct sk_repo *repo, const char *remote, const char *ref, uint64_t seq,
		      struct sk_err *err);

/* --- trust updates -------------------------------------------------- */

/* Stores policy as a `trust` object and moves refs/meta/trust to it,
 * signed by key, which must be root in the current policy. */
int sk_refs_set_trust(struct sk_repo *repo, const struct sk_key *key,
		      const struct sk_trust *policy, struct sk_err *err);

/* Domain strings for signatures. */
#define SK_SIGN_DOMAIN_REFRECORD "skiff-refrecord-v1"

#endif
