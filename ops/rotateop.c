/*
 * The operation type "rotate" (see rotateop.h).
 */
#include "ops/rotateop.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/cli.h"
#include "objects/spec.h"
#include "ops/engine.h"
#include "ops/svc.h"
#include "refs/secretrefs.h"
#include "runner/secrets.h"

struct rotate {
	const char *service, *name, *to;
	char provider[8], ref[SK_SECRETREF_REF_MAX + 1];
	struct sk_oid from;
	char from_hex[SK_OID_HEXSZ + 1];
	json_t *canary; /* owned array of target names */
	long wait_s;
};

static const char *pstr(const json_t *params, const char *key)
{
	return json_string_value(json_object_get(params, key));
}

static void rotate_clear(struct rotate *r)
{
	json_decref(r->canary);
	r->canary = NULL;
}

static int parse_canary(struct rotate *r, const char *s, struct sk_err *err)
{
	char buf[SK_OP_PARAM_MAX + 1];
	char *save = NULL;
	r->canary = json_array();
	snprintf(buf, sizeof(buf), "%s", s);
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		int rc = sk_spec_component_check(t, SK_SPEC_NAME_MAX, "canary target", err);
		if (rc)
			return rc;
		json_array_append_new(r->canary, json_string(t));
	}
	if (json_array_size(r->canary) == 0)
		return sk_err_set(err, SK_EINVAL, NULL, "rotate: no canary target");
	return 0;
}

static int parse(const json_t *params, struct rotate *r, struct sk_err *err)
{
	memset(r, 0, sizeof(*r));
	r->service = pstr(params, "service");
	r->name = pstr(params, "name");
	r->to = pstr(params, "to");
	const char *from = pstr(params, "from"), *canary = pstr(params, "canary");
	const char *wait = pstr(params, "wait_s");
	if (!r->service || !r->name || !r->to || !from || !canary || !wait ||
	    json_object_size(params) != 6)
		return sk_err_set(err, SK_EINVAL, NULL,
				  "rotate needs exactly service, name, from, to, canary and wait_s");
	char *end;
	r->wait_s = strtol(wait, &end, 10);
	int rc = sk_spec_component_check(r->service, SK_SPEC_NAME_MAX, "service", err);
	if (!rc)
		rc = sk_spec_env_name_check(r->name, "secret name", err);
	if (!rc)
		rc = sk_oid_fromhex(&r->from, from, err);
	if (!rc)
		rc = sk_secretref_parse_spec(r->to, r->provider, r->ref, err);
	if (!rc)
		rc = parse_canary(r, canary, err);
	if (!rc && (*end || r->wait_s < 1 || r->wait_s > 86400))
		rc = sk_err_set(err, SK_EINVAL, NULL, "rotate: wait_s must be 1..86400");
	if (rc)
		rotate_clear(r);
	else
		sk_oid_tohex(&r->from, r->from_hex);
	return rc;
}

static int pause_with(struct sk_err *err, const char *hint, const char *why)
{
	return sk_err_set(err, SK_EPAUSED, hint, "%s", why);
}

/* --- the staged version ------------------------------------------------- */

/* The version stage wrote: the head of the secret's ref when it follows
 * from and names to. *has 0 when the head is still from; SK_ECONFLICT
 * when the secret moved elsewhere meanwhile. */
static int find_staged(const struct sk_op_ctx *ctx, const struct rotate *r, int *has,
		       struct sk_oid *oid, struct sk_secretref *out, struct sk_err *err)
{
	int present = 0;
	*has = 0;
	int rc = sk_secretrefs_head(ctx->repo, r->service, r->name, &present, oid, out, err);
	if (rc)
		return rc;
	if (present && sk_oid_cmp(oid, &r->from) == 0) {
		sk_secretref_clear(out);
		return 0;
	}
	if (present && out->has_prev && sk_oid_cmp(&out->prev, &r->from) == 0 &&
	    strcmp(out->provider, r->provider) == 0 && strcmp(out->ref, r->ref) == 0) {
		*has = 1;
		return 0;
	}
	if (present)
		sk_secretref_clear(out);
	return sk_err_set(err, SK_ECONFLICT, "skiff secret show SERVICE NAME shows its history",
			  "secret %s of %s moved away from version %.12s during the rotation",
			  r->name, r->service, r->from_hex);
}

static int staged_or_fail(const struct sk_op_ctx *ctx, const struct rotate *r,
			  struct sk_oid *oid, struct sk_err *err)
{
	struct sk_secretref s;
	int has = 0;
	int rc = find_staged(ctx, r, &has, oid, &s, err);
	if (!rc && !has)
		return sk_err_set(err, SK_ECONFLICT, NULL, "the new version of %s is not staged",
				  r->name);
	if (!rc)
		sk_secretref_clear(&s);
	return rc;
}

static json_t *version_facts(const struct sk_secretref *s, const struct sk_oid *oid)
{
	json_t *f = sk_secretrefs_summary(s, oid);
	json_object_del(f, "actor");
	return f;
}

static int stage_step(const struct sk_op_ctx *ctx, struct rotate *r, json_t **facts,
		      struct sk_err *err)
{
	struct sk_secretref from, s;
	struct sk_oid oid;
	int has = 0, staged_now = 0;
	int rc = find_staged(ctx, r, &has, &oid, &s, err);
	if (!rc && !has && !(rc = sk_secretrefs_read(ctx->repo, &r->from, &from, err))) {
		memset(&s, 0, sizeof(s));
		snprintf(s.service, sizeof(s.service), "%s", r->service);
		snprintf(s.name, sizeof(s.name), "%s", r->name);
		snprintf(s.provider, sizeof(s.provider), "%s", r->provider);
		snprintf(s.ref, sizeof(s.ref), "%s", r->ref);
		snprintf(s.actor, sizeof(s.actor), "%s", sk_key_id(ctx->key));
		s.version = from.version + 1;
		s.has_prev = 1;
		s.prev = r->from;
		s.created = (int64_t)time(NULL);
		s.hook = from.hook ? json_incref(from.hook) : NULL; /* the revoke hook goes on */
		sk_secretref_clear(&from);
		rc = sk_op_lease_check(ctx, err);
		if (!rc)
			rc = sk_secretrefs_write(ctx->repo, ctx->key, &s, &r->from, ctx->id, 0, &oid,
						 err);
		staged_now = rc == 0;
		if (rc)
			sk_secretref_clear(&s);
	}
	if (!rc) {
		*facts = version_facts(&s, &oid);
		json_object_set_new(*facts, "written", json_boolean(staged_now));
		sk_secretref_clear(&s);
	}
	return rc;
}

/* Compensation of stage: the ref goes back to from (a new record; the
 * staged version stays in the store, unpinned). */
static int unstage_step(const struct sk_op_ctx *ctx, struct rotate *r, json_t **facts,
			struct sk_err *err)
{
	struct sk_secretref s, from;
	struct sk_oid oid, back;
	int has = 0;
	int rc = find_staged(ctx, r, &has, &oid, &s, err);
	if (!rc && has) {
		sk_secretref_clear(&s);
		rc = sk_secretrefs_read(ctx->repo, &r->from, &from, err);
		if (!rc) {
			if (!(rc = sk_op_lease_check(ctx, err)))
				rc = sk_secretrefs_write(ctx->repo, ctx->key, &from, &oid, ctx->id, 0,
							 &back, err);
			sk_secretref_clear(&from);
		}
	}
	if (!rc)
		*facts = json_pack("{s:s, s:b}", "head", r->from_hex, "moved", has);
	return rc;
}

/* --- pins --------------------------------------------------------------- */

/* Sets (oid) or removes (NULL) pins[name], dropping pins left empty. */
static void pin(json_t *holder, const char *name, const char *hex)
{
	json_t *pins = json_object_get(holder, "secrets");
	if (hex) {
		if (!pins)
			json_object_set_new(holder, "secrets", pins = json_object());
		json_object_set_new(pins, name, json_string(hex));
		return;
	}
	json_object_del(pins, name);
	if (pins && json_object_size(pins) == 0)
		json_object_del(holder, "secrets");
}

/* Every target of control, as an array of names. */
static json_t *all_targets(const json_t *control)
{
	json_t *all = json_array();
	const char *k;
	json_t *v;
	json_object_foreach(json_object_get(control, "targets"), k, v)
		json_array_append_new(all, json_string(k));
	return all;
}

/* A report confirms when it is healthy and names the version. */
static int confirms(const struct sk_report *rep, const void *arg, struct sk_err *err)
{
	const char *const *want = arg; /* {name, oid hex} */
	const json_t *s = json_object_get(rep->secrets, want[0]);
	const char *oid = json_string_value(json_object_get(s, "oid"));
	return strcmp(rep->state, "healthy") == 0 && oid && strcmp(oid, want[1]) == 0;
}

/* Waits (up to wait_ms) for targets to confirm hex; facts add what each
 * report says it loaded. */
static int wait_confirmed(const struct sk_op_ctx *ctx, const struct rotate *r,
			  const json_t *targets, const char *hex, long long wait_ms,
			  json_t **facts, struct sk_err *err)
{
	const char *want[2] = { r->name, hex };
	int rc = sk_opsvc_wait_reports(ctx, r->service, targets, wait_ms, confirms, want, facts,
				       err);
	if (rc == SK_EPAUSED)
		snprintf(err->hint, sizeof(err->hint),
			 "fix what the reports say (the new reference must load on every target), "
			 "then skiff resume ID; skiff cancel ID puts the old version back");
	if (*facts)
		json_object_set_new(*facts, "version", json_string(hex));
	return rc;
}

static int canary_step(const struct sk_op_ctx *ctx, struct rotate *r, json_t **facts,
		       struct sk_err *err)
{
	struct sk_oid oid;
	struct sk_service_state st;
	char hex[SK_OID_HEXSZ + 1], msg[200];
	int changed = 0;
	int rc = staged_or_fail(ctx, r, &oid, err);
	if (rc || (rc = sk_service_load(ctx->repo, r->service, &st, err)))
		return rc;
	sk_oid_tohex(&oid, hex);
	json_t *control = json_deep_copy(st.control);
	size_t i;
	json_t *t;
	json_array_foreach(r->canary, i, t) {
		json_t *tg = json_object_get(json_object_get(control, "targets"), json_string_value(t));
		if (!tg) {
			rc = sk_err_set(err, SK_ENOTFOUND, "skiff target list SERVICE lists them",
					"%s has no target %s", r->service, json_string_value(t));
			break;
		}
		pin(tg, r->name, hex);
	}
	snprintf(msg, sizeof(msg), "rotate %s: the canary targets load the new version", r->name);
	if (!rc)
		rc = sk_opsvc_commit(ctx, &st, control, msg, &changed, err);
	if (!rc)
		*facts = json_pack("{s:O, s:s, s:b}", "targets", r->canary, "version", hex,
				   "committed", changed);
	json_decref(control);
	sk_service_state_clear(&st);
	return rc;
}

/* The canary targets report the new version loaded and healthy; a wait
 * that runs out pauses (canary stays done: cancel puts its pins back). */
static int canary_wait_step(const struct sk_op_ctx *ctx, struct rotate *r, json_t **facts,
			    struct sk_err *err)
{
	struct sk_oid oid;
	char hex[SK_OID_HEXSZ + 1];
	int rc = staged_or_fail(ctx, r, &oid, err);
	if (!rc)
		rc = wait_confirmed(ctx, r, r->canary, sk_oid_tohex(&oid, hex), r->wait_s * 1000,
				    facts, err);
	return rc;
}

/* Pins version hex for the whole service and drops every target's own
 * pin of the name: one state commit (none when already so). */
static int pin_service(const struct sk_op_ctx *ctx, const struct rotate *r, const char *hex,
		       const char *msg, int *changed, struct sk_err *err)
{
	struct sk_service_state st;
	int rc = sk_service_load(ctx->repo, r->service, &st, err);
	if (rc)
		return rc;
	json_t *control = json_deep_copy(st.control);
	pin(control, r->name, hex);
	const char *k;
	json_t *v;
	json_object_foreach(json_object_get(control, "targets"), k, v)
		pin(v, r->name, NULL);
	rc = sk_opsvc_commit(ctx, &st, control, msg, changed, err);
	json_decref(control);
	sk_service_state_clear(&st);
	return rc;
}

static int roll_step(const struct sk_op_ctx *ctx, struct rotate *r, json_t **facts,
		     struct sk_err *err)
{
	struct sk_oid oid;
	char hex[SK_OID_HEXSZ + 1], msg[200];
	int changed = 0;
	int rc = staged_or_fail(ctx, r, &oid, err);
	snprintf(msg, sizeof(msg), "rotate %s: every target loads the new version", r->name);
	if (!rc)
		rc = pin_service(ctx, r, sk_oid_tohex(&oid, hex), msg, &changed, err);
	if (!rc)
		*facts = json_pack("{s:s, s:b}", "version", hex, "committed", changed);
	return rc;
}

/* Compensation of canary and roll: the old version pinned for the
 * service again, no per-target pin of the name. */
static int pins_back_step(const struct sk_op_ctx *ctx, struct rotate *r, json_t **facts,
			  struct sk_err *err)
{
	char msg[200];
	int changed = 0;
	snprintf(msg, sizeof(msg), "rotate %s undone: the old version is pinned again", r->name);
	int rc = pin_service(ctx, r, r->from_hex, msg, &changed, err);
	if (!rc)
		*facts = json_pack("{s:s, s:b}", "pinned", r->from_hex, "committed", changed);
	return rc;
}

/* Every consumer names the new version and is healthy (waiting up to
 * wait_s for the restarts roll caused); anything else pauses with each
 * target's facts, and nothing is revoked. */
static int confirm_step(const struct sk_op_ctx *ctx, struct rotate *r, json_t **facts,
			struct sk_err *err)
{
	struct sk_oid oid;
	struct sk_service_state st;
	char hex[SK_OID_HEXSZ + 1];
	int rc = staged_or_fail(ctx, r, &oid, err);
	if (rc || (rc = sk_service_load(ctx->repo, r->service, &st, err)))
		return rc;
	sk_oid_tohex(&oid, hex);
	json_t *all = all_targets(st.control);
	const char *pinned = json_string_value(json_object_get(json_object_get(st.control, "secrets"),
							       r->name));
	if (!pinned || strcmp(pinned, hex) != 0) {
		rc = pause_with(err, "skiff resume ID runs roll again; skiff cancel ID undoes it",
				"control no longer pins the new version for the service");
		*facts = json_pack("{s:s?, s:s}", "pinned", pinned, "version", hex);
	} else {
		rc = wait_confirmed(ctx, r, all, hex, r->wait_s * 1000, facts, err);
	}
	if (rc == SK_EPAUSED)
		snprintf(err->message, sizeof(err->message),
			 "consumers have not all confirmed version %.12s of %s: the old reference "
			 "is not revoked",
			 hex, r->name);
	json_decref(all);
	sk_service_state_clear(&st);
	return rc;
}

/* The provider revokes the old reference. A hook that fails pauses:
 * nothing to compensate (consumers run the new version), resume runs
 * the hook again, so hooks must be idempotent. */
static int revoke_step(const struct sk_op_ctx *ctx, struct rotate *r, json_t **facts,
		       struct sk_err *err)
{
	struct sk_secretref old;
	int rc = sk_secretrefs_read(ctx->repo, &r->from, &old, err);
	if (rc)
		return rc;
	const struct sk_secret_provider *p = sk_secret_provider_find(old.provider);
	json_t *f = NULL;
	if (!p)
		rc = pause_with(err, "revoke it by hand, then skiff resume ID",
				"the old reference's provider is not available in this build");
	if (!rc)
		rc = sk_op_lease_check(ctx, err);
	if (!rc)
		rc = p->revoke(&old, &f, err);
	/* after roll nothing is to be undone: a revocation that did not
	 * happen waits for a person, it does not fail the rotation */
	if (rc && rc != SK_ECONFLICT)
		err->code = rc = SK_EPAUSED;
	*facts = json_pack("{s:I, s:s, s:o?}", "version", (json_int_t)old.version, "oid",
			   r->from_hex, "provider", f);
	sk_secretref_clear(&old);
	return rc;
}

static int record_step(const struct sk_op_ctx *ctx, struct rotate *r, json_t **facts,
		       struct sk_err *err)
{
	struct sk_oid oid;
	struct sk_secretref s, old;
	int has = 0;
	int rc = find_staged(ctx, r, &has, &oid, &s, err);
	if (!rc && !has)
		rc = sk_err_set(err, SK_ECONFLICT, NULL, "the new version of %s is gone", r->name);
	if (!rc && (rc = sk_secretrefs_read(ctx->repo, &r->from, &old, err)) == 0) {
		*facts = json_pack("{s:s, s:I, s:I, s:o, s:b}", "name", r->name, "from_version",
				   (json_int_t)old.version, "to_version", (json_int_t)s.version,
				   "to", sk_json_oid(&oid), "revoked", 1);
		sk_secretref_clear(&old);
	}
	if (has)
		sk_secretref_clear(&s);
	return rc;
}

int sk_rotateop_check_idle(struct sk_repo *repo, const char *service, struct sk_err *err)
{
	return sk_opsvc_alone(repo, service, NULL, SK_ROTATEOP_KIND, err);
}

/* --- the type --------------------------------------------------------------- */

typedef int (*rotate_step_fn)(const struct sk_op_ctx *ctx, struct rotate *r, json_t **facts,
			      struct sk_err *err);

static int with_params(const struct sk_op_ctx *ctx, rotate_step_fn fn, json_t **facts,
		       struct sk_err *err)
{
	struct rotate r;
	int rc = parse(ctx->params, &r, err);
	if (rc)
		return rc;
	rc = fn(ctx, &r, facts, err);
	rotate_clear(&r);
	return rc;
}

#define ROTATE_ACT(name)                                                                       \
	static int act_##name(const struct sk_op_ctx *ctx, json_t **facts, struct sk_err *err) \
	{                                                                                      \
		return with_params(ctx, name##_step, facts, err);                              \
	}
ROTATE_ACT(stage)
ROTATE_ACT(unstage)
ROTATE_ACT(canary)
ROTATE_ACT(canary_wait)
ROTATE_ACT(roll)
ROTATE_ACT(pins_back)
ROTATE_ACT(confirm)
ROTATE_ACT(revoke)
ROTATE_ACT(record)

static int plan(const json_t *params, struct sk_op_step_def *steps, size_t *n, struct sk_err *err)
{
	struct rotate r;
	int rc = parse(params, &r, err);
	if (rc)
		return rc;
	rotate_clear(&r);
	sk_opsvc_step(&steps[0], "stage", "low", act_stage, "unstage", act_unstage);
	sk_opsvc_step(&steps[1], "canary", "medium", act_canary, "pins-back", act_pins_back);
	sk_opsvc_step(&steps[2], "canary-confirm", "none", act_canary_wait, NULL, NULL);
	sk_opsvc_step(&steps[3], "roll", "medium", act_roll, "pins-back", act_pins_back);
	sk_opsvc_step(&steps[4], "confirm", "none", act_confirm, NULL, NULL);
	sk_opsvc_step(&steps[5], "revoke", "high", act_revoke, NULL, NULL);
	sk_opsvc_step(&steps[6], "record", "none", act_record, NULL, NULL);
	*n = 7;
	return 0;
}

const struct sk_op_type sk_op_type_rotate = {
	.kind = SK_ROTATEOP_KIND,
	.summary = "rotate a secret: stage, canary, roll, confirm, revoke the old reference",
	.plan = plan,
};
