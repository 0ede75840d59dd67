/*
 * s3-driver: the S3 client (remote-s3/s3.h) as a small command, so the
 * integration tests (tests/integration/t0100-s3.sh) drive it against a
 * real radosgw and assert on exit codes and JSON. Not installed.
 *
 *   s3-driver [OPTIONS] URL mkbucket
 *   s3-driver [OPTIONS] URL put KEY FILE [--if-absent | --if-match ETAG]
 *   s3-driver [OPTIONS] URL get KEY OUT-FILE
 *   s3-driver [OPTIONS] URL head KEY
 *   s3-driver [OPTIONS] URL delete KEY
 *   s3-driver [OPTIONS] URL list PREFIX...    several: listed side by side
 *                                            (sk_s3_list_many), "lists" per prefix
 *   s3-driver [OPTIONS] URL fill PREFIX N     batch PUT of N derived objects
 *   s3-driver [OPTIONS] URL check PREFIX N    batch GET of them, compared
 * OPTIONS: --jobs N --attempts N --backoff MS --max BYTES --page N
 *          --etag-form quoted|unquoted
 *
 * Prints one JSON document: the result and "requests" (HTTP attempts), or
 * {"error":{code,message,hint},"requests":N}; exits with the code's exit
 * status (common/err.c).
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "remote-s3/s3.h"

struct opts {
	struct sk_s3_opts s3;
	size_t max;
	unsigned page;
	const char *if_match;
	int if_absent;
};

static int usage(struct sk_err *err)
{
	return sk_err_set(err, SK_EUSAGE, "see the comment at the top of tests/tools/s3-driver.c",
			  "usage: s3-driver [OPTIONS] URL COMMAND ARGS");
}

static int read_file(const char *path, unsigned char **data, size_t *len, struct sk_err *err)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return sk_err_set(err, SK_EIO, NULL, "cannot open %s", path);
	size_t cap = 65536, n = 0, r;
	unsigned char *buf = malloc(cap);
	while (buf && (r = fread(buf + n, 1, cap - n, f)) > 0) {
		n += r;
		if (n == cap) {
			unsigned char *nb = realloc(buf, cap *= 2);
			if (!nb)
				free(buf);
			buf = nb;
		}
	}
	fclose(f);
	if (!buf)
		return sk_err_set(err, SK_ENOMEM, NULL, "out of memory");
	*data = buf;
	*len = n;
	return 0;
}

/* Object i of a fill: a few hundred bytes that depend on prefix and i. */
static size_t derived(const char *prefix, unsigned i, char *buf, size_t size)
{
	int n = snprintf(buf, size, "object %u of %s\n", i, prefix);
	size_t len = (size_t)n;
	while (len + 1 < size && len < 64 + (i * 37) % 400) {
		buf[len] = (char)('a' + (i + len) % 26);
		len++;
	}
	return len;
}

static int batch(struct sk_s3 *c, const struct opts *o, int put, const char *prefix, unsigned n,
		 json_t *res, struct sk_err *err)
{
	struct sk_s3_req *r = calloc(n ? n : 1, sizeof(*r));
	char (*keys)[64] = calloc(n ? n : 1, 64);
	char (*bodies)[512] = calloc(n ? n : 1, 512);
	size_t *lens = calloc(n ? n : 1, sizeof(*lens));
	int rc = 0;
	if (!r || !keys || !bodies || !lens) {
		rc = sk_err_set(err, SK_ENOMEM, NULL, "out of memory");
		goto out;
	}
	for (unsigned i = 0; i < n; i++) {
		snprintf(keys[i], 64, "%s%05u", prefix, i);
		lens[i] = derived(prefix, i, bodies[i], 512);
		r[i].method = put ? SK_S3_PUT : SK_S3_GET;
		r[i].key = keys[i];
		r[i].body = bodies[i];
		r[i].body_len = lens[i];
		r[i].max_bytes = o->max;
	}
	rc = sk_s3_run(c, r, n, o->s3.jobs, err);
	unsigned ok = 0;
	for (unsigned i = 0; i < n; i++) {
		if (r[i].rc == 0 && (put || (r[i].len == lens[i] &&
					     memcmp(r[i].data, bodies[i], lens[i]) == 0)))
			ok++;
		free(r[i].data);
	}
	if (rc == 0 && ok != n)
		rc = sk_err_set(err, SK_ECORRUPT, NULL, "%u of %u objects differ", n - ok, n);
	json_object_set_new(res, "ok", json_integer(ok));
out:
	free(r);
	free(keys);
	free(bodies);
	free(lens);
	return rc;
}

static int command(struct sk_s3 *c, const struct opts *o, int argc, char **argv, json_t *res,
		   struct sk_err *err)
{
	const char *cmd = argv[0];
	struct sk_s3_meta meta;
	memset(&meta, 0, sizeof(meta));
	int rc;
	if (strcmp(cmd, "mkbucket") == 0 && argc == 1)
		return sk_s3_bucket_create(c, err);
	if (strcmp(cmd, "put") == 0 && argc == 3) {
		unsigned char *data = NULL;
		size_t len = 0;
		if ((rc = read_file(argv[2], &data, &len, err)) != 0)
			return rc;
		enum sk_s3_cond cond = o->if_absent ? SK_S3_IF_ABSENT
				       : o->if_match ? SK_S3_IF_MATCH : SK_S3_ALWAYS;
		rc = sk_s3_put(c, argv[1], data, len, cond, o->if_match, &meta, err);
		free(data);
		if (rc == 0)
			json_object_set_new(res, "etag", json_string(meta.etag));
		return rc;
	}
	if (strcmp(cmd, "get") == 0 && argc == 3) {
		unsigned char *data = NULL;
		size_t len = 0;
		if ((rc = sk_s3_get(c, argv[1], o->max, &data, &len, &meta, err)) != 0)
			return rc;
		FILE *f = fopen(argv[2], "wb");
		int bad = !f || fwrite(data, 1, len, f) != len;
		if (f && fclose(f) != 0)
			bad = 1;
		free(data);
		if (bad)
			return sk_err_set(err, SK_EIO, NULL, "cannot write %s", argv[2]);
		json_object_set_new(res, "etag", json_string(meta.etag));
		json_object_set_new(res, "size", json_integer((json_int_t)meta.size));
		return 0;
	}
	if (strcmp(cmd, "head") == 0 && argc == 2) {
		if ((rc = sk_s3_head(c, argv[1], &meta, err)) != 0)
			return rc;
		json_object_set_new(res, "etag", json_string(meta.etag));
		json_object_set_new(res, "size", json_integer((json_int_t)meta.size));
		return 0;
	}
	if (strcmp(cmd, "delete") == 0 && argc == 2)
		return sk_s3_delete(c, argv[1], err);
	if (strcmp(cmd, "list") == 0 && argc == 2) {
		struct sk_s3_list l;
		if ((rc = sk_s3_list(c, argv[1], o->page, 0, &l, err)) != 0)
			return rc;
		json_t *keys = json_array();
		for (size_t i = 0; i < l.n; i++)
			json_array_append_new(keys, json_string(l.entries[i].key));
		json_object_set_new(res, "keys", keys);
		sk_s3_list_free(&l);
		return 0;
	}
	if (strcmp(cmd, "list") == 0 && argc > 2) {
		size_t n = (size_t)argc - 1;
		struct sk_s3_list *l = calloc(n, sizeof(*l));
		if (!l)
			return sk_err_set(err, SK_ENOMEM, NULL, "out of memory");
		if ((rc = sk_s3_list_many(c, (const char *const *)argv + 1, n, o->page, 0, l, err)) == 0) {
			json_t *lists = json_array();
			for (size_t j = 0; j < n; j++) {
				json_t *keys = json_array();
				for (size_t i = 0; i < l[j].n; i++)
					json_array_append_new(keys, json_string(l[j].entries[i].key));
				json_array_append_new(lists, keys);
				sk_s3_list_free(&l[j]);
			}
			json_object_set_new(res, "lists", lists);
		}
		free(l);
		return rc;
	}
	if ((strcmp(cmd, "fill") == 0 || strcmp(cmd, "check") == 0) && argc == 3)
		return batch(c, o, cmd[0] == 'f', argv[1], (unsigned)strtoul(argv[2], NULL, 10), res,
			     err);
	return usage(err);
}

static int parse_opts(int *argc, char ***argv, struct opts *o, struct sk_err *err)
{
	memset(o, 0, sizeof(*o));
	char **a = *argv;
	int n = *argc, out = 0;
	for (int i = 0; i < n; i++) {
		const char *k = a[i];
		const char *v = i + 1 < n ? a[i + 1] : NULL;
		if (strcmp(k, "--if-absent") == 0) {
			o->if_absent = 1;
			continue;
		}
		if (strncmp(k, "--", 2) != 0) {
			a[out++] = a[i];
			continue;
		}
		if (!v)
			return usage(err);
		i++;
		if (strcmp(k, "--jobs") == 0)
			o->s3.jobs = (unsigned)atoi(v);
		else if (strcmp(k, "--attempts") == 0)
			o->s3.max_attempts = (unsigned)atoi(v);
		else if (strcmp(k, "--backoff") == 0)
			o->s3.backoff_ms = (unsigned)atoi(v);
		else if (strcmp(k, "--max") == 0)
			o->max = (size_t)strtoull(v, NULL, 10);
		else if (strcmp(k, "--page") == 0)
			o->page = (unsigned)atoi(v);
		else if (strcmp(k, "--if-match") == 0)
			o->if_match = v;
		else if (strcmp(k, "--etag-form") == 0)
			o->s3.if_match_form = strcmp(v, "quoted") == 0 ? SK_S3_ETAG_QUOTED
								       : SK_S3_ETAG_UNQUOTED;
		else
			return usage(err);
	}
	*argc = out;
	return 0;
}

int main(int argc, char **argv)
{
	struct sk_err err;
	sk_err_clear(&err);
	struct opts o;
	json_t *res = json_object();
	struct sk_s3 *c = NULL;
	argc--;
	argv++;
	int rc = parse_opts(&argc, &argv, &o, &err);
	if (rc == 0 && argc < 2)
		rc = usage(&err);
	if (rc == 0)
		rc = sk_s3_new(&c, argv[0], &o.s3, &err);
	if (rc == 0)
		rc = command(c, &o, argc - 1, argv + 1, res, &err);
	if (rc) {
		json_object_clear(res);
		json_t *e = json_pack("{s:s,s:s,s:s}", "code", sk_err_name(rc), "message",
				      err.message, "hint", err.hint);
		json_object_set_new(res, "error", e ? e : json_null());
	}
	json_object_set_new(res, "requests", json_integer(c ? (json_int_t)sk_s3_requests(c) : 0));
	char *s = json_dumps(res, JSON_SORT_KEYS | JSON_COMPACT);
	puts(s ? s : "{}");
	free(s);
	json_decref(res);
	sk_s3_free(c);
	return sk_err_exit_code(rc);
}
