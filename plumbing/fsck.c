/*
 * skiff fsck: every object's hash and format, every ref's whole record
 * chain (signatures, roles, linkage), the trust chain and dangling refs.
 * It lists every problem rather than stopping at the first, and exits 4
 * when there is any. Lock files left by writers that died are warnings:
 * they block writers but lose nothing.
 */
#include <stdlib.h>
#include <string.h>

#include "objects/odb.h"
#include "plumbing/plumbing.h"
#include "refs/refs.h"
#include "remote-s3/walk.h"

struct fsck {
	struct sk_odb *odb;
	json_t *problems;
	size_t objects;
};

static void problem(json_t *list, const char *kind, const char *what, const char *name,
		    const char *message)
{
	json_array_append_new(list, json_pack("{s:s, s:s, s:s}", "kind", kind, what, name,
					      "message", message));
}

static const char *kind_of(int code)
{
	switch (code) {
	case SK_ESIGNATURE: return "bad_signature";
	case SK_EROLE: return "role_denied";
	case SK_ENOTFOUND: return "missing_object";
	case SK_ETOOBIG: return "too_large";
	default: return "corrupt";
	}
}

/* Streams with no sink: a blob of any size is verified in bounded memory. */
static int check_object(const struct sk_oid *oid, void *arg)
{
	struct fsck *f = arg;
	struct sk_err err;
	f->objects++;
	if (sk_odb_stream(f->odb, oid, SK_OBJ_NONE, NULL, NULL, NULL, NULL, &err) < 0) {
		char hex[SK_OID_HEXSZ + 1];
		problem(f->problems, kind_of(err.code), "object", sk_oid_tohex(oid, hex), err.message);
	}
	return 0;
}

/* Everything a ref's target reaches must be stored: a commit's control
 * and parents, a release's files, a file's chunks. A missing object is a
 * problem named by the ref that needs it. seen spans all refs. */
static void check_reach(struct sk_repo *repo, const char *ref, const struct sk_oid *root,
			struct sk_oidset *seen, json_t *problems)
{
	struct sk_oidset todo = { 0 };
	struct sk_err err;
	sk_oidset_add(&todo, root, &err);
	while (todo.n) {
		struct sk_oid id = todo.v[--todo.n];
		char hex[SK_OID_HEXSZ + 1], msg[SK_ERR_MSG];
		if (sk_oidset_has(seen, &id) || sk_oidset_add(seen, &id, &err) < 0)
			continue;
		enum sk_otype t;
		unsigned char *payload = NULL;
		size_t len = 0;
		if (!sk_odb_exists(sk_repo_odb(repo), &id)) {
			snprintf(msg, sizeof(msg), "%s reaches object %s, which is missing", ref,
				 sk_oid_tohex(&id, hex));
			problem(problems, "missing_object", "ref", ref, msg);
			continue;
		}
		if (sk_odb_read_header(sk_repo_odb(repo), &id, &t, NULL, &err) < 0 ||
		    t == SK_OBJ_BLOB)
			continue; /* a damaged object is reported by the object pass */
		if (sk_odb_read(sk_repo_odb(repo), &id, SK_OBJ_NONE, 0, &t, &payload, &len, &err) == 0)
			sk_walk_children(t, payload, len, &todo, &err);
		free(payload);
	}
	sk_oidset_free(&todo);
}

static void check_refs(struct sk_repo *repo, json_t *problems, size_t *nrefs)
{
	struct sk_refrecord *recs = NULL;
	size_t n = 0;
	struct sk_err err;
	if (sk_refs_list(repo, NULL, 1, &recs, &n, &err) < 0) {
		problem(problems, kind_of(err.code), "ref", "refs/", err.message);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		json_t *info = NULL;
		if (sk_refs_verify(repo, recs[i].ref, 1, &info, &err) < 0)
			problem(problems, kind_of(err.code), "ref", recs[i].ref, err.message);
		json_decref(info);
	}
	struct sk_oidset seen = { 0 };
	for (size_t i = 0; i < n; i++)
		if (recs[i].has_oid)
			check_reach(repo, recs[i].ref, &recs[i].oid, &seen, problems);
	sk_oidset_free(&seen);
	*nrefs = n;
	free(recs);
}

static void fsck_text(FILE *out, const json_t *r)
{
	size_t i;
	json_t *p;
	json_array_foreach(json_object_get(r, "problems"), i, p) {
		const char *name = json_string_value(json_object_get(p, "object"));
		fprintf(out, "%s %s: %s\n", json_string_value(json_object_get(p, "kind")),
			name ? name : json_string_value(json_object_get(p, "ref")),
			json_string_value(json_object_get(p, "message")));
	}
	json_array_foreach(json_object_get(r, "warnings"), i, p)
		fprintf(out, "warning: %s\n", json_string_value(json_object_get(p, "message")));
	fprintf(out, "%s: %" JSON_INTEGER_FORMAT " objects, %" JSON_INTEGER_FORMAT
		     " refs, %zu problems\n",
		json_is_true(json_object_get(r, "ok")) ? "ok" : "FAILED",
		json_integer_value(json_object_get(r, "objects")),
		json_integer_value(json_object_get(r, "refs")),
		json_array_size(json_object_get(r, "problems")));
}

static json_t *stale_lock_warnings(struct sk_repo *repo)
{
	json_t *locks = NULL, *warnings = json_array(), *l;
	struct sk_err err;
	size_t i;
	if (sk_refs_stale_locks(repo, &locks, &err) < 0)
		return warnings;
	json_array_foreach(locks, i, l) {
		char msg[SK_ERR_MSG];
		const char *ref = json_string_value(l);
		snprintf(msg, sizeof(msg), "lock file for %s is present; if no skiff process is "
					   "running it is stale and blocks writers", ref ? ref : "?");
		json_array_append_new(warnings, json_pack("{s:s, s:s, s:s}", "kind", "stale_lock",
							  "ref", ref ? ref : "?", "message", msg));
	}
	json_decref(locks);
	json_t *temps = NULL;
	if (sk_odb_list_temp(sk_repo_odb(repo), &temps, &err) == 0) {
		json_array_foreach(temps, i, l) {
			char msg[SK_ERR_MSG];
			snprintf(msg, sizeof(msg), "temporary object %s is present; if no skiff "
						   "process is running it was left by a writer that died "
						   "and can be removed",
				 json_string_value(l));
			json_array_append_new(warnings,
					      json_pack("{s:s, s:O, s:s}", "kind", "stale_temp",
							"path", l, "message", msg));
		}
		json_decref(temps);
	}
	return warnings;
}

int cmd_fsck(struct sk_cli *cli, int argc, char **argv, struct sk_err *err)
{
	if (argc != 1)
		return sk_cli_usage(cli, err, "fsck takes no arguments");
	struct fsck f = { sk_repo_odb(cli->repo), json_array(), 0 };
	int rc = sk_odb_foreach(f.odb, check_object, &f, err);
	if (rc < 0) {
		json_decref(f.problems);
		return rc;
	}
	size_t nrefs = 0;
	check_refs(cli->repo, f.problems, &nrefs);
	int ok = json_array_size(f.problems) == 0;
	json_t *r = json_pack("{s:b, s:I, s:I, s:o, s:o}", "ok", ok, "objects", (json_int_t)f.objects,
			      "refs", (json_int_t)nrefs, "problems", f.problems, "warnings",
			      stale_lock_warnings(cli->repo));
	if (ok) {
		sk_cli_result(cli, r, fsck_text);
		return 0;
	}
	/* The report is the useful part of a failure: print it, then fail. */
	if (cli->format == SK_FMT_TEXT)
		fsck_text(stdout, r);
	size_t np = json_array_size(f.problems);
	json_decref(cli->error_details);
	cli->error_details = r;
	return sk_err_set(err, SK_EVERIFY, "see the problems listed above (skiff fsck --format=json for details)",
			  "fsck found %zu problem%s", np, np == 1 ? "" : "s");
}
