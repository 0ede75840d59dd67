/*
 * skiff approve ID [--reason TEXT]: the second person of a two-party
 * change. The approver signs the operation's plan digest (not its id
 * alone), so what they approve is exactly the plan shown here; the
 * requester resumes the operation afterwards (skiff resume ID). The
 * checks (approver role, not the requester, one approval per key) are
 * the engine's: ops/approve.c.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "ops/engine.h"
#include "porcelain/porcelain.h"

static const char *jstr(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "-";
}

static void approve_text(FILE *out, const json_t *r)
{
	const json_t *a = json_object_get(r, "approvals");
	int dry = json_is_true(json_object_get(r, "dry_run"));
	fprintf(out, "%s operation %s (%s", dry ? "would approve" : "approved", jstr(r, "op"),
		jstr(r, "kind"));
	if (json_is_string(json_object_get(r, "service")))
		fprintf(out, " on %s", jstr(r, "service"));
	fprintf(out, ")\nplan     %s\n", jstr(a, "plan"));
	size_t i;
	json_t *s;
	json_array_foreach(json_object_get(r, "steps"), i, s)
		fprintf(out, "  %-3zu %-20s %-7s %s\n", i + 1, jstr(s, "name"), jstr(s, "risk"),
			json_is_true(json_object_get(s, "reversible")) ? "reversible" : "irreversible");
	long long valid = (long long)json_integer_value(json_object_get(a, "valid"));
	long long needed = (long long)json_integer_value(json_object_get(a, "needed"));
	fprintf(out, "approvals %lld of %lld\n", valid, needed);
	if (!dry && valid >= needed)
		fprintf(out, "next: skiff resume %s\n", jstr(r, "op"));
	else if (!dry)
		fprintf(out, "next: another approver runs skiff approve %s\n", jstr(r, "op"));
}

int cmd_approve(struct sk_cli *cli, int argc, char **argv, struct sk_err *err)
{
	static const struct option opts[] = { { "reason", required_argument, NULL, 'r' },
					      { NULL, 0, NULL, 0 } };
	const char *reason = NULL;
	int c;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c != 'r')
			return sk_cli_usage(cli, err, "unknown option '%s'", argv[optind - 1]);
		reason = optarg;
	}
	if (argc - optind != 1)
		return sk_cli_usage(cli, err, "approve needs exactly one operation ID");
	struct sk_op *op = NULL;
	json_t *approvals = NULL;
	int rc = sk_op_load(cli->repo, argv[optind], &op, err);
	if (!rc)
		rc = sk_op_approve(cli->repo, cli->key, op, reason, cli->dry_run, &approvals, err);
	if (!rc)
		sk_cli_result(cli,
			      json_pack("{s:O, s:O, s:O, s:O, s:o, s:o, s:b}", "op",
					json_object_get(op->doc, "id"), "kind",
					json_object_get(op->doc, "kind"), "service",
					json_object_get(op->doc, "service"), "state",
					json_object_get(op->doc, "state"), "steps",
					sk_op_plan_steps(op->doc), "approvals", approvals, "dry_run",
					cli->dry_run),
			      approve_text);
	sk_op_free(op);
	return rc;
}
