/*
 * skiff diff A B: what changed between two objects of one type, for
 * reviewers and agents. Two commits compare the controls they record.
 *
 * JSON mode gives the semantic diff of the two documents
 * (objects/jsondiff.h: changes as JSON-pointer paths with old and new
 * values); text mode a unified diff of the two documents pretty-printed
 * (indented, keys sorted), made by libgit2's diff engine. Blobs are
 * compared as text when both are printable text of at most
 * DIFF_BLOB_MAX bytes, otherwise only said to differ.
 *
 * It is plumbing, not porcelain: it reads and compares, changes nothing,
 * runs no workflow, and its JSON is a stable interface for agents, like
 * show's and log's. Every object is read with hash verification and
 * checked by its type's reader (sk_plumbing_read_doc).
 */
#include <stdlib.h>
#include <string.h>

#include "common/textdiff.h"
#include "objects/jsondiff.h"
#include "plumbing/plumbing.h"
#include "refs/refs.h"

/* Larger blobs are not diffed line by line. */
#define DIFF_BLOB_MAX (1u << 20)
/* Ids in the "--- a/…" headers. */
#define SHORT_HEX 12

struct side {
	struct sk_oid oid;     /* the object named */
	struct sk_oid control; /* a commit's control */
	enum sk_otype type;
	uint64_t size;
	json_t *doc;           /* the document compared (a commit's control); NULL for blobs */
	unsigned char *bytes;  /* a blob's bytes, when diffed as text */
	size_t len;
	char label[SHORT_HEX + 3];
};

static void side_clear(struct side *s)
{
	json_decref(s->doc);
	free(s->bytes);
}

/* A commit is compared by its control: the control replaces s->doc. */
static int load_control(struct sk_repo *repo, struct side *s, struct sk_err *err)
{
	enum sk_otype t;
	uint64_t size;
	json_t *ctl = NULL;
	int rc = sk_oid_fromhex(&s->control, json_string_value(json_object_get(s->doc, "control")),
				err);
	if (rc == 0)
		rc = sk_plumbing_read_doc(repo, &s->control, &t, &size, &ctl, err);
	if (rc == 0 && t != SK_OBJ_CONTROL)
		rc = sk_err_set(err, SK_ECORRUPT, NULL, "a commit names a %s as its control",
				sk_otype_name(t));
	json_decref(s->doc);
	s->doc = rc == 0 ? ctl : NULL;
	if (rc < 0)
		json_decref(ctl);
	return rc;
}

static int load_side(struct sk_repo *repo, const char *name, const char *prefix,
		     struct side *s, struct sk_err *err)
{
	char hex[SK_OID_HEXSZ + 1];
	int rc = sk_plumbing_resolve(repo, name, &s->oid, NULL, err);
	if (rc == 0)
		rc = sk_plumbing_read_doc(repo, &s->oid, &s->type, &s->size, &s->doc, err);
	if (rc == 0 && s->type == SK_OBJ_COMMIT)
		rc = load_control(repo, s, err);
	snprintf(s->label, sizeof(s->label), "%s%.*s", prefix, SHORT_HEX, sk_oid_tohex(&s->oid, hex));
	return rc;
}

/* Both blobs verified; their bytes kept when both can be diffed as text. */
static int load_blobs(struct sk_repo *repo, struct side *a, struct side *b, int *text,
		      struct sk_err *err)
{
	struct sk_odb *odb = sk_repo_odb(repo);
	struct side *s[2] = { a, b };
	*text = a->size <= DIFF_BLOB_MAX && b->size <= DIFF_BLOB_MAX;
	for (int i = 0; i < 2; i++) {
		int rc = *text ? sk_odb_read(odb, &s[i]->oid, SK_OBJ_BLOB, SK_ODB_VERIFY, NULL,
					     &s[i]->bytes, &s[i]->len, err)
			       : sk_odb_stream(odb, &s[i]->oid, SK_OBJ_BLOB, NULL, NULL, NULL,
					       NULL, err);
		if (rc < 0)
			return rc;
	}
	*text = *text && sk_text_is_printable(a->bytes, a->len) &&
		sk_text_is_printable(b->bytes, b->len);
	return 0;
}

/* Indented, keys sorted, newline-terminated. Strings with characters a
 * terminal would act on are written with \u escapes throughout. */
static char *pretty(const json_t *doc, size_t *len)
{
	size_t flags = JSON_INDENT(2) | JSON_SORT_KEYS;
	char *s = json_dumps(doc, flags);
	if (s && !sk_text_is_printable(s, strlen(s))) {
		free(s);
		s = json_dumps(doc, flags | JSON_ENSURE_ASCII);
	}
	if (!s)
		return NULL;
	*len = strlen(s);
	char *t = realloc(s, *len + 2);
	if (!t) {
		free(s);
		return NULL;
	}
	t[(*len)++] = '\n';
	t[*len] = '\0';
	return t;
}

static int text_patch(struct sk_cli *cli, const struct side *a, const struct side *b,
		      json_t *r, struct sk_err *err)
{
	size_t la = 0, lb = 0;
	char *ta = a->doc ? pretty(a->doc, &la) : NULL, *tb = b->doc ? pretty(b->doc, &lb) : NULL;
	char *patch = NULL;
	int rc = 0;
	if (a->doc && (!ta || !tb))
		rc = sk_err_set(err, SK_ENOMEM, NULL, "out of memory printing the documents");
	if (rc == 0 && a->doc)
		rc = sk_textdiff_unified(ta, la, tb, lb, a->label, b->label, cli->color, &patch,
					 err);
	else if (rc == 0)
		rc = sk_textdiff_unified((const char *)a->bytes, a->len, (const char *)b->bytes,
					 b->len, a->label, b->label, cli->color, &patch, err);
	if (rc == 0)
		json_object_set_new(r, "patch", sk_json_str(patch));
	free(ta);
	free(tb);
	free(patch);
	return rc;
}

static json_t *blob_change(const struct side *a, const struct side *b)
{
	return json_pack("[{s:s, s:s, s:{s:o, s:I}, s:{s:o, s:I}}]", "path", "", "op", "replace",
			 "old", "oid", sk_json_oid(&a->oid), "size", (json_int_t)a->size, "new",
			 "oid", sk_json_oid(&b->oid), "size", (json_int_t)b->size);
}

static void diff_text(FILE *out, const json_t *r)
{
	const char *patch = json_string_value(json_object_get(r, "patch"));
	if (patch) {
		fputs(patch, out);
		return;
	}
	if (json_is_true(json_object_get(r, "identical")))
		return;
	/* blobs that are not both printable text */
	fprintf(out, "Binary files a/%.*s and b/%.*s differ\n", SHORT_HEX,
		json_string_value(json_object_get(r, "a")), SHORT_HEX,
		json_string_value(json_object_get(r, "b")));
}

static int compare(struct sk_cli *cli, struct side *a, struct side *b, json_t *r,
		   struct sk_err *err)
{
	int text = 1, rc = 0;
	json_t *changes;
	if (a->type == SK_OBJ_BLOB) {
		int same = sk_oid_cmp(&a->oid, &b->oid) == 0;
		if ((rc = load_blobs(cli->repo, a, b, &text, err)) < 0)
			return rc;
		changes = same ? json_array() : blob_change(a, b);
		json_object_set_new(r, "text", json_boolean(text));
	} else {
		changes = json_array();
		if ((rc = sk_jsondiff(a->doc, b->doc, changes, err)) < 0) {
			json_decref(changes);
			return rc;
		}
	}
	json_object_set_new(r, "identical", json_boolean(json_array_size(changes) == 0));
	json_object_set_new(r, "changes", changes);
	if (cli->format == SK_FMT_TEXT && text && json_array_size(changes) > 0)
		rc = text_patch(cli, a, b, r, err);
	return rc;
}

int cmd_diff(struct sk_cli *cli, int argc, char **argv, struct sk_err *err)
{
	if (argc != 3 || argv[1][0] == '-' || argv[2][0] == '-')
		return sk_cli_usage(cli, err, "diff takes two objects, A and B");
	struct side a = { 0 }, b = { 0 };
	int rc = load_side(cli->repo, argv[1], "a/", &a, err);
	if (rc == 0)
		rc = load_side(cli->repo, argv[2], "b/", &b, err);
	if (rc == 0 && a.type != b.type)
		rc = sk_err_set(err, SK_EUSAGE, "diff compares two objects of one type",
				"%s is a %s and %s is a %s", argv[1], sk_otype_name(a.type), argv[2],
				sk_otype_name(b.type));
	json_t *r = NULL;
	if (rc == 0) {
		r = json_pack("{s:o, s:o, s:s}", "a", sk_json_oid(&a.oid), "b", sk_json_oid(&b.oid),
			      "type", sk_otype_name(a.type));
		if (a.type == SK_OBJ_COMMIT) {
			json_object_set_new(r, "a_control", sk_json_oid(&a.control));
			json_object_set_new(r, "b_control", sk_json_oid(&b.control));
		}
		rc = compare(cli, &a, &b, r, err);
	}
	side_clear(&a);
	side_clear(&b);
	if (rc < 0) {
		json_decref(r);
		return rc;
	}
	sk_cli_result(cli, r, diff_text);
	return 0;
}
