/*
 * skiff show OBJECT: any object, for people. Commits show their header
 * and the control they record (as git show shows a commit and its
 * change); controls, releases, signatures, ref records, trust policies,
 * files and blobs each get their own few lines; other types an indented
 * outline of their document. JSON mode gives {oid, type, size, document}
 * (no document for a blob), plus the names of the keys involved.
 *
 * Every object is read with hash verification and its document checked
 * by its type's strict reader, so what is shown is what a verifier would
 * accept. Everything printed from a document passes through put_safe:
 * objects may come from a remote, and a control character must not reach
 * the terminal.
 */
#include <stdlib.h>
#include <string.h>

#include "common/textdiff.h"
#include "objects/file.h"
#include "objects/release.h"
#include "objects/signature.h"
#include "objects/state.h"
#include "objects/trust.h"
#include "plumbing/plumbing.h"
#include "refs/refs.h"

/* Blobs up to this size are shown when they are printable text. */
#define SHOW_BLOB_MAX (16u << 10)

/* --- reading ------------------------------------------------------------ */

static int check_doc(enum sk_otype t, const json_t *doc, struct sk_err *err)
{
	int rc = 0;
	switch (t) {
	case SK_OBJ_COMMIT: {
		struct sk_commit c;
		return sk_commit_from_json(&c, doc, err);
	}
	case SK_OBJ_CONTROL:
		return sk_control_check(doc, err);
	case SK_OBJ_RELEASE: {
		struct sk_release *r = NULL;
		rc = sk_release_from_json(&r, doc, err);
		sk_release_free(r);
		return rc;
	}
	case SK_OBJ_SIGNATURE: {
		struct sk_signature s;
		return sk_signature_from_json(&s, doc, err);
	}
	case SK_OBJ_REFRECORD: {
		struct sk_refrecord r;
		return sk_refrecord_from_json(&r, doc, err);
	}
	case SK_OBJ_TRUST: {
		struct sk_trust *p = NULL;
		rc = sk_trust_from_json(&p, doc, err);
		sk_trust_free(p);
		return rc;
	}
	case SK_OBJ_FILE: {
		struct sk_file *f = NULL;
		rc = sk_file_from_json(&f, doc, err);
		sk_file_free(f);
		return rc;
	}
	default:
		return 0; /* no typed reader yet: canonical JSON is all we know */
	}
}

int sk_plumbing_read_doc(struct sk_repo *repo, const struct sk_oid *oid, enum sk_otype *type,
			 uint64_t *size, json_t **doc, struct sk_err *err)
{
	struct sk_odb *odb = sk_repo_odb(repo);
	*doc = NULL;
	int rc = sk_odb_read_header(odb, oid, type, size, err);
	if (rc < 0 || *type == SK_OBJ_BLOB)
		return rc;
	if ((rc = sk_odb_read_json(odb, oid, *type, SK_ODB_VERIFY, doc, err)) < 0)
		return rc;
	if ((rc = check_doc(*type, *doc, err)) < 0) {
		char hex[SK_OID_HEXSZ + 1], why[SK_ERR_MSG];
		snprintf(why, sizeof(why), "%s", err->message);
		json_decref(*doc);
		*doc = NULL;
		return sk_err_set(err, SK_ECORRUPT, "skiff fsck checks the whole store",
				  "object %s is not a valid %s: %s", sk_oid_tohex(oid, hex),
				  sk_otype_name(*type), why);
	}
	return 0;
}

/* --- text helpers -------------------------------------------------------- */

static const char *jstr(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static long long jint(const json_t *o, const char *k)
{
	return (long long)json_integer_value(json_object_get(o, k));
}

/* s for a terminal: C0 controls (but newline and tab when lines is set),
 * DEL and C1 controls are written as \xNN or \u00NN escapes. Documents
 * are valid UTF-8 (the canonical reader checked), so the rest is text. */
static void put_safe_n(FILE *out, const char *s, size_t n, int lines)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == 0xc2 && i + 1 < n && (unsigned char)s[i + 1] < 0xa0) {
			fprintf(out, "\\u%04x", (unsigned char)s[++i]);
		} else if ((c < 0x20 && !(lines && (c == '\n' || c == '\t'))) || c == 0x7f) {
			fprintf(out, "\\x%02x", c);
		} else {
			fputc(c, out);
		}
	}
}

static void put_safe(FILE *out, const char *s)
{
	if (s)
		put_safe_n(out, s, strlen(s), 0);
}

/* A string that would read as another kind of value in the outline
 * ("4", "true", "", " x") is shown in double quotes. */
static int ambiguous(const char *s)
{
	static const char *const words[] = { "true", "false", "null", "{}", "[]", NULL };
	size_t n = strlen(s);
	if (n == 0 || s[0] == ' ' || s[n - 1] == ' ' || s[0] == '"')
		return 1;
	for (const char *const *w = words; *w; w++)
		if (strcmp(s, *w) == 0)
			return 1;
	size_t i = s[0] == '-';
	for (; i < n && s[i] >= '0' && s[i] <= '9'; i++)
		;
	return i == n && n > (size_t)(s[0] == '-');
}

static void put_scalar(FILE *out, const json_t *v)
{
	if (json_is_string(v)) {
		int q = ambiguous(json_string_value(v));
		fputs(q ? "\"" : "", out);
		put_safe_n(out, json_string_value(v), json_string_length(v), 0);
		fputs(q ? "\"" : "", out);
	} else if (json_is_integer(v)) {
		fprintf(out, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	} else if (json_is_true(v)) {
		fputs("true", out);
	} else if (json_is_false(v)) {
		fputs("false", out);
	} else if (json_is_null(v)) {
		fputs("null", out);
	} else {
		fputs(json_is_object(v) ? "{}" : "[]", out);
	}
}

static int is_leaf(const json_t *v)
{
	return !(json_is_object(v) && json_object_size(v) > 0) &&
	       !(json_is_array(v) && json_array_size(v) > 0);
}

static void put_tree(FILE *out, const json_t *v, int indent);

/* After "key:" or "-": the value on the same line, or nested below. */
static void put_child(FILE *out, const json_t *v, int indent)
{
	if (is_leaf(v)) {
		fputc(' ', out);
		put_scalar(out, v);
		fputc('\n', out);
		return;
	}
	fputc('\n', out);
	put_tree(out, v, indent + 2);
}

/* An outline of a document, YAML-like: "key: value", nested objects and
 * lists indented, list items "- ". Keys come out in the document's order
 * (sorted, for canonical documents). */
static void put_tree(FILE *out, const json_t *v, int indent)
{
	const char *k;
	json_t *e;
	size_t i;
	if (json_is_object(v)) {
		json_object_foreach((json_t *)v, k, e) {
			fprintf(out, "%*s", indent, "");
			put_safe(out, k);
			fputc(':', out);
			put_child(out, e, indent);
		}
		return;
	}
	json_array_foreach(v, i, e) {
		fprintf(out, "%*s-", indent, "");
		if (!json_is_object(e) || is_leaf(e)) {
			put_child(out, e, indent);
			continue;
		}
		/* an object in a list: its first key on the "- " line */
		int first = 1;
		const char *k2;
		json_t *e2;
		json_object_foreach(e, k2, e2) {
			fprintf(out, "%*s", first ? 1 : indent + 2, "");
			first = 0;
			put_safe(out, k2);
			fputc(':', out);
			put_child(out, e2, indent + 2);
		}
	}
}

static void put_time(FILE *out, const char *label, long long t)
{
	char buf[32];
	fprintf(out, "%-9s%s\n", label, sk_out_time(t, buf, sizeof(buf)));
}

/* "alice (630dcd2966c43366)", or the key id alone when not in the policy */
static void put_signer(FILE *out, const char *label, const char *keyid, const char *name)
{
	fprintf(out, "%-9s", label);
	if (name) {
		put_safe(out, name);
		fprintf(out, " (%s)\n", keyid);
	} else {
		fprintf(out, "%s (not in the trust policy)\n", keyid);
	}
}

/* --- one renderer per type ---------------------------------------------- */

static void control_body(FILE *out, const json_t *doc)
{
	const char *k;
	json_t *v;
	fprintf(out, "%-9s", "service");
	put_safe(out, jstr(doc, "service"));
	fputc('\n', out);
	if (json_object_size(json_object_get(doc, "settings")) == 0)
		fprintf(out, "%-9s(none)\n", "settings");
	json_object_foreach(json_object_get(doc, "settings"), k, v) {
		fprintf(out, "%-9s", "setting");
		put_safe(out, k);
		fputc('=', out);
		put_safe(out, json_string_value(v));
		fputc('\n', out);
	}
	json_object_foreach(json_object_get(doc, "targets"), k, v) {
		const char *rel = jstr(v, "release");
		fprintf(out, "%-9s", "target");
		put_safe(out, k);
		fputs("  ", out);
		put_safe(out, rel ? rel : "(no release)");
		fputc('\n', out);
	}
}

static void show_commit(FILE *out, const json_t *r, const json_t *doc)
{
	const char *parent = jstr(doc, "parent"), *op = jstr(doc, "op");
	const char *msg = jstr(doc, "message");
	fprintf(out, "commit %s\n%-9s", jstr(r, "oid"), "service");
	put_safe(out, jstr(doc, "service"));
	fprintf(out, "\n%-9s%s\n", "parent", parent ? parent : "(none: the first commit)");
	put_signer(out, "actor", jstr(doc, "actor"), jstr(r, "actor_name"));
	put_time(out, "date", jint(doc, "time"));
	if (op)
		fprintf(out, "%-9s%s\n", "op", op);
	fputs("\n    ", out);
	if (!*msg)
		fputs("(no message)", out);
	for (const char *p = msg; *p; p++) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		put_safe_n(out, p, n, 1);
		if (!nl)
			break;
		fputs("\n    ", out);
		p = nl;
	}
	const json_t *ctl = json_object_get(r, "control");
	fprintf(out, "\n\ncontrol %s\n", jstr(ctl, "oid"));
	control_body(out, json_object_get(ctl, "document"));
}

static void show_release(FILE *out, const json_t *doc)
{
	static const char *const shown[] = { "artifacts", "service", "source", "v", "version",
					     NULL };
	const json_t *src = json_object_get(doc, "source"), *a;
	const char *commit = jstr(src, "commit"), *builder = jstr(src, "builder");
	size_t i;
	fprintf(out, "%-9s", "service");
	put_safe(out, jstr(doc, "service"));
	fprintf(out, "\n%-9s", "version");
	put_safe(out, jstr(doc, "version"));
	fprintf(out, "\n%-9s%s%s", "source", commit ? "commit " : "", commit ? commit : "");
	if (builder) {
		fputs(commit ? ", built by " : "built by ", out);
		put_safe(out, builder);
	}
	fputs(commit || builder ? "\n" : "(not recorded)\n", out);
	json_array_foreach(json_object_get(doc, "artifacts"), i, a) {
		fprintf(out, "%-9s", "artifact");
		put_safe(out, jstr(a, "name"));
		fprintf(out, " (%lld bytes)\n%9ssha256 %s\n%9sfile   %s\n", jint(a, "size"), "",
			jstr(a, "sha256"), "", jstr(a, "file"));
	}
	/* what runs and how: the compiled spec, as an outline */
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)doc, k, v) {
		int skip = 0;
		for (const char *const *s = shown; *s; s++)
			skip |= strcmp(*s, k) == 0;
		if (skip)
			continue;
		put_safe(out, k);
		fputc(':', out);
		put_child(out, v, 0);
	}
}

static void show_signature(FILE *out, const json_t *r, const json_t *doc)
{
	fprintf(out, "%-9s%s\n", "release", jstr(doc, "release"));
	put_signer(out, "signer", jstr(doc, "signer"), jstr(r, "signer_name"));
	put_time(out, "date", jint(doc, "time"));
	fprintf(out, "%-9sed25519 %s\n", "sig", jstr(doc, "sig"));
}

static void show_refrecord(FILE *out, const json_t *r, const json_t *doc)
{
	const char *oid = jstr(doc, "oid"), *prev = jstr(doc, "prev"), *op = jstr(doc, "op");
	fprintf(out, "%-9s%s\n%-9s%lld\n%-9s%s\n%-9s%s\n", "ref", jstr(doc, "ref"), "seq",
		jint(doc, "seq"), "oid", oid ? oid : "(deleted)", "prev",
		prev ? prev : "(none: the first record)");
	put_signer(out, "signer", jstr(doc, "signer"), jstr(r, "signer_name"));
	put_time(out, "date", jint(doc, "time"));
	if (op)
		fprintf(out, "%-9s%s\n", "op", op);
}

static void show_trust(FILE *out, const json_t *doc)
{
	size_t i, j;
	json_t *k, *g, *rule, *role;
	fputs("keys:\n", out);
	json_array_foreach(json_object_get(doc, "keys"), i, k) {
		fprintf(out, "  %-16s %s ", jstr(k, "name"), jstr(k, "id"));
		json_array_foreach(json_object_get(k, "grants"), j, g) {
			const char *scope = jstr(g, "scope");
			fprintf(out, " %s", jstr(g, "role"));
			if (scope && strcmp(scope, "refs/**") != 0)
				fprintf(out, "[%s]", scope);
		}
		fputc('\n', out);
	}
	fputs("rules (first match decides):\n", out);
	json_array_foreach(json_object_get(doc, "rules"), i, rule) {
		fprintf(out, "  %-28s", jstr(rule, "pattern"));
		json_array_foreach(json_object_get(rule, "roles"), j, role)
			fprintf(out, " %s", json_string_value(role));
		fputc('\n', out);
	}
	fprintf(out, "approval threshold: %lld\n",
		jint(json_object_get(doc, "approvals"), "threshold"));
}

static void show_file(FILE *out, const json_t *doc)
{
	fprintf(out, "%-9s%lld bytes\n%-9s%s\n%-9s%zu\n", "size", jint(doc, "size"), "sha256",
		jstr(doc, "sha256"), "chunks", json_array_size(json_object_get(doc, "chunks")));
}

static void show_blob(FILE *out, const json_t *r)
{
	const char *content = jstr(r, "content");
	long long size = jint(r, "size");
	fprintf(out, "%-9s%lld bytes\n", "size", size);
	if (content) {
		fputc('\n', out);
		fputs(content, out);
		if (size > 0 && content[size - 1] != '\n')
			fputs("\n\\ No newline at end of blob\n", out);
		return;
	}
	fprintf(out, "(%s: skiff cat-object blob %s writes the bytes)\n",
		size > SHOW_BLOB_MAX ? "too long to show here" : "not printable text",
		jstr(r, "oid"));
}

static void show_text(FILE *out, const json_t *r)
{
	const char *type = jstr(r, "type");
	const json_t *doc = json_object_get(r, "document");
	enum sk_otype t = sk_otype_parse(type);
	if (t != SK_OBJ_COMMIT)
		fprintf(out, "%s %s\n", type, jstr(r, "oid"));
	switch (t) {
	case SK_OBJ_COMMIT: show_commit(out, r, doc); break;
	case SK_OBJ_CONTROL: control_body(out, doc); break;
	case SK_OBJ_RELEASE: show_release(out, doc); break;
	case SK_OBJ_SIGNATURE: show_signature(out, r, doc); break;
	case SK_OBJ_REFRECORD: show_refrecord(out, r, doc); break;
	case SK_OBJ_TRUST: show_trust(out, doc); break;
	case SK_OBJ_FILE: show_file(out, doc); break;
	case SK_OBJ_BLOB: show_blob(out, r); break;
	default: put_tree(out, doc, 0);
	}
}

/* --- the command --------------------------------------------------------- */

/* The name of the key that signed or made the object (commit actor,
 * signature or record signer), from the current trust policy. */
static int add_key_name(struct sk_cli *cli, json_t *r, const char *field, const char *keyid,
			struct sk_err *err)
{
	struct sk_trust *policy = NULL;
	int rc = sk_refs_load_trust(cli->repo, &policy, err);
	if (rc < 0)
		return rc;
	const struct sk_trust_key *k = sk_trust_find_key(policy, keyid);
	json_object_set_new(r, field, k ? sk_json_str(k->name) : json_null());
	sk_trust_free(policy);
	return 0;
}

static int add_control(struct sk_cli *cli, json_t *r, const json_t *commit, struct sk_err *err)
{
	struct sk_oid oid;
	enum sk_otype t;
	uint64_t size;
	json_t *doc = NULL;
	int rc = sk_oid_fromhex(&oid, jstr(commit, "control"), err);
	if (rc == 0)
		rc = sk_plumbing_read_doc(cli->repo, &oid, &t, &size, &doc, err);
	if (rc == 0 && t != SK_OBJ_CONTROL)
		rc = sk_err_set(err, SK_ECORRUPT, NULL, "the commit's control %s is a %s",
				jstr(commit, "control"), sk_otype_name(t));
	if (rc < 0) {
		json_decref(doc);
		return rc;
	}
	json_object_set_new(r, "control", json_pack("{s:s, s:o}", "oid", jstr(commit, "control"),
						     "document", doc));
	return 0;
}

/* Blobs: always verified (streamed, in bounded memory, when large); the
 * bytes are kept only in text mode, and only when they can be shown. */
static int add_blob(struct sk_cli *cli, json_t *r, const struct sk_oid *oid, uint64_t size,
		    struct sk_err *err)
{
	struct sk_odb *odb = sk_repo_odb(cli->repo);
	if (size > SHOW_BLOB_MAX || cli->format == SK_FMT_JSON)
		return sk_odb_stream(odb, oid, SK_OBJ_BLOB, NULL, NULL, NULL, NULL, err);
	unsigned char *data = NULL;
	size_t len = 0;
	int rc = sk_odb_read(odb, oid, SK_OBJ_BLOB, SK_ODB_VERIFY, NULL, &data, &len, err);
	if (rc == 0 && sk_text_is_printable(data, len))
		json_object_set_new(r, "content", json_stringn((const char *)data, len));
	free(data);
	return rc;
}

static int add_extras(struct sk_cli *cli, json_t *r, enum sk_otype t, const json_t *doc,
		      struct sk_err *err)
{
	switch (t) {
	case SK_OBJ_COMMIT: {
		int rc = add_key_name(cli, r, "actor_name", jstr(doc, "actor"), err);
		return rc < 0 ? rc : add_control(cli, r, doc, err);
	}
	case SK_OBJ_SIGNATURE:
	case SK_OBJ_REFRECORD:
		return add_key_name(cli, r, "signer_name", jstr(doc, "signer"), err);
	default:
		return 0;
	}
}

int cmd_show(struct sk_cli *cli, int argc, char **argv, struct sk_err *err)
{
	if (argc != 2 || argv[1][0] == '-')
		return sk_cli_usage(cli, err, "show takes exactly one OBJECT");
	struct sk_oid oid;
	int rc = sk_plumbing_resolve(cli->repo, argv[1], &oid, NULL, err);
	enum sk_otype t = SK_OBJ_NONE;
	uint64_t size = 0;
	json_t *doc = NULL;
	if (rc == 0)
		rc = sk_plumbing_read_doc(cli->repo, &oid, &t, &size, &doc, err);
	if (rc < 0)
		return rc;
	json_t *r = json_pack("{s:o, s:s, s:I}", "oid", sk_json_oid(&oid), "type",
			      sk_otype_name(t), "size", (json_int_t)size);
	rc = t == SK_OBJ_BLOB ? add_blob(cli, r, &oid, size, err) : add_extras(cli, r, t, doc, err);
	if (doc)
		json_object_set_new(r, "document", doc);
	if (rc < 0) {
		json_decref(r);
		return rc;
	}
	sk_cli_result(cli, r, show_text);
	return 0;
}
