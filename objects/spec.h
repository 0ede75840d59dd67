/*
 * Release specs: the short YAML 1.2 file (plain JSON is valid YAML) a
 * person writes to say how a service runs, is health-checked, rolled out
 * and what it may touch. sk_spec_compile turns it into the compiled form:
 * a jansson object with every default filled in, durations as integer
 * seconds or milliseconds (the field name says which: bake_s,
 * timeout_ms) and rates as integer basis points (max_error_rate_bp), so
 * it can be embedded in a canonical `release` document. The format and
 * the compiled form are documented in skiff-spec(5).
 *
 * Compiled form (keys sorted as canonical JSON prints them):
 *   service      string, a ref component
 *   run          {command, args[], env{NAME: value}, port}
 *   health       {path, interval_ms, timeout_ms, healthy_threshold,
 *                 unhealthy_threshold}
 *   canary       {steps[{weight, bake_s}], gates{max_error_rate_bp,
 *                 max_latency_ms (optional), min_requests,
 *                 log_patterns[{pattern, max}]}, auto_rollback}  (optional)
 *   secrets      {NAME: "provider:ref"}   (file:, env:, aws-sm:)
 *   permissions  {network["host:port"], paths["/abs"]}
 *   stateful     bool
 *   backup       {command[], max_age_s}   (optional)
 *   restore      {command[], validate[]}  (optional; validate may be absent)
 */
#ifndef SK_SPEC_H
#define SK_SPEC_H

#include <jansson.h>
#include <stddef.h>

#include "common/err.h"

/* Largest spec file accepted (bytes). */
#define SK_SPEC_MAX (64u << 10)
/* Longest service name (a single ref component). */
#define SK_SPEC_NAME_MAX 64

/* Parses and validates the spec in buf (len bytes; name is used in
 * messages, e.g. "spec.yaml") and returns its compiled form in *spec (a
 * new reference). Every problem is SK_EINVAL with a message
 * "NAME:LINE:COL: key.path[2].x: what is wrong". Never keeps buf. */
int sk_spec_compile(const char *name, const void *buf, size_t len, json_t **spec,
		    struct sk_err *err);

/* Checks a compiled spec read back from a release document (untrusted):
 * the exact keys, types and ranges sk_spec_compile produces, defaults
 * included. doc holds the spec parts at its top level; keys listed in
 * extra (NULL-terminated, may be NULL) are skipped, so a release can
 * carry its own fields beside them. Messages name the key path. */
int sk_spec_check_compiled(const json_t *doc, const char *const *extra, struct sk_err *err);

/* A duration as the spec writes it ("30s", "5m", "1h30m", "250ms", a
 * bare number of seconds; at most 30 days) in milliseconds; SK_EINVAL
 * otherwise. For command-line options that take durations. */
int sk_spec_duration_ms(const char *s, long long *ms, struct sk_err *err);

/* A service name or version: 1..max bytes of [A-Za-z0-9._-], no "..", not
 * starting with '.' or '-' (a single ref component). what names the
 * thing in the message ("service", "version"). */
int sk_spec_component_check(const char *s, size_t max, const char *what, struct sk_err *err);

/* A variable name (run.env keys, secret names): 1..64 of [A-Za-z0-9_],
 * not starting with a digit; what names the thing in the message. */
int sk_spec_env_name_check(const char *s, const char *what, struct sk_err *err);

#endif
