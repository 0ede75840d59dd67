/*
 * Report documents (see report.h). The reader is strict: every key, type
 * and range is checked, because a report is read by status, doctor and
 * deploy's health gate from a ref another machine wrote.
 */
#include "objects/report.h"

#include <stdlib.h>
#include <string.h>

#include "objects/cjson.h"
#include "objects/release.h"
#include "objects/spec.h"
#include "objects/state.h"

#define REPORT_MAX_PATTERNS 32
#define REPORT_PATTERN_MAX 256

static const char *const report_keys[] = { "addr",    "health",	 "logs",     "pid",
					   "prev",    "reason",	 "release",  "release_oid",
					   "restarts", "secrets", "service", "state",    "target",
					   "time_ms", "trace",	 "v",	     NULL };
static const char *const health_keys[] = { "fails", "last_ms", "passes", NULL };
static const char *const logs_keys[] = { "lines", "patterns", NULL };
static const char *const pattern_keys[] = { "count", "pattern", NULL };
static const char *const secret_keys[] = { "oid", "version", NULL };
static const char *const states[] = { "verifying", "starting",		 "healthy", "unhealthy",
				      "crashed",   "refused-unverified", "stopped", NULL };

int sk_report_state_valid(const char *s)
{
	for (size_t i = 0; s && states[i]; i++)
		if (strcmp(s, states[i]) == 0)
			return 1;
	return 0;
}

static int bad(struct sk_err *err, const char *field, const char *what)
{
	return sk_err_set(err, SK_EINVAL, NULL, "report: \"%s\" must be %s", field, what);
}

/* A non-negative integer; with nullable, JSON null gives -1. */
static int get_count(const json_t *obj, const char *key, int nullable, long long *out,
		     struct sk_err *err)
{
	const json_t *v = json_object_get(obj, key);
	if (nullable && json_is_null(v)) {
		*out = -1;
		return 0;
	}
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return bad(err, key, nullable ? "a non-negative integer or null"
					      : "a non-negative integer");
	*out = (long long)json_integer_value(v);
	return 0;
}

/* Printable text: no control characters (the reason reaches terminals). */
static int printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

static int get_text(const json_t *doc, const char *key, char *out, size_t max, int nullable,
		    struct sk_err *err)
{
	const json_t *v = json_object_get(doc, key);
	out[0] = '\0';
	if (nullable && json_is_null(v))
		return 0;
	if (!json_is_string(v) || json_string_length(v) > max ||
	    strlen(json_string_value(v)) != json_string_length(v) || !printable(json_string_value(v)))
		return sk_err_set(err, SK_EINVAL, NULL,
				  "report: \"%s\" must be printable text of at most %zu bytes%s", key,
				  max, nullable ? " or null" : "");
	memcpy(out, json_string_value(v), json_string_length(v) + 1);
	return 0;
}

static int get_names(const json_t *doc, struct sk_report *r, struct sk_err *err)
{
	int rc = get_text(doc, "service", r->service, SK_SPEC_NAME_MAX, 0, err);
	if (!rc)
		rc = sk_spec_component_check(r->service, SK_SPEC_NAME_MAX, "report service", err);
	if (!rc)
		rc = get_text(doc, "target", r->target, SK_SPEC_NAME_MAX, 0, err);
	if (!rc)
		rc = sk_spec_component_check(r->target, SK_SPEC_NAME_MAX, "report target", err);
	if (!rc)
		rc = get_text(doc, "release", r->release, SK_RELEASE_VERSION_MAX, 1, err);
	if (!rc && r->release[0])
		rc = sk_release_version_check(r->release, err);
	if (!rc && (rc = get_text(doc, "state", r->state, sizeof(r->state) - 1, 0, err)) == 0 &&
	    !sk_report_state_valid(r->state))
		rc = bad(err, "state", "one of verifying, starting, healthy, unhealthy, crashed, "
				       "refused-unverified, stopped");
	return rc;
}

static int get_addr(const json_t *doc, struct sk_report *r, struct sk_err *err)
{
	int rc = get_text(doc, "addr", r->addr, SK_REPORT_ADDR_MAX, 0, err);
	/* "" before the runner knows its port (a release it could not read) */
	if (!rc && r->addr[0] && sk_control_addr_check(r->addr, NULL) < 0)
		rc = bad(err, "addr", "\"HOST:PORT\" or \"\"");
	return rc;
}

static int get_oids(const json_t *doc, struct sk_report *r, struct sk_err *err)
{
	unsigned char trace[16];
	int has_trace = 0;
	int rc = sk_cjson_get_hex(doc, "prev", 1, r->prev.id, SK_OID_RAWSZ, &r->has_prev, "report",
				  err);
	if (!rc)
		rc = sk_cjson_get_hex(doc, "release_oid", 1, r->release_oid.id, SK_OID_RAWSZ,
				      &r->has_release_oid, "report", err);
	if (!rc)
		rc = sk_cjson_get_hex(doc, "trace", 1, trace, sizeof(trace), &has_trace, "report",
				      err);
	if (!rc && has_trace)
		sk_hex(trace, sizeof(trace), r->trace);
	if (!rc && r->release[0] == '\0' && r->has_release_oid)
		rc = bad(err, "release_oid", "null when release is null");
	return rc;
}

static int get_health(const json_t *doc, struct sk_report *r, struct sk_err *err)
{
	const json_t *h = json_object_get(doc, "health");
	if (!json_is_object(h))
		return bad(err, "health", "an object");
	int rc = sk_cjson_only_keys(h, health_keys, "report health", err);
	if (!rc)
		rc = get_count(h, "passes", 0, &r->health_passes, err);
	if (!rc)
		rc = get_count(h, "fails", 0, &r->health_fails, err);
	if (!rc)
		rc = get_count(h, "last_ms", 1, &r->health_last_ms, err);
	return rc;
}

static int check_pattern(const json_t *p, struct sk_err *err)
{
	long long count = 0;
	const json_t *s = json_object_get(p, "pattern");
	if (!json_is_object(p))
		return bad(err, "logs.patterns[]", "objects");
	int rc = sk_cjson_only_keys(p, pattern_keys, "report pattern", err);
	if (!rc)
		rc = get_count(p, "count", 0, &count, err);
	if (!rc && (!json_is_string(s) || json_string_length(s) < 1 ||
		    json_string_length(s) > REPORT_PATTERN_MAX ||
		    strlen(json_string_value(s)) != json_string_length(s)))
		rc = bad(err, "pattern", "a string of 1..256 bytes");
	return rc;
}

static int get_logs(const json_t *doc, struct sk_report *r, struct sk_err *err)
{
	const json_t *l = json_object_get(doc, "logs");
	if (!json_is_object(l))
		return bad(err, "logs", "an object");
	int rc = sk_cjson_only_keys(l, logs_keys, "report logs", err);
	if (!rc)
		rc = get_count(l, "lines", 0, &r->log_lines, err);
	const json_t *pats = json_object_get(l, "patterns");
	if (!rc && (!json_is_array(pats) || json_array_size(pats) > REPORT_MAX_PATTERNS))
		rc = bad(err, "logs.patterns", "an array of at most 32 entries");
	for (size_t i = 0; !rc && i < json_array_size(pats); i++)
		rc = check_pattern(json_array_get(pats, i), err);
	if (!rc && !(r->patterns = json_deep_copy(pats)))
		rc = sk_err_set(err, SK_ENOMEM, NULL, "out of memory");
	return rc;
}

/* {NAME:{"oid":OID,"version":N}}, present only when not empty. */
static int check_secret(const char *name, const json_t *s, struct sk_err *err)
{
	unsigned char oid[SK_OID_RAWSZ];
	long long ver = 0;
	int rc = sk_spec_env_name_check(name, "report secret name", err);
	if (!rc && !json_is_object(s))
		rc = bad(err, "secrets.*", "objects");
	if (!rc)
		rc = sk_cjson_only_keys(s, secret_keys, "report secret", err);
	if (!rc)
		rc = sk_cjson_get_hex(s, "oid", 0, oid, sizeof(oid), NULL, "report secret", err);
	if (!rc && !(rc = get_count(s, "version", 0, &ver, err)) && ver < 1)
		rc = bad(err, "version", "a positive integer");
	return rc;
}

static int get_secrets(const json_t *doc, struct sk_report *r, struct sk_err *err)
{
	const json_t *sec = json_object_get(doc, "secrets");
	if (!sec)
		return 0;
	if (!json_is_object(sec) || json_object_size(sec) < 1 ||
	    json_object_size(sec) > SK_CONTROL_MAX_SECRETS)
		return bad(err, "secrets", "an object of 1..64 secrets when present");
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)sec, k, v) {
		int rc = check_secret(k, v, err);
		if (rc)
			return rc;
	}
	if (!(r->secrets = json_deep_copy(sec)))
		return sk_err_set(err, SK_ENOMEM, NULL, "out of memory");
	return 0;
}

static int get_numbers(const json_t *doc, struct sk_report *r, struct sk_err *err)
{
	long long v = 0;
	int rc = get_count(doc, "v", 0, &v, err);
	if (!rc && v != 1)
		rc = bad(err, "v", "1");
	if (!rc)
		rc = get_count(doc, "pid", 1, &r->pid, err);
	if (!rc && r->pid == 0)
		rc = bad(err, "pid", "a positive integer or null");
	if (!rc)
		rc = get_count(doc, "restarts", 0, &r->restarts, err);
	if (!rc)
		rc = get_count(doc, "time_ms", 0, &r->time_ms, err);
	return rc;
}

int sk_report_from_json(struct sk_report **out, const json_t *doc, struct sk_err *err)
{
	*out = NULL;
	if (!json_is_object(doc))
		return sk_err_set(err, SK_EINVAL, NULL, "report: not a JSON object");
	struct sk_report *r = calloc(1, sizeof(*r));
	if (!r)
		return sk_err_set(err, SK_ENOMEM, NULL, "out of memory");
	int rc = sk_cjson_only_keys(doc, report_keys, "report", err);
	if (!rc)
		rc = get_numbers(doc, r, err);
	if (!rc)
		rc = get_names(doc, r, err);
	if (!rc)
		rc = get_addr(doc, r, err);
	if (!rc)
		rc = get_text(doc, "reason", r->reason, SK_REPORT_REASON_MAX, 0, err);
	if (!rc)
		rc = get_oids(doc, r, err);
	if (!rc)
		rc = get_health(doc, r, err);
	if (!rc)
		rc = get_logs(doc, r, err);
	if (!rc)
		rc = get_secrets(doc, r, err);
	if (!rc && !(r->doc = json_deep_copy(doc)))
		rc = sk_err_set(err, SK_ENOMEM, NULL, "out of memory");
	if (rc) {
		sk_report_free(r);
		return rc;
	}
	*out = r;
	return 0;
}

void sk_report_free(struct sk_report *r)
{
	if (!r)
		return;
	json_decref(r->patterns);
	json_decref(r->secrets);
	json_decref(r->doc);
	free(r);
}

static json_t *oid_or_null(int has, const struct sk_oid *oid)
{
	char hex[SK_OID_HEXSZ + 1];
	return has ? json_string(sk_oid_tohex(oid, hex)) : json_null();
}

static json_t *int_or_null(long long v)
{
	return v < 0 ? json_null() : json_integer(v);
}

static json_t *str_or_null(const char *s)
{
	return s[0] ? json_string(s) : json_null();
}

json_t *sk_report_to_json(const struct sk_report *r)
{
	json_t *pats = r->patterns ? json_deep_copy(r->patterns) : json_array();
	json_t *doc = json_pack("{s:s, s:{s:I, s:o, s:I}, s:{s:I, s:o}, s:o, s:o, s:s, s:o, s:o, s:I, "
			 "s:s, s:s, s:s, s:I, s:o, s:i}",
			 "addr", r->addr, "health", "fails", (json_int_t)r->health_fails,
			 "last_ms", int_or_null(r->health_last_ms), "passes",
			 (json_int_t)r->health_passes, "logs", "lines", (json_int_t)r->log_lines,
			 "patterns", pats, "pid", int_or_null(r->pid), "prev",
			 oid_or_null(r->has_prev, &r->prev), "reason", r->reason, "release",
			 str_or_null(r->release), "release_oid",
			 oid_or_null(r->has_release_oid, &r->release_oid), "restarts",
			 (json_int_t)r->restarts, "service", r->service, "state", r->state, "target",
			 r->target, "time_ms", (json_int_t)r->time_ms, "trace", str_or_null(r->trace),
			 "v", 1);
	if (doc && r->secrets && json_object_size(r->secrets))
		json_object_set_new(doc, "secrets", json_deep_copy(r->secrets));
	return doc;
}
