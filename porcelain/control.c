/*
 * skiff control set | show: a service's control, the document that says
 * what the service should be. `set` records a change as a state commit on
 * refs/services/<svc> (CAS from the commit it read, so a concurrent change
 * is a conflict, never a lost update); `show` prints the current control
 * after verifying the ref's head record and the objects behind it.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

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

/* Applies KEY=VALUE arguments, then the --unset keys, to the control. */
static int apply_changes(json_t *control, int argc, char **argv, char **unset, int nunset,
			 struct sk_err *err)
{
	for (int i = 0; i < argc; i++) {
		char *eq = strchr(argv[i], '=');
		if (!eq)
			return sk_err_set(err, SK_EUSAGE, NULL, "'%s' is not KEY=VALUE", argv[i]);
		*eq = '\0';
		int rc = sk_control_set(control, argv[i], eq + 1, err);
		*eq = '=';
		if (rc)
			return rc;
	}
	for (int i = 0; i < nunset; i++) {
		int rc = sk_control_set(control, unset[i], NULL, err);
		if (rc)
			return rc;
	}
	return 0;
}

static void set_text(FILE *out, const json_t *r)
{
	int dry = json_is_true(json_object_get(r, "dry_run"));
	fprintf(out, "%s %s  commit %s\n", dry ? "would commit" : "committed",
		json_string_value(json_object_get(r, "service")),
		json_string_value(json_object_get(r, "commit")));
	if (!dry)
		fprintf(out, "next: skiff log refs/services/%s\n",
			json_string_value(json_object_get(r, "service")));
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
	const char *service = argv[optind++];
	struct sk_service_state st;
	int rc = sk_service_load(cli->repo, service, &st, err);
	if (rc)
		return rc;
	json_t *before = json_deep_copy(st.control);
	rc = apply_changes(st.control, argc - optind, argv + optind, unset, nunset, err);
	if (rc == SK_EUSAGE)
		rc = sk_cli_usage(cli, err, "%s", err->message);
	struct sk_oid commit;
	if (!rc && json_equal(before, st.control))
		rc = sk_err_set(err, SK_ECONFLICT, "skiff control show SERVICE shows the current values",
				"nothing to change: %s already has these settings", service);
	/* The new control is st.control, changed in place; the commit's
	 * parent and the CAS expectation come from the state it was read in. */
	if (!rc)
		rc = sk_service_commit(cli->repo, cli->key, &st, st.control, message, NULL,
				       cli->dry_run, &commit, err);
	if (!rc) {
		json_t *r = json_pack("{s:s, s:o, s:o, s:O, s:b}", "service", service, "commit",
				      sk_json_oid(&commit), "parent",
				      st.has_head ? sk_json_oid(&st.head) : json_null(), "control",
				      st.control, "dry_run", cli->dry_run);
		sk_cli_result(cli, r, set_text);
	}
	json_decref(before);
	sk_service_state_clear(&st);
	return rc;
}
