/*
 * skiff rotate SERVICE NAME --to PROVIDER:REF: moves a secret to a new
 * reference as a "rotate" operation (ops/rotateop.h): stage, canary,
 * roll, confirm, revoke (high risk: an approval), record. The command
 * plans it from the secret's current version and the service's targets,
 * then runs it through the saga engine (porcelain/progress.h); a pause
 * exits 6 and an approval wait 5, both resumable with skiff resume ID.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "objects/spec.h"
#include "ops/engine.h"
#include "ops/plan.h"
#include "ops/rotateop.h"
#include "porcelain/porcelain.h"
#include "porcelain/runbook.h"
#include "refs/secretrefs.h"
#include "refs/service.h"
#include "runner/secrets.h"

struct rotate_args {
	const char *service, *name, *to, *targets, *wait;
};

/* --canary-targets (each must exist), else the last target by name. */
static int canary_param(const struct rotate_args *a, const json_t *control, char *out, size_t n,
			struct sk_err *err)
{
	const json_t *targets = json_object_get(control, "targets");
	if (json_object_size(targets) == 0)
		return sk_err_set(err, SK_ENOTFOUND, "skiff target add SERVICE T --addr HOST:PORT",
				  "%s has no targets to rotate on", a->service);
	if (a->targets) {
		char buf[1024], *save = NULL;
		snprintf(buf, sizeof(buf), "%s", a->targets);
		for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save))
			if (!json_object_get(targets, t))
				return sk_err_set(err, SK_ENOTFOUND,
						  "skiff target list SERVICE lists them",
						  "%s has no target %.64s", a->service, t);
		snprintf(out, n, "%s", a->targets);
		return 0;
	}
	const char *k, *last = NULL;
	json_t *v;
	json_object_foreach((json_t *)targets, k, v)
		if (!last || strcmp(k, last) > 0)
			last = k;
	snprintf(out, n, "%s", last);
	return 0;
}

static int build_params(const struct rotate_args *a, const struct sk_service_state *st,
			const struct sk_oid *from, json_t **out, struct sk_err *err)
{
	char canary[1024], hex[SK_OID_HEXSZ + 1];
	long long wait = 120000;
	int rc = canary_param(a, st->control, canary, sizeof(canary), err);
	if (!rc && a->wait && sk_spec_duration_ms(a->wait, &wait, err))
		rc = sk_err_wrap(err, "--wait");
	wait /= 1000;
	if (!rc) {
		*out = json_pack("{s:s, s:s, s:s, s:s, s:s}", "service", a->service, "name", a->name,
				 "from", sk_oid_tohex(from, hex), "to", a->to, "canary", canary);
		json_object_set_new(*out, "wait_s", json_sprintf("%lld", wait < 1 ? 1 : wait));
	}
	return rc;
}

static json_t *rotate_result(const struct sk_op *op)
{
	const json_t *p = json_object_get(op->doc, "params");
	json_t *r = sk_runbook_result(op);
	json_object_set(r, "name", json_object_get(p, "name"));
	json_object_set(r, "to", json_object_get(p, "to"));
	return r;
}

static void rotate_text(FILE *out, const json_t *r)
{
	const char *state = json_string_value(json_object_get(r, "state"));
	const char *svc = json_string_value(json_object_get(r, "service"));
	fprintf(out, "rotate %s of %s to %s: %s (operation %s)\n",
		json_string_value(json_object_get(r, "name")), svc,
		json_string_value(json_object_get(r, "to")), state,
		json_string_value(json_object_get(r, "op")));
	if (strcmp(state, "succeeded") == 0)
		fprintf(out, "next: skiff secret show %s %s\n", svc,
			json_string_value(json_object_get(r, "name")));
}

static const struct sk_runbook rotate_runbook = {
	.kind = SK_ROTATEOP_KIND,
	.result = rotate_result,
	.text = rotate_text,
};

static int check_target(const struct rotate_args *a, const struct sk_secretref *cur,
			char *provider, char *ref, struct sk_err *err)
{
	int rc = sk_secretref_parse_spec(a->to, provider, ref, err);
	if (rc == SK_EINVAL)
		err->code = rc = SK_EUSAGE;
	if (!rc && !sk_secret_provider_find(provider))
		rc = sk_err_set(err, SK_EUSAGE, "providers: file:/abs/path, env:NAME",
				"secret provider %s is not available in this build", provider);
	if (!rc && !strcmp(provider, cur->provider) && !strcmp(ref, cur->ref))
		rc = sk_err_set(err, SK_ECONFLICT, "skiff secret show SERVICE NAME shows it",
				"%s already refers to %s", a->name, a->to);
	return rc;
}

static int rotate(struct sk_cli *cli, const struct rotate_args *a, struct sk_err *err)
{
	struct sk_service_state st;
	struct sk_secretref cur;
	struct sk_oid head;
	char provider[8], ref[SK_SECRETREF_REF_MAX + 1];
	int has = 0, rc = sk_service_load(cli->repo, a->service, &st, err);
	if (rc)
		return rc;
	if (!(rc = sk_secretrefs_head(cli->repo, a->service, a->name, &has, &head, &cur, err)) &&
	    !has)
		rc = sk_err_set(err, SK_ENOTFOUND, "skiff secret set SERVICE NAME --ref PROVIDER:REF",
				"%s has no secret %s to rotate", a->service, a->name);
	json_t *params = NULL;
	if (!rc)
		rc = check_target(a, &cur, provider, ref, err);
	if (!rc)
		rc = sk_rotateop_check_idle(cli->repo, a->service, err);
	if (!rc)
		rc = build_params(a, &st, &head, &params, err);
	if (!rc)
		rc = sk_runbook_start(cli, &rotate_runbook, a->service, params, err);
	json_decref(params);
	if (has)
		sk_secretref_clear(&cur);
	sk_service_state_clear(&st);
	return rc;
}

int cmd_rotate(struct sk_cli *cli, int argc, char **argv, struct sk_err *err)
{
	static const struct option opts[] = { { "to", required_argument, NULL, 'o' },
					      { "canary-targets", required_argument, NULL, 't' },
					      { "wait", required_argument, NULL, 'w' },
					      { NULL, 0, NULL, 0 } };
	struct rotate_args a;
	memset(&a, 0, sizeof(a));
	int c;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'o': a.to = optarg; break;
		case 't': a.targets = optarg; break;
		case 'w': a.wait = optarg; break;
		default: return sk_cli_usage(cli, err, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (argc - optind != 2 || !a.to)
		return sk_cli_usage(cli, err, "rotate takes SERVICE NAME --to PROVIDER:REF");
	a.service = argv[optind];
	a.name = argv[optind + 1];
	int rc = sk_spec_component_check(a.service, SK_SPEC_NAME_MAX, "service", err);
	if (!rc && sk_spec_env_name_check(a.name, "secret name", err))
		return sk_cli_usage(cli, err, "%s", err->message);
	return rc ? rc : rotate(cli, &a, err);
}
