/*
 * skiff traffic start | stop | show | apply | set-state: the local HAProxy
 * in front of a service's targets (cloud/traffic.h). start records where
 * the service listens and starts or reloads haproxy; apply makes the
 * runtime weights equal the service's control (what a deploy does at
 * each step); show samples per-server counters; set-state drains a
 * server or puts it in maintenance. Every changing command has
 * --dry-run, which prints what it would do and writes nothing.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cloud/traffic.h"
#include "porcelain/dryrun.h"
#include "porcelain/porcelain.h"
#include "porcelain/release_common.h"
#include "refs/service.h"

static int one_service(struct sk_cli *cli, int argc, char **argv, const char *what,
		       struct sk_err *err)
{
	if (argc - optind != 1 || argv[optind][0] == '-')
		return sk_cli_usage(cli, err, "traffic %s takes exactly one SERVICE", what);
	return 0;
}

static int no_options(struct sk_cli *cli, int argc, char **argv, struct sk_err *err)
{
	static const struct option opts[] = { { NULL, 0, NULL, 0 } };
	if (getopt_long(argc, argv, "", opts, NULL) != -1)
		return sk_cli_usage(cli, err, "unknown option '%s'", argv[optind - 1]);
	return 0;
}

/* ---- start ----------------------------------------------------------------- */

static void start_text(FILE *out, const json_t *r)
{
	const char *svc = json_string_value(json_object_get(r, "service"));
	const char *action = json_string_value(json_object_get(r, "action"));
	if (json_is_true(json_object_get(r, "dry_run"))) {
		fprintf(out, "would %s haproxy: fe_%s on %s, %lld servers; config:\n%s",
			action, svc, json_string_value(json_object_get(r, "listen")),
			(long long)json_integer_value(json_object_get(r, "servers")),
			json_string_value(json_object_get(r, "config")));
		fprintf(out, "(dry run: nothing changed)\n");
		return;
	}
	fprintf(out, "%s haproxy (pid %lld): fe_%s on %s, %lld servers\nnext: skiff traffic show %s\n",
		strcmp(action, "start") == 0 ? "started" : "reloaded",
		(long long)json_integer_value(json_object_get(r, "pid")), svc,
		json_string_value(json_object_get(r, "listen")),
		(long long)json_integer_value(json_object_get(r, "servers")), svc);
}

/* The health check of the service's stable release, when it has one that
 * verifies; else the defaults. */
static void release_health(struct sk_cli *cli, const char *service, char *path, size_t n,
			   long long *ms)
{
	struct sk_service_state st;
	struct sk_err e;
	if (sk_service_load(cli->repo, service, &st, &e))
		return;
	const char *v = json_string_value(json_object_get(st.control, "release"));
	struct sk_rel_signed sig;
	struct sk_release *rel = NULL;
	if (v && sk_rel_load_signed(cli->repo, service, v, &sig, &rel, &e) == 0) {
		json_t *h = json_object_get(rel->doc, "health");
		const char *p = json_string_value(json_object_get(h, "path"));
		if (p && strlen(p) < n)
			snprintf(path, n, "%s", p);
		if (json_is_integer(json_object_get(h, "interval_ms")))
			*ms = json_integer_value(json_object_get(h, "interval_ms"));
	}
	sk_release_free(rel);
	sk_service_state_clear(&st);
}

int cmd_traffic_start(struct sk_cli *cli, int argc, char **argv, struct sk_err *err)
{
	static const struct option opts[] = { { "listen", required_argument, NULL, 'l' },
					      { "health-path", required_argument, NULL, 'p' },
					      { NULL, 0, NULL, 0 } };
	const char *listen = NULL, *path_opt = NULL;
	int c;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'l')
			listen = optarg;
		else if (c == 'p')
			path_opt = optarg;
		else
			return sk_cli_usage(cli, err, "unknown option '%s'", argv[optind - 1]);
	}
	int rc = one_service(cli, argc, argv, "start", err);
	if (rc)
		return rc;
	if (!listen)
		return sk_cli_usage(cli, err, "traffic start needs --listen HOST:PORT");
	const char *service = argv[optind];
	char path[1025] = SK_TRAFFIC_DEFAULT_HEALTH;
	long long ms = SK_TRAFFIC_DEFAULT_CHECK_MS;
	release_health(cli, service, path, sizeof(path), &ms);
	if (path_opt)
		snprintf(path, sizeof(path), "%s", path_opt);
	json_t *facts;
	if ((rc = sk_traffic_start(cli->repo, service, listen, path, ms, cli->dry_run, &facts, err)))
		return rc;
	if (cli->dry_run) {
		json_t *plan = sk_dry_plan(cli->cmd->name, service);
		json_t *s = sk_dry_step(plan, "write-config", "low", 1, "the previous config");
		json_object_set_new(s, "detail", json_sprintf("write haproxy.cfg with fe_%s on %s",
							      service, listen));
		s = sk_dry_step(plan, json_string_value(json_object_get(facts, "action")), "medium", 1,
				"skiff traffic stop");
		json_object_set_new(s, "detail", json_sprintf("%s haproxy",
							      json_string_value(json_object_get(facts, "action"))));
		sk_dry_result(cli, plan, facts);
		cli->text = start_text;
		return 0;
	}
	sk_cli_result(cli, facts, start_text);
	return 0;
}

/* ---- stop ------------------------------------------------------------------ */

static void stop_text(FILE *out, const json_t *r)
{
	int dry = json_is_true(json_object_get(r, "dry_run"));
	size_t i;
	json_t *s;
	json_array_foreach(json_object_get(r, "stopped"), i, s)
		fprintf(out, "%s traffic for %s\n", dry ? "would stop" : "stopped", json_string_value(s));
	fprintf(out, "haproxy: %s%s\n", json_string_value(json_object_get(r, "haproxy")),
		dry ? " (dry run: nothing changed)" : "");
}

int cmd_traffic_stop(struct sk_cli *cli, int argc, char **argv, struct sk_err *err)
{
	int rc = no_options(cli, argc, argv, err);
	if (rc)
		return rc;
	if (argc - optind > 1)
		return sk_cli_usage(cli, err, "traffic stop takes at most one SERVICE");
	const char *service = argc - optind == 1 ? argv[optind] : NULL;
	json_t *facts;
	if ((rc = sk_traffic_stop(cli->repo, service, cli->dry_run, &facts, err)))
		return rc;
	if (cli->dry_run) {
		json_t *plan = sk_dry_plan(cli->cmd->name, service);
		json_t *s = sk_dry_step(plan, "stop-traffic", "medium", 1,
					"skiff traffic start SERVICE --listen HOST:PORT");
		json_object_set_new(s, "detail", json_sprintf("haproxy would be %s",
							      json_string_value(json_object_get(facts, "haproxy"))));
		sk_dry_result(cli, plan, facts);
		cli->text = stop_text;
		return 0;
	}
	sk_cli_result(cli, facts, stop_text);
	return 0;
}

/* ---- show ------------------------------------------------------------------ */

static void show_text(FILE *out, const json_t *r)
{
	fprintf(out, "service %s  listen %s\n", json_string_value(json_object_get(r, "service")),
		json_string_value(json_object_get(r, "listen")));
	fprintf(out, "  %-16s %6s  %-10s %-8s %10s %10s %8s %7s\n", "TARGET", "WEIGHT", "STATUS",
		"CHECK", "REQUESTS", "2XX", "5XX", "RTIME");
	const char *t;
	json_t *s;
	json_object_foreach(json_object_get(r, "servers"), t, s) {
		const char *chk = json_string_value(json_object_get(s, "check_status"));
		char rt[32];
		snprintf(rt, sizeof(rt), "%lldms",
			 (long long)json_integer_value(json_object_get(s, "rtime_ms")));
		fprintf(out, "  %-16s %6lld  %-10s %-8s %10lld %10lld %8lld %7s\n", t,
			(long long)json_integer_value(json_object_get(s, "weight")),
			json_string_value(json_object_get(s, "status")), chk && *chk ? chk : "-",
			(long long)json_integer_value(json_object_get(s, "requests")),
			(long long)json_integer_value(json_object_get(s, "hrsp_2xx")),
			(long long)json_integer_value(json_object_get(s, "hrsp_5xx")), rt);
	}
}

int cmd_traffic_show(struct sk_cli *cli, int argc, char **argv, struct sk_err *err)
{
	int rc = no_options(cli, argc, argv, err);
	if (!rc)
		rc = one_service(cli, argc, argv, "show", err);
	if (rc)
		return rc;
	json_t *sample;
	if ((rc = sk_traffic_sample(cli->repo, argv[optind], &sample, err)))
		return rc;
	json_object_set_new(sample, "service", json_string(argv[optind]));
	sk_cli_result(cli, sample, show_text);
	return 0;
}

/* ---- apply ----------------------------------------------------------------- */

static void apply_text(FILE *out, const json_t *r)
{
	int dry = json_is_true(json_object_get(r, "dry_run"));
	size_t i;
	json_t *c;
	json_array_foreach(json_object_get(r, "changed"), i, c) {
		json_t *from = json_object_get(c, "from");
		char fb[16] = "new";
		if (json_is_integer(from))
			snprintf(fb, sizeof(fb), "%lld", (long long)json_integer_value(from));
		fprintf(out, "%s %-16s %s -> %lld\n", dry ? "would set" : "weight", 
			json_string_value(json_object_get(c, "target")), fb,
			(long long)json_integer_value(json_object_get(c, "to")));
	}
	json_array_foreach(json_object_get(r, "removed"), i, c)
		fprintf(out, "%s %s\n", dry ? "would remove" : "removed", json_string_value(c));
	const char *reload = !json_is_true(json_object_get(r, "reloaded")) ? ""
			     : dry ? ", would reload haproxy"
				   : ", haproxy reloaded";
	fprintf(out, "unchanged %lld%s\n",
		(long long)json_integer_value(json_object_get(r, "unchanged")), reload);
	if (dry)
		fprintf(out, "(dry run: nothing changed)\n");
	else
		fprintf(out, "next: skiff traffic show %s\n", json_string_value(json_object_get(r, "service")));
}

int cmd_traffic_apply(struct sk_cli *cli, int argc, char **argv, struct sk_err *err)
{
	int rc = no_options(cli, argc, argv, err);
	if (!rc)
		rc = one_service(cli, argc, argv, "apply", err);
	if (rc)
		return rc;
	const char *service = argv[optind];
	struct sk_service_state st;
	if ((rc = sk_service_load(cli->repo, service, &st, err)))
		return rc;
	json_t *facts;
	rc = cli->dry_run ? sk_traffic_apply_plan(cli->repo, service, st.control, &facts, err)
			  : sk_traffic_apply(cli->repo, service, st.control, &facts, err);
	sk_service_state_clear(&st);
	if (rc)
		return rc;
	if (cli->dry_run) {
		json_t *plan = sk_dry_plan(cli->cmd->name, service);
		json_t *s = sk_dry_step(plan, "set-weights", "medium", 1, "skiff traffic apply SERVICE");
		json_object_set_new(s, "detail",
				    json_sprintf("%zu weights to change",
						 json_array_size(json_object_get(facts, "changed"))));
		sk_dry_result(cli, plan, facts);
		cli->text = apply_text;
		return 0;
	}
	sk_cli_result(cli, facts, apply_text);
	return 0;
}

/* ---- set-state ------------------------------------------------------------- */

static void state_text(FILE *out, const json_t *r)
{
	int dry = json_is_true(json_object_get(r, "dry_run"));
	fprintf(out, "%s %s of %s: %s\n", dry ? "would set" : "set",
		json_string_value(json_object_get(r, "target")),
		json_string_value(json_object_get(r, "service")),
		json_string_value(json_object_get(r, "state")));
	if (dry)
		fprintf(out, "(dry run: nothing changed)\n");
	else
		fprintf(out, "next: skiff traffic show %s\n", json_string_value(json_object_get(r, "service")));
}

int cmd_traffic_set_state(struct sk_cli *cli, int argc, char **argv, struct sk_err *err)
{
	int rc = no_options(cli, argc, argv, err);
	if (rc)
		return rc;
	if (argc - optind != 3)
		return sk_cli_usage(cli, err, "traffic set-state takes SERVICE TARGET ready|drain|maint");
	const char *service = argv[optind], *target = argv[optind + 1], *state = argv[optind + 2];
	if (strcmp(state, "ready") && strcmp(state, "drain") && strcmp(state, "maint"))
		return sk_cli_usage(cli, err, "state \"%.32s\" is not ready, drain or maint", state);
	json_t *res = json_pack("{s:s, s:s, s:s}", "service", service, "target", target, "state", state);
	if (cli->dry_run) {
		/* the same checks as the real command: the service is started,
		 * haproxy answers and knows the server */
		json_t *sample;
		if ((rc = sk_traffic_sample(cli->repo, service, &sample, err))) {
			json_decref(res);
			return rc;
		}
		int known = json_object_get(json_object_get(sample, "servers"), target) != NULL;
		json_decref(sample);
		if (!known) {
			json_decref(res);
			return sk_err_set(err, SK_ENOTFOUND, "skiff traffic show SERVICE lists the servers",
					  "haproxy: No such server. (%.64s/%.64s)", service, target);
		}
		json_t *plan = sk_dry_plan(cli->cmd->name, service);
		json_t *s = sk_dry_step(plan, "set-server-state", "medium", 1,
					"skiff traffic set-state SERVICE TARGET ready");
		json_object_set_new(s, "detail", json_sprintf("%s/%s state %s", service, target, state));
		sk_dry_result(cli, plan, res);
		cli->text = state_text;
		return 0;
	}
	if ((rc = sk_traffic_set_state(cli->repo, service, target, state, err))) {
		json_decref(res);
		return rc;
	}
	sk_cli_result(cli, res, state_text);
	return 0;
}
