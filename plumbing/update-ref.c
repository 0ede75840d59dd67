/*
 * skiff update-ref: moves refs by compare-and-swap, each move a signed
 * record. One update from the command line, or JSON lines on stdin applied
 * as one all-or-nothing transaction. The CAS, signing, trust check and
 * durability all live in refs/; this file only parses and reports.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "objects/cjson.h"
#include "plumbing/plumbing.h"
#include "refs/refs.h"

#define MAX_STDIN_UPDATES 10000
#define MAX_LINE (64 * 1024)

struct batch {
	struct sk_ref_update *ups;
	char **names; /* owned strings behind ups[i].ref / .op */
	size_t n, cap, nnames;
};

static const char *keep(struct batch *b, const char *s)
{
	char *d = strdup(s);
	char **nn = realloc(b->names, (b->nnames + 1) * sizeof(*nn));
	if (!d || !nn)
		abort();
	b->names = nn;
	b->names[b->nnames++] = d;
	return d;
}

static struct sk_ref_update *add(struct batch *b)
{
	if (b->n == b->cap) {
		b->cap = b->cap ? b->cap * 2 : 8;
		b->ups = realloc(b->ups, b->cap * sizeof(*b->ups));
		if (!b->ups)
			abort();
	}
	memset(&b->ups[b->n], 0, sizeof(b->ups[0]));
	return &b->ups[b->n++];
}

static void batch_free(struct batch *b)
{
	for (size_t i = 0; i < b->nnames; i++)
		free(b->names[i]);
	free(b->names);
	free(b->ups);
}

static int resolve_oid(struct sk_cli *cli, const char *what, const char *s, struct sk_oid *out,
		       struct sk_err *err)
{
	int rc = sk_plumbing_resolve(cli->repo, s, out, NULL, err);
	if (rc < 0)
		sk_err_wrap(err, "%s", what);
	return rc;
}

/* One JSON line: {"ref":…,"new":…|null,"old":…|null (absent: no check),"op":…}. */
static int parse_line(struct sk_cli *cli, struct batch *b, const char *line, size_t lineno,
		      struct sk_err *err)
{
	json_error_t je;
	json_t *o = json_loads(line, JSON_REJECT_DUPLICATES, &je);
	int rc = 0;
	if (!o || !json_is_object(o)) {
		json_decref(o);
		return sk_err_set(err, SK_EINVAL, "each line is {\"ref\":…,\"new\":…,\"old\":…}",
				  "stdin line %zu: not a JSON object%s%s", lineno, o ? "" : ": ",
				  o ? "" : je.text);
	}
	static const char *const keys[] = { "ref", "new", "old", "op", NULL };
	json_t *jref = json_object_get(o, "ref"), *jnew = json_object_get(o, "new");
	json_t *jold = json_object_get(o, "old"), *jop = json_object_get(o, "op");
	if ((rc = sk_cjson_only_keys(o, keys, "update line", err)) < 0)
		goto out;
	if (!json_is_string(jref) || !jnew || !(json_is_string(jnew) || json_is_null(jnew)) ||
	    (jold && !(json_is_string(jold) || json_is_null(jold))) || (jop && !json_is_string(jop))) {
		rc = sk_err_set(err, SK_EINVAL, "\"ref\" and \"new\" are required; \"new\" null deletes",
				"stdin line %zu: wrong or missing field", lineno);
		goto out;
	}
	struct sk_ref_update *u = add(b);
	u->ref = keep(b, json_string_value(jref));
	u->op = jop ? keep(b, json_string_value(jop)) : NULL;
	u->delete = json_is_null(jnew);
	if (!u->delete && (rc = resolve_oid(cli, "new", json_string_value(jnew), &u->new_oid, err)) < 0)
		goto out;
	if (!jold) {
		u->expect = SK_EXPECT_ANY;
	} else if (json_is_null(jold)) {
		u->expect = SK_EXPECT_ABSENT;
	} else {
		u->expect = SK_EXPECT_OID;
		rc = resolve_oid(cli, "old", json_string_value(jold), &u->old_oid, err);
	}
	if (rc == 0 && u->delete && u->expect != SK_EXPECT_OID)
		rc = sk_err_set(err, SK_EINVAL, "name the oid you expect to delete",
				"stdin line %zu: a deletion needs \"old\"", lineno);
out:
	if (rc < 0 && err->message[0] && strncmp(err->message, "stdin", 5) != 0)
		sk_err_wrap(err, "stdin line %zu", lineno);
	json_decref(o);
	return rc;
}

static int read_stdin(struct sk_cli *cli, struct batch *b, struct sk_err *err)
{
	char *line = NULL;
	size_t cap = 0, lineno = 0;
	ssize_t len;
	int rc = 0;
	while (rc == 0 && (len = getline(&line, &cap, stdin)) >= 0) {
		lineno++;
		if (len > MAX_LINE)
			rc = sk_err_set(err, SK_EINVAL, NULL, "stdin line %zu is too long", lineno);
		else if (strspn(line, " \t\r\n") == (size_t)len)
			continue;
		else if (b->n >= MAX_STDIN_UPDATES)
			rc = sk_err_set(err, SK_EINVAL, "split the transaction",
					"more than %d updates in one transaction", MAX_STDIN_UPDATES);
		else
			rc = parse_line(cli, b, line, lineno, err);
	}
	free(line);
	if (rc == 0 && b->n == 0)
		rc = sk_err_set(err, SK_EINVAL, NULL, "no updates on stdin");
	return rc;
}

struct args {
	int use_stdin, delete, create;
	const char *old, *op;
};

static int parse_args(struct sk_cli *cli, int argc, char **argv, struct batch *b,
		      struct sk_err *err)
{
	static const struct option lo[] = {
		{ "stdin", no_argument, NULL, 's' }, { "delete", no_argument, NULL, 'd' },
		{ "create", no_argument, NULL, 'c' }, { "old", required_argument, NULL, 'o' },
		{ "op", required_argument, NULL, 'p' }, { 0, 0, 0, 0 },
	};
	struct args a = { 0 };
	int c, rc;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 's': a.use_stdin = 1; break;
		case 'd': a.delete = 1; break;
		case 'c': a.create = 1; break;
		case 'o': a.old = optarg; break;
		case 'p': a.op = optarg; break;
		default: return sk_cli_usage(cli, err, "unknown option '%s'", argv[optind - 1]);
		}
	}
	int rest = argc - optind;
	if (a.use_stdin) {
		if (rest || a.delete || a.create || a.old || a.op)
			return sk_cli_usage(cli, err, "--stdin takes no other arguments");
		return read_stdin(cli, b, err);
	}
	if (a.create && a.old)
		return sk_cli_usage(cli, err, "--old and --create exclude each other");
	if (a.delete ? (rest != 1 || !a.old || a.create) : rest != 2)
		return sk_cli_usage(cli, err, a.delete ? "--delete takes REF and --old OLDOID"
						       : "update-ref takes REF and NEWOID");
	struct sk_ref_update *u = add(b);
	u->ref = argv[optind];
	u->op = a.op;
	u->delete = a.delete;
	if (!a.delete && (rc = resolve_oid(cli, "new", argv[optind + 1], &u->new_oid, err)) < 0)
		return rc;
	u->expect = a.create ? SK_EXPECT_ABSENT : a.old ? SK_EXPECT_OID : SK_EXPECT_ANY;
	if (a.old && (rc = resolve_oid(cli, "old", a.old, &u->old_oid, err)) < 0)
		return rc;
	return 0;
}

/* A dry run's records are unsigned and unwritten: they have no id yet. */
static json_t *describe(const struct sk_ref_update *u, const struct sk_refrecord *r, int written)
{
	char *bytes = NULL;
	size_t len = 0;
	struct sk_oid rid;
	json_t *o = json_pack("{s:s, s:o, s:I, s:b}", "ref", r->ref, "oid",
			      r->has_oid ? sk_json_oid(&r->oid) : json_null(), "seq", (json_int_t)r->seq,
			      "deleted", !r->has_oid);
	json_object_set_new(o, "old", u->expect == SK_EXPECT_OID ? sk_json_oid(&u->old_oid)
								: json_null());
	if (written && sk_refrecord_dump(r, 1, &bytes, &len, NULL) == 0) {
		sk_oid_hash(&rid, SK_OBJ_REFRECORD, bytes, len);
		json_object_set_new(o, "record", sk_json_oid(&rid));
	}
	free(bytes);
	return o;
}

static void update_text(FILE *out, const json_t *r)
{
	size_t i;
	json_t *u;
	int dry = json_is_true(json_object_get(r, "dry_run"));
	json_array_foreach(json_object_get(r, "updates"), i, u) {
		const char *oid = json_string_value(json_object_get(u, "oid"));
		fprintf(out, "%s%s %s (seq %" JSON_INTEGER_FORMAT ")\n", dry ? "would update " : "",
			json_string_value(json_object_get(u, "ref")), oid ? oid : "deleted",
			json_integer_value(json_object_get(u, "seq")));
	}
}

int cmd_update_ref(struct sk_cli *cli, int argc, char **argv, struct sk_err *err)
{
	struct batch b = { 0 };
	int rc = parse_args(cli, argc, argv, &b, err);
	struct sk_refrecord *recs = NULL;
	if (rc == 0) {
		recs = calloc(b.n, sizeof(*recs));
		if (!recs)
			abort();
		rc = cli->dry_run ? sk_refs_update_plan(cli->repo, cli->key, b.ups, b.n, recs, err)
				  : sk_refs_update(cli->repo, cli->key, b.ups, b.n, recs, err);
	}
	if (rc == 0) {
		json_t *arr = json_array();
		for (size_t i = 0; i < b.n; i++)
			json_array_append_new(arr, describe(&b.ups[i], &recs[i], !cli->dry_run));
		sk_cli_result(cli, json_pack("{s:o, s:b}", "updates", arr, "dry_run", cli->dry_run),
			      update_text);
	}
	free(recs);
	batch_free(&b);
	return rc;
}
