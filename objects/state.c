/*
 * Control and commit documents (see state.h). Readers are strict: a
 * document that passes them is one the builders could have produced.
 */
#include "objects/state.h"

#include <string.h>

#include "objects/cjson.h"
#include "objects/spec.h"

static const char *const control_keys[] = { "active_group", "release", "secrets", "service",
					    "settings",     "targets", "v",       NULL };
static const char *const target_keys[] = { "addr",  "data",    "drain",  "group",
					   "release", "secrets", "weight", NULL };
static const char *const commit_keys[] = { "actor",   "control", "message", "op",
					   "parent",  "service", "time",    "v", NULL };

json_t *sk_control_new(const char *service)
{
	return json_pack("{s:s, s:{}, s:{}, s:i}", "service", service, "settings", "targets", "v", 1);
}

/* Messages inside a document carry no prefix; the public readers add
 * which document it was, once. */
static int bad(struct sk_err *err, const char *fmt, const char *arg)
{
	return sk_err_set(err, SK_EINVAL, NULL, fmt, arg);
}

static int check_value(const char *key, const json_t *v, struct sk_err *err)
{
	if (!json_is_string(v))
		return bad(err, "setting \"%s\" must be a string", key);
	if (json_string_length(v) > SK_SETTING_VALUE_MAX || strlen(json_string_value(v)) !=
								    json_string_length(v))
		return sk_err_set(err, SK_EINVAL, NULL,
				  "setting \"%s\" must be at most %d bytes, without NUL",
				  key, SK_SETTING_VALUE_MAX);
	return 0;
}

static int check_settings(const json_t *settings, struct sk_err *err)
{
	if (!json_is_object(settings))
		return bad(err, "\"%s\" must be an object", "settings");
	if (json_object_size(settings) > SK_CONTROL_MAX_SETTINGS)
		return bad(err, "too many %s", "settings");
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)settings, k, v) {
		int rc = sk_spec_component_check(k, SK_SETTING_KEY_MAX, "setting key", err);
		if (!rc)
			rc = check_value(k, v, err);
		if (rc)
			return rc;
	}
	return 0;
}

/* "HOST:PORT": a host of [A-Za-z0-9.-] (a name or IPv4 address) or an
 * IPv6 address in brackets, and a port 1..65535. The string lands in a
 * load balancer's configuration, so nothing else gets through. */
int sk_control_addr_check(const char *addr, struct sk_err *err)
{
	const char *colon = strrchr(addr, ':');
	size_t hl = colon ? (size_t)(colon - addr) : 0;
	int ok = colon && hl > 0 && hl <= 253 && strlen(colon + 1) >= 1 && strlen(colon + 1) <= 5;
	int v6 = ok && addr[0] == '[';
	for (size_t i = 0; ok && i < hl; i++) {
		char c = addr[i];
		ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		     c == '.' || c == '-' || (v6 && (c == ':' || c == '[' || c == ']'));
	}
	if (ok && v6)
		ok = addr[hl - 1] == ']' && hl > 2;
	long port = 0;
	for (const char *p = colon ? colon + 1 : ""; ok && *p; p++) {
		ok = *p >= '0' && *p <= '9';
		port = port * 10 + (*p - '0');
	}
	if (!ok || port < 1 || port > 65535)
		return sk_err_set(err, SK_EINVAL, "give HOST:PORT, e.g. 127.0.0.1:9001",
				  "address \"%.64s\" is not HOST:PORT", addr);
	return 0;
}

/* {NAME: OID}: which version (a secretref object) of each secret is
 * pinned, by variable name. */
static int check_secret_pins(const json_t *pins, struct sk_err *err)
{
	if (!json_is_object(pins) || json_object_size(pins) > SK_CONTROL_MAX_SECRETS)
		return bad(err, "\"secrets\" must be an object of at most %s pins", "64");
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)pins, k, v) {
		struct sk_oid oid;
		int rc = sk_spec_env_name_check(k, "secret name", err);
		if (!rc && !json_is_string(v))
			rc = bad(err, "secret \"%s\" must pin a full object id", k);
		if (!rc)
			rc = sk_oid_fromhex(&oid, json_string_value(v), err);
		if (rc)
			return sk_err_wrap(err, "secret \"%s\"", k);
	}
	return 0;
}

/* An optional string member that must be one name component. */
static int check_opt_name(const json_t *o, const char *key, const char *what,
			  struct sk_err *err)
{
	const char *s;
	if (!json_object_get(o, key))
		return 0;
	int rc = sk_cjson_get_str(o, key, &s, err);
	return rc ? rc : sk_spec_component_check(s, SK_SPEC_NAME_MAX, what, err);
}

static int check_target(const char *name, const json_t *t, struct sk_err *err)
{
	const char *rel, *addr;
	long long w;
	int rc = sk_spec_component_check(name, SK_SPEC_NAME_MAX, "target", err);
	if (!rc)
		rc = sk_cjson_only_keys(t, target_keys, "a target", err);
	if (!rc)
		rc = sk_cjson_get_str_or_null(t, "release", &rel, err);
	if (!rc && rel)
		rc = sk_spec_component_check(rel, SK_SPEC_NAME_MAX, "release version", err);
	if (!rc && json_object_get(t, "addr") && !(rc = sk_cjson_get_str(t, "addr", &addr, err)))
		rc = sk_control_addr_check(addr, err);
	if (!rc && json_object_get(t, "weight") && !(rc = sk_cjson_get_int(t, "weight", &w, err)) &&
	    (w < 0 || w > SK_CONTROL_WEIGHT_MAX))
		rc = bad(err, "\"weight\" must be 0..%s", "256");
	/* "drain" is present only when true: one state, one encoding */
	const json_t *drain = json_object_get(t, "drain");
	if (!rc && drain && !json_is_true(drain))
		rc = bad(err, "\"drain\" is %s when present", "true");
	if (!rc)
		rc = check_opt_name(t, "group", "target group", err);
	if (!rc)
		rc = check_opt_name(t, "data", "data version", err);
	if (!rc && json_object_get(t, "secrets"))
		rc = check_secret_pins(json_object_get(t, "secrets"), err);
	return rc;
}

static int check_targets(const json_t *targets, struct sk_err *err)
{
	if (!json_is_object(targets))
		return bad(err, "\"%s\" must be an object", "targets");
	if (json_object_size(targets) > SK_CONTROL_MAX_TARGETS)
		return bad(err, "too many %s", "targets");
	const char *k;
	json_t *t;
	json_object_foreach((json_t *)targets, k, t) {
		if (check_target(k, t, err))
			return sk_err_wrap(err, "target \"%s\"", k);
	}
	return 0;
}

int sk_control_check(const json_t *doc, struct sk_err *err)
{
	const char *svc;
	long long v = 0;
	int rc = sk_cjson_only_keys(doc, control_keys, "the document", err);
	if (!rc && !(rc = sk_cjson_get_int(doc, "v", &v, err)) && v != 1)
		rc = bad(err, "\"v\" must be %s", "1");
	if (!rc && !(rc = sk_cjson_get_str(doc, "service", &svc, err)))
		rc = sk_spec_component_check(svc, SK_SPEC_NAME_MAX, "service", err);
	if (!rc)
		rc = check_settings(json_object_get(doc, "settings"), err);
	if (!rc)
		rc = check_targets(json_object_get(doc, "targets"), err);
	const char *rel;
	if (!rc && json_object_get(doc, "release") &&
	    !(rc = sk_cjson_get_str_or_null(doc, "release", &rel, err)) && rel)
		rc = sk_spec_component_check(rel, SK_SPEC_NAME_MAX, "release version", err);
	if (!rc)
		rc = check_opt_name(doc, "active_group", "target group", err);
	if (!rc && json_object_get(doc, "secrets"))
		rc = check_secret_pins(json_object_get(doc, "secrets"), err);
	return rc ? sk_err_wrap(err, "control") : 0;
}

int sk_control_set(json_t *doc, const char *key, const char *value, struct sk_err *err)
{
	json_t *settings = json_object_get(doc, "settings");
	int rc = sk_spec_component_check(key, SK_SETTING_KEY_MAX, "setting key", err);
	if (rc)
		return rc;
	if (!value) {
		if (json_object_del(settings, key) != 0)
			return sk_err_set(err, SK_ENOTFOUND, "skiff control show SERVICE lists them",
					  "no setting \"%s\"", key);
		return 0;
	}
	json_t *v = json_string(value); /* NULL for invalid UTF-8 */
	if (!v)
		return sk_err_set(err, SK_EINVAL, NULL, "setting \"%s\": value is not UTF-8", key);
	if ((rc = check_value(key, v, err)) == 0 && !json_object_get(settings, key) &&
	    json_object_size(settings) >= SK_CONTROL_MAX_SETTINGS)
		rc = bad(err, "too many %s (the limit is 256)", "settings");
	if (rc) {
		json_decref(v);
		return rc;
	}
	json_object_set_new(settings, key, v);
	return 0;
}

json_t *sk_commit_to_json(const struct sk_commit *c)
{
	char ctl[SK_OID_HEXSZ + 1], par[SK_OID_HEXSZ + 1];
	return json_pack("{s:s, s:s, s:s, s:s?, s:s?, s:s, s:I, s:i}", "actor", c->actor, "control",
			 sk_oid_tohex(&c->control, ctl), "message", c->message, "op",
			 c->op[0] ? c->op : NULL, "parent",
			 c->has_parent ? sk_oid_tohex(&c->parent, par) : NULL, "service", c->service,
			 "time", (json_int_t)c->time, "v", 1);
}

static int commit_strings(struct sk_commit *out, const json_t *doc, struct sk_err *err)
{
	const char *svc, *msg, *op;
	int rc = sk_cjson_get_str(doc, "service", &svc, err);
	if (!rc)
		rc = sk_spec_component_check(svc, SK_SPEC_NAME_MAX, "service", err);
	if (!rc && !(rc = sk_cjson_get_str(doc, "message", &msg, err)) &&
	    (strlen(msg) > SK_COMMIT_MESSAGE_MAX || strlen(msg) != json_string_length(
									 json_object_get(doc, "message"))))
		rc = sk_err_set(err, SK_EINVAL, NULL, "\"message\" must be at most %d bytes, without NUL",
				SK_COMMIT_MESSAGE_MAX);
	if (!rc && !(rc = sk_cjson_get_str_or_null(doc, "op", &op, err)) && op)
		rc = sk_opid_check(op, err);
	if (rc)
		return sk_err_wrap(err, "commit");
	strcpy(out->service, svc);
	strcpy(out->message, msg);
	if (op)
		strcpy(out->op, op);
	return 0;
}

int sk_commit_from_json(struct sk_commit *out, const json_t *doc, struct sk_err *err)
{
	memset(out, 0, sizeof(*out));
	long long v = 0, t = 0;
	unsigned char actor[SK_KEYID_HEXSZ / 2];
	int rc = sk_cjson_only_keys(doc, commit_keys, "the document", err);
	if (!rc && !(rc = sk_cjson_get_int(doc, "v", &v, err)) && v != 1)
		rc = bad(err, "\"v\" must be %s", "1");
	if (!rc && !(rc = sk_cjson_get_int(doc, "time", &t, err)) && t < 0)
		rc = bad(err, "\"time\" must %s", "not be negative");
	if (rc)
		return sk_err_wrap(err, "commit");
	if ((rc = sk_cjson_get_hex(doc, "actor", 0, actor, sizeof(actor), NULL, "commit", err)) ||
	    (rc = sk_cjson_get_hex(doc, "control", 0, out->control.id, SK_OID_RAWSZ, NULL, "commit",
				   err)) ||
	    (rc = sk_cjson_get_hex(doc, "parent", 1, out->parent.id, SK_OID_RAWSZ, &out->has_parent,
				   "commit", err)) ||
	    (rc = commit_strings(out, doc, err)))
		return rc;
	sk_hex(actor, sizeof(actor), out->actor);
	out->time = t;
	return 0;
}
