/*
 * The workload's log: stdout and stderr cut into lines, each written as
 * one JSON object to <run>/log/workload.jsonl
 *   {"line":TEXT,"release":V,"stream":"stdout"|"stderr","target":T,
 *    "time_ms":INT,"trace":HEX|null}
 * (invalid UTF-8 and NUL become U+FFFD; a line longer than 16 KiB is
 * split), rotated by size into workload.jsonl.1 .. .keep (oldest
 * highest). Lines and the spec's log patterns (fixed substrings) are
 * counted for the current release.
 */
#ifndef SK_RUNNER_LOGS_H
#define SK_RUNNER_LOGS_H

#include <jansson.h>
#include <stddef.h>

#include "common/err.h"

#define SK_RUNNER_LINE_MAX (16 * 1024)

struct sk_runner_linebuf {
	char buf[SK_RUNNER_LINE_MAX];
	size_t len;
};

struct sk_runner_log {
	char *path; /* .../log/workload.jsonl */
	long long max_bytes;
	int keep;
	int fd;
	long long size;
	char release[65], target[65], trace[33];
	long long lines;
	json_t *patterns; /* [{"count","pattern"}] for the current release */
	struct sk_runner_linebuf out, err;
};

/* Opens (appending) dir/workload.jsonl; dir is created. */
int sk_runner_log_open(struct sk_runner_log *l, const char *dir, const char *target,
		       long long max_bytes, int keep, struct sk_err *err);
void sk_runner_log_close(struct sk_runner_log *l);
/* A new release: counters zeroed, patterns from the release's
 * canary.gates.log_patterns (may be NULL). */
void sk_runner_log_reset(struct sk_runner_log *l, const char *release, const char *trace,
			 const json_t *log_patterns);
/* Bytes from a stream (is_err: stderr); complete lines are written. */
void sk_runner_log_feed(struct sk_runner_log *l, int is_err, const char *buf, size_t n);
/* End of a stream: a partial last line is written. */
void sk_runner_log_flush(struct sk_runner_log *l, int is_err);
/* Writes one line now (also used for the runner's own notes). */
void sk_runner_log_line(struct sk_runner_log *l, int is_err, const char *s, size_t n);

/* s (n bytes) as valid UTF-8 without NUL: bad bytes become U+FFFD.
 * Returns a malloc'd NUL-terminated string. */
char *sk_runner_utf8_clean(const char *s, size_t n);

#endif
