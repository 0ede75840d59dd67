/*
 * push and fetch: moving objects and signed ref records between a
 * repository and a remote (remote.h).
 *
 * push: for each local ref (matching the patterns), the remote must hold
 * its record or an older record of the same chain (a fast-forward);
 * otherwise it is a conflict (someone else pushed: fetch first) -- and a
 * release ref that exists on the remote never moves. Every object the new
 * records reach and the remote lacks is uploaded first, in parallel; only
 * then is each ref moved, by compare-and-swap on what was read. So no
 * reader ever sees a ref pointing at a missing object.
 *
 * fetch: reads the remote's refs/meta/trust and verifies its chain from
 * the local policy forward (each new policy signed by a root of the one
 * before); then every ref record (signature, role under that policy, seq
 * not below what was seen from this remote: a rollback is SK_EROLLBACK).
 * Missing objects are downloaded in parallel and each is verified against
 * its id before it is stored (a corrupted object is SK_ECORRUPT and none
 * of its bytes are kept). Then refs/remotes/<name>/… move, and local refs
 * that are behind (or absent) fast-forward to the remote's records.
 */
#ifndef SK_REMOTE_SYNC_H
#define SK_REMOTE_SYNC_H

#include <jansson.h>

#include "common/err.h"
#include "remote-s3/remote.h"

struct sk_repo;

/* Pushes refs matching patterns (none: every ref but refs/remotes/).
 * *report (a new reference, also on failure when it got that far):
 * {"remote","refs":[{"ref","status","seq","reason"?}],"objects":N,
 *  "bytes":N,"requests":N}; status is up-to-date|created|updated|conflict.
 * SK_ECONFLICT when any ref conflicted (the others were pushed). */
int sk_push(struct sk_repo *repo, struct sk_remote *remote, char **patterns, size_t np,
	    json_t **report, struct sk_err *err);
/* --dry-run of sk_push: the same selection, comparison with the remote's
 * records and walk, and the same failures (SK_ECONFLICT for a ref that
 * conflicts, SK_ENOTFOUND); the remote is only read (records; HEAD or
 * stat for each object to send). The report counts the objects and bytes
 * that would be uploaded, and each ref's status is up-to-date|create|
 * update|conflict with "old" and "new" (the remote's target and ours,
 * null for none) and "remote_exists". Nothing is written anywhere. */
int sk_push_plan(struct sk_repo *repo, struct sk_remote *remote, char **patterns, size_t np,
		 json_t **report, struct sk_err *err);

/* Fetches every ref of the remote into refs/remotes/<name>/… (name: the
 * remote's configured name; NULL uses its key). With reset, local refs
 * that diverged are reset to the remote's records too. *report:
 * {"remote","refs":[{"ref","status","seq"}],"objects":N,"bytes":N,
 *  "requests":N}; status is up-to-date|fast-forward|ahead|diverged|reset. */
int sk_fetch(struct sk_repo *repo, struct sk_remote *remote, const char *name, int reset,
	     json_t **report, struct sk_err *err);
/* --dry-run of sk_fetch: the same reads and verification (trust chain,
 * signatures, roles, seq memory, record chains, each object's id), with
 * what would be stored held in memory instead; artifact chunks (blobs) are
 * counted from their file objects, not downloaded. Nothing is written:
 * no object, ref or seq memory. The report adds "moves": [{"ref","old",
 * "new","seq"}] (the local refs, tracking refs included, that would
 * move; old/new are targets, null for none), "chunks" and "chunk_bytes"
 * (uncompressed); "objects" counts every object that would be downloaded
 * (chunks included) and "bytes" the stored bytes of those read. */
int sk_fetch_plan(struct sk_repo *repo, struct sk_remote *remote, const char *name, int reset,
		  json_t **report, struct sk_err *err);

/* --direct (see remote-s3/direct.h): brings the remote's current record of
 * ref name into repo as its own ref, verified as fetch verifies it; for
 * refs/meta/trust the whole chain from what repo holds (from seq 1, trust
 * on first use, in a fresh cache). SK_ENOTFOUND when the remote lacks it.
 * Objects are not fetched. */
int sk_fetch_mirror_ref(struct sk_repo *repo, struct sk_remote *remote, const char *name,
			struct sk_err *err);

#endif
