/*
 * skiff secret set | list | show: a service's secrets, as references.
 *
 * set writes a new `secretref` version (objects/secretref.h) when the
 * reference (or its revoke hook) changes, moves refs/secrets/<svc>/<NAME>
 * to it by CAS, and pins it for every target (control "secrets", a state
 * commit; per-target pins of the name go): an immediate rollout, every
 * runner restarts its workload with the new version. A gradual move with
 * a canary and a revocation of the old reference is `skiff rotate`. The
 * value is never read here: only the reference's shape is checked (the
 * runner resolves it on its machine).
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "objects/spec.h"
#include "ops/engine.h"
#include "ops/rotateop.h"
#include "porcelain/dryrun.h"
#include "porcelain/porcelain.h"
#include "refs/secretrefs.h"
#include "refs/service.h"
#include "runner/secrets.h"

/* "--revoke-hook CMD ARGS...": everything after the flag is the hook's
 * argv, so its own options are not taken for ours. *argc shrinks. */
static int take_hook(struct sk_cli *cli, int *argc, char **argv, json_t **hook,
		     struct sk_err *err)
{
	*hook = NULL;
	for (int i = 1; i < *argc; i++) {
		if (strcmp(argv[i], "--revoke-hook") != 0)
			continue;
		if (i + 1 >= *argc)
			return sk_cli_usage(cli, err, "--revoke-hook needs a command");
		*hook = json_array();
		int rc = 0;
		for (int j = i + 1; !rc && j < *argc; j++) {
			json_t *arg = json_string(argv[j]); /* NULL: not UTF-8 */
			if (!arg)
				rc = sk_err_set(err, SK_EUSAGE, NULL,
						"--revoke-hook: an argument is not UTF-8");
			else
				json_array_append_new(*hook, arg);
		}
		*argc = i;
		if (!rc)
			rc = sk_secretref_check_hook(*hook, err);
		if (rc) {
			json_decref(*hook);
			*hook = NULL;
			err->code = rc = SK_EUSAGE;
		}
		return rc;
	}
	return 0;
}

/* The reference, checked for its shape and for a provider this build
 * resolves: an unknown one is a usage error (exit 2). */
static int parse_ref(const char *spec, char *provider, char *ref, struct sk_err *err)
{
	int rc = sk_secretref_parse_spec(spec, provider, ref, err);
	if (!rc && !sk_secret_provider_find(provider))
		rc = sk_err_set(err, SK_EUSAGE, "providers: file:/abs/path, env:NAME",
				"secret provider %s is not available in this build", provider);
	return rc;
}

/* control with name pinned to hex for the whole service. */
static json_t *pinned_control(const json_t *control, const char *name, const char *hex)
{
	json_t *c = json_deep_copy(control), *pins = json_object_get(c, "secrets");
	if (!pins)
		json_object_set_new(c, "secrets", pins = json_object());
	json_object_set_new(pins, name, json_string(hex));
	const char *k;
	json_t *v;
	json_object_foreach(json_object_get(c, "targets"), k, v) {
		json_t *tp = json_object_get(v, "secrets");
		json_object_del(tp, name);
		if (tp && json_object_size(tp) == 0)
			json_object_del(v, "secrets");
	}
	return c;
}

static int same_hook(const json_t *a, const json_t *b)
{
	return (!a && !b) || (a && b && json_equal(a, b));
}

static void set_text(FILE *out, const json_t *r)
{
	const char *svc = json_string_value(json_object_get(r, "service"));
	fprintf(out, "secret %s of %s: version %lld -> %s%s\n",
		json_string_value(json_object_get(r, "name")), svc,
		(long long)json_integer_value(json_object_get(r, "version")),
		json_string_value(json_object_get(r, "ref")),
		json_is_true(json_object_get(r, "written")) ? "" : " (unchanged)");
	if (json_is_true(json_object_get(r, "committed")))
		fprintf(out, "pinned for every target: runners restart their workloads with it\n");
	fprintf(out, "next: skiff status %s\n", svc);
}

struct set_args {
	const char *service, *name, *spec;
	char provider[8], ref[SK_SECRETREF_REF_MAX + 1];
	json_t *hook;
};

/* The version to write: the head when it already says the same, else
 * head + 1 (or 1). */
static void next_version(const struct sk_cli *cli, const struct set_args *a, int has,
			 const struct sk_oid *head, const struct sk_secretref *cur,
			 struct sk_secretref *s)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->service, sizeof(s->service), "%s", a->service);
	snprintf(s->name, sizeof(s->name), "%s", a->name);
	snprintf(s->provider, sizeof(s->provider), "%s", a->provider);
	snprintf(s->ref, sizeof(s->ref), "%s", a->ref);
	snprintf(s->actor, sizeof(s->actor), "%s", sk_key_id(cli->key));
	s->created = (int64_t)time(NULL);
	s->version = has ? cur->version + 1 : 1;
	s->has_prev = has;
	if (has)
		s->prev = *head;
	s->hook = a->hook;
}

static int do_set(struct sk_cli *cli, struct set_args *a, struct sk_err *err)
{
	struct sk_service_state st;
	struct sk_secretref cur, s;
	struct sk_oid head, oid, commit;
	int has = 0, rc = sk_service_load(cli->repo, a->service, &st, err);
	if (rc)
		return rc;
	if (!(rc = sk_rotateop_check_idle(cli->repo, a->service, err)))
		rc = sk_secretrefs_head(cli->repo, a->service, a->name, &has, &head, &cur, err);
	if (rc) {
		sk_service_state_clear(&st);
		return rc;
	}
	int same = has && !strcmp(cur.provider, a->provider) && !strcmp(cur.ref, a->ref) &&
		   same_hook(cur.hook, a->hook);
	next_version(cli, a, has, &head, &cur, &s);
	if (same) {
		s.version = cur.version;
		oid = head;
	} else {
		rc = sk_secretrefs_write(cli->repo, cli->key, &s, has ? &head : NULL, NULL,
					 cli->dry_run, &oid, err);
	}
	char hex[SK_OID_HEXSZ + 1], msg[256];
	sk_oid_tohex(&oid, hex);
	json_t *control = rc ? NULL : pinned_control(st.control, a->name, hex);
	int commit_it = control && !json_equal(control, st.control);
	snprintf(msg, sizeof(msg), "secret %s: version %lld pinned for every target", a->name,
		 s.version);
	if (!rc && commit_it)
		rc = sk_service_commit(cli->repo, cli->key, &st, control, msg, NULL, cli->dry_run,
				       &commit, err);
	json_t *r = rc ? NULL
		       : json_pack("{s:s, s:s, s:I, s:s, s:s, s:b, s:b, s:o}", "service",
				   a->service, "name", a->name, "version", (json_int_t)s.version,
				   "oid", hex, "ref", a->spec, "written", !same, "committed",
				   commit_it, "commit", commit_it ? sk_json_oid(&commit) : json_null());
	if (r && cli->dry_run) {
		json_t *plan = sk_dry_plan("secret set", a->service);
		if (!same)
			sk_dry_step(plan, "write-version", "low", 1, NULL);
		if (commit_it)
			sk_dry_step(plan, "pin-every-target", "medium", 1, "pin the version before");
		sk_dry_result(cli, plan, r);
	} else if (r) {
		sk_cli_result(cli, r, set_text);
	}
	json_decref(control);
	if (has)
		sk_secretref_clear(&cur);
	sk_service_state_clear(&st);
	return rc;
}

int cmd_secret_set(struct sk_cli *cli, int argc, char **argv, struct sk_err *err)
{
	static const struct option opts[] = { { "ref", required_argument, NULL, 'r' },
					      { NULL, 0, NULL, 0 } };
	struct set_args a;
	memset(&a, 0, sizeof(a));
	int rc = take_hook(cli, &argc, argv, &a.hook, err), c;
	if (rc)
		return rc;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c != 'r') {
			json_decref(a.hook);
			return sk_cli_usage(cli, err, "unknown option '%s'", argv[optind - 1]);
		}
		a.spec = optarg;
	}
	if (argc - optind != 2 || !a.spec)
		rc = sk_cli_usage(cli, err, "secret set takes SERVICE NAME --ref PROVIDER:REF");
	if (!rc) {
		a.service = argv[optind];
		a.name = argv[optind + 1];
		rc = sk_spec_component_check(a.service, SK_SPEC_NAME_MAX, "service", err);
	}
	if (!rc && (rc = sk_spec_env_name_check(a.name, "secret name", err)))
		err->code = rc = SK_EUSAGE;
	if (!rc)
		rc = parse_ref(a.spec, a.provider, a.ref, err);
	if (rc == SK_EINVAL)
		err->code = rc = SK_EUSAGE;
	if (!rc)
		rc = do_set(cli, &a, err);
	json_decref(a.hook);
	return rc;
}

/* --- list | show ----------------------------------------------------- */

/* The targets whose effective pin of name is hex. */
static json_t *pinned_by(const json_t *control, const char *name, const char *hex)
{
	json_t *out = json_array();
	const char *k;
	json_t *v;
	const char *top = json_string_value(json_object_get(json_object_get(control, "secrets"), name));
	json_object_foreach(json_object_get(control, "targets"), k, v) {
		const char *own = json_string_value(json_object_get(json_object_get(v, "secrets"), name));
		const char *eff = own ? own : top;
		if (eff && strcmp(eff, hex) == 0)
			json_array_append_new(out, json_string(k));
	}
	return out;
}

static void list_text(FILE *out, const json_t *r)
{
	const char *k;
	json_t *v;
	fprintf(out, "secrets of %s\n", json_string_value(json_object_get(r, "service")));
	json_object_foreach(json_object_get(r, "secrets"), k, v)
		fprintf(out, "  %-24s v%-4lld %s:%s  pinned on %zu target(s)\n", k,
			(long long)json_integer_value(json_object_get(v, "version")),
			json_string_value(json_object_get(v, "provider")),
			json_string_value(json_object_get(v, "ref")),
			json_array_size(json_object_get(v, "pinned_on")));
	if (json_object_size(json_object_get(r, "secrets")) == 0)
		fprintf(out, "  (none: skiff secret set SERVICE NAME --ref PROVIDER:REF)\n");
}

int cmd_secret_list(struct sk_cli *cli, int argc, char **argv, struct sk_err *err)
{
	if (argc != 2 || argv[1][0] == '-')
		return sk_cli_usage(cli, err, "secret list takes one SERVICE");
	struct sk_service_state st;
	json_t *all = NULL;
	int rc = sk_service_load(cli->repo, argv[1], &st, err);
	if (rc)
		return rc;
	if (!(rc = sk_secretrefs_list(cli->repo, argv[1], &all, err))) {
		const char *k;
		json_t *v;
		json_object_foreach(all, k, v)
			json_object_set_new(v, "pinned_on",
					    pinned_by(st.control, k,
						      json_string_value(json_object_get(v, "oid"))));
		sk_cli_result(cli, json_pack("{s:s, s:o}", "service", st.service, "secrets", all),
			      list_text);
	}
	sk_service_state_clear(&st);
	return rc;
}

/* The versions revoked by succeeded rotations of name: {OID: op id}. */
static json_t *revocations(struct sk_cli *cli, const char *service, const char *name)
{
	json_t *ops = NULL, *out = json_object();
	struct sk_err ignore;
	if (sk_op_list(cli->repo, service, "succeeded", &ops, &ignore))
		return out;
	size_t i;
	json_t *o;
	json_array_foreach(ops, i, o) {
		struct sk_op *op = NULL;
		const char *id = json_string_value(json_object_get(o, "id"));
		if (strcmp(json_string_value(json_object_get(o, "kind")), SK_ROTATEOP_KIND) ||
		    sk_op_load(cli->repo, id, &op, &ignore))
			continue;
		const json_t *p = json_object_get(op->doc, "params");
		if (!strcmp(json_string_value(json_object_get(p, "name")), name))
			json_object_set_new(out, json_string_value(json_object_get(p, "from")),
					    json_string(id));
		sk_op_free(op);
	}
	json_decref(ops);
	return out;
}

static void show_text(FILE *out, const json_t *r)
{
	size_t i;
	json_t *v;
	fprintf(out, "secret %s of %s\n", json_string_value(json_object_get(r, "name")),
		json_string_value(json_object_get(r, "service")));
	json_array_foreach(json_object_get(r, "versions"), i, v) {
		char when[32];
		const char *rev = json_string_value(json_object_get(v, "revoked_by"));
		fprintf(out, "  v%-4lld %.12s  %s:%s  %s by %s%s%s  pinned on %zu\n",
			(long long)json_integer_value(json_object_get(v, "version")),
			json_string_value(json_object_get(v, "oid")),
			json_string_value(json_object_get(v, "provider")),
			json_string_value(json_object_get(v, "ref")),
			sk_out_time(json_integer_value(json_object_get(v, "created")), when,
				    sizeof(when)),
			json_string_value(json_object_get(v, "actor")), rev ? "  revoked by " : "",
			rev ? rev : "", json_array_size(json_object_get(v, "pinned_on")));
	}
}

static int history(struct sk_cli *cli, const struct sk_service_state *st, const char *name,
		   json_t *versions, struct sk_err *err)
{
	struct sk_secretref s;
	struct sk_oid oid;
	int has = 0;
	int rc = sk_secretrefs_head(cli->repo, st->service, name, &has, &oid, &s, err);
	if (!rc && !has)
		return sk_err_set(err, SK_ENOTFOUND, "skiff secret list SERVICE lists them",
				  "%s has no secret %s", st->service, name);
	json_t *revoked = revocations(cli, st->service, name);
	for (size_t n = 0; !rc && n < 10000; n++) {
		char hex[SK_OID_HEXSZ + 1];
		json_t *v = sk_secretrefs_summary(&s, &oid);
		sk_oid_tohex(&oid, hex);
		json_object_set_new(v, "pinned_on", pinned_by(st->control, name, hex));
		json_t *by = json_object_get(revoked, hex);
		json_object_set_new(v, "revoked_by", by ? json_incref(by) : json_null());
		json_array_append_new(versions, v);
		int more = s.has_prev;
		oid = s.prev;
		sk_secretref_clear(&s);
		if (!more)
			break;
		rc = sk_secretrefs_read(cli->repo, &oid, &s, err);
	}
	json_decref(revoked);
	return rc;
}

int cmd_secret_show(struct sk_cli *cli, int argc, char **argv, struct sk_err *err)
{
	if (argc != 3 || argv[1][0] == '-')
		return sk_cli_usage(cli, err, "secret show takes SERVICE NAME");
	struct sk_service_state st;
	int rc = sk_spec_env_name_check(argv[2], "secret name", err);
	if (rc)
		return sk_cli_usage(cli, err, "%s", err->message);
	if ((rc = sk_service_load(cli->repo, argv[1], &st, err)))
		return rc;
	json_t *versions = json_array();
	rc = history(cli, &st, argv[2], versions, err);
	if (!rc)
		sk_cli_result(cli, json_pack("{s:s, s:s, s:O}", "service", st.service, "name", argv[2],
					     "versions", versions),
			      show_text);
	json_decref(versions);
	sk_service_state_clear(&st);
	return rc;
}
