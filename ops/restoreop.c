/*
 * The operation type "restore" (see restoreop.h).
 */
#include "ops/restoreop.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "objects/spec.h"
#include "ops/backupjob.h"
#include "ops/drain.h"
#include "ops/engine.h"
#include "ops/svc.h"
#include "refs/backups.h"

struct restore {
	const char *service, *target, *backup, *prev_data;
	long long wait_ms, drain_ms;
};

static const char *pstr(const json_t *params, const char *key)
{
	return json_string_value(json_object_get(params, key));
}

static int seconds(const char *s, long long *out)
{
	char *end = NULL;
	long long v = s ? strtoll(s, &end, 10) : -1;
	if (!s || !*s || *end || v < 0 || v > 86400)
		return -1;
	*out = v * 1000;
	return 0;
}

static int parse(const json_t *params, struct restore *r, struct sk_err *err)
{
	memset(r, 0, sizeof(*r));
	r->service = pstr(params, "service");
	r->target = pstr(params, "target");
	r->backup = pstr(params, "backup");
	r->prev_data = pstr(params, "prev_data");
	if (!r->service || !r->target || !r->backup || !r->prev_data ||
	    json_object_size(params) != 6 || seconds(pstr(params, "wait_s"), &r->wait_ms) ||
	    seconds(pstr(params, "drain_timeout_s"), &r->drain_ms))
		return sk_err_set(err, SK_EINVAL, NULL,
				  "restore needs exactly service, target, backup, prev_data, wait_s "
				  "and drain_timeout_s (seconds, 0..86400)");
	int rc = sk_spec_component_check(r->service, SK_SPEC_NAME_MAX, "service", err);
	if (!rc)
		rc = sk_spec_component_check(r->target, SK_SPEC_NAME_MAX, "target", err);
	if (!rc)
		rc = sk_backup_id_check(r->backup, err);
	if (!rc && *r->prev_data)
		rc = sk_spec_component_check(r->prev_data, SK_SPEC_NAME_MAX, "prev_data", err);
	return rc;
}

/* The params, the target's job (its release's commands) and the backup. */
static int load_all(const struct sk_op_ctx *ctx, struct restore *r, struct sk_backupjob *j,
		    struct sk_backup *b, struct sk_err *err)
{
	memset(j, 0, sizeof(*j));
	int rc = parse(ctx->params, r, err);
	if (!rc)
		rc = sk_backupjob_load(ctx->repo, r->service, r->target, j, err);
	if (!rc)
		rc = sk_backups_load(ctx->repo, r->service, r->backup, b, err);
	if (!rc && !j->restore)
		rc = sk_err_set(err, SK_ENOTFOUND, "add a restore section to the spec (skiff-spec(5))",
				"release %s of %s declares no restore command", j->release,
				r->service);
	return rc;
}

/* --- freshness ---------------------------------------------------------------- */

static int act_freshness(const struct sk_op_ctx *ctx, json_t **facts, struct sk_err *err)
{
	struct restore r;
	struct sk_backupjob j;
	struct sk_backup b;
	int rc = load_all(ctx, &r, &j, &b, err);
	if (!rc) {
		const json_t *max = json_object_get(j.backup, "max_age_s");
		rc = sk_backupjob_freshness(&b, max ? (long long)json_integer_value(max) : 0,
					    (long long)time(NULL), facts, err);
	}
	sk_backupjob_clear(&j);
	return rc;
}

/* --- isolate and undrain -------------------------------------------------------- */

static int act_isolate(const struct sk_op_ctx *ctx, json_t **facts, struct sk_err *err)
{
	struct restore r;
	int rc = parse(ctx->params, &r, err);
	return rc ? rc : sk_drain_target(ctx, r.service, r.target, r.drain_ms, facts, err);
}

static int act_undrain(const struct sk_op_ctx *ctx, json_t **facts, struct sk_err *err)
{
	struct restore r;
	int rc = parse(ctx->params, &r, err);
	return rc ? rc : sk_drain_undo(ctx, r.service, r.target, 1, facts, err);
}

/* --- cutover ---------------------------------------------------------------------- */

/* The pre-restore backup this operation took, if it took one. */
static int find_pre_restore(const struct sk_op_ctx *ctx, const char *service, struct sk_backup *out,
			    int *found, struct sk_err *err)
{
	json_t *all = NULL;
	*found = 0;
	int rc = sk_backups_list(ctx->repo, service, &all, err);
	size_t i;
	json_t *d;
	json_array_foreach(all, i, d) {
		if (rc || *found)
			break;
		if (strcmp(pstr(d, "kind"), SK_BACKUP_KIND_PRE_RESTORE) == 0 &&
		    strcmp(pstr(d, "op") ? pstr(d, "op") : "", ctx->id) == 0) {
			rc = sk_backup_from_json(out, d, err);
			*found = rc == 0;
		}
	}
	json_decref(all);
	return rc;
}

/* Runs the restore command for the data of b, its digest checked first
 * (time passed since freshness: an approval, a crash). */
static int restore_from(const struct sk_op_ctx *ctx, const struct sk_backupjob *j,
			const struct sk_backup *b, json_t **facts, struct sk_err *err)
{
	json_t *fresh = NULL;
	*facts = NULL;
	int rc = sk_backupjob_freshness(b, 0, (long long)time(NULL), &fresh, err);
	json_decref(fresh);
	if (!rc)
		rc = sk_op_lease_check(ctx, err);
	if (!rc)
		rc = sk_backupjob_run(j, json_object_get(j->restore, "command"), b->location,
				      SK_BACKUPJOB_TIMEOUT_MS, facts, err);
	return rc;
}

/* targets[T].data = data ("" removes it), committed when it differs. */
static int commit_data(const struct sk_op_ctx *ctx, const char *service, const char *target,
		       const char *data, int *changed, struct sk_err *err)
{
	struct sk_service_state st;
	int rc = sk_service_load(ctx->repo, service, &st, err);
	if (rc)
		return rc;
	json_t *control = json_deep_copy(st.control);
	json_t *tg = json_object_get(json_object_get(control, "targets"), target);
	char msg[200];
	if (!tg) {
		rc = sk_err_set(err, SK_ENOTFOUND, "skiff target list SERVICE lists them",
				"%s has no target %s", service, target);
	} else if (*data) {
		json_object_set_new(tg, "data", json_string(data));
		snprintf(msg, sizeof(msg), "restore %s: data %s", target, data);
	} else {
		json_object_del(tg, "data");
		snprintf(msg, sizeof(msg), "restore %s: data as before", target);
	}
	if (!rc)
		rc = sk_opsvc_commit(ctx, &st, control, msg, changed, err);
	json_decref(control);
	sk_service_state_clear(&st);
	return rc;
}

/* The restore command failed: the pre-restore data goes back. When that
 * fails too, the data is in doubt: pause, the target stays drained. */
static int roll_back(const struct sk_op_ctx *ctx, const struct sk_backupjob *j,
		     const struct sk_backup *pre, json_t *facts, struct sk_err *err)
{
	struct sk_err rerr;
	json_t *back = NULL;
	sk_op_killpoint("restore-failed");
	int rc = restore_from(ctx, j, pre, &back, &rerr);
	json_object_set_new(facts, "rolled_back", json_boolean(rc == 0));
	json_object_set_new(facts, "roll_back", back ? back : json_null());
	if (rc == SK_ECONFLICT && sk_op_lease_check(ctx, &rerr) != 0)
		return sk_err_set(err, SK_ECONFLICT, NULL, "lost the operation's lease");
	if (rc) {
		json_object_set_new(facts, "roll_back_error", json_string(rerr.message));
		char why[SK_ERR_MSG];
		snprintf(why, sizeof(why), "%s", err->message);
		return sk_err_set(err, SK_EPAUSED,
				  "fix the service, then skiff resume ID (runs the restore again) or "
				  "skiff cancel ID",
				  "the restore failed (%.200s) and the pre-restore data could not be "
				  "put back (%.200s): the target stays out of traffic",
				  why, rerr.message);
	}
	return sk_err_wrap(err, "restore command failed; the pre-restore backup %s is back",
			   pre->id);
}

static int cutover(const struct sk_op_ctx *ctx, const struct restore *r,
		   const struct sk_backupjob *j, const struct sk_backup *b, json_t **facts,
		   struct sk_err *err)
{
	struct sk_backup pre;
	json_t *taken = NULL, *ran = NULL;
	int found = 0, changed = 0;
	int rc = find_pre_restore(ctx, r->service, &pre, &found, err);
	if (!rc && !found && !(rc = sk_op_lease_check(ctx, err)))
		rc = sk_backupjob_take(ctx->repo, ctx->key, j, NULL, SK_BACKUP_KIND_PRE_RESTORE,
				       ctx->id, &pre, &taken, err);
	if (rc) {
		json_decref(taken);
		return rc;
	}
	sk_op_killpoint("pre-restore-recorded");
	*facts = json_pack("{s:s, s:s, s:b, s:s}", "backup", b->id, "pre_restore", pre.id,
			   "pre_restore_reused", found, "target", r->target);
	json_decref(taken);
	rc = restore_from(ctx, j, b, &ran, err);
	json_object_set_new(*facts, "restore", ran ? ran : json_null());
	if (rc == SK_ECONFLICT && sk_op_lease_check(ctx, err) != 0)
		return rc;
	if (rc)
		return roll_back(ctx, j, &pre, *facts, err);
	sk_op_killpoint("restored");
	rc = commit_data(ctx, r->service, r->target, b->id, &changed, err);
	json_object_set_new(*facts, "committed", json_boolean(changed));
	return rc;
}

static int act_cutover(const struct sk_op_ctx *ctx, json_t **facts, struct sk_err *err)
{
	struct restore r;
	struct sk_backupjob j;
	struct sk_backup b;
	int rc = load_all(ctx, &r, &j, &b, err);
	if (!rc)
		rc = cutover(ctx, &r, &j, &b, facts, err);
	sk_backupjob_clear(&j);
	return rc;
}

/* put-back: the pre-restore data restored (when the cutover took it),
 * the previous data id committed. */
static int act_put_back(const struct sk_op_ctx *ctx, json_t **facts, struct sk_err *err)
{
	struct restore r;
	struct sk_backupjob j;
	struct sk_backup pre;
	json_t *ran = NULL;
	int found = 0, changed = 0;
	memset(&j, 0, sizeof(j));
	int rc = parse(ctx->params, &r, err);
	if (!rc)
		rc = sk_backupjob_load(ctx->repo, r.service, r.target, &j, err);
	if (!rc && !j.restore)
		rc = sk_err_set(err, SK_ENOTFOUND, NULL, "the target's release has no restore command");
	if (!rc)
		rc = find_pre_restore(ctx, r.service, &pre, &found, err);
	if (!rc && found)
		rc = restore_from(ctx, &j, &pre, &ran, err);
	if (!rc)
		rc = commit_data(ctx, r.service, r.target, r.prev_data, &changed, err);
	if (!rc)
		*facts = json_pack("{s:s?, s:o, s:s?, s:b}", "pre_restore", found ? pre.id : NULL,
				   "restore", ran ? ran : json_null(), "data",
				   *r.prev_data ? r.prev_data : NULL, "committed", changed);
	else
		json_decref(ran);
	sk_backupjob_clear(&j);
	return rc;
}

/* --- validate and record ---------------------------------------------------------- */

static int act_validate(const struct sk_op_ctx *ctx, json_t **facts, struct sk_err *err)
{
	struct restore r;
	struct sk_backupjob j;
	json_t *waited = NULL, *ran = NULL;
	memset(&j, 0, sizeof(j));
	int rc = parse(ctx->params, &r, err);
	if (!rc)
		rc = sk_backupjob_load(ctx->repo, r.service, r.target, &j, err);
	json_t *one = json_pack("[s]", r.target ? r.target : "");
	if (!rc)
		rc = sk_opsvc_wait_reports(ctx, r.service, one, r.wait_ms, sk_opsvc_healthy, NULL,
					   &waited, err);
	/* a runner that does not come back healthy fails the restore */
	if (rc == SK_EPAUSED)
		err->code = rc = SK_EFAIL;
	const json_t *validate = json_object_get(j.restore, "validate");
	if (!rc && validate)
		rc = sk_backupjob_run(&j, validate, NULL, SK_BACKUPJOB_TIMEOUT_MS, &ran, err);
	*facts = json_pack("{s:o?, s:o?}", "runner", waited, "validate", ran);
	json_decref(one);
	sk_backupjob_clear(&j);
	return rc;
}

static int act_drain_again(const struct sk_op_ctx *ctx, json_t **facts, struct sk_err *err)
{
	struct restore r;
	int rc = parse(ctx->params, &r, err);
	return rc ? rc : sk_drain_target(ctx, r.service, r.target, r.drain_ms, facts, err);
}

static int act_record(const struct sk_op_ctx *ctx, json_t **facts, struct sk_err *err)
{
	struct restore r;
	struct sk_backup pre;
	int found = 0;
	int rc = parse(ctx->params, &r, err);
	if (!rc)
		rc = find_pre_restore(ctx, r.service, &pre, &found, err);
	if (!rc)
		*facts = json_pack("{s:s, s:s, s:s, s:s?, s:s?}", "service", r.service, "target",
				   r.target, "data", r.backup, "data_before",
				   *r.prev_data ? r.prev_data : NULL, "pre_restore",
				   found ? pre.id : NULL);
	return rc;
}

static int plan(const json_t *params, struct sk_op_step_def *steps, size_t *n, struct sk_err *err)
{
	struct restore r;
	int rc = parse(params, &r, err);
	if (rc)
		return rc;
	sk_opsvc_step(&steps[0], "freshness", "none", act_freshness, NULL, NULL);
	sk_opsvc_step(&steps[1], "isolate", "medium", act_isolate, "undrain", act_undrain);
	sk_opsvc_step(&steps[2], "cutover", "high", act_cutover, "put-back", act_put_back);
	sk_opsvc_step(&steps[3], "validate", "none", act_validate, NULL, NULL);
	sk_opsvc_step(&steps[4], "undrain", "medium", act_undrain, "drain", act_drain_again);
	sk_opsvc_step(&steps[5], "record", "none", act_record, NULL, NULL);
	*n = 6;
	return 0;
}

const struct sk_op_type sk_op_type_restore = {
	.kind = SK_RESTOREOP_KIND,
	.summary = "put a backup's data back on a target: fresh, drained, approved, validated",
	.plan = plan,
};
