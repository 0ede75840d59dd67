/*
 * skiff hash-object [-w] [-t TYPE] [--canonicalize] (FILE | --stdin)
 * The id an object would have, and with -w the object stored. A blob
 * from a file is streamed (hashing and compressing in one pass); JSON
 * types are read whole (they are capped at 16 MiB) and must be canonical
 * unless --canonicalize asks for the canonical form of human JSON.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fs.h"
#include "objects/cjson.h"
#include "objects/odb.h"
#include "plumbing/plumbing.h"
#include "refs/refs.h"

struct hash_opts {
	int write, use_stdin, canonicalize;
	enum sk_otype type;
	const char *path;
};

static int parse_opts(struct sk_cli *cli, int argc, char **argv, struct hash_opts *o,
		      struct sk_err *err)
{
	static const struct option lo[] = {
		{ "stdin", no_argument, NULL, 's' },
		{ "canonicalize", no_argument, NULL, 'c' },
		{ 0, 0, 0, 0 },
	};
	int c;
	o->type = SK_OBJ_BLOB;
	while ((c = getopt_long(argc, argv, "wt:", lo, NULL)) != -1) {
		switch (c) {
		case 'w': o->write = 1; break;
		case 's': o->use_stdin = 1; break;
		case 'c': o->canonicalize = 1; break;
		case 't':
			o->type = sk_otype_parse(optarg);
			if (o->type == SK_OBJ_NONE)
				return sk_cli_usage(cli, err, "unknown object type '%s'", optarg);
			break;
		default:
			return sk_cli_usage(cli, err, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (o->use_stdin == (optind < argc) || argc - optind > 1)
		return sk_cli_usage(cli, err, "give exactly one FILE or --stdin");
	o->path = o->use_stdin ? NULL : argv[optind];
	if (o->canonicalize && !sk_otype_is_json(o->type))
		return sk_cli_usage(cli, err, "--canonicalize applies to JSON types, not %s",
				    sk_otype_name(o->type));
	return 0;
}

static int read_all(int fd, uint64_t max, unsigned char **out, size_t *len, struct sk_err *err)
{
	size_t cap = 65536, n = 0;
	unsigned char *buf = malloc(cap);
	if (!buf)
		return sk_err_set(err, SK_ENOMEM, NULL, "out of memory");
	for (;;) {
		if (n == cap) {
			cap *= 2;
			unsigned char *nb = realloc(buf, cap);
			if (!nb) {
				free(buf);
				return sk_err_set(err, SK_ENOMEM, NULL, "out of memory");
			}
			buf = nb;
		}
		ssize_t r = read(fd, buf + n, cap - n);
		if (r < 0) {
			free(buf);
			return sk_err_errno(err, errno, "cannot read", "input");
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n > max) {
			free(buf);
			return sk_err_set(err, SK_ETOOBIG, NULL, "input is larger than %llu bytes",
					  (unsigned long long)max);
		}
	}
	*out = buf;
	*len = n;
	return 0;
}

/* A regular file as a blob: streamed, never held in memory. */
static int hash_blob_file(struct sk_odb *odb, int fd, int write, struct sk_oid *oid,
			  uint64_t *size, struct sk_err *err)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return sk_err_errno(err, errno, "cannot stat", "input");
	*size = (uint64_t)st.st_size;
	if (*size > sk_odb_max_size(SK_OBJ_BLOB))
		return sk_err_set(err, SK_ETOOBIG, "split large artifacts into chunks",
				  "input is larger than the blob cap (%llu bytes)",
				  (unsigned long long)sk_odb_max_size(SK_OBJ_BLOB));
	if (odb)
		return sk_odb_write_fd(odb, fd, *size, write, oid, err);
	struct sk_hasher *h = sk_hasher_new(SK_OBJ_BLOB, *size);
	unsigned char *buf = malloc(1 << 20);
	uint64_t done = 0;
	int rc = 0;
	while (buf && done < *size) {
		ssize_t r = read(fd, buf, 1 << 20);
		if (r <= 0) {
			rc = r < 0 ? sk_err_errno(err, errno, "cannot read", "input")
				   : sk_err_set(err, SK_EIO, NULL, "input shrank while reading");
			break;
		}
		sk_hasher_update(h, buf, (size_t)r);
		done += (size_t)r;
	}
	if (!buf)
		rc = sk_err_set(err, SK_ENOMEM, NULL, "out of memory");
	sk_hasher_final(h, oid);
	sk_hasher_free(h);
	free(buf);
	return rc;
}

static int hash_buffer(struct sk_odb *odb, const struct hash_opts *o, unsigned char *data,
		       size_t len, struct sk_oid *oid, uint64_t *size, struct sk_err *err)
{
	char *canon = NULL;
	size_t clen = len;
	const unsigned char *payload = data;
	int rc = 0;
	if (sk_otype_is_json(o->type)) {
		json_t *doc = NULL;
		if (o->canonicalize) {
			rc = sk_cjson_canonicalize(data, len, &canon, &clen, err);
			payload = (const unsigned char *)canon;
		} else {
			rc = sk_cjson_parse(data, len, &doc, err);
			if (rc < 0)
				snprintf(err->hint, sizeof(err->hint),
					 "JSON objects must be canonical; --canonicalize stores the canonical form");
		}
		json_decref(doc);
	}
	if (rc == 0) {
		*size = clen;
		if (o->write)
			rc = sk_odb_write(odb, o->type, payload, clen, oid, err);
		else
			sk_oid_hash(oid, o->type, payload, clen);
	}
	free(canon);
	return rc;
}

static int hash_input(struct sk_odb *odb, const struct hash_opts *o, int fd, struct sk_oid *oid,
		      uint64_t *size, struct sk_err *err)
{
	struct stat st;
	if (o->type == SK_OBJ_BLOB && fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
		return hash_blob_file(odb, fd, o->write, oid, size, err);
	unsigned char *data = NULL;
	size_t len = 0;
	int rc = read_all(fd, sk_odb_max_size(o->type), &data, &len, err);
	if (rc == 0)
		rc = hash_buffer(odb, o, data, len, oid, size, err);
	free(data);
	return rc;
}

static void hash_text(FILE *out, const json_t *r)
{
	fprintf(out, "%s\n", json_string_value(json_object_get(r, "oid")));
}

int cmd_hash_object(struct sk_cli *cli, int argc, char **argv, struct sk_err *err)
{
	struct hash_opts o = { 0 };
	int rc = parse_opts(cli, argc, argv, &o, err);
	if (rc < 0)
		return rc;
	if (o.write && cli->direct)
		return sk_cli_usage(cli, err, "-w stores an object; --direct only reads");
	if (o.write && !cli->repo && (rc = sk_repo_open(&cli->repo, cli->dir, err)) < 0)
		return rc;
	int fd = STDIN_FILENO;
	if (o.path && (fd = open(o.path, O_RDONLY | O_CLOEXEC)) < 0)
		return sk_err_errno(err, errno, "cannot open", o.path);
	struct sk_oid oid;
	uint64_t size = 0;
	rc = hash_input(o.write ? sk_repo_odb(cli->repo) : NULL, &o, fd, &oid, &size, err);
	if (o.path)
		close(fd);
	if (rc < 0)
		return rc;
	sk_cli_result(cli,
		      json_pack("{s:o, s:s, s:I, s:b}", "oid", sk_json_oid(&oid), "type",
				sk_otype_name(o.type), "size", (json_int_t)size, "written", o.write),
		      hash_text);
	return 0;
}
