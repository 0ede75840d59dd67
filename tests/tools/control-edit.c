/*
 * Test helper: edits a service's control the way a deploy does, as one
 * signed state commit (sk_service_load + sk_service_commit), for tests
 * that need weights and releases before the deploy command sets them.
 *
 *   control-edit REPO-DIR KEY SERVICE EDIT...
 *     EDIT is one of
 *       T.weight=W      targets[T].weight = W (0..256)
 *       T.weight=-      drop targets[T].weight (the provider's default)
 *       T.release=V     targets[T].release = V ("-": null)
 *       release=V       control's stable release ("-": null)
 *   Prints the new commit id.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "refs/keys.h"
#include "refs/refs.h"
#include "refs/service.h"

static int usage(void)
{
	fprintf(stderr, "usage: control-edit REPO-DIR KEY SERVICE "
			"(T.weight=W|T.release=V|release=V)...\n");
	return 2;
}

static int edit(json_t *control, const char *e)
{
	const char *eq = strchr(e, '=');
	if (!eq)
		return -1;
	const char *val = eq + 1;
	json_t *v = strcmp(val, "-") == 0 ? json_null() : json_string(val);
	if (strncmp(e, "release=", 8) == 0) {
		json_object_set_new(control, "release", v);
		return 0;
	}
	const char *dot = strchr(e, '.');
	if (!dot || dot > eq) {
		json_decref(v);
		return -1;
	}
	char target[128];
	snprintf(target, sizeof(target), "%.*s", (int)(dot - e), e);
	json_t *t = json_object_get(json_object_get(control, "targets"), target);
	if (!t) {
		json_decref(v);
		fprintf(stderr, "control-edit: no target %s\n", target);
		return -1;
	}
	if (strncmp(dot + 1, "weight=", 7) == 0) {
		json_decref(v);
		if (strcmp(val, "-") == 0)
			json_object_del(t, "weight");
		else
			json_object_set_new(t, "weight", json_integer(atoll(val)));
		return 0;
	}
	if (strncmp(dot + 1, "release=", 8) == 0) {
		json_object_set_new(t, "release", v);
		return 0;
	}
	json_decref(v);
	return -1;
}

int main(int argc, char **argv)
{
	if (argc < 5)
		return usage();
	struct sk_err err = { 0 };
	struct sk_repo *repo = NULL;
	struct sk_key *key = NULL;
	struct sk_service_state st = { 0 };
	int rc = sk_repo_open(&repo, argv[1], &err);
	if (!rc)
		rc = sk_key_load(&key, argv[2], &err);
	if (!rc)
		rc = sk_service_load(repo, argv[3], &st, &err);
	if (rc) {
		fprintf(stderr, "control-edit: %s\n", err.message);
		return 1;
	}
	json_t *control = json_deep_copy(st.control);
	for (int i = 4; i < argc; i++)
		if (edit(control, argv[i]) < 0) {
			fprintf(stderr, "control-edit: bad edit %s\n", argv[i]);
			return usage();
		}
	struct sk_oid commit;
	rc = sk_service_commit(repo, key, &st, control, "control-edit (test)", NULL, 0, &commit, &err);
	if (rc) {
		fprintf(stderr, "control-edit: %s\n", err.message);
		return 1;
	}
	char hex[SK_OID_HEXSZ + 1];
	sk_oid_tohex(&commit, hex);
	printf("%s\n", hex);
	json_decref(control);
	sk_service_state_clear(&st);
	sk_key_free(key);
	sk_repo_free(repo);
	return 0;
}
