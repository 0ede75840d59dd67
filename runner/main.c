/*
 * skiff-runner: the command line (see runner/runner.h and
 * skiff-runner(8)). Exit codes follow the CLI contract: 0 ok (--once: the
 * release got healthy), 1 failure, 2 usage, 4 refused (verification),
 * 7 not found.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runner/runner.h"

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: skiff-runner --service S --target T (--repo DIR | --remote URL [--cache DIR])\n"
		"                    [--port P] [--once] [--identity KEY] [--poll DURATION]\n"
		"                    [--health-interval DURATION] [--max-restarts N]\n"
		"                    [--stop-timeout DURATION] [--report-interval DURATION]\n"
		"                    [--log-max-bytes N] [--verify-only [--release V]]\n");
}

enum { O_POLL = 256, O_HEALTH, O_MAXR, O_STOP, O_REPORT, O_LOGMAX, O_VERIFY, O_RELEASE,
       O_REMOTE, O_CACHE };

static const struct option longopts[] = {
	{ "service", 1, 0, 's' },	 { "target", 1, 0, 't' },
	{ "repo", 1, 0, 'C' },		 { "port", 1, 0, 'p' },
	{ "once", 0, 0, '1' },		 { "identity", 1, 0, 'i' },
	{ "poll", 1, 0, O_POLL },	 { "health-interval", 1, 0, O_HEALTH },
	{ "max-restarts", 1, 0, O_MAXR }, { "stop-timeout", 1, 0, O_STOP },
	{ "report-interval", 1, 0, O_REPORT }, { "log-max-bytes", 1, 0, O_LOGMAX },
	{ "verify-only", 0, 0, O_VERIFY }, { "release", 1, 0, O_RELEASE },
	{ "remote", 1, 0, O_REMOTE },	 { "cache", 1, 0, O_CACHE },
	{ "help", 0, 0, 'h' },
	{ 0, 0, 0, 0 },
};

static int duration(const char *s, long long *out)
{
	*out = sk_runner_parse_duration(s);
	return *out < 0 ? -1 : 0;
}

static int number(const char *s, long long min, long long max, long long *out)
{
	char *end = NULL;
	*out = strtoll(s, &end, 10);
	return (end == s || *end || *out < min || *out > max) ? -1 : 0;
}

static int one_opt(int c, struct sk_runner_opts *o)
{
	long long v = 0;
	int rc = 0;
	switch (c) {
	case 's': o->service = optarg; break;
	case 't': o->target = optarg; break;
	case 'C': o->repo_dir = optarg; break;
	case 'i': o->identity = optarg; break;
	case '1': o->once = 1; break;
	case O_VERIFY: o->verify_only = 1; break;
	case O_RELEASE: o->release = optarg; break;
	case O_REMOTE: o->remote_url = optarg; break;
	case O_CACHE: o->cache_dir = optarg; break;
	case 'p': rc = number(optarg, 1, 65535, &v); o->port = (int)v; break;
	case O_MAXR: rc = number(optarg, 1, 1000000, &v); o->max_restarts = (int)v; break;
	case O_LOGMAX: rc = number(optarg, 1024, 1LL << 40, &o->log_max_bytes); break;
	case O_POLL: rc = duration(optarg, &o->poll_ms); break;
	case O_HEALTH: rc = duration(optarg, &o->health_interval_ms); break;
	case O_STOP: rc = duration(optarg, &o->stop_timeout_ms); break;
	case O_REPORT: rc = duration(optarg, &o->report_interval_ms); break;
	default: return -1;
	}
	if (rc < 0)
		fprintf(stderr, "skiff-runner: bad value '%s'\n", optarg);
	return rc;
}

/* 0 to run, 1 for --help, -1 for a usage error. */
static int parse(int argc, char **argv, struct sk_runner_opts *o)
{
	*o = (struct sk_runner_opts){ .max_restarts = 5, .log_keep = 3, .poll_ms = 1000,
				      .stop_timeout_ms = 5000, .report_interval_ms = 1000,
				      .log_max_bytes = 8LL << 20 };
	int c;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (c == 'h')
			return 1;
		if (one_opt(c, o) < 0)
			return -1;
	}
	/* exactly one source of control; --cache only with --remote */
	if (optind != argc || !o->service || !o->target || !o->repo_dir == !o->remote_url ||
	    (o->cache_dir && !o->remote_url))
		return -1;
	if (o->release && !o->verify_only)
		return -1;
	return 0;
}

int main(int argc, char **argv)
{
	struct sk_runner_opts o;
	int p = parse(argc, argv, &o);
	if (p != 0) {
		usage(p > 0 ? stdout : stderr);
		return p > 0 ? 0 : 2;
	}
	struct sigaction sa = { .sa_handler = on_signal };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	struct sk_runner r;
	struct sk_err err;
	memset(&err, 0, sizeof(err));
	int rc = sk_runner_open(&r, &o, &stop_flag, &err);
	if (rc < 0) {
		fprintf(stderr, "skiff-runner: %s\n", err.message);
		if (err.hint[0])
			fprintf(stderr, "hint: %s\n", err.hint);
		sk_runner_close(&r);
		return sk_err_exit_code(rc);
	}
	int code = o.verify_only ? sk_runner_verify_only(&r) : sk_runner_loop(&r);
	sk_runner_close(&r);
	return code;
}
