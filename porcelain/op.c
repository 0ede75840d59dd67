/*
 * skiff op list | show, skiff resume, skiff cancel, and the test-only
 * skiff op test-run (op events is porcelain/op_events.c): the commands
 * over the saga engine (ops/engine.h). Anyone holding the repository
 * can see where an operation stands and continue or cancel it; the
 * engine's CAS on refs/operations/<id> makes a second executor stop with
 * exit 3.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/engine.h"
#include "ops/plan.h"
#include "porcelain/porcelain.h"
#include "refs/refs.h"

static const char *jstr(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "-";
}

static void list_text(FILE *out, const json_t *r)
{
	const json_t *ops = json_object_get(r, "operations");
	if (json_array_size(ops) == 0) {
		fprintf(out, "no operations\n");
		return;
	}
	fprintf(out, "%-32s %-12s %-16s %-12s %s\n", "ID", "KIND", "SERVICE", "STATE", "STEPS");
	size_t i;
	json_t *o;
	json_array_foreach(ops, i, o)
		fprintf(out, "%-32s %-12s %-16s %-12s %lld/%lld\n", jstr(o, "id"), jstr(o, "kind"),
			jstr(o, "service"), jstr(o, "state"),
			(long long)json_integer_value(json_object_get(o, "done")),
			(long long)json_integer_value(json_object_get(o, "steps")));
}

int cmd_op_list(struct sk_cli *cli, int argc, char **argv, struct sk_err *err)
{
	static const struct option opts[] = { { "service", required_argument, NULL, 's' },
					      { "state", required_argument, NULL, 't' },
					      { NULL, 0, NULL, 0 } };
	const char *service = NULL, *state = NULL;
	int c;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 's')
			service = optarg;
		else if (c == 't')
			state = optarg;
		else
			return sk_cli_usage(cli, err, "unknown option '%s'", argv[optind - 1]);
	}
	if (optind != argc)
		return sk_cli_usage(cli, err, "op list takes no arguments");
	if (state && !sk_op_enum_has(sk_op_states, state))
		return sk_cli_usage(cli, err, "unknown state '%s'", state);
	json_t *ops = NULL;
	int rc = sk_op_list(cli->repo, service, state, &ops, err);
	if (!rc)
		sk_cli_result(cli, json_pack("{s:o}", "operations", ops), list_text);
	return rc;
}

static void show_text(FILE *out, const json_t *r)
{
	const json_t *op = json_object_get(r, "operation");
	char t[32];
	fprintf(out, "operation  %s\nkind       %s\nservice    %s\nstate      %s\nactor      %s\n"
		     "created    %s\ntrace      %s\nevents     %lld\n",
		jstr(op, "id"), jstr(op, "kind"), jstr(op, "service"), jstr(op, "state"),
		jstr(op, "actor"),
		sk_out_time((long long)json_integer_value(json_object_get(op, "created")), t, sizeof(t)),
		jstr(op, "trace"), (long long)json_integer_value(json_object_get(op, "events")));
	fprintf(out, "\n  %-3s %-20s %-7s %-10s %s\n", "#", "STEP", "RISK", "REVERSIBLE", "STATE");
	size_t i;
	json_t *s;
	json_array_foreach(json_object_get(op, "steps"), i, s)
		fprintf(out, "  %-3zu %-20s %-7s %-10s %s\n", i + 1, jstr(s, "name"), jstr(s, "risk"),
			json_is_true(json_object_get(s, "reversible")) ? "yes" : "no",
			jstr(s, "state"));
	const json_t *ap = json_object_get(r, "approval");
	size_t k;
	json_t *a;
	json_array_foreach(json_object_get(ap, "approvals"), k, a)
		fprintf(out, "%s  approval %s by %s%s%s\n", k ? "" : "\n", jstr(a, "id"),
			jstr(a, "signer_name"),
			json_is_true(json_object_get(a, "counts")) ? "" : ": does not count, ",
			json_is_true(json_object_get(a, "counts")) ? "" : jstr(a, "why"));
	const char *st = jstr(op, "state");
	long long valid = (long long)json_integer_value(json_object_get(ap, "valid"));
	long long needed = (long long)json_integer_value(json_object_get(ap, "needed"));
	if (strcmp(st, "awaiting-approval") == 0 && valid < needed)
		fprintf(out, "\napprovals  %lld of %lld (plan %.16s)\nnext: an approver runs skiff "
			     "approve %s, then skiff resume %s\n",
			valid, needed, jstr(ap, "plan"), jstr(op, "id"), jstr(op, "id"));
	else if (strcmp(st, "awaiting-approval") == 0)
		fprintf(out, "\napprovals  %lld of %lld\nnext: skiff resume %s\n", valid, needed,
			jstr(op, "id"));
	else if (!sk_op_state_final(st))
		fprintf(out, "\nnext: skiff resume %s   (or skiff cancel %s)\n", jstr(op, "id"),
			jstr(op, "id"));
}

static json_t *show_json(const struct sk_op *op, json_t *approval)
{
	return json_pack("{s:O, s:o, s:o}", "operation", op->doc, "object", sk_json_oid(&op->head),
			 "approval", approval);
}

static int one_id(struct sk_cli *cli, int argc, char **argv, const char *what, struct sk_err *err)
{
	if (argc != 2 || argv[1][0] == '-')
		return sk_cli_usage(cli, err, "%s needs exactly one operation ID", what);
	return 0;
}

int cmd_op_show(struct sk_cli *cli, int argc, char **argv, struct sk_err *err)
{
	struct sk_op *op = NULL;
	int rc = one_id(cli, argc, argv, "op show", err);
	json_t *approval = NULL;
	if (!rc)
		rc = sk_op_load(cli->repo, argv[1], &op, err);
	if (!rc)
		rc = sk_op_approvals(cli->repo, op, &approval, err);
	if (!rc)
		sk_cli_result(cli, show_json(op, approval), show_text);
	sk_op_free(op);
	return rc;
}

/* skiff op events [--follow] is porcelain/op_events.c. */

static void run_text(FILE *out, const json_t *r)
{
	fprintf(out, "operation %s %s\n", jstr(r, "op"), jstr(r, "state"));
	fprintf(out, "next: skiff op events %s\n", jstr(r, "op"));
}

/* Result or error of an executor run: the operation's id and state
 * either way, so an agent knows what to resume or inspect. */
static int finish(struct sk_cli *cli, struct sk_op *op, int rc, struct sk_err *err)
{
	const char *id = json_string_value(json_object_get(op->doc, "id"));
	const char *state = json_string_value(json_object_get(op->doc, "state"));
	if (rc) {
		json_decref(cli->error_details);
		cli->error_details = json_pack("{s:s, s:s}", "op", id, "state", state);
		if (rc == SK_EAPPROVAL) {
			/* the agent's next step, in the error it reads */
			char cmd[128];
			snprintf(cmd, sizeof(cmd), "skiff approve %s", id);
			json_object_set_new(cli->error_details, "approve", json_string(cmd));
			snprintf(err->hint, sizeof(err->hint),
				 "an approver (not the requester) runs: %s; then: skiff resume %s", cmd,
				 id);
		} else if (sk_op_state_final(state))
			snprintf(err->hint, sizeof(err->hint), "skiff op events %s shows what ran", id);
		else if (rc != SK_ECONFLICT)
			snprintf(err->hint, sizeof(err->hint), "skiff op show %s; skiff resume %s", id,
				 id);
		return rc;
	}
	sk_cli_result(cli, json_pack("{s:s, s:s, s:O}", "op", id, "state", state, "trace",
				     json_object_get(op->doc, "trace")),
		      run_text);
	return 0;
}

static void plan_text(FILE *out, const json_t *r)
{
	sk_op_plan_text(out, json_object_get(r, "plan"));
	fprintf(out, "nothing was changed (--dry-run)\n");
}

/* --dry-run of resume and cancel: the plan (ops/plan.h), nothing written. */
static int dry_run(struct sk_cli *cli, const struct sk_op *op,
		   int (*planner)(const struct sk_op *, json_t **, struct sk_err *),
		   struct sk_err *err)
{
	json_t *plan = NULL;
	int rc = planner(op, &plan, err);
	if (!rc)
		sk_cli_result(cli,
			      json_pack("{s:b, s:O, s:O, s:o}", "dry_run", 1, "op",
					json_object_get(op->doc, "id"), "state",
					json_object_get(op->doc, "state"), "plan", plan),
			      plan_text);
	return rc;
}

int cmd_resume(struct sk_cli *cli, int argc, char **argv, struct sk_err *err)
{
	struct sk_op *op = NULL;
	int rc = one_id(cli, argc, argv, "resume", err);
	if (!rc)
		rc = sk_op_load(cli->repo, argv[1], &op, err);
	if (rc)
		return rc;
	if (cli->dry_run)
		rc = dry_run(cli, op, sk_op_plan_resume, err);
	else
		rc = finish(cli, op, sk_op_run(cli->repo, cli->key, op, err), err);
	sk_op_free(op);
	return rc;
}

int cmd_cancel(struct sk_cli *cli, int argc, char **argv, struct sk_err *err)
{
	struct sk_op *op = NULL;
	int rc = one_id(cli, argc, argv, "cancel", err);
	if (!rc)
		rc = sk_op_load(cli->repo, argv[1], &op, err);
	if (rc)
		return rc;
	if (cli->dry_run)
		rc = dry_run(cli, op, sk_op_plan_cancel, err);
	else
		rc = finish(cli, op, sk_op_cancel(cli->repo, cli->key, op, err), err);
	sk_op_free(op);
	return rc;
}

/* Test-only (SKIFF_TEST_OPS=1): plans and runs a "test" operation. */
int cmd_op_test_run(struct sk_cli *cli, int argc, char **argv, struct sk_err *err)
{
	static const struct option opts[] = { { "steps", required_argument, NULL, 'n' },
					      { "fail-at", required_argument, NULL, 'f' },
					      { "hang-at", required_argument, NULL, 'h' },
					      { "ledger", required_argument, NULL, 'l' },
					      { "service", required_argument, NULL, 's' },
					      { "high-at", required_argument, NULL, 'H' },
					      { NULL, 0, NULL, 0 } };
	const char *steps = NULL, *fail = NULL, *ledger = NULL, *service = NULL, *high = NULL;
	int c;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'n': steps = optarg; break;
		case 'f': fail = optarg; break;
		case 'h': setenv("SKIFF_TEST_OP_HANG", optarg, 1); break;
		case 'l': ledger = optarg; break;
		case 's': service = optarg; break;
		case 'H': high = optarg; break;
		default: return sk_cli_usage(cli, err, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind != argc || !steps || !ledger)
		return sk_cli_usage(cli, err, "op test-run needs --steps N and --ledger FILE");
	char *abs = realpath(".", NULL);
	char path[4096];
	snprintf(path, sizeof(path), "%s%s%s", ledger[0] == '/' ? "" : abs ? abs : ".",
		 ledger[0] == '/' ? "" : "/", ledger);
	free(abs);
	json_t *params = json_pack("{s:s, s:s}", "steps", steps, "ledger", path);
	if (fail)
		json_object_set_new(params, "fail_at", json_string(fail));
	if (high)
		json_object_set_new(params, "high_at", json_string(high));
	struct sk_op *op = NULL;
	int rc = sk_op_create(cli->repo, cli->key, "test", service, params, &op, err);
	json_decref(params);
	if (rc)
		return rc;
	rc = finish(cli, op, sk_op_run(cli->repo, cli->key, op, err), err);
	sk_op_free(op);
	return rc;
}
