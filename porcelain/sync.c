/*
 * skiff push [REMOTE] [REF-PATTERN...] and skiff fetch [REMOTE] [--reset]:
 * the command-line side of remote-s3/sync.h. REMOTE is a name from `skiff
 * remote list` or a URL; without it, --remote, then origin (or the only
 * remote). --jobs N sets the parallel transfers (default 16).
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "porcelain/porcelain.h"
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
	if (!rc) {
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
	if (!rc) {
		rc = sk_fetch(cli->repo, remote, name, reset, &report, err);
		rc = finish(cli, rc, report);
	}
	sk_remote_free(remote);
	free(name);
	return rc;
}
