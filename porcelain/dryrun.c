/*
 * --dry-run results for the porcelain commands (see dryrun.h).
 */
#include "porcelain/dryrun.h"

#include <stdlib.h>

#include "objects/cjson.h"
#include "ops/plan.h"

json_t *sk_dry_plan(const char *kind, const char *service)
{
	json_t *p = json_pack("{s:s, s:s?, s:[]}", "kind", kind, "service", service, "steps");
	if (!p)
		abort();
	return p;
}

json_t *sk_dry_step(json_t *plan, const char *name, const char *risk, int reversible,
		    const char *compensation)
{
	json_t *s = json_pack("{s:s, s:s, s:b, s:s?}", "name", name, "risk", risk, "reversible",
			      reversible, "compensation", compensation);
	if (!s || json_array_append_new(json_object_get(plan, "steps"), s) < 0)
		abort();
	return s;
}

static void dry_text(FILE *out, const json_t *r)
{
	const json_t *plan = json_object_get(r, "plan");
	sk_op_plan_text(out, plan);
	size_t i;
	json_t *s;
	int header = 0;
	json_array_foreach(json_object_get(plan, "steps"), i, s) {
		const char *detail = json_string_value(json_object_get(s, "detail"));
		if (detail && !header++)
			fprintf(out, "what would change:\n");
		if (detail)
			fprintf(out, "  %-3zu %s\n", i + 1, detail);
	}
	fprintf(out, "(dry run: nothing changed)\n");
}

void sk_dry_result(struct sk_cli *cli, json_t *plan, json_t *facts)
{
	json_t *r = facts ? facts : json_object();
	if (!r || json_object_set_new(r, "dry_run", json_true()) < 0 ||
	    json_object_set_new(r, "plan", plan) < 0)
		abort();
	sk_cli_result(cli, r, dry_text);
}

int sk_dry_fail(struct sk_cli *cli, json_t *plan, int rc)
{
	if (!cli->error_details)
		cli->error_details = json_object();
	json_object_set_new(cli->error_details, "dry_run", json_true());
	json_object_set_new(cli->error_details, "plan", plan);
	return rc;
}

int sk_dry_json_oid(enum sk_otype t, const json_t *doc, struct sk_oid *out, struct sk_err *err)
{
	char *bytes = NULL;
	size_t len = 0;
	int rc = doc ? sk_cjson_dump(doc, &bytes, &len, err)
		     : sk_err_set(err, SK_ENOMEM, NULL, "out of memory");
	if (rc == 0)
		sk_oid_hash(out, t, bytes, len);
	free(bytes);
	return rc;
}
