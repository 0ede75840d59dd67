/*
 * The saga engine (see engine.h): transitions, the step protocol, the
 * compensation walk, and the readers of operations and their events.
 */
#include "ops/engine.h"
#include "ops/internal.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "common/cli.h"
#include "objects/cjson.h"
#include "objects/odb.h"
#include "objects/refrecord.h"
#include "objects/spec.h"
#include "ops/opindex.h"
#include "refs/audit.h"
#include "refs/keys.h"
#include "refs/refs.h"

extern const struct sk_op_type sk_op_type_test;
extern const struct sk_op_type sk_op_type_control_set;
extern const struct sk_op_type sk_op_type_deploy;
extern const struct sk_op_type sk_op_type_drain;
extern const struct sk_op_type sk_op_type_undrain;
extern const struct sk_op_type sk_op_type_failover;
extern const struct sk_op_type sk_op_type_rotate;
extern const struct sk_op_type sk_op_type_restore;

static const struct sk_op_type *const registry[] = { &sk_op_type_test, &sk_op_type_control_set,
						     &sk_op_type_deploy, &sk_op_type_drain,
						     &sk_op_type_undrain, &sk_op_type_failover,
						     &sk_op_type_rotate, &sk_op_type_restore, NULL };

const struct sk_op_type *sk_op_type_find(const char *kind)
{
	for (size_t i = 0; kind && registry[i]; i++)
		if (strcmp(registry[i]->kind, kind) == 0)
			return registry[i];
	return NULL;
}

/* The test hook's count of kill points passed in this process. */
static long killpoints_seen;

void sk_op_killpoint(const char *where)
{
	const char *at = getenv("SKIFF_OP_KILL_AT");
	if (at && strcmp(at, where) == 0)
		raise(SIGKILL);
	const char *v = getenv("SKIFF_OP_KILL");
	if (!v || !*v)
		return;
	if (++killpoints_seen == atol(v))
		raise(SIGKILL);
}

static void random_hex(char *out, size_t nbytes)
{
	unsigned char raw[32];
	size_t got = 0;
	while (got < nbytes) {
		ssize_t r = getrandom(raw + got, nbytes - got, 0);
		if (r > 0)
			got += (size_t)r;
	}
	sk_hex(raw, nbytes, out);
}

void sk_op_new_ids(char *id, size_t idn, char *trace, size_t tracen)
{
	struct timespec ts;
	struct tm tm;
	char stamp[32], rnd[13];
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%S", &tm);
	random_hex(rnd, 6);
	snprintf(id, idn, "%s%03ldZ-%s", stamp, ts.tv_nsec / 1000000, rnd);
	if (trace && tracen > SK_TRACE_HEXSZ)
		random_hex(trace, SK_TRACE_HEXSZ / 2);
}

static void op_ref(char *buf, size_t n, const char *id)
{
	snprintf(buf, n, "refs/operations/%s", id);
}

static const char *str(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static long long num(const json_t *o, const char *k)
{
	return (long long)json_integer_value(json_object_get(o, k));
}

static json_t *step_at(const struct sk_op *op, size_t i)
{
	return json_array_get(json_object_get(op->doc, "steps"), i);
}

void sk_op_free(struct sk_op *op)
{
	if (!op)
		return;
	json_decref(op->doc);
	free(op);
}

/* --- transitions ------------------------------------------------------ */

static json_t *new_event(const struct sk_op *op, const struct sk_key *key, const char *kind,
			 long step, json_t *facts)
{
	const json_t *prev = json_object_get(op->doc, "event");
	return json_pack("{s:s, s:o, s:s, s:s, s:O, s:I, s:o, s:I, s:s, s:i}", "actor",
			 sk_key_id(key), "facts", facts ? facts : json_object(), "kind", kind, "op",
			 str(op->doc, "id"), "prev", prev ? prev : json_null(), "seq",
			 (json_int_t)(num(op->doc, "events") + 1), "step",
			 step >= 0 ? json_integer(step) : json_null(), "time",
			 (json_int_t)time(NULL), "trace", str(op->doc, "trace"), "v", 1);
}

/* Makes op->doc (already changed by the caller) durable as one
 * transition: event object, operation object, CAS from op->head (or from
 * absent for a new operation). facts is consumed. */
static int commit(struct sk_repo *repo, const struct sk_key *key, struct sk_op *op,
		  const char *kind, long step, json_t *facts, struct sk_err *err)
{
	struct sk_odb *odb = sk_repo_odb(repo);
	struct sk_oid ev, doc_oid;
	json_t *e = new_event(op, key, kind, step, facts);
	if (!e)
		return sk_err_set(err, SK_ENOMEM, NULL, "out of memory");
	/* Both objects become durable with the ref update's one barrier,
	 * before the CAS can make them reachable (sk_odb_defer). */
	int deferred = sk_odb_defer(odb, 1);
	int rc = sk_event_check(e, err);
	if (!rc)
		rc = sk_odb_write_json(odb, SK_OBJ_EVENT, e, &ev, err);
	json_decref(e);
	if (!rc) {
		json_object_set_new(op->doc, "event", sk_json_oid(&ev));
		json_object_set_new(op->doc, "events",
				    json_integer(num(op->doc, "events") + 1));
		rc = sk_operation_check(op->doc, err);
	}
	if (!rc)
		rc = sk_odb_write_json(odb, SK_OBJ_OPERATION, op->doc, &doc_oid, err);
	sk_odb_defer(odb, deferred);
	if (rc)
		return rc;
	char ref[SK_REF_MAX + 1];
	op_ref(ref, sizeof(ref), str(op->doc, "id"));
	struct sk_ref_update up = { .ref = ref, .new_oid = doc_oid, .old_oid = op->head,
				    .op = str(op->doc, "id") };
	up.expect = sk_oid_is_zero(&op->head) ? SK_EXPECT_ABSENT : SK_EXPECT_OID;
	sk_op_killpoint("before-cas");
	/* The audit journal records this move with the risk of the step it is
	 * about ("none" for a change of state), the trace and the target. */
	struct sk_audit_ctx saved = *sk_repo_audit(repo), actx = saved;
	const char *target = str(json_object_get(op->doc, "params"), "target");
	actx.risk = step >= 0 ? str(step_at(op, (size_t)step), "risk") : "none";
	actx.trace = str(op->doc, "trace");
	actx.op_service = str(op->doc, "service");
	actx.target = target ? target : saved.target;
	sk_repo_set_audit(repo, &actx);
	rc = sk_refs_update(repo, key, &up, 1, NULL, err);
	sk_repo_set_audit(repo, &saved);
	if (rc == SK_ECONFLICT || rc == SK_ELOCKED || rc == SK_EEXISTS)
		return sk_err_set(err, SK_ECONFLICT,
				  "another executor holds this operation; see skiff op show ID",
				  "operation %s moved under this executor (%s): it stops here",
				  str(op->doc, "id"), err->message);
	if (rc)
		return rc;
	op->head = doc_oid;
	sk_op_killpoint("after-cas");
	return 0;
}

int sk_op_transition(struct sk_repo *repo, const struct sk_key *key, struct sk_op *op,
		     const char *kind, long step, json_t *facts, struct sk_err *err)
{
	return commit(repo, key, op, kind, step, facts, err);
}

static int set_state(struct sk_repo *repo, const struct sk_key *key, struct sk_op *op,
		     const char *to, struct sk_err *err)
{
	json_t *facts = json_pack("{s:s, s:s}", "from", str(op->doc, "state"), "to", to);
	json_object_set_new(op->doc, "state", json_string(to));
	return commit(repo, key, op, "state", -1, facts, err);
}

static void step_set(json_t *step, const char *state, const char *stamp, json_t *result)
{
	json_object_set_new(step, "state", json_string(state));
	if (stamp)
		json_object_set_new(step, stamp, json_integer((json_int_t)time(NULL)));
	if (result)
		json_object_set_new(step, "result", result);
}

/* --- plan ------------------------------------------------------------- */

static json_t *plan_steps(const struct sk_op_step_def *defs, size_t n)
{
	json_t *arr = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(
			arr, json_pack("{s:s?, s:n, s:s, s:n, s:b, s:s, s:n, s:s}", "compensation",
				       defs[i].compensation, "ended", "name", defs[i].name, "result",
				       "reversible", defs[i].reversible, "risk", defs[i].risk,
				       "started", "state", "pending"));
	return arr;
}

/* The type of op and its steps, checked against what op recorded (so a
 * changed type cannot run another plan under an old operation). */
int sk_op_type_plan(const char *kind, const json_t *params, struct sk_op_step_def *defs,
		    size_t *n, struct sk_err *err)
{
	const struct sk_op_type *type = sk_op_type_find(kind);
	if (!type)
		return sk_err_set(err, SK_EINVAL, NULL, "unknown operation kind \"%s\"", kind);
	if (type->enabled && !type->enabled())
		return sk_err_set(err, SK_EINVAL, "set SKIFF_TEST_OPS=1 (tests only)",
				  "operation kind \"%s\" is test-only and not enabled", kind);
	return type->plan(params, defs, n, err);
}

static int load_type(const struct sk_op *op, struct sk_op_step_def *defs, size_t *n,
		     struct sk_err *err)
{
	int rc = sk_op_type_plan(str(op->doc, "kind"), json_object_get(op->doc, "params"), defs, n,
				 err);
	if (rc)
		return rc;
	const json_t *steps = json_object_get(op->doc, "steps");
	if (json_array_size(steps) != *n)
		return sk_err_set(err, SK_ECORRUPT, NULL, "operation %s: its steps differ from the plan",
				  str(op->doc, "id"));
	for (size_t i = 0; i < *n; i++) {
		const json_t *s = json_array_get(steps, i);
		const char *comp = str(s, "compensation");
		if (strcmp(str(s, "name"), defs[i].name) != 0 || strcmp(str(s, "risk"), defs[i].risk) ||
		    json_is_true(json_object_get(s, "reversible")) != !!defs[i].reversible ||
		    !comp != !defs[i].compensation || (comp && strcmp(comp, defs[i].compensation)))
			return sk_err_set(err, SK_ECORRUPT, NULL,
					  "operation %s: step %zu differs from the plan of %s (%s)",
					  str(op->doc, "id"), i, str(op->doc, "kind"), defs[i].name);
	}
	return 0;
}

int sk_op_create(struct sk_repo *repo, const struct sk_key *key, const char *kind,
		 const char *service, const json_t *params, struct sk_op **out, struct sk_err *err)
{
	*out = NULL;
	struct sk_op_step_def defs[SK_OP_MAX_STEPS];
	size_t n = 0;
	int rc = sk_op_type_plan(kind, params, defs, &n, err);
	if (rc)
		return rc;
	char id[SK_OPID_MAX + 1], trace[SK_TRACE_HEXSZ + 1];
	sk_op_new_ids(id, sizeof(id), trace, sizeof(trace));
	struct sk_op *op = calloc(1, sizeof(*op));
	if (!op)
		return sk_err_set(err, SK_ENOMEM, NULL, "out of memory");
	op->doc = json_pack("{s:s, s:[], s:I, s:i, s:n, s:i, s:s, s:s, s:O, s:s?, s:s, s:o, s:s, s:i}",
			    "actor", sk_key_id(key), "approvals", "created",
			    (json_int_t)time(NULL), "cursor", 0, "event", "events", 0, "id", id,
			    "kind", kind, "params", params, "service", service, "state", "planned",
			    "steps", plan_steps(defs, n), "trace", trace, "v", 1);
	if (!op->doc) {
		sk_op_free(op);
		return sk_err_set(err, SK_ENOMEM, NULL, "out of memory");
	}
	json_t *facts = json_pack("{s:s, s:I}", "kind", kind, "steps", (json_int_t)n);
	rc = commit(repo, key, op, "created", -1, facts, err);
	if (rc) {
		sk_op_free(op);
		return rc;
	}
	*out = op;
	return 0;
}

int sk_op_load(struct sk_repo *repo, const char *id, struct sk_op **out, struct sk_err *err)
{
	*out = NULL;
	char ref[SK_REF_MAX + 1];
	int rc = sk_opid_check(id, err);
	if (rc)
		return rc;
	op_ref(ref, sizeof(ref), id);
	struct sk_op *op = calloc(1, sizeof(*op));
	if (!op)
		return sk_err_set(err, SK_ENOMEM, NULL, "out of memory");
	rc = sk_refs_verify(repo, ref, 0, NULL, err);
	if (rc == SK_ENOTFOUND)
		sk_err_set(err, SK_ENOTFOUND, "skiff op list shows the operations",
			   "no operation %s", id);
	if (!rc)
		rc = sk_refs_resolve(repo, ref, &op->head, err);
	if (!rc)
		rc = sk_odb_read_json(sk_repo_odb(repo), &op->head, SK_OBJ_OPERATION, SK_ODB_VERIFY,
				      &op->doc, err);
	if (!rc)
		rc = sk_operation_check(op->doc, err);
	if (!rc && strcmp(str(op->doc, "id"), id) != 0)
		rc = sk_err_set(err, SK_ECORRUPT, NULL, "%s points at operation %s", ref,
				str(op->doc, "id"));
	if (rc) {
		sk_op_free(op);
		return rc;
	}
	*out = op;
	return 0;
}

/* --- running ---------------------------------------------------------- */

struct run {
	struct sk_repo *repo;
	const struct sk_key *key;
	struct sk_op *op;
	struct sk_op_step_def defs[SK_OP_MAX_STEPS];
	size_t n;
};

static void ctx_for(const struct run *r, size_t i, struct sk_op_ctx *ctx)
{
	ctx->repo = r->repo;
	ctx->key = r->key;
	ctx->id = str(r->op->doc, "id");
	ctx->trace = str(r->op->doc, "trace");
	ctx->params = json_object_get(r->op->doc, "params");
	ctx->step = i;
	ctx->step_name = r->defs[i].name;
	ctx->head = r->op->head;
}

int sk_op_lease_check(const struct sk_op_ctx *ctx, struct sk_err *err)
{
	char ref[SK_REF_MAX + 1];
	struct sk_oid cur;
	op_ref(ref, sizeof(ref), ctx->id);
	int rc = sk_refs_resolve(ctx->repo, ref, &cur, err);
	if (!rc && sk_oid_cmp(&cur, &ctx->head) != 0)
		rc = sk_err_set(err, SK_ECONFLICT,
				"another executor holds this operation; see skiff op show ID",
				"operation %s moved under this executor: it stops here", ctx->id);
	return rc;
}

/* An action that found the world ambiguous (a gate it cannot decide)
 * pauses the operation: the step goes back to pending with what the
 * action saw as its result, the operation to "paused", and the executor
 * stops with SK_EPAUSED (exit 6). resume runs the step again from its
 * intent, so its action must be observe-then-act; cancel compensates the
 * steps before it. */
static int pause_step(struct run *r, size_t i, json_t *facts, const struct sk_err *aerr,
		      struct sk_err *err)
{
	if (!facts)
		facts = json_object();
	json_object_set_new(facts, "reason", json_string(aerr->message));
	if (aerr->hint[0])
		json_object_set_new(facts, "hint", json_string(aerr->hint));
	step_set(step_at(r->op, i), "pending", NULL, json_deep_copy(facts));
	json_object_set_new(r->op->doc, "state", json_string("paused"));
	int rc = commit(r->repo, r->key, r->op, "paused", (long)i, facts, err);
	if (rc)
		return rc;
	*err = *aerr;
	return SK_EPAUSED;
}

/* Act on step i (whose intent is recorded) and record the result. A
 * failed action records the failure and fails the operation. */
static int act_and_record(struct run *r, size_t i, int *failed, struct sk_err *err)
{
	struct sk_op_ctx ctx;
	json_t *facts = NULL;
	struct sk_err aerr;
	ctx_for(r, i, &ctx);
	sk_err_clear(&aerr);
	json_t *step = step_at(r->op, i);
	int rc = r->defs[i].act(&ctx, &facts, &aerr);
	struct sk_err lerr;
	if (rc == SK_ECONFLICT && sk_op_lease_check(&ctx, &lerr) != 0) {
		/* lost the lease: not this step's failure, the new holder goes on */
		json_decref(facts);
		*err = aerr;
		return rc;
	}
	if (rc == SK_EPAUSED)
		return pause_step(r, i, facts, &aerr, err);
	if (rc) {
		/* what the action saw stays with the failure (a canary's signals) */
		json_t *res = facts ? facts : json_object();
		json_object_set_new(res, "error", json_string(aerr.message));
		json_object_set_new(res, "code", json_string(sk_err_name(aerr.code)));
		step_set(step, "failed", "ended", json_deep_copy(res));
		json_object_set_new(r->op->doc, "state", json_string("failed"));
		*failed = 1;
		return commit(r->repo, r->key, r->op, "step-failed", (long)i, res, err);
	}
	if (!facts)
		facts = json_object();
	step_set(step, "succeeded", "ended", json_deep_copy(facts));
	json_object_set_new(r->op->doc, "cursor", json_integer((json_int_t)i + 1));
	return commit(r->repo, r->key, r->op, "result", (long)i, facts, err);
}

/* Runs step i's observe: *done, and *facts (a new object that records
 * "done") for the "observed" event. */
static int observe_step(struct run *r, size_t i, int *done, json_t **facts, struct sk_err *err)
{
	struct sk_op_ctx ctx;
	*facts = NULL;
	*done = 0;
	ctx_for(r, i, &ctx);
	int rc = r->defs[i].observe(&ctx, done, facts, err);
	if (rc) {
		json_decref(*facts);
		*facts = NULL;
		return rc;
	}
	if (!*facts)
		*facts = json_object();
	json_object_set_new(*facts, "done", json_boolean(*done));
	return 0;
}

/* A step found "running" was interrupted between intent and result:
 * observe first, record what was found (which also takes the lease
 * before anything is done again), and act only when the effect is
 * absent. */
static int resume_step(struct run *r, size_t i, int *failed, struct sk_err *err)
{
	json_t *facts;
	int done;
	int rc = observe_step(r, i, &done, &facts, err);
	if (rc)
		return rc;
	if (done) {
		step_set(step_at(r->op, i), "succeeded", "ended", json_deep_copy(facts));
		json_object_set_new(r->op->doc, "cursor", json_integer((json_int_t)i + 1));
		return commit(r->repo, r->key, r->op, "observed", (long)i, facts, err);
	}
	if ((rc = commit(r->repo, r->key, r->op, "observed", (long)i, facts, err)))
		return rc;
	return act_and_record(r, i, failed, err);
}

static int run_step(struct run *r, size_t i, int *failed, struct sk_err *err)
{
	json_t *step = step_at(r->op, i);
	const char *st = str(step, "state");
	if (strcmp(st, "running") == 0)
		return resume_step(r, i, failed, err);
	if (strcmp(st, "pending") != 0)
		return sk_err_set(err, SK_ECORRUPT, NULL, "step %zu is %s under the cursor", i, st);
	int rc;
	if (strcmp(r->defs[i].risk, "high") == 0 &&
	    (rc = sk_op_gate(r->repo, r->key, r->op, i, r->defs[i].approve_each, err)))
		return rc;
	step_set(step, "running", "started", NULL);
	json_t *facts = json_pack("{s:s, s:s, s:b}", "name", r->defs[i].name, "risk",
				  r->defs[i].risk, "reversible", r->defs[i].reversible);
	rc = commit(r->repo, r->key, r->op, "intent", (long)i, facts, err);
	return rc ? rc : act_and_record(r, i, failed, err);
}

static int compensate_step(struct run *r, size_t i, struct sk_err *err)
{
	json_t *step = step_at(r->op, i);
	int rc;
	if (strcmp(str(step, "state"), "compensating") != 0) {
		step_set(step, "compensating", NULL, NULL);
		json_t *facts = json_pack("{s:s?}", "compensation", r->defs[i].compensation);
		if ((rc = commit(r->repo, r->key, r->op, "compensate-intent", (long)i, facts, err)))
			return rc;
	}
	struct sk_op_ctx ctx;
	json_t *facts = NULL;
	ctx_for(r, i, &ctx);
	if ((rc = r->defs[i].compensate(&ctx, &facts, err))) {
		json_decref(facts);
		return sk_err_wrap(err, "compensating step %s (resume retries it)", r->defs[i].name);
	}
	step_set(step, "compensated", NULL, NULL);
	return commit(r->repo, r->key, r->op, "compensate-result", (long)i,
		      facts ? facts : json_object(), err);
}

/* An interrupted step met by cancel: observe decides whether it took
 * effect (then it is compensated like the others) or not (skipped). */
static int settle_running(struct run *r, size_t i, struct sk_err *err)
{
	json_t *facts;
	int done;
	int rc = observe_step(r, i, &done, &facts, err);
	if (rc)
		return rc;
	step_set(step_at(r->op, i), done ? "succeeded" : "skipped", "ended", NULL);
	return commit(r->repo, r->key, r->op, "observed", (long)i, facts, err);
}

/* Compensates in reverse order, then ends in final; steps never run are
 * marked skipped. */
static int compensate_all(struct run *r, const char *final, struct sk_err *err)
{
	int rc = 0;
	if (strcmp(str(r->op->doc, "state"), "compensating") != 0 &&
	    (rc = set_state(r->repo, r->key, r->op, "compensating", err)))
		return rc;
	for (size_t k = r->n; k-- > 0;) {
		const char *st = str(step_at(r->op, k), "state");
		if (strcmp(st, "running") == 0 && (rc = settle_running(r, k, err)))
			return rc;
		st = str(step_at(r->op, k), "state");
		int undo = strcmp(st, "compensating") == 0 ||
			   (strcmp(st, "succeeded") == 0 && r->defs[k].reversible &&
			    r->defs[k].compensate);
		if (undo && (rc = compensate_step(r, k, err)))
			return rc;
	}
	for (size_t k = 0; k < r->n; k++)
		if (strcmp(str(step_at(r->op, k), "state"), "pending") == 0)
			step_set(step_at(r->op, k), "skipped", NULL, NULL);
	return set_state(r->repo, r->key, r->op, final, err);
}

static int has_failed_step(const struct run *r)
{
	for (size_t k = 0; k < r->n; k++)
		if (strcmp(str(step_at(r->op, k), "state"), "failed") == 0)
			return 1;
	return 0;
}

static int failed_error(const struct run *r, struct sk_err *err)
{
	for (size_t k = 0; k < r->n; k++) {
		const json_t *s = step_at(r->op, k);
		if (strcmp(str(s, "state"), "failed") == 0)
			return sk_err_set(err, SK_EFAIL, "skiff op events ID shows what ran",
					  "operation %s failed at step %s (%s); compensations ran",
					  str(r->op->doc, "id"), str(s, "name"),
					  str(json_object_get(s, "result"), "error"));
	}
	return sk_err_set(err, SK_EFAIL, NULL, "operation %s failed", str(r->op->doc, "id"));
}

static int start_run(struct run *r, struct sk_repo *repo, const struct sk_key *key,
		     struct sk_op *op, struct sk_err *err)
{
	r->repo = repo;
	r->key = key;
	r->op = op;
	int rc = load_type(op, r->defs, &r->n, err);
	if (!rc)
		setenv("SKIFF_TRACE_ID", str(op->doc, "trace"), 1);
	return rc;
}

int sk_op_run(struct sk_repo *repo, const struct sk_key *key, struct sk_op *op,
	      struct sk_err *err)
{
	struct run r;
	int rc = start_run(&r, repo, key, op, err);
	if (rc)
		return rc;
	const char *st = str(op->doc, "state");
	if (sk_op_state_final(st))
		return strcmp(st, "compensated") == 0 && has_failed_step(&r) ? failed_error(&r, err)
									     : 0;
	/* awaiting-approval: the gate of the step under the cursor decides
	 * (it stays put, exit 5, until enough approvals are stored) */
	size_t cur = (size_t)num(op->doc, "cursor");
	if (strcmp(st, "awaiting-approval") == 0 && cur < r.n &&
	    (rc = sk_op_gate(repo, key, op, cur, r.defs[cur].approve_each, err)))
		return rc;
	if (strcmp(st, "failed") == 0 || strcmp(st, "compensating") == 0) {
		rc = compensate_all(&r, has_failed_step(&r) ? "compensated" : "cancelled", err);
		return rc ? rc : has_failed_step(&r) ? failed_error(&r, err) : 0;
	}
	if (strcmp(st, "running") != 0 && (rc = set_state(repo, key, op, "running", err)))
		return rc;
	int failed = 0;
	for (size_t i = (size_t)num(op->doc, "cursor"); i < r.n && !failed; i++)
		if ((rc = run_step(&r, i, &failed, err)))
			return rc;
	if (failed) {
		rc = compensate_all(&r, "compensated", err);
		return rc ? rc : failed_error(&r, err);
	}
	return set_state(repo, key, op, "succeeded", err);
}

int sk_op_cancel(struct sk_repo *repo, const struct sk_key *key, struct sk_op *op,
		 struct sk_err *err)
{
	const char *st = str(op->doc, "state");
	/* a succeeded operation is undone: its steps compensated, "cancelled" */
	if (sk_op_state_final(st) && strcmp(st, "succeeded") != 0)
		return sk_err_set(err, SK_ECONFLICT, "skiff op show ID shows it",
				  "operation %s is already %s", str(op->doc, "id"), st);
	struct run r;
	int rc = start_run(&r, repo, key, op, err);
	return rc ? rc : compensate_all(&r, has_failed_step(&r) ? "compensated" : "cancelled", err);
}

int sk_op_pause(struct sk_repo *repo, const struct sk_key *key, struct sk_op *op,
		const char *reason, struct sk_err *err)
{
	const char *st = str(op->doc, "state");
	if (strcmp(st, "running") != 0 && strcmp(st, "planned") != 0)
		return sk_err_set(err, SK_ECONFLICT, "skiff op show ID shows where it stands",
				  "operation %s is %s, not running", str(op->doc, "id"), st);
	long cur = (long)num(op->doc, "cursor");
	json_t *step = step_at(op, (size_t)cur);
	if (step && strcmp(str(step, "state"), "running") == 0)
		step_set(step, "pending", NULL, NULL);
	json_object_set_new(op->doc, "state", json_string("paused"));
	return commit(repo, key, op, "paused", step ? cur : -1,
		      json_pack("{s:s, s:s}", "reason", reason, "by", sk_key_id(key)), err);
}

int sk_op_skip_to(struct sk_repo *repo, const struct sk_key *key, struct sk_op *op, size_t to,
		  const char *reason, struct sk_err *err)
{
	const char *st = str(op->doc, "state");
	size_t cur = (size_t)num(op->doc, "cursor");
	if (sk_op_state_final(st) || strcmp(st, "compensating") == 0 || strcmp(st, "failed") == 0)
		return sk_err_set(err, SK_ECONFLICT, "skiff op show ID shows where it stands",
				  "operation %s is %s", str(op->doc, "id"), st);
	if (to < cur || to >= json_array_size(json_object_get(op->doc, "steps")))
		return sk_err_set(err, SK_ECONFLICT, NULL, "operation %s is past that step",
				  str(op->doc, "id"));
	json_t *skipped = json_array();
	for (size_t i = cur; i < to; i++) {
		/* an interrupted step is left for its own executor's compensation */
		step_set(step_at(op, i), "skipped", "ended", NULL);
		json_array_append_new(skipped, json_copy(json_object_get(step_at(op, i), "name")));
	}
	json_object_set_new(op->doc, "cursor", json_integer((json_int_t)to));
	if (strcmp(st, "running") == 0)
		json_object_set_new(op->doc, "state", json_string("paused"));
	return commit(repo, key, op, "state", -1,
		      json_pack("{s:s, s:s, s:o, s:s}", "from", st, "to", str(op->doc, "state"),
				"skipped", skipped, "reason", reason),
		      err);
}

int sk_op_failed_code(const json_t *doc)
{
	size_t i;
	json_t *s;
	json_array_foreach(json_object_get(doc, "steps"), i, s) {
		if (strcmp(str(s, "state"), "failed") != 0)
			continue;
		const char *name = str(json_object_get(s, "result"), "code");
		for (int c = -1; name && c >= SK_ECODE_MIN; c--)
			if (strcmp(sk_err_name(c), name) == 0)
				return sk_err_exit_code(c) == 3 ? SK_ECONFLICT : c;
	}
	return SK_EFAIL;
}

/* --- reading ---------------------------------------------------------- */

int sk_op_events(struct sk_repo *repo, const struct sk_op *op, json_t **out, struct sk_err *err)
{
	long long n = num(op->doc, "events");
	const char *id = str(op->doc, "id"), *trace = str(op->doc, "trace");
	json_t *arr = json_array();
	struct sk_oid cur;
	int rc = sk_oid_fromhex(&cur, str(op->doc, "event"), err);
	for (long long seq = n; !rc && seq >= 1; seq--) {
		json_t *e = NULL;
		rc = sk_odb_read_json(sk_repo_odb(repo), &cur, SK_OBJ_EVENT, SK_ODB_VERIFY, &e, err);
		if (!rc)
			rc = sk_event_check(e, err);
		if (!rc && (strcmp(str(e, "op"), id) || strcmp(str(e, "trace"), trace) ||
			    num(e, "seq") != seq))
			rc = sk_err_set(err, SK_ECORRUPT, NULL,
					"event %lld of operation %s does not belong in its chain", seq,
					id);
		if (!rc) {
			json_t *item = json_deep_copy(e);
			json_object_set_new(item, "id", sk_json_oid(&cur));
			json_array_insert_new(arr, 0, item);
			if (seq > 1)
				rc = sk_oid_fromhex(&cur, str(e, "prev"), err);
		}
		json_decref(e);
	}
	if (rc) {
		json_decref(arr);
		return sk_err_wrap(err, "events of %s", id);
	}
	*out = arr;
	return 0;
}

/* Summaries come from the operations index (ops/opindex.h): a listing
 * stats the ref files and reads only the operations that changed. */
int sk_op_list(struct sk_repo *repo, const char *service, const char *state, json_t **out,
	       struct sk_err *err)
{
	return sk_opindex_list(repo, service, state, 0, out, NULL, err);
}
