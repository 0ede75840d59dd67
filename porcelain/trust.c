/*
 * skiff trust show | add-key: the trust policy at refs/meta/trust. Every
 * change is a new `trust` object and a record signed by a root key of the
 * current policy; refs/ enforces that, this file only asks.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "porcelain/dryrun.h"
#include "porcelain/porcelain.h"
#include "refs/keys.h"
#include "refs/refs.h"

static json_t *policy_json(struct sk_repo *repo, const struct sk_trust *t, struct sk_err *err)
{
	struct sk_refrecord rec;
	json_t *doc = sk_trust_to_json(t);
	json_object_del(doc, "v");
	if (sk_refs_read(repo, "refs/meta/trust", &rec, err) == 0) {
		json_object_set_new(doc, "oid", sk_json_oid(&rec.oid));
		json_object_set_new(doc, "seq", sk_json_int((long long)rec.seq));
	}
	return doc;
}

static void trust_text(FILE *out, const json_t *r)
{
	size_t i, j;
	json_t *k, *g, *rule, *role;
	fprintf(out, "trust policy %s (seq %" JSON_INTEGER_FORMAT ")\nkeys:\n",
		json_string_value(json_object_get(r, "oid")),
		json_integer_value(json_object_get(r, "seq")));
	json_array_foreach(json_object_get(r, "keys"), i, k) {
		fprintf(out, "  %-16s %s ", json_string_value(json_object_get(k, "name")),
			json_string_value(json_object_get(k, "id")));
		json_array_foreach(json_object_get(k, "grants"), j, g) {
			const char *scope = json_string_value(json_object_get(g, "scope"));
			fprintf(out, " %s", json_string_value(json_object_get(g, "role")));
			if (scope && strcmp(scope, "refs/**") != 0)
				fprintf(out, "[%s]", scope);
		}
		fputc('\n', out);
	}
	fprintf(out, "rules (first match decides):\n");
	json_array_foreach(json_object_get(r, "rules"), i, rule) {
		fprintf(out, "  %-28s", json_string_value(json_object_get(rule, "pattern")));
		json_array_foreach(json_object_get(rule, "roles"), j, role)
			fprintf(out, " %s", json_string_value(role));
		fputc('\n', out);
	}
	json_t *appr = json_object_get(r, "approvals");
	if (appr)
		fprintf(out, "approval threshold: %" JSON_INTEGER_FORMAT "\n",
			json_integer_value(json_object_get(appr, "threshold")));
}

int cmd_trust_show(struct sk_cli *cli, int argc, char **argv, struct sk_err *err)
{
	if (argc != 1)
		return sk_cli_usage(cli, err, "trust show takes no arguments");
	struct sk_trust *t = NULL;
	int rc = sk_refs_load_trust(cli->repo, &t, err);
	if (rc < 0)
		return rc;
	json_t *doc = policy_json(cli->repo, t, err);
	sk_trust_free(t);
	sk_cli_result(cli, doc, trust_text);
	return 0;
}

static void add_key_text(FILE *out, const json_t *r)
{
	json_t *k = json_object_get(r, "key");
	fprintf(out, "trust policy now %s (seq %" JSON_INTEGER_FORMAT "): %s (%s) holds",
		json_string_value(json_object_get(r, "trust")),
		json_integer_value(json_object_get(r, "seq")),
		json_string_value(json_object_get(k, "name")),
		json_string_value(json_object_get(k, "id")));
	size_t i;
	json_t *g;
	json_array_foreach(json_object_get(k, "grants"), i, g)
		fprintf(out, " %s[%s]", json_string_value(json_object_get(g, "role")),
			json_string_value(json_object_get(g, "scope")));
	fputc('\n', out);
}

static int parse_add_key(struct sk_cli *cli, int argc, char **argv, const char **role,
			 const char **scope, struct sk_err *err)
{
	static const struct option lo[] = {
		{ "role", required_argument, NULL, 'r' },
		{ "scope", required_argument, NULL, 's' },
		{ 0, 0, 0, 0 },
	};
	int c;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (c == 'r')
			*role = optarg;
		else if (c == 's')
			*scope = optarg;
		else
			return sk_cli_usage(cli, err, "unknown option '%s'", argv[optind - 1]);
	}
	if (argc - optind != 2 || !*role)
		return sk_cli_usage(cli, err, "trust add-key takes NAME, PUBKEY and --role ROLE");
	if (!sk_trust_role_valid(*role))
		return sk_cli_usage(cli, err,
				    "unknown role '%s' (roles: root, release-signer, operator, approver, runner)",
				    *role);
	if (*scope)
		return sk_trust_pattern_check(*scope, err);
	return 0;
}

/* --dry-run of a policy change to t: what sk_refs_set_trust checks (the
 * signer is root now; the record it would write, expecting the current
 * head) against the policy t, whose id is computed and not stored. Takes
 * facts. */
static int trust_dry_run(struct sk_cli *cli, const struct sk_trust *t, const char *kind,
			 const char *what, json_t *facts, struct sk_err *err)
{
	struct sk_trust *cur = NULL;
	struct sk_refrecord rec;
	struct sk_ref_update up = { .ref = "refs/meta/trust", .expect = SK_EXPECT_OID, .pending = 1 };
	json_t *doc = sk_trust_to_json(t);
	int rc = sk_refs_load_trust(cli->repo, &cur, err);
	if (!rc && !sk_refs_has_role(cur, sk_key_id(cli->key), "root", "refs/meta/trust"))
		rc = sk_err_set(err, SK_EROLE, "ask a holder of a root key to make the change",
				"key %s (%s) is not root in the current trust policy; only root may "
				"change it",
				sk_key_name(cli->key), sk_key_id(cli->key));
	sk_trust_free(cur);
	if (!rc)
		rc = sk_dry_json_oid(SK_OBJ_TRUST, doc, &up.new_oid, err);
	json_decref(doc);
	if (!rc)
		rc = sk_refs_resolve(cli->repo, "refs/meta/trust", &up.old_oid, err);
	if (!rc)
		rc = sk_refs_update_plan(cli->repo, cli->key, &up, 1, &rec, err);
	if (rc) {
		json_decref(facts);
		return rc;
	}
	char detail[SK_ERR_MSG], a[SK_OID_HEXSZ + 1], b[SK_OID_HEXSZ + 1];
	json_t *plan = sk_dry_plan(kind, NULL);
	json_t *s = sk_dry_step(plan, "sign-policy refs/meta/trust", "high", 0, NULL);
	snprintf(detail, sizeof(detail), "%s; policy %.16s… → %.16s…, seq %llu, signed by %s", what,
		 sk_oid_tohex(&up.old_oid, a), sk_oid_tohex(&up.new_oid, b),
		 (unsigned long long)rec.seq, sk_key_name(cli->key));
	json_object_set_new(s, "detail", sk_json_str(detail));
	json_object_set_new(s, "ref", sk_json_str("refs/meta/trust"));
	json_object_set_new(s, "old", sk_json_oid(&up.old_oid));
	json_object_set_new(s, "new", sk_json_oid(&up.new_oid));
	json_object_set_new(facts, "trust", sk_json_oid(&up.new_oid));
	json_object_set_new(facts, "seq", sk_json_int((long long)rec.seq));
	sk_dry_result(cli, plan, facts);
	return 0;
}

/* The key with id in t, as trust show lists it (a new reference). */
static json_t *key_of(const struct sk_trust *t, const char *id)
{
	json_t *doc = sk_trust_to_json(t), *k, *key = NULL;
	size_t i;
	json_array_foreach(json_object_get(doc, "keys"), i, k)
		if (strcmp(json_string_value(json_object_get(k, "id")), id) == 0)
			key = json_incref(k);
	json_decref(doc);
	return key ? key : json_null();
}

int cmd_trust_add_key(struct sk_cli *cli, int argc, char **argv, struct sk_err *err)
{
	const char *role = NULL, *scope = NULL;
	int rc = parse_add_key(cli, argc, argv, &role, &scope, err);
	if (rc < 0)
		return rc;
	const char *name = argv[optind];
	unsigned char pub[32];
	struct sk_trust *t = NULL;
	if ((rc = sk_key_name_check(name, err)) < 0 ||
	    (rc = sk_key_parse_public(argv[optind + 1], pub, err)) < 0 ||
	    (rc = sk_refs_load_trust(cli->repo, &t, err)) < 0 ||
	    (rc = sk_trust_add_grant(t, name, pub, role, scope, err)) < 0) {
		sk_trust_free(t);
		return rc;
	}
	char id[SK_KEYID_HEXSZ + 1];
	sk_key_id_of(pub, id);
	if (cli->dry_run) {
		char what[SK_ERR_MSG];
		snprintf(what, sizeof(what), "grant %s (%s) %s on %s", name, id, role,
			 scope ? scope : "refs/**");
		rc = trust_dry_run(cli, t, "trust add-key", what, json_pack("{s:o}", "key", key_of(t, id)),
				   err);
		sk_trust_free(t);
		return rc;
	}
	if ((rc = sk_refs_set_trust(cli->repo, cli->key, t, err)) < 0) {
		sk_trust_free(t);
		return rc;
	}
	json_t *doc = policy_json(cli->repo, t, err);
	json_t *key = NULL, *k;
	size_t i;
	json_array_foreach(json_object_get(doc, "keys"), i, k)
		if (strcmp(json_string_value(json_object_get(k, "id")), id) == 0)
			key = json_incref(k);
	json_t *r = json_pack("{s:O, s:O, s:o}", "trust", json_object_get(doc, "oid"), "seq",
			      json_object_get(doc, "seq"), "key", key ? key : json_null());
	json_decref(doc);
	sk_trust_free(t);
	sk_cli_result(cli, r, add_key_text);
	return 0;
}

static void threshold_text(FILE *out, const json_t *r)
{
	fprintf(out, "approval threshold %lld (trust policy seq %lld)\n",
		(long long)json_integer_value(json_object_get(r, "threshold")),
		(long long)json_integer_value(json_object_get(r, "seq")));
}

/* skiff trust set-threshold N: how many distinct approvers a high-risk
 * step needs. Root-signed, like every policy change. */
int cmd_trust_set_threshold(struct sk_cli *cli, int argc, char **argv, struct sk_err *err)
{
	char *end = NULL;
	long n = argc == 2 ? strtol(argv[1], &end, 10) : 0;
	if (argc != 2 || !end || *end || n < 1 || n > 1000)
		return sk_cli_usage(cli, err, "trust set-threshold needs a number N (1..1000)");
	struct sk_trust *t = NULL;
	int rc = sk_refs_load_trust(cli->repo, &t, err);
	if (!rc && cli->dry_run) {
		char what[SK_ERR_MSG];
		long long was = t->approval_threshold;
		t->approval_threshold = n;
		snprintf(what, sizeof(what), "approval threshold %lld → %ld", was, n);
		rc = trust_dry_run(cli, t, "trust set-threshold", what,
				   json_pack("{s:I, s:I}", "threshold", (json_int_t)n, "threshold_was",
					     (json_int_t)was),
				   err);
		sk_trust_free(t);
		return rc;
	}
	if (!rc) {
		t->approval_threshold = n;
		rc = sk_refs_set_trust(cli->repo, cli->key, t, err);
	}
	json_t *doc = rc ? NULL : policy_json(cli->repo, t, err);
	sk_trust_free(t);
	if (rc)
		return rc;
	sk_cli_result(cli,
		      json_pack("{s:O, s:O, s:I}", "trust", json_object_get(doc, "oid"), "seq",
				json_object_get(doc, "seq"), "threshold", (json_int_t)n),
		      threshold_text);
	json_decref(doc);
	return 0;
}
