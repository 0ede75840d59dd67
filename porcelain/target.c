/*
 * skiff target add | set | remove | list: the targets of a service, where
 * each target's workload listens and the target group it belongs to. A target is a place a runner runs (one VM,
 * or locally one runner); deploys assign releases to targets and the
 * traffic provider turns them into servers; a failover makes one group
 * active and the others stand by (ops/failoverop.h). add, set and
 * remove are signed
 * state commits on refs/services/<svc> (CAS from the commit read, so a
 * concurrent change is a conflict, never a lost update); --dry-run checks
 * everything and writes nothing.
 */
#include <getopt.h>
#include <string.h>

#include "cloud/traffic.h"
#include "objects/spec.h"
#include "porcelain/dryrun.h"
#include "porcelain/porcelain.h"
#include "refs/service.h"

static void list_text(FILE *out, const json_t *r)
{
	const char *stable = json_string_value(json_object_get(r, "release"));
	const char *active = json_string_value(json_object_get(r, "active_group"));
	fprintf(out, "service %s  stable release %s", json_string_value(json_object_get(r, "service")),
		stable ? stable : "(none)");
	if (active)
		fprintf(out, "  active group %s", active);
	fprintf(out, "\n");
	size_t i;
	json_t *t;
	json_array_foreach(json_object_get(r, "targets"), i, t) {
		const char *addr = json_string_value(json_object_get(t, "addr"));
		const char *rel = json_string_value(json_object_get(t, "release"));
		json_t *w = json_object_get(t, "weight");
		char wb[16] = "-";
		if (w)
			snprintf(wb, sizeof(wb), "%lld", (long long)json_integer_value(w));
		const char *group = json_string_value(json_object_get(t, "group"));
		fprintf(out, "  %-16s %-22s %-12s weight %-4s group %s%s\n",
			json_string_value(json_object_get(t, "target")), addr ? addr : "(no addr)",
			rel ? rel : "(no release)", wb, group ? group : "-",
			json_is_true(json_object_get(t, "standby")) ? " (standby)" : "");
	}
}

static json_t *targets_json(const json_t *control)
{
	json_t *arr = json_array();
	const char *k;
	json_t *v;
	json_object_foreach(json_object_get(control, "targets"), k, v) {
		json_t *t = json_deep_copy(v);
		json_object_set_new(t, "target", json_string(k));
		json_object_set_new(t, "standby", json_boolean(sk_traffic_standby(control, k)));
		json_array_append_new(arr, t);
	}
	return arr;
}

int cmd_target_list(struct sk_cli *cli, int argc, char **argv, struct sk_err *err)
{
	if (argc != 2 || argv[1][0] == '-')
		return sk_cli_usage(cli, err, "target list needs exactly one SERVICE");
	struct sk_service_state st;
	int rc = sk_service_load(cli->repo, argv[1], &st, err);
	if (rc)
		return rc;
	json_t *rel = json_object_get(st.control, "release");
	json_t *active = json_object_get(st.control, "active_group");
	sk_cli_result(cli,
		      json_pack("{s:s, s:O, s:O, s:o}", "service", st.service, "release",
				rel ? rel : json_null(), "active_group", active ? active : json_null(),
				"targets", targets_json(st.control)),
		      list_text);
	sk_service_state_clear(&st);
	return 0;
}

static void change_text(FILE *out, const json_t *r)
{
	int dry = json_is_true(json_object_get(r, "dry_run"));
	const char *action = json_string_value(json_object_get(r, "action"));
	const char *svc = json_string_value(json_object_get(r, "service"));
	int add = strcmp(action, "add") == 0, set = strcmp(action, "set") == 0;
	const char *verb = dry ? (add ? "would add" : set ? "would change" : "would remove")
			       : (add ? "added" : set ? "changed" : "removed");
	fprintf(out, "%s target %s of %s\n", verb, json_string_value(json_object_get(r, "target")),
		svc);
	if (dry)
		fprintf(out, "(dry run: nothing changed)\n");
	else
		fprintf(out, "commit %s\nnext: skiff target list %s\n",
			json_string_value(json_object_get(r, "commit")), svc);
}

/* Records control as the service's next commit (or, dry, plans it). */
static int commit_change(struct sk_cli *cli, struct sk_service_state *st, json_t *control,
			 const char *verb, const char *target, struct sk_err *err)
{
	char msg[160];
	snprintf(msg, sizeof(msg), "target %s %s", verb, target);
	int rc = sk_control_check(control, err);
	struct sk_oid commit;
	if (!rc)
		rc = sk_service_commit(cli->repo, cli->key, st, control, msg, NULL, cli->dry_run,
				       &commit, err);
	if (rc)
		return rc;
	json_t *res = json_pack("{s:s, s:s, s:s, s:o}", "service", st->service, "target", target,
				"action", verb, "commit", sk_json_oid(&commit));
	if (cli->dry_run) {
		json_t *plan = sk_dry_plan(cli->cmd->name, st->service);
		json_t *step = sk_dry_step(plan, "commit-control", "low", 1, "target add/set/remove");
		json_object_set_new(step, "ref", json_sprintf("refs/services/%s", st->service));
		sk_dry_result(cli, plan, res);
		cli->text = change_text;
		return 0;
	}
	sk_cli_result(cli, res, change_text);
	return 0;
}

int cmd_target_add(struct sk_cli *cli, int argc, char **argv, struct sk_err *err)
{
	static const struct option opts[] = { { "addr", required_argument, NULL, 'a' },
					      { "group", required_argument, NULL, 'g' },
					      { NULL, 0, NULL, 0 } };
	const char *addr = NULL, *group = NULL;
	int c;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'a')
			addr = optarg;
		else if (c == 'g')
			group = optarg;
		else
			return sk_cli_usage(cli, err, "unknown option '%s'", argv[optind - 1]);
	}
	if (argc - optind != 2 || !addr)
		return sk_cli_usage(cli, err,
				    "target add takes SERVICE TARGET --addr HOST:PORT [--group G]");
	const char *service = argv[optind], *target = argv[optind + 1];
	struct sk_service_state st;
	int rc = sk_spec_component_check(target, SK_SPEC_NAME_MAX, "target", err);
	if (!rc)
		rc = sk_control_addr_check(addr, err);
	if (!rc && group)
		rc = sk_spec_component_check(group, SK_SPEC_NAME_MAX, "target group", err);
	if (rc || (rc = sk_service_load(cli->repo, service, &st, err)))
		return rc;
	json_t *control = json_deep_copy(st.control);
	json_t *targets = json_object_get(control, "targets");
	json_t *t = json_object_get(targets, target);
	const char *had = t ? json_string_value(json_object_get(t, "addr")) : NULL;
	const char *hadg = t ? json_string_value(json_object_get(t, "group")) : NULL;
	const char *active = json_string_value(json_object_get(control, "active_group"));
	if (had && strcmp(had, addr) == 0 && (!group || (hadg && strcmp(hadg, group) == 0)))
		rc = sk_err_set(err, SK_EEXISTS, "skiff target list SERVICE shows it",
				"target %s of %s already listens on %s", target, service, addr);
	else if (group && hadg && strcmp(hadg, group) != 0 && active && strcmp(hadg, active) == 0)
		rc = sk_err_set(err, SK_ECONFLICT, "skiff failover SERVICE --to G moves traffic first",
				"target %s is in %s, the active group of %s", target, hadg, service);
	else if (!t && json_object_size(targets) >= SK_CONTROL_MAX_TARGETS)
		rc = sk_err_set(err, SK_EINVAL, NULL, "%s has the most targets a service may have",
				service);
	if (!rc) {
		if (!t) {
			t = json_pack("{s:n}", "release");
			json_object_set_new(targets, target, t);
		}
		json_object_set_new(t, "addr", json_string(addr));
		if (group)
			json_object_set_new(t, "group", json_string(group));
		rc = commit_change(cli, &st, control, "add", target, err);
	}
	json_decref(control);
	sk_service_state_clear(&st);
	return rc;
}

int cmd_target_remove(struct sk_cli *cli, int argc, char **argv, struct sk_err *err)
{
	if (argc != 3 || argv[1][0] == '-' || argv[2][0] == '-')
		return sk_cli_usage(cli, err, "target remove takes SERVICE TARGET");
	struct sk_service_state st;
	int rc = sk_service_load(cli->repo, argv[1], &st, err);
	if (rc)
		return rc;
	json_t *control = json_deep_copy(st.control);
	json_t *t = json_object_get(json_object_get(control, "targets"), argv[2]);
	json_t *w = t ? json_object_get(t, "weight") : NULL;
	if (!t)
		rc = sk_err_set(err, SK_ENOTFOUND, "skiff target list SERVICE lists them",
				"%s has no target %s", argv[1], argv[2]);
	else if (w && json_integer_value(w) > 0)
		rc = sk_err_set(err, SK_ECONFLICT,
				"drain it first: its traffic weight must be 0 before it goes",
				"target %s of %s still takes traffic (weight %lld)", argv[2], argv[1],
				(long long)json_integer_value(w));
	if (!rc) {
		json_object_del(json_object_get(control, "targets"), argv[2]);
		rc = commit_change(cli, &st, control, "remove", argv[2], err);
	}
	json_decref(control);
	sk_service_state_clear(&st);
	return rc;
}

/* The group of an existing target: what a failover routes by. A change
 * reaches haproxy with the next apply (a failover, a deploy step, or
 * skiff traffic apply). */
int cmd_target_set(struct sk_cli *cli, int argc, char **argv, struct sk_err *err)
{
	static const struct option opts[] = { { "group", required_argument, NULL, 'g' },
					      { "no-group", no_argument, NULL, 'n' },
					      { NULL, 0, NULL, 0 } };
	const char *group = NULL;
	int c, none = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'g')
			group = optarg;
		else if (c == 'n')
			none = 1;
		else
			return sk_cli_usage(cli, err, "unknown option '%s'", argv[optind - 1]);
	}
	if (argc - optind != 2 || !group == !none)
		return sk_cli_usage(cli, err, "target set takes SERVICE TARGET (--group G | --no-group)");
	const char *service = argv[optind], *target = argv[optind + 1];
	int rc = group ? sk_spec_component_check(group, SK_SPEC_NAME_MAX, "target group", err) : 0;
	struct sk_service_state st;
	if (rc || (rc = sk_service_load(cli->repo, service, &st, err)))
		return rc;
	json_t *control = json_deep_copy(st.control);
	json_t *t = json_object_get(json_object_get(control, "targets"), target);
	const char *had = t ? json_string_value(json_object_get(t, "group")) : NULL;
	const char *active = json_string_value(json_object_get(control, "active_group"));
	if (!t)
		rc = sk_err_set(err, SK_ENOTFOUND, "skiff target list SERVICE lists them",
				"%s has no target %s", service, target);
	else if ((!had && none) || (had && group && strcmp(had, group) == 0))
		rc = sk_err_set(err, SK_EEXISTS, "skiff target list SERVICE shows it",
				"target %s of %s is already in %s%s", target, service,
				had ? "group " : "no group", had ? had : "");
	else if (had && active && strcmp(had, active) == 0)
		/* moving a server out of the group in traffic is a route
		 * change: that is what failover is for */
		rc = sk_err_set(err, SK_ECONFLICT, "skiff failover SERVICE --to G moves traffic first",
				"target %s is in %s, the active group of %s", target, had, service);
	if (!rc) {
		if (group)
			json_object_set_new(t, "group", json_string(group));
		else
			json_object_del(t, "group");
		rc = commit_change(cli, &st, control, "set", target, err);
	}
	json_decref(control);
	sk_service_state_clear(&st);
	return rc;
}
