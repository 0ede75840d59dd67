/*
 * --dry-run of the porcelain commands that are not operations (init,
 * keygen, trust, release create and sign, remote, push, fetch): each runs
 * every check the real command runs and then, instead of acting, hands
 * its plan here. The plan has the shape of ops/plan.h,
 *   {"kind","service","steps":[{"name","risk","reversible","compensation"}]}
 * and the result is {"dry_run":true,"plan":PLAN, ...what would change...};
 * text mode prints the plan (sk_op_plan_text), each step's detail and
 * "(dry run: nothing changed)". Nothing is written on this path: no
 * object, ref, file or lock.
 */
#ifndef SK_PORCELAIN_DRYRUN_H
#define SK_PORCELAIN_DRYRUN_H

#include <jansson.h>

#include "common/cli.h"
#include "objects/oid.h"

/* A new plan of kind (the command's name) for service (may be NULL). */
json_t *sk_dry_plan(const char *kind, const char *service);
/* Appends a step; returns it (borrowed) so the caller may add fields
 * such as "ref", "old", "new" or "detail" (one line for people). */
json_t *sk_dry_step(json_t *plan, const char *name, const char *risk, int reversible,
		    const char *compensation);
/* The result {"dry_run":true,"plan":plan} merged with facts (may be NULL);
 * takes both. */
void sk_dry_result(struct sk_cli *cli, json_t *plan, json_t *facts);
/* A failing dry run: the plan so far goes into the error's details, so
 * the failure looks like the real command's (same code) and still shows
 * what was planned. Takes plan; returns rc. */
int sk_dry_fail(struct sk_cli *cli, json_t *plan, int rc);
/* The id a JSON object of type t would have once stored (nothing is
 * stored): canonical form, then the object hash. */
int sk_dry_json_oid(enum sk_otype t, const json_t *doc, struct sk_oid *out, struct sk_err *err);

#endif
