/*
 * skiff drain SERVICE --target T [--timeout DURATION] [--force]
 * skiff undrain SERVICE --target T [--force]
 * Operations "drain" and "undrain" (ops/drain.h) run as runbooks
 * (porcelain/runbook.h): a drain that times out pauses (exit 6) with the
 * open connections it saw; undrain refuses (exit 3) a target that is not
 * healthy unless --force.
 */
#include <getopt.h>
#include <string.h>

#include "objects/spec.h"
#include "ops/drain.h"
#include "porcelain/porcelain.h"
#include "porcelain/runbook.h"

struct drain_args {
	const char *service, *target, *timeout;
	int force;
};

static int parse_args(struct sk_cli *cli, int argc, char **argv, int drain, struct drain_args *a,
		      struct sk_err *err)
{
	static const struct option opts[] = { { "target", required_argument, NULL, 't' },
					      { "timeout", required_argument, NULL, 'T' },
					      { "force", no_argument, NULL, 'f' },
					      { NULL, 0, NULL, 0 } };
	const char *what = drain ? "drain" : "undrain";
	memset(a, 0, sizeof(*a));
	int c;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 't': a->target = optarg; break;
		case 'T':
			if (!drain)
				return sk_cli_usage(cli, err, "undrain takes no --timeout");
			a->timeout = optarg;
			break;
		case 'f': a->force = 1; break;
		default: return sk_cli_usage(cli, err, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (argc - optind != 1 || !a->target)
		return sk_cli_usage(cli, err, "%s takes one SERVICE and --target T", what);
	a->service = argv[optind];
	int rc = sk_spec_component_check(a->service, SK_SPEC_NAME_MAX, "service", err);
	if (!rc)
		rc = sk_spec_component_check(a->target, SK_SPEC_NAME_MAX, "target", err);
	return rc;
}

static json_t *params_of(const struct drain_args *a, long long timeout_s)
{
	json_t *p = json_pack("{s:s, s:s, s:s}", "service", a->service, "target", a->target, "force",
			      a->force ? "true" : "false");
	if (timeout_s >= 0)
		json_object_set_new(p, "timeout_s", json_sprintf("%lld", timeout_s));
	return p;
}

int cmd_drain(struct sk_cli *cli, int argc, char **argv, struct sk_err *err)
{
	static const struct sk_runbook rb = { .kind = SK_DRAINOP_KIND,
					      .undo = "skiff undrain %s --target T" };
	struct drain_args a;
	long long timeout = 30000;
	int rc = parse_args(cli, argc, argv, 1, &a, err);
	if (!rc && a.timeout && sk_spec_duration_ms(a.timeout, &timeout, err))
		rc = sk_err_wrap(err, "--timeout");
	if (rc)
		return rc;
	json_t *params = params_of(&a, timeout / 1000);
	rc = sk_runbook_start(cli, &rb, a.service, params, err);
	json_decref(params);
	return rc;
}

int cmd_undrain(struct sk_cli *cli, int argc, char **argv, struct sk_err *err)
{
	static const struct sk_runbook rb = { .kind = SK_UNDRAINOP_KIND,
					      .undo = "skiff drain %s --target T" };
	struct drain_args a;
	int rc = parse_args(cli, argc, argv, 0, &a, err);
	if (rc)
		return rc;
	json_t *params = params_of(&a, -1);
	rc = sk_runbook_start(cli, &rb, a.service, params, err);
	json_decref(params);
	return rc;
}
