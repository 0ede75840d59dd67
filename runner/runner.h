/*
 * skiff-runner: one runner per target. It reads its service's control
 * from the repository, runs the release assigned to its target (verified
 * and materialized by runner/materialize.h), supervises the workload
 * (runner/workload.h), probes its health (runner/health.h), captures its
 * log (runner/logs.h) and writes a signed report (refs/reports.h) on
 * every transition and, at most once per report interval, when its
 * counters change. It never starts what it could not verify.
 *
 * Local state lives in <repo>/.skiff/run/<svc>/<target>/: releases/<V>/
 * (extracted trees), log/workload.jsonl (+ rotated), runner.pid.
 *
 * With --remote URL there is no repository: control, releases and their
 * objects are read through a direct cache (remote-s3/direct.h) that
 * re-reads the remote's records on every poll and verifies each record
 * and object as it arrives; reports are written into that cache and
 * pushed (objects, then the ref by compare-and-swap). The cache and the
 * local state above live in --cache DIR (default
 * $XDG_CACHE_HOME/skiff-runner/<url key>/<svc>/<target>).
 */
#ifndef SK_RUNNER_H
#define SK_RUNNER_H

#include <signal.h>

#include "common/err.h"
#include "objects/report.h"
#include "refs/refs.h"
#include "runner/logs.h"
#include "runner/materialize.h"
#include "runner/workload.h"

struct sk_runner_opts {
	const char *service, *target, *repo_dir, *identity;
	const char *remote_url;  /* --remote: read control from it, report to it */
	const char *cache_dir;   /* --remote: local state (default under XDG) */
	const char *release;     /* --verify-only: this version instead of control's */
	int port;                /* 0: control's addr, else run.port */
	int once, verify_only;
	int max_restarts;        /* crashes before giving up */
	int log_keep;
	long long poll_ms;             /* control re-read interval */
	long long health_interval_ms;  /* 0: the release's */
	long long stop_timeout_ms;
	long long report_interval_ms;
	long long log_max_bytes;
};

struct sk_runner {
	const struct sk_runner_opts *o;
	volatile sig_atomic_t *stop;
	struct sk_repo *repo;      /* --remote: the direct cache's (not owned) */
	struct sk_direct *direct;  /* --remote: a verified cache of the remote */
	struct sk_key *key;
	char *dir;                 /* .skiff/run/<svc>/<target>, or the cache dir */
	struct sk_report rep;      /* what the next report says */
	struct sk_runner_rel cur;  /* the verified release in use (rel NULL: none) */
	char want[65];             /* control's release for the target ("" none) */
	char want_trace[33];
	char want_addr[301];
	char refused[65];          /* a version refused: not retried until control moves */
	json_t *want_pins;         /* control's secret pins for the target {NAME:OID} */
	json_t *loaded_pins;       /* the pins the running workload loaded (NULL: none yet) */
	json_t *refused_pins;      /* pins that could not be loaded: not retried until they move */
	int ctl_bad;               /* control does not verify (reported once) */
	char ctl_prev[24];         /* the state reported before that */
	struct sk_runner_proc proc;
	struct sk_runner_log log;
	int port, gave_up, dirty, claimed;
	long long crashes, backoff_ms;
	long long next_start, next_probe, next_poll, last_report;
	long long logged_lines;    /* log counters as last reported */
};

/* Durations: "250ms", "2s", "1m", "1h", or bare seconds; -1 when bad. */
long long sk_runner_parse_duration(const char *s);

/* Opens the repository and identity, the local directory and the log. */
int sk_runner_open(struct sk_runner *r, const struct sk_runner_opts *o,
		   volatile sig_atomic_t *stop, struct sk_err *err);
void sk_runner_close(struct sk_runner *r);

/* Reads control: want, want_trace, want_addr. */
int sk_runner_poll_control(struct sk_runner *r, struct sk_err *err);
/* Writes a report of the current fields with state and reason. */
void sk_runner_report(struct sk_runner *r, const char *state, const char *reason);

/* The supervision loop until *stop (or, with --once, one pass).
 * Returns the process exit code. */
int sk_runner_loop(struct sk_runner *r);
/* --verify-only: verify and materialize, print JSON timing; exit code. */
int sk_runner_verify_only(struct sk_runner *r);

#endif
