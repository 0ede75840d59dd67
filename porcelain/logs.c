/*
 * skiff logs SERVICE [--target T] [--release V] [--trace ID] [-n N]
 * [--follow]: the workload logs of a service's targets as their runners
 * captured them (observe/logs.h), merged by time and filtered. Text:
 * "time target release stream line". JSON: one document
 * {"service","lines":[…],"bad_lines":N,"sources":[…]}; with --follow,
 * JSON Lines (one log object a line, as they land), like
 * `skiff op events --follow`, until interrupted.
 *
 * Lines that fail validation are counted per file and reported (in the
 * document, or on stderr), never fatal.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "objects/release.h"
#include "objects/spec.h"
#include "observe/logs.h"
#include "porcelain/porcelain.h"
#include "refs/refs.h"

/* How often --follow looks at the files. */
#define FOLLOW_POLL_NS (100 * 1000 * 1000L)

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static const char *jstr(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "-";
}

static void line_text(FILE *out, const json_t *l)
{
	long long ms = (long long)json_integer_value(json_object_get(l, "time_ms"));
	char t[32];
	time_t s = (time_t)(ms / 1000);
	struct tm tm;
	if (gmtime_r(&s, &tm))
		strftime(t, sizeof(t), "%Y-%m-%dT%H:%M:%S", &tm);
	else
		snprintf(t, sizeof(t), "%lld", ms / 1000);
	fprintf(out, "%s.%03lldZ %s %s %s %s\n", t, ms % 1000, jstr(l, "target"),
		jstr(l, "release"), jstr(l, "stream"), jstr(l, "line"));
}

static void logs_text(FILE *out, const json_t *r)
{
	size_t i;
	json_t *l;
	json_array_foreach(json_object_get(r, "lines"), i, l)
		line_text(out, l);
	long long bad = (long long)json_integer_value(json_object_get(r, "bad_lines"));
	if (bad)
		fprintf(stderr, "skiff logs: %lld bad line%s skipped (skiff --format=json logs "
				"names the files)\n",
			bad, bad == 1 ? "" : "s");
}

static int emit(const struct sk_cli *cli, const json_t *lines, struct sk_err *err)
{
	size_t i;
	json_t *l;
	json_array_foreach(lines, i, l) {
		if (cli->format == SK_FMT_JSON) {
			json_dumpf(l, stdout, JSON_COMPACT | JSON_SORT_KEYS);
			fputc('\n', stdout);
		} else {
			line_text(stdout, l);
		}
	}
	if (fflush(stdout) != 0)
		return sk_err_errno(err, errno, "cannot write", "standard output");
	return 0;
}

static void bad_note(struct sk_logs *lg, long long *seen)
{
	long long bad = 0;
	json_decref(sk_logs_sources(lg, &bad));
	if (bad > *seen)
		fprintf(stderr, "skiff logs: %lld bad line%s skipped\n", bad - *seen,
			bad - *seen == 1 ? "" : "s");
	*seen = bad;
}

/* Prints what there is, then what lands, until SIGINT or SIGTERM. */
static int follow(struct sk_cli *cli, struct sk_logs *lg, long long n, struct sk_err *err)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	json_t *lines = NULL;
	long long seen = 0;
	int rc = sk_logs_read_all(lg, n, &lines, err);
	const struct timespec poll = { 0, FOLLOW_POLL_NS };
	while (!rc) {
		rc = emit(cli, lines, err);
		json_decref(lines);
		lines = NULL;
		bad_note(lg, &seen);
		if (rc || stop)
			break;
		nanosleep(&poll, NULL);
		rc = sk_logs_poll(lg, &lines, err);
	}
	json_decref(lines);
	return rc;
}

static int check_filters(struct sk_cli *cli, const char *service, const struct sk_logs_filter *f,
			 long long n, struct sk_err *err)
{
	struct sk_err e;
	if (sk_spec_component_check(service, SK_SPEC_NAME_MAX, "service", &e) < 0)
		return sk_cli_usage(cli, err, "%s", e.message);
	if (f->target && sk_spec_component_check(f->target, SK_SPEC_NAME_MAX, "target", &e) < 0)
		return sk_cli_usage(cli, err, "%s", e.message);
	if (f->release && sk_release_version_check(f->release, &e) < 0)
		return sk_cli_usage(cli, err, "%s", e.message);
	if (f->trace) {
		size_t len = strlen(f->trace);
		if (len == 0 || len > 64 || strspn(f->trace, "0123456789abcdef") != len)
			return sk_cli_usage(cli, err, "--trace takes a trace id (lowercase hex)");
	}
	if (n < 0)
		return sk_cli_usage(cli, err, "-n takes a number of lines");
	return 0;
}

int cmd_logs(struct sk_cli *cli, int argc, char **argv, struct sk_err *err)
{
	static const struct option opts[] = { { "target", required_argument, NULL, 't' },
					      { "release", required_argument, NULL, 'r' },
					      { "trace", required_argument, NULL, 'x' },
					      { "follow", no_argument, NULL, 'f' },
					      { NULL, 0, NULL, 0 } };
	struct sk_logs_filter f = { 0 };
	long long n = 0;
	int c, follow_mode = 0;
	char *end;
	while ((c = getopt_long(argc, argv, "n:f", opts, NULL)) != -1) {
		switch (c) {
		case 't': f.target = optarg; break;
		case 'r': f.release = optarg; break;
		case 'x': f.trace = optarg; break;
		case 'f': follow_mode = 1; break;
		case 'n':
			errno = 0;
			n = strtoll(optarg, &end, 10);
			if (errno || *end || end == optarg)
				n = -1;
			break;
		default: return sk_cli_usage(cli, err, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind != argc - 1)
		return sk_cli_usage(cli, err, "logs needs exactly one SERVICE");
	const char *service = argv[optind];
	int rc = check_filters(cli, service, &f, n, err);
	if (rc)
		return rc;
	char ref[SK_REF_MAX + 1];
	struct sk_oid head;
	snprintf(ref, sizeof(ref), "refs/services/%s", service);
	if ((rc = sk_refs_resolve(cli->repo, ref, &head, err)) == SK_ENOTFOUND)
		return sk_err_set(err, SK_ENOTFOUND, "skiff status lists the services there are",
				  "no service '%s'", service);
	struct sk_logs *lg = NULL;
	if (!rc)
		rc = sk_logs_open(&lg, sk_repo_path(cli->repo), service, &f, err);
	if (!rc && follow_mode) {
		rc = follow(cli, lg, n, err);
	} else if (!rc) {
		json_t *lines = NULL;
		if (!(rc = sk_logs_read_all(lg, n, &lines, err))) {
			long long bad = 0;
			json_t *sources = sk_logs_sources(lg, &bad);
			sk_cli_result(cli,
				      json_pack("{s:s, s:o, s:I, s:o}", "service", service, "lines",
						lines, "bad_lines", (json_int_t)bad, "sources",
						sources),
				      logs_text);
		}
	}
	sk_logs_free(lg);
	return rc;
}
