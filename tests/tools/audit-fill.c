/*
 * Bench and test helper: N real ref moves in one process, each a signed
 * record written through sk_refs_update and journaled as any command's
 * move is (a shell loop of update-ref spends most of its time starting
 * processes). The moves go round REFS refs refs/services/audit-K, REFS
 * per transaction, alternating each ref between two blobs, so every
 * journal entry is verifiable against its refrecord object.
 *   audit-fill REPO-DIR KEY N [REFS]      (REFS default 10)
 */
#include <stdio.h>
#include <stdlib.h>

#include "refs/audit.h"
#include "refs/keys.h"
#include "refs/refs.h"

static int fail(const struct sk_err *err)
{
	fprintf(stderr, "audit-fill: %s\n", err->message);
	return 1;
}

int main(int argc, char **argv)
{
	struct sk_err err;
	struct sk_repo *repo = NULL;
	struct sk_key *key = NULL;
	sk_err_clear(&err);
	if (argc != 4 && argc != 5) {
		fprintf(stderr, "usage: audit-fill REPO-DIR KEY N [REFS]\n");
		return 2;
	}
	long n = atol(argv[3]), refs = argc == 5 ? atol(argv[4]) : 10;
	if (n < 0 || refs < 1 || refs > 1000) {
		fprintf(stderr, "audit-fill: bad N or REFS\n");
		return 2;
	}
	if (sk_repo_open(&repo, argv[1], &err) < 0 || sk_key_load(&key, argv[2], &err) < 0)
		return fail(&err);
	struct sk_audit_ctx ctx = { .command = "audit-fill", .risk = "low" };
	sk_repo_set_audit(repo, &ctx);
	struct sk_oid blob[2];
	if (sk_odb_write(sk_repo_odb(repo), SK_OBJ_BLOB, "a", 1, &blob[0], &err) < 0 ||
	    sk_odb_write(sk_repo_odb(repo), SK_OBJ_BLOB, "b", 1, &blob[1], &err) < 0)
		return fail(&err);
	char (*names)[64] = calloc((size_t)refs, sizeof(*names));
	struct sk_ref_update *ups = calloc((size_t)refs, sizeof(*ups));
	if (!names || !ups)
		abort();
	for (long i = 0; i < refs; i++) {
		snprintf(names[i], sizeof(names[i]), "refs/services/audit-%ld", i);
		ups[i].ref = names[i];
	}
	for (long done = 0, round = 0; done < n; round++) {
		size_t k = (size_t)(n - done < refs ? n - done : refs);
		for (size_t i = 0; i < k; i++)
			ups[i].new_oid = blob[round % 2];
		if (sk_refs_update(repo, key, ups, k, NULL, &err) < 0)
			return fail(&err);
		done += (long)k;
	}
	free(names);
	free(ups);
	sk_key_free(key);
	sk_repo_free(repo);
	return 0;
}
