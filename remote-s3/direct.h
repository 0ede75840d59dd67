/*
 * --direct: read-only commands against a remote with no local repository
 * (or without trusting it). A cache repository under
 *   $SKIFF_CACHE_DIR, else $XDG_CACHE_HOME/skiff/direct/<remote key>, else
 *   ~/.cache/skiff/direct/<remote key>
 * is wired to the remote: before a ref is read its current record is
 * fetched and verified (trust chain forward from what the cache holds, from
 * seq 1 on first use; signature; role; seq not below what this cache has
 * seen); an object not in the cache is fetched and verified against its id
 * when it is read. The cache is keyed by object id, so a warm cache makes a
 * verified `rev-parse` two requests: the trust record and the ref's record.
 * Nothing lists the bucket except show-ref, which must.
 */
#ifndef SK_DIRECT_H
#define SK_DIRECT_H

#include "common/err.h"

struct sk_repo;
struct sk_direct;

int sk_direct_open(struct sk_direct **out, const char *url, unsigned jobs, struct sk_err *err);
/* The same with the cache repository at dir (NULL: the default above). */
int sk_direct_open_at(struct sk_direct **out, const char *url, const char *dir, unsigned jobs,
		      struct sk_err *err);
void sk_direct_free(struct sk_direct *d);
struct sk_repo *sk_direct_repo(struct sk_direct *d);
/* Brings every ref of the remote into the cache (lists the bucket). */
int sk_direct_mirror_all(struct sk_direct *d, struct sk_err *err);
/* A long-running reader (skiff-runner): forgets which refs were mirrored,
 * so that the next read of each brings the remote's current record in
 * again (verified, seq not below what was seen: a rollback fails). */
void sk_direct_refresh(struct sk_direct *d);
/* For a writer of one ref (a runner's reports): mirrors the remote's
 * current record of name now (as a read would; a remote without it is not
 * an error) and from then on, until the next refresh, reads of name see
 * the cache's own record, which the caller then moves locally (signed)
 * and publishes with sk_direct_push_ref. */
int sk_direct_sync_ref(struct sk_direct *d, const char *name, struct sk_err *err);
/* sk_push of the cache's ref name (objects first, then the remote's ref
 * by compare-and-swap). SK_ECONFLICT when the remote moved meanwhile. */
int sk_direct_push_ref(struct sk_direct *d, const char *name, struct sk_err *err);
/* HTTP requests (or file operations) made so far. */
unsigned long sk_direct_requests(const struct sk_direct *d);

#endif
