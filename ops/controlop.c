/*
 * The operation type "control-set" (see controlop.h).
 */
#include "ops/controlop.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/cli.h"
#include "objects/spec.h"
#include "ops/engine.h"
#include "refs/service.h"

#define SET_PREFIX "set."
#define UNSET_PREFIX "unset."
/* How far back from the head observe and revert look for this
 * operation's commit before giving up (the commit sits right after the
 * planned parent, so only commits made since the plan are walked). */
#define WALK_MAX 10000

static const char *pstr(const json_t *params, const char *key)
{
	return json_string_value(json_object_get(params, key));
}

/* The setting a change param names, or NULL when k is not a change. */
static const char *change_key(const char *k, int *is_set)
{
	if (strncmp(k, SET_PREFIX, strlen(SET_PREFIX)) == 0) {
		*is_set = 1;
		return k + strlen(SET_PREFIX);
	}
	if (strncmp(k, UNSET_PREFIX, strlen(UNSET_PREFIX)) == 0) {
		*is_set = 0;
		return k + strlen(UNSET_PREFIX);
	}
	return NULL;
}

int sk_controlop_param(json_t *params, const char *key, const char *value, struct sk_err *err)
{
	char name[SK_OP_NAME_MAX + 2];
	int rc = sk_spec_component_check(key, SK_SETTING_KEY_MAX, "setting key", err);
	if (rc)
		return rc;
	int n = snprintf(name, sizeof(name), "%s%s", value ? SET_PREFIX : UNSET_PREFIX, key);
	if (n > SK_OP_NAME_MAX)
		return sk_err_set(err, SK_EINVAL, "change it with a shorter key",
				  "setting key \"%s\" is too long for an operation (at most %zu bytes)",
				  key, (size_t)SK_OP_NAME_MAX - strlen(value ? SET_PREFIX : UNSET_PREFIX));
	if (!json_object_get(params, name) && json_object_size(params) >= SK_OP_MAX_PARAMS)
		return sk_err_set(err, SK_EINVAL, "split the change into several control set commands",
				  "too many changes for one operation");
	json_t *v = json_string(value ? value : ""); /* NULL for invalid UTF-8 */
	if (!v)
		return sk_err_set(err, SK_EINVAL, NULL, "setting \"%s\": value is not UTF-8", key);
	json_object_set_new(params, name, v);
	return 0;
}

int sk_controlop_apply(json_t *control, const json_t *params, struct sk_err *err)
{
	for (int pass = 1; pass >= 0; pass--) { /* sets, then unsets */
		const char *k;
		json_t *v;
		json_object_foreach((json_t *)params, k, v) {
			int is_set = 0;
			const char *key = change_key(k, &is_set);
			if (!key || is_set != pass)
				continue;
			int rc = sk_control_set(control, key, is_set ? json_string_value(v) : NULL, err);
			if (rc)
				return rc;
		}
	}
	return 0;
}

/* --- params -------------------------------------------------------------- */

struct planned {
	const char *service, *message;
	int has_parent;
	struct sk_oid parent;
};

static int parse(const json_t *params, struct planned *p, struct sk_err *err)
{
	memset(p, 0, sizeof(*p));
	p->service = pstr(params, "service");
	p->message = pstr(params, "message");
	const char *parent = pstr(params, "parent");
	int rc = sk_spec_component_check(p->service, SK_SPEC_NAME_MAX, "service", err);
	if (rc)
		return rc;
	if (!p->message || !parent)
		return sk_err_set(err, SK_EINVAL, NULL, "control-set needs \"message\" and \"parent\"");
	if (*parent && (rc = sk_oid_fromhex(&p->parent, parent, err)))
		return rc;
	p->has_parent = *parent != '\0';
	size_t changes = 0;
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)params, k, v) {
		int is_set = 0;
		const char *key = change_key(k, &is_set);
		if (!key) {
			if (strcmp(k, "service") && strcmp(k, "message") && strcmp(k, "parent"))
				return sk_err_set(err, SK_EINVAL, NULL, "control-set: unknown param \"%s\"", k);
			continue;
		}
		if ((rc = sk_spec_component_check(key, SK_SETTING_KEY_MAX, "setting key", err)))
			return rc;
		if (!is_set && *json_string_value(v))
			return sk_err_set(err, SK_EINVAL, NULL, "control-set: \"%s\" must be empty", k);
		changes++;
	}
	if (!changes)
		return sk_err_set(err, SK_EINVAL, NULL, "control-set needs at least one change");
	return 0;
}

/* --- finding this operation's commits ----------------------------------- */

struct ours {
	int forward, revert;
	struct sk_oid fwd, rev;
};

static int is_forward(const struct sk_commit *c, const struct planned *p)
{
	return c->has_parent == p->has_parent &&
	       (!p->has_parent || sk_oid_cmp(&c->parent, &p->parent) == 0);
}

/* Walks the service's history from its head back to the planned parent
 * (or the root): the commit of this operation whose parent is the planned
 * one is the change (forward), a later one of this operation its revert. */
static int find_ours(struct sk_repo *repo, const struct sk_service_state *st, const char *op,
		     const struct planned *p, struct ours *o, struct sk_err *err)
{
	memset(o, 0, sizeof(*o));
	if (!st->has_head)
		return 0;
	struct sk_oid cur = st->head;
	struct sk_commit c = st->commit;
	for (int n = 0; n < WALK_MAX; n++) {
		if (p->has_parent && sk_oid_cmp(&cur, &p->parent) == 0)
			return 0;
		if (strcmp(c.op, op) == 0) {
			if (is_forward(&c, p)) {
				o->forward = 1;
				o->fwd = cur;
				return 0;
			}
			if (!o->revert) {
				o->revert = 1;
				o->rev = cur;
			}
		}
		if (!c.has_parent)
			return 0;
		cur = c.parent;
		int rc = sk_service_read_commit(repo, &cur, &c, NULL, err);
		if (rc)
			return rc;
	}
	return 0;
}

/* The service moved under the operation. SK_ECONFLICT is what the engine
 * reads as "this executor lost the operation", so a conflict on the
 * service ref is reported as SK_ELOCKED (exit 3 too): the step fails and
 * the operation ends, instead of staying "running" for ever. When the
 * operation itself moved, that is the engine's SK_ECONFLICT. */
static int moved(const struct sk_op_ctx *ctx, const char *service, const char *detail,
		 struct sk_err *err)
{
	struct sk_err lerr;
	sk_err_clear(&lerr);
	int rc = sk_op_lease_check(ctx, &lerr);
	if (rc) {
		*err = lerr;
		return rc;
	}
	return sk_err_set(err, SK_ELOCKED,
			  "skiff control show SERVICE shows the current values; run control set again",
			  "refs/services/%s moved %s", service, detail);
}

static json_t *oid_or_null(int has, const struct sk_oid *oid)
{
	return has ? sk_json_oid(oid) : json_null();
}

/* --- commit-control ------------------------------------------------------ */

static int observe(const struct sk_op_ctx *ctx, int *done, json_t **facts, struct sk_err *err)
{
	struct planned p;
	struct sk_service_state st;
	struct ours o;
	int rc = parse(ctx->params, &p, err);
	if (!rc)
		rc = sk_service_load(ctx->repo, p.service, &st, err);
	if (rc)
		return rc;
	rc = find_ours(ctx->repo, &st, ctx->id, &p, &o, err);
	sk_service_state_clear(&st);
	if (rc)
		return rc;
	*done = o.forward;
	*facts = json_pack("{s:o}", "commit", oid_or_null(o.forward, &o.fwd));
	return 0;
}

static int moved_or(const struct sk_op_ctx *ctx, const char *service, int rc,
		    struct sk_err *err)
{
	if (rc != SK_ECONFLICT && rc != SK_ELOCKED)
		return rc;
	char detail[SK_ERR_MSG];
	snprintf(detail, sizeof(detail), "while this operation wrote it (%.400s)", err->message);
	return moved(ctx, service, detail, err);
}

/* Test hook (SKIFF_TEST_OPS=1 only): with SKIFF_TEST_CONTROL_HANG=PATH
 * the step creates PATH.hanging and waits for PATH.release before it
 * reads the service, so a test can change the service between the plan
 * and the step. */
static void maybe_hang(void)
{
	const char *ops = getenv("SKIFF_TEST_OPS"), *path = getenv("SKIFF_TEST_CONTROL_HANG");
	if (ops && strcmp(ops, "1") == 0 && path && *path)
		sk_op_test_hang(path);
}

/* The planned change: CAS from the planned parent. Observes first, so a
 * second run finds the commit and does not write another. */
static int act(const struct sk_op_ctx *ctx, json_t **facts, struct sk_err *err)
{
	struct planned p;
	struct sk_service_state st;
	struct sk_oid commit;
	struct ours o;
	maybe_hang();
	int rc = parse(ctx->params, &p, err);
	if (!rc)
		rc = sk_service_load(ctx->repo, p.service, &st, err);
	if (rc)
		return rc;
	if ((rc = find_ours(ctx->repo, &st, ctx->id, &p, &o, err)) || o.forward) {
		sk_service_state_clear(&st);
		if (!rc)
			*facts = json_pack("{s:o, s:o, s:b}", "commit", sk_json_oid(&o.fwd), "parent",
					   oid_or_null(p.has_parent, &p.parent), "already", 1);
		return rc;
	}
	if (st.has_head != p.has_parent || (p.has_parent && sk_oid_cmp(&st.head, &p.parent))) {
		char now[SK_OID_HEXSZ + 1] = "none", detail[160];
		if (st.has_head)
			sk_oid_tohex(&st.head, now);
		sk_service_state_clear(&st);
		snprintf(detail, sizeof(detail),
			 "since this operation was planned (now at %s): nothing was changed", now);
		return moved(ctx, p.service, detail, err);
	}
	rc = sk_controlop_apply(st.control, ctx->params, err);
	if (!rc)
		rc = sk_op_lease_check(ctx, err);
	if (!rc)
		rc = moved_or(ctx, p.service,
			      sk_service_commit(ctx->repo, ctx->key, &st, st.control, p.message,
						ctx->id, 0, &commit, err),
			      err);
	sk_service_state_clear(&st);
	if (rc)
		return rc;
	sk_op_killpoint("control-committed");
	*facts = json_pack("{s:o, s:o, s:b}", "commit", sk_json_oid(&commit), "parent",
			   oid_or_null(p.has_parent, &p.parent), "already", 0);
	return 0;
}

/* --- revert-control ------------------------------------------------------ */

/* The control a commit names, or the empty control before the first. */
static int control_at(struct sk_repo *repo, const char *service, int has,
		      const struct sk_oid *oid, json_t **out, struct sk_err *err)
{
	struct sk_commit c;
	if (!has)
		return (*out = sk_control_new(service)) ? 0
						: sk_err_set(err, SK_ENOMEM, NULL, "out of memory");
	return sk_service_read_commit(repo, oid, &c, out, err);
}

/* Puts every key the change touched back to its value in before, in cur;
 * refused when one no longer holds the value the change gave it. */
static int unapply(json_t *cur, const json_t *before, const json_t *after,
		   const json_t *params, struct sk_err *err)
{
	json_t *cs = json_object_get(cur, "settings"), *bs = json_object_get(before, "settings"),
	       *as = json_object_get(after, "settings");
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)params, k, v) {
		int is_set;
		const char *key = change_key(k, &is_set);
		if (!key)
			continue;
		json_t *c = json_object_get(cs, key), *a = json_object_get(as, key);
		if (!(c == a || (c && a && json_equal(c, a))))
			return sk_err_set(err, SK_ELOCKED,
					  "skiff log refs/services/SERVICE shows who changed it; "
					  "put it back with skiff control set",
					  "setting \"%s\" was changed after this operation: not reverting",
					  key);
	}
	json_object_foreach((json_t *)params, k, v) {
		int is_set;
		const char *key = change_key(k, &is_set);
		json_t *b = key ? json_object_get(bs, key) : NULL;
		if (!key)
			continue;
		if (b)
			json_object_set(cs, key, b);
		else
			json_object_del(cs, key);
	}
	return 0;
}

static int compensate(const struct sk_op_ctx *ctx, json_t **facts, struct sk_err *err)
{
	struct planned p;
	struct sk_service_state st;
	struct ours o;
	json_t *before = NULL, *after = NULL;
	int rc = parse(ctx->params, &p, err);
	if (!rc)
		rc = sk_service_load(ctx->repo, p.service, &st, err);
	if (rc)
		return rc;
	if (!(rc = find_ours(ctx->repo, &st, ctx->id, &p, &o, err)) && o.revert) {
		*facts = json_pack("{s:o, s:b}", "commit", sk_json_oid(&o.rev), "already", 1);
		goto out;
	}
	if (!rc && !o.forward)
		rc = sk_err_set(err, SK_ELOCKED, "skiff log refs/services/SERVICE shows its history",
				"the change of this operation is no longer in refs/services/%s: "
				"nothing to revert",
				p.service);
	if (!rc)
		rc = control_at(ctx->repo, p.service, p.has_parent, &p.parent, &before, err);
	if (!rc)
		rc = control_at(ctx->repo, p.service, 1, &o.fwd, &after, err);
	if (!rc)
		rc = unapply(st.control, before, after, ctx->params, err);
	char msg[SK_OP_PARAM_MAX + 128];
	snprintf(msg, sizeof(msg), "revert operation %s%s%s", ctx->id, *p.message ? ": " : "",
		 p.message);
	struct sk_oid commit;
	if (!rc)
		rc = sk_op_lease_check(ctx, err);
	if (!rc)
		rc = moved_or(ctx, p.service,
			      sk_service_commit(ctx->repo, ctx->key, &st, st.control, msg, ctx->id, 0,
						&commit, err),
			      err);
	if (!rc) {
		sk_op_killpoint("control-reverted");
		*facts = json_pack("{s:o, s:b}", "commit", sk_json_oid(&commit), "already", 0);
	}
out:
	json_decref(before);
	json_decref(after);
	sk_service_state_clear(&st);
	return rc;
}

static const struct sk_op_step_def commit_step = {
	.name = "commit-control",
	.risk = "low",
	.reversible = 1,
	.compensation = "revert-control",
};

static int plan(const json_t *params, struct sk_op_step_def *steps, size_t *n, struct sk_err *err)
{
	struct planned p;
	int rc = parse(params, &p, err);
	if (rc)
		return rc;
	steps[0] = commit_step;
	steps[0].act = act;
	steps[0].compensate = compensate;
	steps[0].observe = observe;
	*n = 1;
	return 0;
}

const struct sk_op_type sk_op_type_control_set = {
	.kind = SK_CONTROLOP_KIND,
	.summary = "change a service's settings as one state commit",
	.plan = plan,
};
