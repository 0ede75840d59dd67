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
void sk_direct_free(struct sk_direct *d);
struct sk_repo *sk_direct_repo(struct sk_direct *d);
/* Brings every ref of the remote into the cache (lists the bucket). */
int sk_direct_mirror_all(struct sk_direct *d, struct sk_err *err);
/* HTTP requests (or file operations) made so far. */
unsigned long sk_direct_requests(const struct sk_direct *d);

#endif
