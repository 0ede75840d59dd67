/*
 * skiff push [REMOTE] [REF-PATTERN...] and skiff fetch [REMOTE] [--reset]:
 * the command-line side of remote-s3/sync.h. REMOTE is a name from `skiff
 * remote list` or a URL; without it, --remote, then origin (or the only
 * remote). --jobs N sets the parallel transfers (default 16). --dry-run
 * reads the remote (and, for fetch, verifies what it would take) and
 * prints the plan; nothing is written here or there.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "porcelain/dryrun.h"
#include "porcelain/porcelain.h"
#include "refs/audit.h"
#include "remote-s3/config.h"
#include "remote-s3/sync.h"

static int parse_jobs(struct sk_cli *cli, const char *s, unsigned *jobs, struct sk_err *err)
{
	char *end;
	long v = strtol(s, &end, 10);
	if (*end || v < 1 || v > 256)
		return sk_cli_usage(cli, err, "--jobs needs a number from 1 to 256");
	*jobs = (unsigned)v;
	return 0;
}

/* Opens the remote named by the first argument when it is not a ref
 * pattern (a name or a URL), else --remote, else the default. */
static int open_remote(struct sk_cli *cli, const char *what, unsigned jobs,
		       struct sk_remote **out, char **name, struct sk_err *err)
{
	char *url = NULL;
	int rc = sk_remote_config_resolve(cli->repo, what ? what : cli->remote, &url, name, err);
	struct sk_remote_opts o = { .jobs = jobs };
	if (!rc)
		rc = sk_remote_open(out, url, &o, err);
	free(url);
	/* The audit journal names the remote of every ref this moves: its
	 * name, or for a bare URL the URL's key (a URL may carry more than a
	 * journal should keep). *name lives until the command returns. */
	if (!rc) {
		struct sk_audit_ctx a = *sk_repo_audit(cli->repo);
		a.remote = *name ? *name : sk_remote_key(*out);
		sk_repo_set_audit(cli->repo, &a);
	}
	return rc;
}

static void sync_text(FILE *out, const json_t *r)
{
	size_t i;
	json_t *e;
	json_array_foreach(json_object_get(r, "refs"), i, e) {
		const char *reason = json_string_value(json_object_get(e, "reason"));
		fprintf(out, "%-12s %s (seq %" JSON_INTEGER_FORMAT ")%s%s\n",
			json_string_value(json_object_get(e, "status")),
			json_string_value(json_object_get(e, "ref")),
			json_integer_value(json_object_get(e, "seq")), reason ? ": " : "",
			reason ? reason : "");
	}
	fprintf(out, "%" JSON_INTEGER_FORMAT " objects, %" JSON_INTEGER_FORMAT " bytes, %"
		JSON_INTEGER_FORMAT " requests  %s\n",
		json_integer_value(json_object_get(r, "objects")),
		json_integer_value(json_object_get(r, "bytes")),
		json_integer_value(json_object_get(r, "requests")),
		json_string_value(json_object_get(r, "remote")));
}

/* A failed sync still reports what it did: the refs go into the error. */
static int finish(struct sk_cli *cli, int rc, json_t *report)
{
	if (rc == 0) {
		sk_cli_result(cli, report, sync_text);
		return 0;
	}
	json_t *conflicts = json_array();
	size_t i;
	json_t *e;
	json_array_foreach(json_object_get(report, "refs"), i, e)
		if (strcmp(json_string_value(json_object_get(e, "status")), "conflict") == 0)
			json_array_append(conflicts, json_object_get(e, "ref"));
	cli->error_details = json_pack("{s:o, s:O}", "refs", conflicts, "report", report);
	json_decref(report);
	return rc;
}

static long long jint(const json_t *o, const char *k)
{
	return (long long)json_integer_value(json_object_get(o, k));
}

/* --dry-run: the plan from a push or fetch plan's report, one step for
 * the objects and one per ref that would move. */
static json_t *sync_plan(const char *kind, const json_t *report, const char *ref_risk)
{
	json_t *plan = sk_dry_plan(kind, NULL), *s, *e;
	long long objects = jint(report, "objects"), bytes = jint(report, "bytes");
	size_t i;
	if (objects > 0) {
		s = sk_dry_step(plan, strcmp(kind, "push") == 0 ? "upload-objects" : "download-objects",
				"low", 0, NULL);
		json_object_set_new(s, "objects", json_integer(objects));
		json_object_set_new(s, "bytes", json_integer(bytes));
		if (json_object_get(report, "chunks")) /* fetch: chunks counted, not read */
			json_object_set_new(s, "detail",
					    json_sprintf("%lld objects (%lld chunks of %lld bytes), "
							 "%lld bytes of records and documents",
							 objects, jint(report, "chunks"),
							 jint(report, "chunk_bytes"), bytes));
		else
			json_object_set_new(s, "detail",
					    json_sprintf("%lld objects, %lld bytes", objects, bytes));
	}
	const json_t *moves = json_object_get(report, "moves"); /* fetch */
	json_array_foreach(moves ? moves : json_object_get(report, "refs"), i, e) {
		const char *st = json_string_value(json_object_get(e, "status"));
		if (!moves && (!st || (strcmp(st, "create") != 0 && strcmp(st, "update") != 0)))
			continue;
		const char *ref = json_string_value(json_object_get(e, "ref"));
		const char *o = json_string_value(json_object_get(e, "old"));
		const char *n = json_string_value(json_object_get(e, "new"));
		char name[SK_ERR_MSG];
		snprintf(name, sizeof(name), "move-ref %s", ref);
		s = sk_dry_step(plan, name, ref_risk, 0, NULL);
		json_object_set_new(s, "ref", json_string(ref));
		json_object_set(s, "old", json_object_get(e, "old"));
		json_object_set(s, "new", json_object_get(e, "new"));
		json_object_set(s, "seq", json_object_get(e, "seq"));
		json_object_set_new(s, "detail",
				    json_sprintf("%s: %.16s → %.16s (seq %lld)", ref, o ? o : "(none)",
						 n ? n : "(deleted)", jint(e, "seq")));
	}
	return plan;
}

/* The dry run's end: its plan and report, or the real command's error
 * with both in the details. */
static int dry_finish(struct sk_cli *cli, int rc, const char *kind, json_t *report,
		      const char *ref_risk)
{
	json_t *plan = sync_plan(kind, report, ref_risk);
	if (rc == 0) {
		sk_dry_result(cli, plan, report);
		return 0;
	}
	return sk_dry_fail(cli, plan, finish(cli, rc, report));
}

static const struct option sync_opts[] = { { "jobs", required_argument, NULL, 'j' },
					   { "reset", no_argument, NULL, 'r' },
					   { NULL, 0, NULL, 0 } };

int cmd_push(struct sk_cli *cli, int argc, char **argv, struct sk_err *err)
{
	unsigned jobs = 0;
	int c, rc;
	while ((c = getopt_long(argc, argv, "j:", sync_opts, NULL)) != -1)
		if (c != 'j' || (rc = parse_jobs(cli, optarg, &jobs, err)))
			return c == 'j' ? rc : sk_cli_usage(cli, err, "unknown option '%s'",
							    argv[optind - 1]);
	/* The first argument is a remote unless it looks like a ref pattern. */
	const char *what = optind < argc && strncmp(argv[optind], "refs/", 5) != 0
				   ? argv[optind++]
				   : NULL;
	struct sk_remote *remote = NULL;
	char *name = NULL;
	json_t *report = NULL;
	rc = open_remote(cli, what, jobs, &remote, &name, err);
	if (!rc && cli->dry_run) {
		rc = sk_push_plan(cli->repo, remote, argv + optind, (size_t)(argc - optind), &report,
				  err);
		rc = dry_finish(cli, rc, "push", report, "medium");
	} else if (!rc) {
		rc = sk_push(cli->repo, remote, argv + optind, (size_t)(argc - optind), &report, err);
		rc = finish(cli, rc, report);
	}
	sk_remote_free(remote);
	free(name);
	return rc;
}

int cmd_fetch(struct sk_cli *cli, int argc, char **argv, struct sk_err *err)
{
	unsigned jobs = 0;
	int c, rc, reset = 0;
	while ((c = getopt_long(argc, argv, "j:", sync_opts, NULL)) != -1) {
		if (c == 'r')
			reset = 1;
		else if (c != 'j')
			return sk_cli_usage(cli, err, "unknown option '%s'", argv[optind - 1]);
		else if ((rc = parse_jobs(cli, optarg, &jobs, err)))
			return rc;
	}
	if (argc - optind > 1)
		return sk_cli_usage(cli, err, "fetch takes at most one REMOTE");
	struct sk_remote *remote = NULL;
	char *name = NULL;
	json_t *report = NULL;
	rc = open_remote(cli, optind < argc ? argv[optind] : NULL, jobs, &remote, &name, err);
	if (!rc && cli->dry_run) {
		rc = sk_fetch_plan(cli->repo, remote, name, reset, &report, err);
		rc = dry_finish(cli, rc, "fetch", report, "low");
	} else if (!rc) {
		rc = sk_fetch(cli->repo, remote, name, reset, &report, err);
		rc = finish(cli, rc, report);
	}
	sk_remote_free(remote);
	free(name);
	return rc;
}
