/*
 * Operation and event documents (see opdoc.h). Messages inside a document
 * carry no prefix; the public readers say once which document it was.
 */
#include "ops/opdoc.h"

#include <stdlib.h>
#include <string.h>

#include "objects/cjson.h"
#include "objects/oid.h"
#include "objects/refrecord.h"
#include "objects/spec.h"

const char *const sk_op_states[] = { "planned",   "awaiting-approval", "running",
				     "succeeded", "failed",            "paused",
				     "compensating", "compensated",    "cancelled", NULL };
const char *const sk_op_step_states[] = { "pending",      "running",     "succeeded", "failed",
					  "compensating", "compensated", "skipped",   NULL };
const char *const sk_op_event_kinds[] = { "created",	       "intent",
					  "result",	       "observed",
					  "step-failed",       "compensate-intent",
					  "compensate-result", "state",
					  "approved",	       "paused",
					  NULL };
const char *const sk_op_risks[] = { "none", "low", "medium", "high", NULL };

static const char *const op_keys[] = { "actor",	 "approvals", "created", "cursor", "event",
				       "events", "id",	      "kind",	 "params", "service",
				       "state",	 "steps",     "trace",	 "v",	   NULL };
static const char *const step_keys[] = { "compensation", "ended", "name",    "result",
					 "reversible",	 "risk",  "started", "state", NULL };
static const char *const event_keys[] = { "actor", "facts", "kind",  "op",    "prev", "seq",
					  "step",  "time",  "trace", "v",     NULL };

int sk_op_enum_has(const char *const *list, const char *s)
{
	for (; s && *list; list++)
		if (strcmp(*list, s) == 0)
			return 1;
	return 0;
}

int sk_op_state_final(const char *state)
{
	return strcmp(state, "succeeded") == 0 || strcmp(state, "compensated") == 0 ||
	       strcmp(state, "cancelled") == 0;
}

static int bad(struct sk_err *err, const char *fmt, const char *arg)
{
	return sk_err_set(err, SK_EINVAL, NULL, fmt, arg);
}

static int get_v1(const json_t *doc, struct sk_err *err)
{
	long long v = 0;
	int rc = sk_cjson_get_int(doc, "v", &v, err);
	return rc ? rc : v != 1 ? bad(err, "\"v\" must be %s", "1") : 0;
}

static int get_enum(const json_t *doc, const char *key, const char *const *list,
		    struct sk_err *err)
{
	const char *s;
	int rc = sk_cjson_get_str(doc, key, &s, err);
	if (!rc && !sk_op_enum_has(list, s))
		rc = bad(err, "\"%s\" has an unknown value", key);
	return rc;
}

/* An integer >= 0, or (nullable) null. */
static int get_time(const json_t *doc, const char *key, int nullable, struct sk_err *err)
{
	const json_t *v = json_object_get(doc, key);
	if (nullable && json_is_null(v))
		return 0;
	long long t = 0;
	int rc = sk_cjson_get_int(doc, key, &t, err);
	return rc ? rc : t < 0 ? bad(err, "\"%s\" must not be negative", key) : 0;
}

static int get_name(const json_t *doc, const char *key, int nullable, struct sk_err *err)
{
	const char *s;
	int rc = nullable ? sk_cjson_get_str_or_null(doc, key, &s, err)
			  : sk_cjson_get_str(doc, key, &s, err);
	if (!rc && s)
		rc = sk_spec_component_check(s, SK_OP_NAME_MAX, key, err);
	return rc;
}

static int get_keyid(const json_t *doc, const char *what, struct sk_err *err)
{
	unsigned char raw[SK_KEYID_HEXSZ / 2];
	return sk_cjson_get_hex(doc, "actor", 0, raw, sizeof(raw), NULL, what, err);
}

static int get_trace(const json_t *doc, const char *what, struct sk_err *err)
{
	unsigned char raw[SK_TRACE_HEXSZ / 2];
	return sk_cjson_get_hex(doc, "trace", 0, raw, sizeof(raw), NULL, what, err);
}

static int get_opid(const json_t *doc, const char *key, struct sk_err *err)
{
	const char *s;
	int rc = sk_cjson_get_str(doc, key, &s, err);
	return rc ? rc : sk_opid_check(s, err);
}

static int check_object_or_null(const json_t *doc, const char *key, int nullable,
				struct sk_err *err)
{
	const json_t *v = json_object_get(doc, key);
	if (json_is_object(v) || (nullable && json_is_null(v)))
		return 0;
	return bad(err, nullable ? "\"%s\" must be an object or null" : "\"%s\" must be an object",
		   key);
}

static int check_params(const json_t *params, struct sk_err *err)
{
	if (!json_is_object(params))
		return bad(err, "\"%s\" must be an object", "params");
	if (json_object_size(params) > SK_OP_MAX_PARAMS)
		return bad(err, "too many %s", "params");
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)params, k, v) {
		int rc = sk_spec_component_check(k, SK_OP_NAME_MAX, "param name", err);
		if (rc)
			return rc;
		if (!json_is_string(v) || json_string_length(v) > SK_OP_PARAM_MAX ||
		    strlen(json_string_value(v)) != json_string_length(v))
			return sk_err_set(err, SK_EINVAL, NULL,
					  "param \"%s\" must be a string of at most %d bytes, without NUL",
					  k, SK_OP_PARAM_MAX);
	}
	return 0;
}

static int check_step(const json_t *step, struct sk_err *err)
{
	int rc = sk_cjson_only_keys(step, step_keys, "a step", err);
	if (!rc)
		rc = get_name(step, "name", 0, err);
	if (!rc)
		rc = get_name(step, "compensation", 1, err);
	if (!rc)
		rc = get_enum(step, "risk", sk_op_risks, err);
	if (!rc)
		rc = get_enum(step, "state", sk_op_step_states, err);
	if (!rc && !json_is_boolean(json_object_get(step, "reversible")))
		rc = bad(err, "\"%s\" must be true or false", "reversible");
	if (!rc)
		rc = get_time(step, "started", 1, err);
	if (!rc)
		rc = get_time(step, "ended", 1, err);
	if (!rc)
		rc = check_object_or_null(step, "result", 1, err);
	return rc;
}

static int check_steps(const json_t *steps, long long cursor, struct sk_err *err)
{
	size_t n = json_array_size(steps);
	if (!json_is_array(steps) || n == 0 || n > SK_OP_MAX_STEPS)
		return sk_err_set(err, SK_EINVAL, NULL, "\"steps\" must be an array of 1..%d steps",
				  SK_OP_MAX_STEPS);
	if (cursor < 0 || (size_t)cursor > n)
		return bad(err, "\"cursor\" must be within the %s", "steps");
	for (size_t i = 0; i < n; i++) {
		int rc = check_step(json_array_get(steps, i), err);
		if (rc)
			return sk_err_wrap(err, "step %zu", i);
	}
	return 0;
}

static int check_approvals(const json_t *a, struct sk_err *err)
{
	if (!json_is_array(a) || json_array_size(a) > SK_OP_MAX_APPROVALS)
		return sk_err_set(err, SK_EINVAL, NULL, "\"approvals\" must be an array of at most %d",
				  SK_OP_MAX_APPROVALS);
	size_t i;
	json_t *v;
	json_array_foreach(a, i, v) {
		struct sk_oid oid;
		if (!json_is_string(v) || sk_oid_fromhex(&oid, json_string_value(v), err))
			return bad(err, "\"approvals\" must hold %s", "object ids");
	}
	return 0;
}

/* "event" null exactly when "events" is 0. */
static int check_chain_head(const json_t *doc, struct sk_err *err)
{
	long long n = 0;
	unsigned char raw[SK_OID_RAWSZ];
	int present = 0;
	int rc = sk_cjson_get_int(doc, "events", &n, err);
	if (!rc)
		rc = sk_cjson_get_hex(doc, "event", 1, raw, sizeof(raw), &present, "operation", err);
	if (!rc && (n < 0 || (n == 0) != !present))
		rc = bad(err, "\"event\" must be null exactly when \"events\" is %s", "0");
	return rc;
}

int sk_operation_check(const json_t *doc, struct sk_err *err)
{
	long long cursor = 0;
	int rc = sk_cjson_only_keys(doc, op_keys, "the document", err);
	if (!rc)
		rc = get_v1(doc, err);
	if (!rc)
		rc = get_opid(doc, "id", err);
	if (!rc)
		rc = get_name(doc, "kind", 0, err);
	if (!rc)
		rc = get_name(doc, "service", 1, err);
	if (!rc)
		rc = get_keyid(doc, "operation", err);
	if (!rc)
		rc = get_trace(doc, "operation", err);
	if (!rc)
		rc = get_time(doc, "created", 0, err);
	if (!rc)
		rc = get_enum(doc, "state", sk_op_states, err);
	if (!rc)
		rc = check_params(json_object_get(doc, "params"), err);
	if (!rc)
		rc = check_approvals(json_object_get(doc, "approvals"), err);
	if (!rc)
		rc = check_chain_head(doc, err);
	if (!rc)
		rc = sk_cjson_get_int(doc, "cursor", &cursor, err);
	if (!rc)
		rc = check_steps(json_object_get(doc, "steps"), cursor, err);
	return rc ? sk_err_wrap(err, "operation") : 0;
}

int sk_event_check(const json_t *doc, struct sk_err *err)
{
	long long seq = 0;
	int present = 0;
	unsigned char raw[SK_OID_RAWSZ];
	int rc = sk_cjson_only_keys(doc, event_keys, "the document", err);
	if (!rc)
		rc = get_v1(doc, err);
	if (!rc)
		rc = get_opid(doc, "op", err);
	if (!rc)
		rc = get_keyid(doc, "event", err);
	if (!rc)
		rc = get_trace(doc, "event", err);
	if (!rc)
		rc = get_time(doc, "time", 0, err);
	if (!rc)
		rc = get_time(doc, "step", 1, err);
	if (!rc)
		rc = get_enum(doc, "kind", sk_op_event_kinds, err);
	if (!rc)
		rc = check_object_or_null(doc, "facts", 0, err);
	if (!rc && !(rc = sk_cjson_get_int(doc, "seq", &seq, err)) && seq < 1)
		rc = bad(err, "\"seq\" must be %s", "at least 1");
	if (!rc)
		rc = sk_cjson_get_hex(doc, "prev", 1, raw, sizeof(raw), &present, "event", err);
	if (!rc && (seq == 1) == present)
		rc = bad(err, "\"prev\" must be null exactly when \"seq\" is %s", "1");
	return rc ? sk_err_wrap(err, "event") : 0;
}

json_t *sk_op_plan_steps(const json_t *doc)
{
	json_t *steps = json_array();
	size_t i;
	json_t *s;
	json_array_foreach(json_object_get(doc, "steps"), i, s)
		json_array_append_new(steps, json_pack("{s:O, s:O, s:O, s:O}", "compensation",
						       json_object_get(s, "compensation"), "name",
						       json_object_get(s, "name"), "reversible",
						       json_object_get(s, "reversible"), "risk",
						       json_object_get(s, "risk")));
	return steps;
}

int sk_op_plan_digest(const json_t *doc, unsigned char out[32], struct sk_err *err)
{
	json_t *steps = sk_op_plan_steps(doc);
	json_t *plan = json_pack("{s:O, s:O, s:O, s:O, s:o, s:i}", "id", json_object_get(doc, "id"),
				 "kind", json_object_get(doc, "kind"), "params",
				 json_object_get(doc, "params"), "service",
				 json_object_get(doc, "service"), "steps", steps, "v", 1);
	if (!plan)
		return sk_err_set(err, SK_EINVAL, NULL, "operation document lacks its plan");
	char *bytes = NULL;
	size_t len = 0;
	int rc = sk_cjson_dump(plan, &bytes, &len, err);
	json_decref(plan);
	if (rc)
		return rc;
	sk_sha256(bytes, len, out);
	free(bytes);
	return 0;
}
