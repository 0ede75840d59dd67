/*
 * Bench helper: N state commits on refs/services/SERVICE in one process
 * (a shell loop of `skiff control set` spends most of its time starting
 * processes and loading the key and trust policy). Each commit goes
 * through sk_service_commit, the path `skiff control set` takes, and sets
 * "step" to the commit's number, so every commit changes the control.
 *   mkcommits REPO-DIR KEY SERVICE N
 */
#include <stdio.h>
#include <stdlib.h>

#include "refs/refs.h"
#include "refs/service.h"

static int fail(const struct sk_err *err)
{
	fprintf(stderr, "mkcommits: %s\n", err->message);
	return 1;
}

int main(int argc, char **argv)
{
	struct sk_err err;
	struct sk_repo *repo = NULL;
	struct sk_key *key = NULL;
	struct sk_service_state st;
	sk_err_clear(&err);
	if (argc != 5) {
		fprintf(stderr, "usage: mkcommits REPO-DIR KEY SERVICE N\n");
		return 2;
	}
	long n = atol(argv[4]);
	if (sk_repo_open(&repo, argv[1], &err) < 0 || sk_key_load(&key, argv[2], &err) < 0 ||
	    sk_service_load(repo, argv[3], &st, &err) < 0)
		return fail(&err);
	for (long i = 1; i <= n; i++) {
		char value[32], msg[64];
		snprintf(value, sizeof(value), "%ld", i);
		snprintf(msg, sizeof(msg), "step %ld of %ld", i, n);
		struct sk_oid id;
		if (sk_control_set(st.control, "step", value, &err) < 0 ||
		    sk_service_commit(repo, key, &st, st.control, msg, NULL, 0, &id, &err) < 0)
			return fail(&err);
		/* The next commit's parent and CAS expectation: this one. */
		st.has_head = 1;
		st.head = id;
	}
	sk_service_state_clear(&st);
	sk_key_free(key);
	sk_repo_free(repo);
	return 0;
}
