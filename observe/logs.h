/*
 * The workload logs runners capture (formats: .skiff/run/<svc>/<target>/
 * log/workload.jsonl, rotated to workload.jsonl.1 … .N, the highest the
 * oldest), read for `skiff logs`: every target's files, oldest first,
 * merged by time and filtered.
 *
 * Each line is one JSON object, and each is validated as untrusted input:
 *   {"line":TEXT,"release":V|null,"stream":"stdout"|"stderr","target":T,
 *    "time_ms":INT,"trace":HEX|null}
 * exactly those keys, "target" the directory's own target, a version
 * and hex as elsewhere. A line that fails is counted against its file and
 * skipped: a damaged log never hides the rest. A last line without its
 * newline is still being written: it waits (following prints it once it
 * is whole, or when its file was rotated away).
 */
#ifndef SK_OBSERVE_LOGS_H
#define SK_OBSERVE_LOGS_H

#include <jansson.h>
#include <stddef.h>

#include "common/err.h"

/* A log line longer than this (bytes of JSON) is bad. */
#define SK_LOGS_LINE_MAX (256 * 1024)

/* Validates one log line (without its newline) written for target;
 * *out receives the object. SK_EINVAL saying why otherwise. */
int sk_logs_line_parse(const char *buf, size_t len, const char *target, json_t **out,
		       struct sk_err *err);

struct sk_logs_filter {
	const char *target;  /* NULL: every target */
	const char *release; /* NULL: any */
	const char *trace;   /* NULL: any */
};

/* 1 when line (a parsed log object) passes f. */
int sk_logs_match(const json_t *line, const struct sk_logs_filter *f);

struct sk_logs;

/* Opens the logs of service under skiff_dir (.skiff). SK_ENOTFOUND when
 * f->target is set and has no log directory. */
int sk_logs_open(struct sk_logs **out, const char *skiff_dir, const char *service,
		 const struct sk_logs_filter *f, struct sk_err *err);
void sk_logs_free(struct sk_logs *lg);

/* Everything there is now, merged by time (then target, then file
 * order), the last max lines (max <= 0: all), as a new array. The
 * current files stay open: sk_logs_poll continues where this stopped. */
int sk_logs_read_all(struct sk_logs *lg, long long max, json_t **out, struct sk_err *err);

/* The lines appended since the last read (following rotation: the rest
 * of a rotated file, then its successor from the start), merged by time,
 * as a new array; new targets are picked up. */
int sk_logs_poll(struct sk_logs *lg, json_t **out, struct sk_err *err);

/* [{"target","file","lines","bad"}] for every file read so far, and the
 * total of bad lines. */
json_t *sk_logs_sources(const struct sk_logs *lg, long long *bad);

#endif
