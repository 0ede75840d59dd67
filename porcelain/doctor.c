/*
 * skiff doctor SERVICE: what is wrong with a service and what to do about
 * it. Observed facts (each naming its source: control, a verified runner
 * report, the runner's process, a HAProxy sample, an operation's event)
 * are kept apart from the hypotheses inferred from them (each naming the
 * facts it rests on and a confidence); each recommendation carries its
 * command, risk, reversibility and whether it needs approval. The
 * reasoning is observe/doctor.c over the context packet skiff status
 * prints.
 */
#include <stdio.h>
#include <string.h>

#include "objects/spec.h"
#include "observe/doctor.h"
#include "observe/status.h"
#include "porcelain/porcelain.h"

static const char *jstr(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "-";
}

static void ids_text(FILE *out, const json_t *arr)
{
	size_t i;
	json_t *v;
	json_array_foreach(arr, i, v)
		fprintf(out, "%s%s", i ? "," : "", json_string_value(v));
}

static void doctor_text(FILE *out, const json_t *r)
{
	size_t i;
	json_t *v;
	fprintf(out, "observed (%s)\n", jstr(r, "service"));
	json_array_foreach(json_object_get(r, "facts"), i, v)
		fprintf(out, "  %-4s %-9s %s\n", jstr(v, "id"), jstr(v, "source"), jstr(v, "text"));
	fprintf(out, "\ninferred\n");
	json_array_foreach(json_object_get(r, "hypotheses"), i, v) {
		fprintf(out, "  %-4s %-6s %s  (from ", jstr(v, "id"), jstr(v, "confidence"),
			jstr(v, "text"));
		ids_text(out, json_object_get(v, "rests_on"));
		fprintf(out, ")\n");
	}
	fprintf(out, "\nrecommended\n");
	json_array_foreach(json_object_get(r, "recommendations"), i, v) {
		fprintf(out, "  %-56s %s risk, %s%s  (for ", jstr(v, "command"), jstr(v, "risk"),
			json_is_true(json_object_get(v, "reversible")) ? "reversible"
								       : "irreversible",
			json_is_true(json_object_get(v, "approval")) ? ", needs approval" : "");
		ids_text(out, json_object_get(v, "addresses"));
		fprintf(out, ")\n");
	}
}

int cmd_doctor(struct sk_cli *cli, int argc, char **argv, struct sk_err *err)
{
	if (argc != 2 || argv[1][0] == '-')
		return sk_cli_usage(cli, err, "doctor needs exactly one SERVICE");
	struct sk_err e;
	if (sk_spec_component_check(argv[1], SK_SPEC_NAME_MAX, "service", &e) < 0)
		return sk_cli_usage(cli, err, "%s", e.message);
	json_t *ctx = NULL;
	int rc = sk_status_collect(cli->repo, argv[1], &ctx, err);
	if (rc)
		return rc;
	json_t *r = sk_doctor_diagnose(ctx);
	json_decref(ctx);
	sk_cli_result(cli, r, doctor_text);
	return 0;
}
