/*
 * skiff control set | show: a service's control, the document that says
 * what the service should be. `set` is an operation (ops/controlop.h): it
 * plans the change against the commit it read, checks it (names, trust,
 * the ref), then runs it through the saga engine, which records a state
 * commit on refs/services/<svc> naming the operation (CAS from the commit
 * it read, so a concurrent change is a conflict, never a lost update);
 * --dry-run prints the plan and writes nothing. `show` prints the current
 * control after verifying the ref's head record and the objects behind it.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "ops/controlop.h"
#include "ops/engine.h"
#include "ops/plan.h"
#include "porcelain/porcelain.h"
#include "refs/service.h"

static json_t *state_json(const struct sk_service_state *st)
{
	json_t *r = json_pack("{s:s, s:O}", "service", st->service, "control", st->control);
	if (st->has_head) {
		json_object_set_new(r, "commit", sk_json_oid(&st->head));
		json_object_set_new(r, "actor", json_string(st->commit.actor));
		json_object_set_new(r, "time", json_integer(st->commit.time));
	} else {
		json_object_set_new(r, "commit", json_null());
	}
	return r;
}

static void show_text(FILE *out, const json_t *r)
{
	const json_t *settings = json_object_get(json_object_get(r, "control"), "settings");
	const json_t *targets = json_object_get(json_object_get(r, "control"), "targets");
	const char *commit = json_string_value(json_object_get(r, "commit"));
	fprintf(out, "service  %s\ncommit   %s\n", json_string_value(json_object_get(r, "service")),
		commit ? commit : "(none yet)");
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)settings, k, v)
		fprintf(out, "setting  %s=%s\n", k, json_string_value(v));
	json_object_foreach((json_t *)targets, k, v) {
		const char *rel = json_string_value(json_object_get(v, "release"));
		fprintf(out, "target   %s  %s\n", k, rel ? rel : "(no release)");
	}
}

int cmd_control_show(struct sk_cli *cli, int argc, char **argv, struct sk_err *err)
{
	if (argc != 2)
		return sk_cli_usage(cli, err, "control show needs exactly one SERVICE");
	struct sk_service_state st;
	int rc = sk_service_load(cli->repo, argv[1], &st, err);
	if (rc)
		return rc;
	sk_cli_result(cli, state_json(&st), show_text);
	sk_service_state_clear(&st);
	return 0;
}

/* The changes as operation params: KEY=VALUE arguments, then --unset keys. */
static int change_params(struct sk_cli *cli, json_t *params, int argc, char **argv, char **unset,
			 int nunset, struct sk_err *err)
{
	for (int i = 0; i < argc; i++) {
		char *eq = strchr(argv[i], '=');
		if (!eq)
			return sk_cli_usage(cli, err, "'%s' is not KEY=VALUE", argv[i]);
		*eq = '\0';
		int rc = sk_controlop_param(params, argv[i], eq + 1, err);
		*eq = '=';
		if (rc)
			return rc;
	}
	for (int i = 0; i < nunset; i++) {
		int rc = sk_controlop_param(params, unset[i], NULL, err);
		if (rc)
			return rc;
	}
	return 0;
}

/* {KEY: {"old": V|null, "new": V|null}} for the keys whose value changes. */
static json_t *changes_json(const json_t *before, const json_t *after)
{
	json_t *out = json_object();
	const json_t *b = json_object_get(before, "settings"), *a = json_object_get(after, "settings");
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)a, k, v)
		if (!json_equal(v, json_object_get(b, k)))
			json_object_set_new(out, k, json_pack("{s:O?, s:O}", "old", json_object_get(b, k),
							      "new", v));
	json_object_foreach((json_t *)b, k, v)
		if (!json_object_get(a, k))
			json_object_set_new(out, k, json_pack("{s:O, s:n}", "old", v, "new"));
	return out;
}

static void set_text(FILE *out, const json_t *r)
{
	int dry = json_is_true(json_object_get(r, "dry_run"));
	const char *service = json_string_value(json_object_get(r, "service"));
	const char *parent = json_string_value(json_object_get(r, "parent"));
	if (dry)
		fprintf(out, "would commit %s on top of %s\n", service, parent ? parent : "(no commit)");
	else
		fprintf(out, "committed %s  commit %s\noperation %s %s\n", service,
			json_string_value(json_object_get(r, "commit")),
			json_string_value(json_object_get(r, "op")),
			json_string_value(json_object_get(r, "state")));
	const char *k;
	json_t *v;
	json_object_foreach(json_object_get(r, "changes"), k, v) {
		const char *o = json_string_value(json_object_get(v, "old"));
		const char *n = json_string_value(json_object_get(v, "new"));
		fprintf(out, "  %s: %s -> %s\n", k, o ? o : "(unset)", n ? n : "(unset)");
	}
	if (dry) {
		sk_op_plan_text(out, json_object_get(r, "plan"));
		fprintf(out, "nothing was changed; run it without --dry-run to make the change\n");
	} else {
		fprintf(out, "next: skiff log refs/services/%s\n", service);
	}
}

static int run_failed(struct sk_cli *cli, const struct sk_op *op, int rc, struct sk_err *err)
{
	const char *id = json_string_value(json_object_get(op->doc, "id"));
	const char *state = json_string_value(json_object_get(op->doc, "state"));
	json_decref(cli->error_details);
	cli->error_details = json_pack("{s:s, s:s}", "op", id, "state", state);
	const json_t *res = json_object_get(json_array_get(json_object_get(op->doc, "steps"), 0),
					    "result");
	const char *code = json_string_value(json_object_get(res, "code"));
	if (rc == SK_EFAIL && code)
		return sk_err_set(err, sk_op_failed_code(op->doc),
				  "skiff control show SERVICE shows the current values; "
				  "skiff op events ID shows what ran",
				  "operation %s failed, nothing was changed: %s", id,
				  json_string_value(json_object_get(res, "error")));
	if (!sk_op_state_final(state) && rc != SK_ECONFLICT)
		snprintf(err->hint, sizeof(err->hint), "skiff op show %s; skiff resume %s", id, id);
	return rc;
}

/* Plans the change (every check control set makes, nothing written) and
 * either prints the plan (--dry-run) or runs it as an operation. */
static int set_service(struct sk_cli *cli, struct sk_service_state *st, json_t *params,
		       struct sk_err *err)
{
	json_t *control = json_deep_copy(st->control);
	json_t *r = json_pack("{s:s, s:o, s:b}", "service", st->service, "parent",
			      st->has_head ? sk_json_oid(&st->head) : json_null(), "dry_run",
			      cli->dry_run);
	struct sk_oid commit;
	struct sk_op *op = NULL;
	json_t *plan = NULL;
	int rc = sk_controlop_apply(control, params, err);
	if (!rc && json_equal(control, st->control))
		rc = sk_err_set(err, SK_ECONFLICT, "skiff control show SERVICE shows the current values",
				"nothing to change: %s already has these settings", st->service);
	/* the checks of the commit itself: names, trust, the ref's expectation */
	if (!rc)
		rc = sk_service_commit(cli->repo, cli->key, st, control, "", NULL, 1, &commit, err);
	if (!rc && cli->dry_run && !(rc = sk_op_plan(SK_CONTROLOP_KIND, st->service, params, &plan, err)))
		json_object_set_new(r, "plan", plan);
	if (!rc && !cli->dry_run &&
	    !(rc = sk_op_create(cli->repo, cli->key, SK_CONTROLOP_KIND, st->service, params, &op, err)))
		rc = sk_op_run(cli->repo, cli->key, op, err);
	if (rc && op)
		rc = run_failed(cli, op, rc, err);
	if (!rc) {
		const json_t *res = op ? json_object_get(
						 json_array_get(json_object_get(op->doc, "steps"), 0),
						 "result")
				       : NULL;
		json_object_set_new(r, "changes", changes_json(st->control, control));
		json_object_set(r, "control", control);
		json_object_set(r, "commit", res ? json_object_get(res, "commit") : json_null());
		json_object_set_new(r, "op", op ? json_copy(json_object_get(op->doc, "id")) : json_null());
		json_object_set_new(r, "state",
				    op ? json_copy(json_object_get(op->doc, "state")) : json_null());
		sk_cli_result(cli, r, set_text);
	} else {
		json_decref(r);
	}
	sk_op_free(op);
	json_decref(control);
	return rc;
}

#define MAX_UNSET 64

int cmd_control_set(struct sk_cli *cli, int argc, char **argv, struct sk_err *err)
{
	static const struct option opts[] = { { "message", required_argument, NULL, 'm' },
					      { "unset", required_argument, NULL, 'u' },
					      { NULL, 0, NULL, 0 } };
	const char *message = "";
	char *unset[MAX_UNSET];
	int nunset = 0, c;
	while ((c = getopt_long(argc, argv, "m:", opts, NULL)) != -1) {
		if (c == 'm')
			message = optarg;
		else if (c == 'u' && nunset < MAX_UNSET)
			unset[nunset++] = optarg;
		else
			return sk_cli_usage(cli, err, "unknown option or too many --unset: '%s'",
					    argv[optind - 1]);
	}
	if (argc - optind < 1 || (argc - optind < 2 && nunset == 0))
		return sk_cli_usage(cli, err, "control set needs SERVICE and a KEY=VALUE or --unset KEY");
	if (strlen(message) > SK_OP_PARAM_MAX)
		return sk_err_set(err, SK_EINVAL, "say the rest in a follow-up change",
				  "the message is longer than %d bytes", SK_OP_PARAM_MAX);
	const char *service = argv[optind++];
	struct sk_service_state st;
	int rc = sk_service_load(cli->repo, service, &st, err);
	if (rc)
		return rc;
	char parent[SK_OID_HEXSZ + 1] = "";
	if (st.has_head)
		sk_oid_tohex(&st.head, parent);
	/* the operation runs against exactly the commit read here */
	json_t *params = json_pack("{s:s, s:s, s:s}", "service", service, "parent", parent,
				   "message", message);
	rc = change_params(cli, params, argc - optind, argv + optind, unset, nunset, err);
	if (!rc)
		rc = set_service(cli, &st, params, err);
	json_decref(params);
	sk_service_state_clear(&st);
	return rc;
}
