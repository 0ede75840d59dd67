/*
 * From a signed release to a tree on disk the runner may start: the
 * release ref, signature, signer role and document are verified
 * (sk_rel_load_signed), then every artifact is reassembled with every
 * chunk and the whole digest checked as it is written (sk_file_extract),
 * into a temp directory that is renamed into place only when complete.
 * A ".tar" artifact is unpacked safely (runner/extract.h); any other is a
 * file named after the artifact, mode 0755. Nothing half-written or
 * unverified is ever at the final path.
 */
#ifndef SK_RUNNER_MATERIALIZE_H
#define SK_RUNNER_MATERIALIZE_H

#include "common/err.h"
#include "objects/release.h"
#include "refs/refs.h"

struct sk_runner_rel {
	struct sk_release *rel; /* the verified release document */
	struct sk_oid oid;      /* its object id */
	char *tree;             /* releases/<version>, malloc'd */
};

/* Verifies service/version and materializes it at releases_dir/<version>
 * (replacing what was there: the runner trusts only what it verified
 * now). Errors are typed: verification codes (exit 4) for anything that
 * does not check out, SK_ENOTFOUND for an unsigned version. */
int sk_runner_materialize(struct sk_repo *repo, const char *service, const char *version,
			  const char *releases_dir, struct sk_runner_rel *out, struct sk_err *err);
void sk_runner_rel_clear(struct sk_runner_rel *r);

#endif
