/*
 * skiff cat-object (-t | -s | -p | TYPE) OBJECT
 * Reads one object with hash verification. Text mode prints the payload
 * (pretty JSON for -p, raw bytes for TYPE and for blobs); JSON mode embeds
 * the parsed document, or base64 for blob bytes.
 *
 * In text mode a blob is streamed to standard output as it is verified,
 * so printing one needs a few MiB of memory whatever its size; a hash
 * mismatch found at its end fails the command after the bytes were
 * written (as git does). JSON mode must hold the whole blob to base64 it.
 */
#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "objects/cjson.h"
#include "objects/odb.h"
#include "plumbing/plumbing.h"
#include "refs/refs.h"

enum mode { M_TYPE, M_SIZE, M_PRETTY, M_RAW };

static json_t *blob_content(const unsigned char *data, size_t len)
{
	size_t n = sodium_base64_encoded_len(len, sodium_base64_VARIANT_ORIGINAL);
	char *b64 = malloc(n);
	if (!b64)
		abort();
	sodium_bin2base64(b64, n, data, len, sodium_base64_VARIANT_ORIGINAL);
	json_t *s = sk_json_str(b64);
	free(b64);
	return s;
}

static void cat_text(FILE *out, const json_t *r)
{
	const char *mode = json_string_value(json_object_get(r, "mode"));
	if (strcmp(mode, "type") == 0) {
		fprintf(out, "%s\n", json_string_value(json_object_get(r, "type")));
	} else if (strcmp(mode, "size") == 0) {
		fprintf(out, "%" JSON_INTEGER_FORMAT "\n",
			json_integer_value(json_object_get(r, "size")));
	}
	/* content modes write the payload themselves (raw bytes are not JSON) */
}

static int emit_content(struct sk_cli *cli, enum mode m, enum sk_otype t, unsigned char *data,
			size_t len, json_t *r, struct sk_err *err)
{
	if (cli->format == SK_FMT_JSON) {
		if (t == SK_OBJ_BLOB) {
			json_object_set_new(r, "encoding", sk_json_str("base64"));
			json_object_set_new(r, "content", blob_content(data, len));
			return 0;
		}
		json_t *doc = NULL;
		int rc = sk_cjson_parse(data, len, &doc, err);
		if (rc < 0)
			return rc;
		json_object_set_new(r, "content", doc);
		return 0;
	}
	if (m == M_PRETTY && t != SK_OBJ_BLOB) {
		json_t *doc = NULL;
		int rc = sk_cjson_parse(data, len, &doc, err);
		if (rc < 0)
			return rc;
		json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
		fputc('\n', stdout);
		json_decref(doc);
	} else if (fwrite(data, 1, len, stdout) != len) {
		return sk_err_set(err, SK_EIO, NULL, "cannot write to standard output");
	}
	return 0;
}

struct out_sink {
	FILE *f;
	struct sk_err *err;
};

static int write_out(const void *buf, size_t len, void *arg)
{
	struct out_sink *o = arg;
	if (fwrite(buf, 1, len, o->f) == len)
		return 0;
	return sk_err_set(o->err, SK_EIO, NULL, "cannot write to standard output: %s",
			  strerror(errno));
}

/* Text mode streams blobs; -p learns the type from the header first. */
static int streams_blob(struct sk_cli *cli, const struct sk_oid *oid, enum mode m,
			enum sk_otype want, int *stream, struct sk_err *err)
{
	*stream = 0;
	if (cli->format != SK_FMT_TEXT || (m != M_RAW && m != M_PRETTY))
		return 0;
	if (m == M_RAW) {
		*stream = want == SK_OBJ_BLOB;
		return 0;
	}
	enum sk_otype t;
	int rc = sk_odb_read_header(sk_repo_odb(cli->repo), oid, &t, NULL, err);
	*stream = rc == 0 && t == SK_OBJ_BLOB;
	return rc;
}

/* Reads what the mode needs: the header, a streamed blob (printed here),
 * or the whole payload into *data for emit_content. */
static int read_object(struct sk_cli *cli, const struct sk_oid *oid, enum mode m,
		       enum sk_otype want, enum sk_otype *type, uint64_t *size,
		       unsigned char **data, struct sk_err *err)
{
	struct sk_odb *odb = sk_repo_odb(cli->repo);
	if (m == M_TYPE || m == M_SIZE)
		return sk_odb_read_header(odb, oid, type, size, err);
	int stream;
	int rc = streams_blob(cli, oid, m, want, &stream, err);
	if (rc < 0)
		return rc;
	if (stream) {
		struct out_sink o = { stdout, err };
		return sk_odb_stream(odb, oid, SK_OBJ_BLOB, write_out, &o, type, size, err);
	}
	size_t len = 0;
	rc = sk_odb_read(odb, oid, want, SK_ODB_VERIFY, type, data, &len, err);
	*size = len;
	return rc;
}

static int parse_mode(struct sk_cli *cli, int argc, char **argv, enum mode *m,
		      enum sk_otype *want, const char **name, struct sk_err *err)
{
	if (argc != 3)
		return sk_cli_usage(cli, err, "cat-object takes a mode and one OBJECT");
	const char *a = argv[1];
	*want = SK_OBJ_NONE;
	if (strcmp(a, "-t") == 0)
		*m = M_TYPE;
	else if (strcmp(a, "-s") == 0)
		*m = M_SIZE;
	else if (strcmp(a, "-p") == 0)
		*m = M_PRETTY;
	else if ((*want = sk_otype_parse(a)) != SK_OBJ_NONE)
		*m = M_RAW;
	else
		return sk_cli_usage(cli, err, "'%s' is neither -t, -s, -p nor an object type", a);
	*name = argv[2];
	return 0;
}

int cmd_cat_object(struct sk_cli *cli, int argc, char **argv, struct sk_err *err)
{
	enum mode m = M_TYPE;
	enum sk_otype want = SK_OBJ_NONE, type = SK_OBJ_NONE;
	const char *name = NULL;
	int rc = parse_mode(cli, argc, argv, &m, &want, &name, err);
	if (rc < 0)
		return rc;
	struct sk_oid oid;
	if ((rc = sk_plumbing_resolve(cli->repo, name, &oid, NULL, err)) < 0)
		return rc;
	unsigned char *data = NULL;
	uint64_t size = 0;
	static const char *const modes[] = { "type", "size", "pretty", "raw" };
	rc = read_object(cli, &oid, m, want, &type, &size, &data, err);
	if (rc < 0)
		return rc;
	json_t *r = json_pack("{s:o, s:s, s:I, s:s}", "oid", sk_json_oid(&oid), "type",
			      sk_otype_name(type), "size", (json_int_t)size, "mode", modes[m]);
	if (data)
		rc = emit_content(cli, m, type, data, (size_t)size, r, err);
	free(data);
	if (rc < 0) {
		json_decref(r);
		return rc;
	}
	sk_cli_result(cli, r, cat_text);
	return 0;
}
