/*
 * The loose object store: round trips, prefixes, listing, streaming
 * writes and reads, and every way a stored file can lie (size caps,
 * decompression bombs, truncation, trailing bytes, hash mismatch, bad
 * headers), plus fault injection proving a failed write leaves nothing
 * behind, and the memory a streamed read of a large blob takes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zstd.h>

#include "common/fs.h"
#include "objects/cjson.h"
#include "objects/odb.h"
#include "tests/unit/helpers.h"

#define HELLO_ID "8aec4e4876f854f688d0ebfc8f37598f38e5fd6903cccc850ca36591175aeb60"

struct fx {
	char root[64];
	char *objdir;
	struct sk_odb *odb;
};

static int setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));
	if (th_tmpdir(fx->root, sizeof(fx->root), "odb") < 0)
		return -1;
	fx->objdir = sk_path_join(fx->root, "objects");
	mkdir(fx->objdir, 0777);
	struct sk_err err;
	if (sk_odb_open(&fx->odb, fx->objdir, &err) != 0)
		return -1;
	th_isolate_env(NULL);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;
	sk_odb_free(fx->odb);
	th_rmtree(fx->root);
	free(fx->objdir);
	free(fx);
	th_isolate_env(NULL); /* drop the limits a test set */
	return 0;
}

/* Counts regular files anywhere under dir (objects and temp files). */
static int count_files(const char *dir)
{
	int n = 0;
	DIR *d = opendir(dir);
	if (!d)
		return 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		char *p = sk_path_join(dir, e->d_name);
		struct stat st;
		if (lstat(p, &st) == 0)
			n += S_ISDIR(st.st_mode) ? count_files(p) : 1;
		free(p);
	}
	closedir(d);
	return n;
}

/* A zstd frame of hdr + payload built by hand; csize: write content size. */
static unsigned char *make_frame(const void *hdr, size_t hlen, const void *payload, size_t len,
				 int csize, size_t *zlen)
{
	size_t cap = ZSTD_compressBound(hlen + len) + 64;
	unsigned char *z = malloc(cap);
	ZSTD_CCtx *c = ZSTD_createCCtx();
	ZSTD_CCtx_setParameter(c, ZSTD_c_contentSizeFlag, csize);
	if (csize)
		ZSTD_CCtx_setPledgedSrcSize(c, hlen + len);
	ZSTD_outBuffer o = { z, cap, 0 };
	ZSTD_inBuffer a = { hdr, hlen, 0 }, b = { payload, len, 0 };
	assert_false(ZSTD_isError(ZSTD_compressStream2(c, &o, &a, ZSTD_e_continue)));
	assert_int_equal(ZSTD_compressStream2(c, &o, &b, ZSTD_e_end), 0);
	ZSTD_freeCCtx(c);
	*zlen = o.pos;
	return z;
}

static void put_file(const char *path, const void *data, size_t len)
{
	sk_fs_mkdirs_for(path, NULL);
	unlink(path);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
}

/* Stores a hand-made frame as the object id_hex. */
static void put_object(struct fx *fx, const char *id_hex, const void *hdr, size_t hlen,
		       const void *payload, size_t len, int csize, struct sk_oid *oid)
{
	assert_int_equal(sk_oid_fromhex(oid, id_hex, NULL), 0);
	size_t zlen;
	unsigned char *z = make_frame(hdr, hlen, payload, len, csize, &zlen);
	char *path = sk_odb_path(fx->odb, oid);
	put_file(path, z, zlen);
	free(path);
	free(z);
}

static void expect_read(struct fx *fx, const struct sk_oid *oid, unsigned flags, int code,
			const char *needle)
{
	struct sk_err err;
	sk_err_clear(&err);
	unsigned char *p = NULL;
	size_t len = 0;
	int rc = sk_odb_read(fx->odb, oid, SK_OBJ_NONE, flags, NULL, &p, &len, &err);
	if (rc != code || (needle && !strstr(err.message, needle)))
		print_error("rc %d (want %d), message \"%s\" (want \"%s\")\n", rc, code,
			    err.message, needle ? needle : "");
	assert_int_equal(rc, code);
	if (needle)
		assert_non_null(strstr(err.message, needle));
	if (rc == 0)
		free(p);
	else
		assert_null(p);
}

static void test_write_read_blob(void **state)
{
	struct fx *fx = *state;
	struct sk_err err;
	struct sk_oid oid;
	char hex[SK_OID_HEXSZ + 1];
	assert_int_equal(sk_odb_write(fx->odb, SK_OBJ_BLOB, "hello", 5, &oid, &err), 0);
	assert_string_equal(sk_oid_tohex(&oid, hex), HELLO_ID);
	char *path = sk_odb_path(fx->odb, &oid);
	char want[512];
	snprintf(want, sizeof(want), "%s/8a/%s", fx->objdir, HELLO_ID + 2);
	assert_string_equal(path, want);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0444);
	assert_true(sk_odb_exists(fx->odb, &oid));

	/* one zstd frame with the content size set */
	char *z;
	size_t zlen;
	assert_int_equal(sk_fs_read_file(path, 1 << 20, &z, &zlen, &err), 0);
	assert_int_equal(ZSTD_getFrameContentSize(z, zlen), 12);
	assert_int_equal(ZSTD_findFrameCompressedSize(z, zlen), zlen);
	free(z);

	/* writing again is a no-op: same inode */
	assert_int_equal(sk_odb_write(fx->odb, SK_OBJ_BLOB, "hello", 5, NULL, &err), 0);
	struct stat st2;
	assert_int_equal(stat(path, &st2), 0);
	assert_int_equal(st.st_ino, st2.st_ino);
	free(path);

	enum sk_otype t = SK_OBJ_NONE;
	unsigned char *p;
	size_t len;
	assert_int_equal(sk_odb_read(fx->odb, &oid, SK_OBJ_BLOB, SK_ODB_VERIFY, &t, &p, &len, &err),
			 0);
	assert_int_equal(t, SK_OBJ_BLOB);
	assert_int_equal(len, 5);
	assert_string_equal((char *)p, "hello");
	free(p);
	uint64_t size;
	assert_int_equal(sk_odb_read_header(fx->odb, &oid, &t, &size, &err), 0);
	assert_int_equal(t, SK_OBJ_BLOB);
	assert_int_equal(size, 5);

	/* empty blob */
	assert_int_equal(sk_odb_write(fx->odb, SK_OBJ_BLOB, "", 0, &oid, &err), 0);
	assert_int_equal(sk_odb_read(fx->odb, &oid, SK_OBJ_BLOB, SK_ODB_VERIFY, &t, &p, &len, &err),
			 0);
	assert_int_equal(len, 0);
	assert_int_equal(p[0], 0);
	free(p);
	assert_int_equal(count_files(fx->objdir), 2);
}

static void test_random_sizes(void **state)
{
	struct fx *fx = *state;
	static const size_t sizes[] = { 1, 31, 32, 100, 4096, 131073, 1 << 20, (3 << 20) + 7 };
	unsigned seed = 42;
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t n = sizes[i];
		unsigned char *buf = malloc(n);
		for (size_t j = 0; j < n; j++)
			buf[j] = (unsigned char)(rand_r(&seed) >> 7);
		struct sk_oid oid, want;
		struct sk_err err;
		sk_oid_hash(&want, SK_OBJ_BLOB, buf, n);
		assert_int_equal(sk_odb_write(fx->odb, SK_OBJ_BLOB, buf, n, &oid, &err), 0);
		assert_int_equal(sk_oid_cmp(&oid, &want), 0);
		unsigned char *p;
		size_t len;
		assert_int_equal(sk_odb_read(fx->odb, &oid, SK_OBJ_BLOB, SK_ODB_VERIFY, NULL, &p,
					     &len, &err), 0);
		assert_int_equal(len, n);
		assert_memory_equal(p, buf, n);
		free(p);
		free(buf);
	}
}

static void test_json_objects(void **state)
{
	struct fx *fx = *state;
	struct sk_err err;
	struct sk_oid oid;
	const char *doc = "{\"a\":[1,2],\"v\":1}";
	assert_int_equal(sk_odb_write(fx->odb, SK_OBJ_CONTROL, doc, strlen(doc), &oid, &err), 0);
	json_t *j;
	assert_int_equal(sk_odb_read_json(fx->odb, &oid, SK_OBJ_CONTROL, SK_ODB_VERIFY, &j, &err),
			 0);
	assert_int_equal(json_integer_value(json_object_get(j, "v")), 1);
	struct sk_oid oid2;
	assert_int_equal(sk_odb_write_json(fx->odb, SK_OBJ_CONTROL, j, &oid2, &err), 0);
	assert_int_equal(sk_oid_cmp(&oid, &oid2), 0);
	json_decref(j);

	/* not canonical, or not JSON, or no "v": refused, nothing stored */
	const char *bad[] = { "{\"v\": 1}", "{\"b\":1,\"a\":2,\"v\":1}", "hello", "{\"a\":1}",
			      "{\"v\":1,\"x\":1.5}" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(sk_odb_write(fx->odb, SK_OBJ_RELEASE, bad[i], strlen(bad[i]),
					      &oid, &err), SK_EINVAL);
	assert_int_equal(count_files(fx->objdir), 1);
	j = json_pack("{s:i}", "v", 1);
	assert_int_equal(sk_odb_write_json(fx->odb, SK_OBJ_BLOB, j, &oid, &err), SK_EINVAL);
	json_decref(j);
	j = json_pack("{s:i}", "x", 1);
	assert_int_equal(sk_odb_write_json(fx->odb, SK_OBJ_EVENT, j, &oid, &err), SK_EINVAL);
	json_decref(j);
	assert_int_equal(sk_odb_write(fx->odb, SK_OBJ_NONE, "x", 1, &oid, &err), SK_EINVAL);
	assert_int_equal(sk_odb_write(fx->odb, SK_OBJ__COUNT, "x", 1, &oid, &err), SK_EINVAL);
}

static void test_wrong_type_and_missing(void **state)
{
	struct fx *fx = *state;
	struct sk_err err;
	struct sk_oid oid;
	assert_int_equal(sk_odb_write(fx->odb, SK_OBJ_BLOB, "hello", 5, &oid, &err), 0);
	unsigned char *p = NULL;
	size_t len;
	assert_int_equal(sk_odb_read(fx->odb, &oid, SK_OBJ_TRUST, 0, NULL, &p, &len, &err),
			 SK_EINVAL);
	assert_string_equal(err.message, "object " HELLO_ID " is a blob, not a trust");
	json_t *j = NULL;
	assert_int_equal(sk_odb_read_json(fx->odb, &oid, SK_OBJ_NONE, 0, &j, &err), SK_EINVAL);
	assert_null(j);

	struct sk_oid missing;
	sk_oid_hash(&missing, SK_OBJ_BLOB, "nope", 4);
	assert_int_equal(sk_odb_read(fx->odb, &missing, SK_OBJ_NONE, 0, NULL, &p, &len, &err),
			 SK_ENOTFOUND);
	assert_non_null(strstr(err.message, "not found"));
	assert_int_equal(sk_odb_read_header(fx->odb, &missing, NULL, NULL, &err), SK_ENOTFOUND);
	assert_false(sk_odb_exists(fx->odb, &missing));
	assert_null(p);
}

static void test_prefix(void **state)
{
	struct fx *fx = *state;
	struct sk_err err;
	struct sk_oid oid, got;
	assert_int_equal(sk_odb_write(fx->odb, SK_OBJ_BLOB, "hello", 5, &oid, &err), 0);
	assert_int_equal(sk_odb_resolve_prefix(fx->odb, "8aec4e48", &got, &err), 0);
	assert_int_equal(sk_oid_cmp(&oid, &got), 0);
	assert_int_equal(sk_odb_resolve_prefix(fx->odb, HELLO_ID, &got, &err), 0);
	assert_int_equal(sk_oid_cmp(&oid, &got), 0);
	assert_int_equal(sk_odb_resolve_prefix(fx->odb, "8aec4e49", &got, &err), SK_ENOTFOUND);
	assert_int_equal(sk_odb_resolve_prefix(fx->odb, "00000000", &got, &err), SK_ENOTFOUND);
	assert_int_equal(sk_odb_resolve_prefix(fx->odb, "8aec4e4", &got, &err), SK_EINVAL);
	assert_int_equal(sk_odb_resolve_prefix(fx->odb, "8AEC4E48", &got, &err), SK_EINVAL);
	assert_int_equal(sk_odb_resolve_prefix(fx->odb, "8aec4e48\n", &got, &err), SK_EINVAL);

	/* a second file sharing the first 12 digits makes 8 and 12 ambiguous */
	char *path = sk_odb_path(fx->odb, &oid);
	char other[512];
	snprintf(other, sizeof(other), "%s/8a/ec4e4876f8%s", fx->objdir,
		 "ffffffffffffffffffffffffffffffffffffffffffffffffffff");
	put_file(other, "x", 1);
	free(path);
	assert_int_equal(sk_odb_resolve_prefix(fx->odb, "8aec4e48", &got, &err), SK_EAMBIGUOUS);
	assert_non_null(strstr(err.message, "ambiguous"));
	assert_int_equal(sk_odb_resolve_prefix(fx->odb, "8aec4e4876f8", &got, &err),
			 SK_EAMBIGUOUS);
	assert_int_equal(sk_odb_resolve_prefix(fx->odb, "8aec4e4876f85", &got, &err), 0);
	assert_int_equal(sk_oid_cmp(&oid, &got), 0);
}

static int collect(const struct sk_oid *oid, void *arg)
{
	struct sk_oid *seen = arg;
	for (int i = 0; i < 8; i++)
		if (sk_oid_is_zero(&seen[i])) {
			seen[i] = *oid;
			return 0;
		}
	return -1;
}

static int stop_at_first(const struct sk_oid *oid, void *arg)
{
	(void)oid;
	(*(int *)arg)++;
	return 7;
}

static void test_foreach(void **state)
{
	struct fx *fx = *state;
	struct sk_err err;
	struct sk_oid a, b, c;
	assert_int_equal(sk_odb_write(fx->odb, SK_OBJ_BLOB, "a", 1, &a, &err), 0);
	assert_int_equal(sk_odb_write(fx->odb, SK_OBJ_BLOB, "b", 1, &b, &err), 0);
	assert_int_equal(sk_odb_write(fx->odb, SK_OBJ_BLOB, "c", 1, &c, &err), 0);
	/* temp files and junk are not objects */
	char *p = sk_path_join(fx->objdir, "incoming.tmp.1.2");
	put_file(p, "x", 1);
	free(p);
	char junk[512];
	char ahex[SK_OID_HEXSZ + 1];
	sk_oid_tohex(&a, ahex);
	snprintf(junk, sizeof(junk), "%s/%.2s/%s.tmp.3.4", fx->objdir, ahex, ahex + 2);
	put_file(junk, "x", 1);
	snprintf(junk, sizeof(junk), "%s/zz/%s", fx->objdir, ahex + 2);
	put_file(junk, "x", 1);

	struct sk_oid seen[8];
	memset(seen, 0, sizeof(seen));
	assert_int_equal(sk_odb_foreach(fx->odb, collect, seen, &err), 0);
	int found = 0;
	for (int i = 0; i < 8; i++) {
		if (sk_oid_is_zero(&seen[i]))
			continue;
		found++;
		assert_true(sk_oid_cmp(&seen[i], &a) == 0 || sk_oid_cmp(&seen[i], &b) == 0 ||
			    sk_oid_cmp(&seen[i], &c) == 0);
	}
	assert_int_equal(found, 3);
	int calls = 0;
	assert_int_equal(sk_odb_foreach(fx->odb, stop_at_first, &calls, &err), 7);
	assert_int_equal(calls, 1);
}

static int temp_with(const char *root, const void *data, size_t len)
{
	char *p = sk_path_join(root, "input");
	put_file(p, data, len);
	int fd = open(p, O_RDONLY);
	free(p);
	return fd;
}

static void test_write_fd(void **state)
{
	struct fx *fx = *state;
	struct sk_err err;
	/* above the threshold for worker threads; partly compressible */
	size_t n = (9u << 20) + 123;
	unsigned char *buf = malloc(n);
	unsigned seed = 7;
	for (size_t i = 0; i < n; i++)
		buf[i] = (i / 4096) % 2 ? (unsigned char)rand_r(&seed) : (unsigned char)(i % 251);
	struct sk_oid want, oid;
	sk_oid_hash(&want, SK_OBJ_BLOB, buf, n);
	int fd = temp_with(fx->root, buf, n);

	/* hash only: no object */
	assert_int_equal(sk_odb_write_fd(fx->odb, fd, n, 0, &oid, &err), 0);
	assert_int_equal(sk_oid_cmp(&oid, &want), 0);
	assert_false(sk_odb_exists(fx->odb, &oid));

	lseek(fd, 0, SEEK_SET);
	assert_int_equal(sk_odb_write_fd(fx->odb, fd, n, 1, &oid, &err), 0);
	assert_int_equal(sk_oid_cmp(&oid, &want), 0);
	close(fd);
	char *path = sk_odb_path(fx->odb, &oid);
	char *z;
	size_t zlen;
	assert_int_equal(sk_fs_read_file(path, 64 << 20, &z, &zlen, &err), 0);
	assert_int_equal(ZSTD_getFrameContentSize(z, zlen), n + strlen("blob 9437307") + 1);
	assert_int_equal(ZSTD_findFrameCompressedSize(z, zlen), zlen);
	free(z);
	free(path);
	unsigned char *p;
	size_t len;
	assert_int_equal(sk_odb_read(fx->odb, &oid, SK_OBJ_BLOB, SK_ODB_VERIFY, NULL, &p, &len,
				     &err), 0);
	assert_int_equal(len, n);
	assert_memory_equal(p, buf, n);
	free(p);
	free(buf);
	assert_int_equal(count_files(fx->objdir), 1);

	/* from a pipe, and a small one without worker threads */
	int pfd[2];
	assert_int_equal(pipe(pfd), 0);
	assert_int_equal(write(pfd[1], "hello, world", 12), 12);
	close(pfd[1]);
	assert_int_equal(sk_odb_write_fd(fx->odb, pfd[0], 5, 1, &oid, &err), 0);
	close(pfd[0]);
	char hex[SK_OID_HEXSZ + 1];
	assert_string_equal(sk_oid_tohex(&oid, hex), HELLO_ID);

	/* input shorter than promised: error, nothing left behind */
	fd = temp_with(fx->root, "abc", 3);
	assert_int_equal(sk_odb_write_fd(fx->odb, fd, 10, 1, &oid, &err), SK_EIO);
	assert_non_null(strstr(err.message, "after 3 of 10"));
	close(fd);
	assert_int_equal(count_files(fx->objdir), 2);

	/* above the blob cap */
	setenv("SKIFF_MAX_OBJECT_BYTES", "4", 1);
	fd = temp_with(fx->root, "hello", 5);
	assert_int_equal(sk_odb_write_fd(fx->odb, fd, 5, 1, &oid, &err), SK_ETOOBIG);
	close(fd);
	unsetenv("SKIFF_MAX_OBJECT_BYTES");
}

static void test_max_size(void **state)
{
	struct fx *fx = *state;
	assert_int_equal(sk_odb_max_size(SK_OBJ_BLOB), SK_ODB_MAX_BLOB);
	assert_int_equal(sk_odb_max_size(SK_OBJ_TRUST), SK_CJSON_MAX);
	assert_int_equal(sk_odb_max_size(SK_OBJ_NONE), 0);
	setenv("SKIFF_MAX_OBJECT_BYTES", "1000", 1);
	assert_int_equal(sk_odb_max_size(SK_OBJ_BLOB), 1000);
	assert_int_equal(sk_odb_max_size(SK_OBJ_RELEASE), SK_CJSON_MAX);
	struct sk_err err;
	struct sk_oid oid;
	char big[1001];
	memset(big, 'x', sizeof(big));
	assert_int_equal(sk_odb_write(fx->odb, SK_OBJ_BLOB, big, 1001, &oid, &err), SK_ETOOBIG);
	assert_int_equal(sk_odb_write(fx->odb, SK_OBJ_BLOB, big, 1000, &oid, &err), 0);
	setenv("SKIFF_MAX_OBJECT_BYTES", "junk", 1);
	assert_int_equal(sk_odb_max_size(SK_OBJ_BLOB), SK_ODB_MAX_BLOB);
	unsetenv("SKIFF_MAX_OBJECT_BYTES");
}

static long rss_bytes(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	long pages = 0, res = 0;
	if (f) {
		if (fscanf(f, "%ld %ld", &pages, &res) != 2)
			res = 0;
		fclose(f);
	}
	return res * sysconf(_SC_PAGESIZE);
}

/* "blob N\0" + N bytes of 'x' + 64 MiB of zeros, content size unknown. */
static unsigned char *bomb_frame(size_t declared, size_t *zlen)
{
	size_t chunk = 1 << 20, cap = 1 << 20;
	unsigned char *zeros = calloc(1, chunk), *z = malloc(cap);
	ZSTD_CCtx *c = ZSTD_createCCtx();
	ZSTD_CCtx_setParameter(c, ZSTD_c_contentSizeFlag, 0);
	ZSTD_outBuffer o = { z, cap, 0 };
	char hdr[32];
	int hl = snprintf(hdr, sizeof(hdr), "blob %zu", declared) + 1;
	ZSTD_inBuffer h = { hdr, (size_t)hl, 0 };
	assert_false(ZSTD_isError(ZSTD_compressStream2(c, &o, &h, ZSTD_e_continue)));
	memset(zeros, 'x', declared);
	ZSTD_inBuffer p = { zeros, declared, 0 };
	assert_false(ZSTD_isError(ZSTD_compressStream2(c, &o, &p, ZSTD_e_continue)));
	memset(zeros, 0, declared);
	for (int i = 0; i < 64; i++) {
		ZSTD_inBuffer in = { zeros, chunk, 0 };
		while (in.pos < in.size)
			assert_false(ZSTD_isError(ZSTD_compressStream2(c, &o, &in, ZSTD_e_continue)));
	}
	ZSTD_inBuffer none = { NULL, 0, 0 };
	while (ZSTD_compressStream2(c, &o, &none, ZSTD_e_end) != 0)
		;
	ZSTD_freeCCtx(c);
	free(zeros);
	*zlen = o.pos;
	return z;
}

static void bomb(struct fx *fx, size_t declared)
{
	size_t zlen;
	unsigned char *z = bomb_frame(declared, &zlen);
	assert_true(zlen < (1 << 20));
	assert_int_equal(ZSTD_getFrameContentSize(z, zlen), ZSTD_CONTENTSIZE_UNKNOWN);
	struct sk_oid oid;
	sk_oid_hash(&oid, SK_OBJ_BLOB, "0123456789", 10);
	char needle[64];
	snprintf(needle, sizeof(needle), "more than the %zu bytes", declared);
	char *path = sk_odb_path(fx->odb, &oid);
	put_file(path, z, zlen);
	free(path);

	/* In a child, so its peak RSS starts at the current RSS (Linux sets
	 * the high-water mark at fork) and measures this read alone. */
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		long before = rss_bytes();
		struct sk_err err;
		unsigned char *p = NULL;
		size_t len;
		int rc = sk_odb_read(fx->odb, &oid, SK_OBJ_NONE, SK_ODB_VERIFY, NULL, &p, &len, &err);
		struct rusage ru;
		getrusage(RUSAGE_SELF, &ru);
		long grew = ru.ru_maxrss * 1024L - before;
		/* memory, not time, is the property: no timed assertions */
		int ok = rc == SK_ETOOBIG && strstr(err.message, needle) && grew < (16L << 20);
		if (!ok)
			fprintf(stderr, "rc %d \"%s\" grew %ld\n", rc, err.message, grew);
		_exit(ok ? 0 : 1);
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);

	/* the wire decoder applies the same stop */
	struct sk_err err;
	assert_int_equal(sk_obj_decode(z, zlen, NULL, NULL, NULL, NULL, &err), SK_ETOOBIG);
	free(z);
}

static void test_decompression_bomb(void **state)
{
	struct fx *fx = *state;
	bomb(fx, 10);  /* stopped inside the first bytes read for the header */
	bomb(fx, 100); /* stopped by the check after the declared payload */
}

static void test_size_claims(void **state)
{
	struct fx *fx = *state;
	struct sk_oid oid;
	const char *any = "0000000000000000000000000000000000000000000000000000000000000001";

	/* header above the blob cap */
	setenv("SKIFF_MAX_OBJECT_BYTES", "1000", 1);
	char payload[2000];
	memset(payload, 'x', sizeof(payload));
	put_object(fx, any, "blob 2000", 10, payload, 2000, 1, &oid);
	expect_read(fx, &oid, 0, SK_ETOOBIG, "above the 1000-byte limit");
	struct sk_err err;
	assert_int_equal(sk_odb_read_header(fx->odb, &oid, NULL, NULL, &err), SK_ETOOBIG);
	unsetenv("SKIFF_MAX_OBJECT_BYTES");
	expect_read(fx, &oid, 0, 0, NULL);

	/* a JSON type claiming more than SK_CJSON_MAX, content size unknown */
	char hdr[32];
	int hl = snprintf(hdr, sizeof(hdr), "trust %u", SK_CJSON_MAX + 1) + 1;
	put_object(fx, any, hdr, (size_t)hl, "{\"v\":1}", 7, 0, &oid);
	expect_read(fx, &oid, 0, SK_ETOOBIG, "above the 16777216-byte limit");

	/* frame content size above header + cap: refused before decoding */
	unsigned char fake[] = { 0x28, 0xb5, 0x2f, 0xfd, 0xe0, 0, 0, 0, 0, 4, 0, 0, 0,
				 0x01, 0x00, 0x00 };
	char *path = sk_odb_path(fx->odb, &oid);
	put_file(path, fake, sizeof(fake));
	free(path);
	expect_read(fx, &oid, 0, SK_ETOOBIG, "above every size limit");

	/* frame content size larger than the header declares */
	put_object(fx, any, "blob 3", 7, "hello", 5, 1, &oid);
	expect_read(fx, &oid, 0, SK_ETOOBIG, "header declares");

	/* same, with the content size unknown: caught while decoding */
	put_object(fx, any, "blob 3", 7, "hello", 5, 0, &oid);
	expect_read(fx, &oid, 0, SK_ETOOBIG, "more than the 3 bytes");

	/* shorter than the header declares */
	put_object(fx, any, "blob 9", 7, "hello", 5, 1, &oid);
	expect_read(fx, &oid, 0, SK_ECORRUPT, "shorter than its header");
	put_object(fx, any, "blob 9", 7, "hello", 5, 0, &oid);
	expect_read(fx, &oid, 0, SK_ECORRUPT, "shorter than its header");

	/* unknown content size but otherwise right: accepted */
	put_object(fx, HELLO_ID, "blob 5", 7, "hello", 5, 0, &oid);
	expect_read(fx, &oid, SK_ODB_VERIFY, 0, NULL);
}

static void test_bad_headers(void **state)
{
	struct fx *fx = *state;
	struct sk_oid oid;
	const char *any = "0000000000000000000000000000000000000000000000000000000000000002";
	/* hlen counts the header's NUL where there is one */
	static const struct {
		const char *hdr;
		size_t hlen;
		const char *payload;
		const char *needle;
	} bad[] = {
		{ "blob 05", 8, "hello", "malformed length" },
		{ "blob +5", 8, "hello", "malformed length" },
		{ "blob 5 ", 8, "hello", "malformed length" },
		{ "blob ", 6, "hello", "malformed length" },
		{ "bogus 5", 8, "hello", "unknown object type" },
		{ "none 5", 7, "hello", "unknown object type" },
		{ "blob5", 6, "hello", "malformed object header" },
		{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 40, "", "no object header" },
		{ "blob 99999999999999999999999", 29, "", "malformed length" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		put_object(fx, any, bad[i].hdr, bad[i].hlen, bad[i].payload, strlen(bad[i].payload),
			   1, &oid);
		expect_read(fx, &oid, 0, SK_ECORRUPT, bad[i].needle);
	}
	/* not zstd at all */
	char *path = sk_odb_path(fx->odb, &oid);
	put_file(path, "blob 5\0hello", 12);
	expect_read(fx, &oid, 0, SK_ECORRUPT, "not a zstd frame");
	put_file(path, "", 0);
	expect_read(fx, &oid, 0, SK_ECORRUPT, "not a zstd frame");
	free(path);
}

static void test_truncated_and_trailing(void **state)
{
	struct fx *fx = *state;
	struct sk_err err;
	struct sk_oid oid;
	char big[5000];
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (char)('a' + (i * 7919) % 26);
	assert_int_equal(sk_odb_write(fx->odb, SK_OBJ_BLOB, big, sizeof(big), &oid, &err), 0);
	char *path = sk_odb_path(fx->odb, &oid);
	char *z;
	size_t zlen;
	assert_int_equal(sk_fs_read_file(path, 1 << 20, &z, &zlen, &err), 0);
	chmod(path, 0644);

	for (size_t cut = 1; cut < zlen; cut += (cut < 8 ? 1 : 97)) {
		put_file(path, z, zlen - cut);
		expect_read(fx, &oid, 0, SK_ECORRUPT, NULL);
		expect_read(fx, &oid, SK_ODB_VERIFY, SK_ECORRUPT, NULL);
	}
	put_file(path, z, zlen - 1);
	expect_read(fx, &oid, 0, SK_ECORRUPT, "truncated");

	char *longer = malloc(zlen + 3);
	memcpy(longer, z, zlen);
	memcpy(longer + zlen, "xyz", 3);
	put_file(path, longer, zlen + 3);
	expect_read(fx, &oid, 0, SK_ECORRUPT, "trailing bytes");
	/* a second frame after the first is trailing bytes too */
	memcpy(longer, z, zlen);
	put_file(path, longer, zlen);
	int fd = open(path, O_WRONLY | O_APPEND);
	assert_int_equal(write(fd, z, zlen), (ssize_t)zlen);
	close(fd);
	expect_read(fx, &oid, 0, SK_ECORRUPT, "trailing bytes");
	free(longer);

	/* a flipped byte in the middle is caught by zstd's checksum even unverified */
	z[zlen / 2] ^= 0x55;
	put_file(path, z, zlen);
	expect_read(fx, &oid, 0, SK_ECORRUPT, NULL);
	free(z);
	free(path);
}

static void test_hash_mismatch(void **state)
{
	struct fx *fx = *state;
	struct sk_err err;
	struct sk_oid a, b;
	assert_int_equal(sk_odb_write(fx->odb, SK_OBJ_BLOB, "hello", 5, &a, &err), 0);
	assert_int_equal(sk_odb_write(fx->odb, SK_OBJ_BLOB, "world", 5, &b, &err), 0);
	char *pa = sk_odb_path(fx->odb, &a), *pb = sk_odb_path(fx->odb, &b);
	char *z;
	size_t zlen;
	assert_int_equal(sk_fs_read_file(pa, 1 << 20, &z, &zlen, &err), 0);
	put_file(pb, z, zlen);
	free(z);
	free(pa);
	free(pb);
	expect_read(fx, &b, SK_ODB_VERIFY, SK_ECORRUPT, "hash mismatch");
	/* unverified reads only check the format: the file is a valid blob */
	unsigned char *p;
	size_t len;
	assert_int_equal(sk_odb_read(fx->odb, &b, SK_OBJ_BLOB, 0, NULL, &p, &len, &err), 0);
	assert_memory_equal(p, "hello", 5);
	free(p);
}

static void test_stored_json_not_canonical(void **state)
{
	struct fx *fx = *state;
	const char *doc = "{\"v\": 1}";
	struct sk_oid oid, want;
	sk_oid_hash(&want, SK_OBJ_TRUST, doc, strlen(doc));
	char hex[SK_OID_HEXSZ + 1];
	put_object(fx, sk_oid_tohex(&want, hex), "trust 8", 8, doc, strlen(doc), 1, &oid);
	expect_read(fx, &oid, 0, 0, NULL);
	expect_read(fx, &oid, SK_ODB_VERIFY, SK_ECORRUPT, "not canonical");
	struct sk_err err;
	json_t *j = NULL;
	assert_int_equal(sk_odb_read_json(fx->odb, &oid, SK_OBJ_TRUST, 0, &j, &err), SK_ECORRUPT);
	assert_null(j);
	assert_non_null(strstr(err.message, "whitespace"));
}

static void test_wire_form(void **state)
{
	struct fx *fx = *state;
	struct sk_err err;
	unsigned char *z;
	size_t zlen;
	const char *doc = "{\"v\":1}";
	assert_int_equal(sk_obj_encode(SK_OBJ_EVENT, doc, 7, &z, &zlen, &err), 0);
	struct sk_oid want, wrong;
	sk_oid_hash(&want, SK_OBJ_EVENT, doc, 7);
	enum sk_otype t;
	unsigned char *p;
	size_t len;
	assert_int_equal(sk_obj_decode(z, zlen, &want, &t, &p, &len, &err), 0);
	assert_int_equal(t, SK_OBJ_EVENT);
	assert_int_equal(len, 7);
	assert_memory_equal(p, doc, 7);
	free(p);
	assert_int_equal(sk_obj_decode(z, zlen, NULL, &t, NULL, NULL, &err), 0);
	sk_oid_hash(&wrong, SK_OBJ_REPORT, doc, 7);
	assert_int_equal(sk_obj_decode(z, zlen, &wrong, &t, &p, &len, &err), SK_ECORRUPT);
	assert_non_null(strstr(err.message, "hash mismatch"));
	assert_int_equal(sk_obj_decode(z, zlen - 1, &want, &t, &p, &len, &err), SK_ECORRUPT);
	assert_int_equal(sk_obj_decode(z, 3, &want, &t, &p, &len, &err), SK_ECORRUPT);
	assert_int_equal(sk_obj_decode(z, 0, &want, &t, &p, &len, &err), SK_ECORRUPT);

	/* write_raw stores the bytes as they are */
	assert_int_equal(sk_odb_write_raw(fx->odb, &want, z, zlen, &err), 0);
	char *path = sk_odb_path(fx->odb, &want);
	char *stored;
	size_t slen;
	assert_int_equal(sk_fs_read_file(path, 1 << 20, &stored, &slen, &err), 0);
	assert_int_equal(slen, zlen);
	assert_memory_equal(stored, z, zlen);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0444);
	free(stored);
	free(path);
	expect_read(fx, &want, SK_ODB_VERIFY, 0, NULL);
	free(z);

	/* decode insists on canonical JSON even without an expected id */
	size_t fl;
	unsigned char *f = make_frame("event 8", 8, "{\"v\": 1}", 8, 1, &fl);
	assert_int_equal(sk_obj_decode(f, fl, NULL, &t, &p, &len, &err), SK_ECORRUPT);
	free(f);
	/* encode refuses what write refuses */
	assert_int_equal(sk_obj_encode(SK_OBJ_EVENT, "{}", 2, &z, &zlen, &err), SK_EINVAL);
	assert_int_equal(sk_obj_encode(SK_OBJ_BLOB, "{}", 2, &z, &zlen, &err), 0);
	free(z);
}

/* --- sk_odb_stream ------------------------------------------------- */

/* A sink that keeps what it gets; call number fail_at returns fail_rc
 * instead (filling err through arg when err is set). */
struct kept {
	unsigned char *buf;
	size_t len, cap, calls, largest, fail_at;
	int fail_rc;
	struct sk_err *err;
};

static int keep(const void *p, size_t n, void *arg)
{
	struct kept *k = arg;
	k->calls++;
	if (n > k->largest)
		k->largest = n;
	if (k->fail_at && k->calls == k->fail_at)
		return k->err ? sk_err_set(k->err, k->fail_rc, NULL, "sink says no") : k->fail_rc;
	if (k->len + n > k->cap) {
		k->cap = (k->len + n) * 2;
		k->buf = realloc(k->buf, k->cap);
		assert_non_null(k->buf);
	}
	memcpy(k->buf + k->len, p, n);
	k->len += n;
	return 0;
}

/* n bytes in runs of a pattern and of noise, so zstd works both ways. */
static unsigned char *mixed_bytes(size_t n, unsigned seed)
{
	unsigned char *buf = malloc(n ? n : 1);
	assert_non_null(buf);
	for (size_t i = 0; i < n; i++)
		buf[i] = (i / 4096) % 2 ? (unsigned char)rand_r(&seed) : (unsigned char)(i % 251);
	return buf;
}

static struct sk_oid store_mixed(struct fx *fx, size_t n, unsigned seed)
{
	unsigned char *buf = mixed_bytes(n, seed);
	struct sk_oid oid;
	struct sk_err err;
	th_must(sk_odb_write(fx->odb, SK_OBJ_BLOB, buf, n, &oid, &err), &err);
	free(buf);
	return oid;
}

static void expect_stream(struct fx *fx, const struct sk_oid *oid, struct kept *k, int code,
			  const char *needle)
{
	struct sk_err err;
	sk_err_clear(&err);
	int rc = sk_odb_stream(fx->odb, oid, SK_OBJ_NONE, k ? keep : NULL, k, NULL, NULL, &err);
	if (rc != code || (needle && !strstr(err.message, needle)))
		print_error("rc %d (want %d), message \"%s\" (want \"%s\")\n", rc, code,
			    err.message, needle ? needle : "");
	assert_int_equal(rc, code);
	if (needle)
		assert_non_null(strstr(err.message, needle));
}

static void test_stream_matches_read(void **state)
{
	struct fx *fx = *state;
	/* 9 MiB is above the size where hashing moves to a second thread */
	static const size_t sizes[] = { 0, 1, (1u << 20) + 7, 9u << 20 };
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t n = sizes[i];
		struct sk_oid oid = store_mixed(fx, n, (unsigned)i + 1);
		struct sk_err err;
		unsigned char *p;
		size_t len;
		th_must(sk_odb_read(fx->odb, &oid, SK_OBJ_BLOB, SK_ODB_VERIFY, NULL, &p, &len, &err),
			&err);
		struct kept k = { 0 };
		enum sk_otype t = SK_OBJ_NONE;
		uint64_t size = 1234;
		th_must(sk_odb_stream(fx->odb, &oid, SK_OBJ_BLOB, keep, &k, &t, &size, &err), &err);
		assert_int_equal(t, SK_OBJ_BLOB);
		assert_int_equal(size, n);
		assert_int_equal(k.len, len);
		if (n)
			assert_memory_equal(k.buf, p, n);
		else
			assert_int_equal(k.calls, 0);
		/* in bounded pieces, never the whole of a large blob at once */
		assert_true(k.largest <= (1u << 20));
		if (n > (1u << 20))
			assert_true(k.calls > 1);
		/* verify only */
		t = SK_OBJ_NONE;
		size = 1234;
		th_must(sk_odb_stream(fx->odb, &oid, SK_OBJ_NONE, NULL, NULL, &t, &size, &err), &err);
		assert_int_equal(t, SK_OBJ_BLOB);
		assert_int_equal(size, n);
		free(k.buf);
		free(p);
	}
}

static void test_stream_json_and_types(void **state)
{
	struct fx *fx = *state;
	struct sk_err err;
	struct sk_oid oid, absent;
	const char *doc = "{\"a\":[1,2],\"v\":1}";
	th_must(sk_odb_write(fx->odb, SK_OBJ_CONTROL, doc, strlen(doc), &oid, &err), &err);
	struct kept k = { 0 };
	enum sk_otype t;
	uint64_t size;
	th_must(sk_odb_stream(fx->odb, &oid, SK_OBJ_NONE, keep, &k, &t, &size, &err), &err);
	assert_int_equal(t, SK_OBJ_CONTROL);
	assert_int_equal(size, strlen(doc));
	assert_int_equal(k.calls, 1);
	assert_int_equal(k.len, strlen(doc));
	assert_memory_equal(k.buf, doc, strlen(doc));
	free(k.buf);

	/* a wrong type or a missing object: an error, and no byte handed over */
	memset(&k, 0, sizeof(k));
	assert_int_equal(sk_odb_stream(fx->odb, &oid, SK_OBJ_BLOB, keep, &k, NULL, NULL, &err),
			 SK_EINVAL);
	assert_non_null(strstr(err.message, "is a control, not a blob"));
	sk_oid_hash(&absent, SK_OBJ_BLOB, "absent", 6);
	expect_stream(fx, &absent, &k, SK_ENOTFOUND, "not found");
	assert_int_equal(k.calls, 0);

	/* stored JSON that is not canonical is corrupt, found before the sink */
	const char *pretty = "{\"v\": 1}";
	struct sk_oid want;
	char hex[SK_OID_HEXSZ + 1];
	sk_oid_hash(&want, SK_OBJ_TRUST, pretty, strlen(pretty));
	put_object(fx, sk_oid_tohex(&want, hex), "trust 8", 8, pretty, strlen(pretty), 1, &oid);
	expect_stream(fx, &oid, &k, SK_ECORRUPT, "not canonical");
	assert_int_equal(k.calls, 0);
}

/* Copies a's file over b's: b's file is then a valid frame of a's content. */
static void swap_in(struct fx *fx, const struct sk_oid *a, const struct sk_oid *b)
{
	char *pa = sk_odb_path(fx->odb, a), *pb = sk_odb_path(fx->odb, b);
	char *z;
	size_t zlen;
	struct sk_err err;
	th_must(sk_fs_read_file(pa, 64 << 20, &z, &zlen, &err), &err);
	put_file(pb, z, zlen);
	free(z);
	free(pa);
	free(pb);
}

static void test_stream_hash_mismatch(void **state)
{
	struct fx *fx = *state;
	/* small (one piece), several pieces, and past the hash-thread size */
	static const size_t sizes[] = { 5, (1u << 20) + 7, (5u << 20) + 3 };
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct sk_oid a = store_mixed(fx, sizes[i], 100 + (unsigned)i);
		struct sk_oid b = store_mixed(fx, sizes[i] + 1, 200 + (unsigned)i);
		swap_in(fx, &a, &b);
		expect_stream(fx, &b, NULL, SK_ECORRUPT, "hash mismatch");
		/* a sink has had every byte by the time the mismatch shows */
		struct kept k = { 0 };
		expect_stream(fx, &b, &k, SK_ECORRUPT, "hash mismatch");
		assert_int_equal(k.len, sizes[i]);
		free(k.buf);
		expect_stream(fx, &a, NULL, 0, NULL);
	}
}

static void test_stream_sink_error(void **state)
{
	struct fx *fx = *state;
	struct sk_oid oid = store_mixed(fx, (3u << 20) + 5, 9);
	struct sk_err err;
	sk_err_clear(&err);

	/* the sink's own code and message come back; no further calls */
	struct kept k = { .fail_at = 2, .fail_rc = SK_EIO, .err = &err };
	assert_int_equal(sk_odb_stream(fx->odb, &oid, SK_OBJ_BLOB, keep, &k, NULL, NULL, &err),
			 SK_EIO);
	assert_int_equal(k.calls, 2);
	assert_int_equal(err.code, SK_EIO);
	assert_string_equal(err.message, "sink says no");
	free(k.buf);

	/* a sink that says nothing: its value comes back with a message */
	struct kept quiet = { .fail_at = 1, .fail_rc = 7 };
	assert_int_equal(sk_odb_stream(fx->odb, &oid, SK_OBJ_BLOB, keep, &quiet, NULL, NULL, &err),
			 7);
	assert_int_equal(quiet.calls, 1);
	assert_int_equal(err.code, 7);
	assert_non_null(strstr(err.message, "output stopped"));

	/* the same for a JSON object, handed over in one call */
	const char *doc = "{\"v\":1}";
	th_must(sk_odb_write(fx->odb, SK_OBJ_EVENT, doc, strlen(doc), &oid, &err), &err);
	struct kept j = { .fail_at = 1, .fail_rc = SK_ENOSPC, .err = &err };
	assert_int_equal(sk_odb_stream(fx->odb, &oid, SK_OBJ_NONE, keep, &j, NULL, NULL, &err),
			 SK_ENOSPC);
	assert_int_equal(j.calls, 1);
}

static void test_stream_lying_frames(void **state)
{
	struct fx *fx = *state;
	/* the bomb frames: stopped at the cap, the sink never past it */
	static const size_t declared[] = { 10, 100 };
	for (size_t i = 0; i < 2; i++) {
		size_t zlen;
		unsigned char *z = bomb_frame(declared[i], &zlen);
		struct sk_oid oid;
		sk_oid_hash(&oid, SK_OBJ_BLOB, "0123456789", 10);
		char *path = sk_odb_path(fx->odb, &oid);
		put_file(path, z, zlen);
		free(path);
		free(z);
		char needle[64];
		snprintf(needle, sizeof(needle), "more than the %zu bytes", declared[i]);
		expect_stream(fx, &oid, NULL, SK_ETOOBIG, needle);
		struct kept k = { 0 };
		expect_stream(fx, &oid, &k, SK_ETOOBIG, needle);
		assert_true(k.len <= declared[i]);
		free(k.buf);
	}

	/* above the blob cap: refused from the header, before any byte */
	struct sk_oid oid;
	const char *any = "0000000000000000000000000000000000000000000000000000000000000003";
	char payload[2000];
	memset(payload, 'x', sizeof(payload));
	put_object(fx, any, "blob 2000", 10, payload, 2000, 1, &oid);
	setenv("SKIFF_MAX_OBJECT_BYTES", "1000", 1);
	struct kept k = { 0 };
	expect_stream(fx, &oid, &k, SK_ETOOBIG, "above the 1000-byte limit");
	assert_int_equal(k.calls, 0);
	unsetenv("SKIFF_MAX_OBJECT_BYTES");

	/* shorter than declared, truncated, trailing bytes */
	put_object(fx, any, "blob 9", 7, "hello", 5, 0, &oid);
	expect_stream(fx, &oid, NULL, SK_ECORRUPT, "shorter than its header");
	struct sk_oid big = store_mixed(fx, (2u << 20) + 1, 11);
	char *path = sk_odb_path(fx->odb, &big);
	char *z;
	size_t zlen;
	struct sk_err err;
	th_must(sk_fs_read_file(path, 64 << 20, &z, &zlen, &err), &err);
	put_file(path, z, zlen / 2);
	expect_stream(fx, &big, NULL, SK_ECORRUPT, "truncated");
	char *longer = malloc(zlen + 3);
	memcpy(longer, z, zlen);
	memcpy(longer + zlen, "xyz", 3);
	put_file(path, longer, zlen + 3);
	expect_stream(fx, &big, NULL, SK_ECORRUPT, "trailing bytes");
	put_file(path, z, zlen);
	expect_stream(fx, &big, NULL, 0, NULL);
	free(longer);
	free(z);
	free(path);
}

/* The point of streaming: a 64 MiB blob verified in a few MiB. */
static void test_stream_memory(void **state)
{
	struct fx *fx = *state;
	size_t n = 64u << 20;
	struct sk_oid oid = store_mixed(fx, n, 64);
	/* In a child, so its peak RSS starts at the current RSS (see bomb). */
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		long before = rss_bytes();
		struct sk_err err;
		enum sk_otype t = SK_OBJ_NONE;
		uint64_t size = 0;
		int rc = sk_odb_stream(fx->odb, &oid, SK_OBJ_BLOB, NULL, NULL, &t, &size, &err);
		struct rusage ru;
		getrusage(RUSAGE_SELF, &ru);
		long grew = ru.ru_maxrss * 1024L - before;
		int ok = rc == 0 && t == SK_OBJ_BLOB && size == n && grew < (16L << 20);
		fprintf(stderr, "streamed %zu bytes: rc %d, peak RSS grew by %ld KiB\n", n, rc,
			grew / 1024);
		_exit(ok ? 0 : 1);
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* Runs one write in a child with SKIFF_FAULT set (the injector's counters
 * are per process); returns the child's error code. */
static int faulty_write(struct fx *fx, const char *fault, int use_fd)
{
	/* Empty fanout directories go, so each write creates its own and
	 * makes all three fsyncs (file, ab/, objects/). */
	DIR *d = opendir(fx->objdir);
	struct dirent *e;
	while (d && (e = readdir(d)) != NULL) {
		char *sub = sk_path_join(fx->objdir, e->d_name);
		if (e->d_name[0] != '.')
			rmdir(sub);
		free(sub);
	}
	if (d)
		closedir(d);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct sk_err err;
		struct sk_oid oid;
		int rc;
		int fd = use_fd ? temp_with(fx->root, "streamed", 8) : -1;
		setenv("SKIFF_FAULT", fault, 1);
		if (use_fd)
			rc = sk_odb_write_fd(fx->odb, fd, 8, 1, &oid, &err);
		else
			rc = sk_odb_write(fx->odb, SK_OBJ_BLOB, "faulty", 6, &oid, &err);
		_exit(-rc);
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	return -WEXITSTATUS(status);
}

static void test_fault_injection(void **state)
{
	struct fx *fx = *state;
	static const char *const faults[] = { "open:1", "write:1", "fsync:1", "rename:1",
					      "fsync:2", "fsync:3", "write:1:EIO" };
	for (int use_fd = 0; use_fd < 2; use_fd++)
		for (size_t i = 0; i < sizeof(faults) / sizeof(faults[0]); i++) {
			/* fsync:2 and :3 hit the directories after the rename: the
			 * object is whole and stays (a concurrent writer may rely on
			 * it), but the write still reports the failure. */
			int after_rename = strncmp(faults[i], "fsync:2", 7) == 0 ||
					   strncmp(faults[i], "fsync:3", 7) == 0;
			int rc = faulty_write(fx, faults[i], use_fd);
			if (rc == 0 || count_files(fx->objdir) != after_rename)
				print_error("fault %s (fd %d): rc %d, %d files\n", faults[i],
					    use_fd, rc, count_files(fx->objdir));
			assert_int_equal(rc, strstr(faults[i], "EIO") ? SK_EIO : SK_ENOSPC);
			assert_int_equal(count_files(fx->objdir), after_rename);
			if (after_rename) {
				struct sk_err err;
				struct sk_oid oid;
				sk_oid_hash(&oid, SK_OBJ_BLOB, use_fd ? "streamed" : "faulty",
					    use_fd ? 8 : 6);
				unsigned char *data = NULL;
				size_t len = 0;
				assert_int_equal(sk_odb_read(fx->odb, &oid, SK_OBJ_BLOB, SK_ODB_VERIFY,
							     NULL, &data, &len, &err), 0);
				free(data);
				char *path = sk_odb_path(fx->odb, &oid);
				assert_int_equal(unlink(path), 0);
				free(path);
			}
		}
	/* three fsyncs per new object, so a fourth fault never fires */
	assert_int_equal(faulty_write(fx, "fsync:4", 0), 0);
	assert_int_equal(count_files(fx->objdir), 1);
	assert_int_equal(faulty_write(fx, "fsync:4", 1), 0);
	assert_int_equal(count_files(fx->objdir), 2);
}

/* The reusable encoder makes wire bytes that decode to the payload under
 * its id, at sizes on both sides of the direct-write threshold. */
static void test_blob_encoder(void **state)
{
	(void)state;
	static const size_t sizes[] = { 0, 1, 65536, 300000, 3 << 20, 5, 262144, 1 << 20 };
	struct sk_blob_enc *e = sk_blob_enc_new();
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		unsigned char *data = th_random_bytes(sizes[i] ? sizes[i] : 1, 50 + i);
		if (i == 3 || i == 7)
			memset(data + sizes[i] / 4, 'x', sizes[i] / 2); /* half compressible */
		const unsigned char *z;
		size_t zlen, len;
		struct sk_err err;
		th_must(sk_blob_enc_run(e, data, sizes[i], &z, &zlen, &err), &err);
		if (i == 3 || i == 7)
			assert_true(zlen < sizes[i] * 4 / 5);
		struct sk_oid want;
		sk_oid_hash(&want, SK_OBJ_BLOB, data, sizes[i]);
		enum sk_otype t;
		unsigned char *back;
		th_must(sk_obj_decode(z, zlen, &want, &t, &back, &len, &err), &err);
		assert_int_equal(t, SK_OBJ_BLOB);
		assert_int_equal(len, sizes[i]);
		assert_memory_equal(back, data, sizes[i]);
		free(back);
		free(data);
	}
	sk_blob_enc_free(e);
}

static int count_temps(struct fx *fx)
{
	json_t *list;
	struct sk_err err;
	th_must(sk_odb_list_temp(fx->odb, &list, &err), &err);
	int n = (int)json_array_size(list);
	json_decref(list);
	return n;
}

/* Puts n random blobs (ids in oids) into batch b. */
static void batch_fill(struct fx *fx, struct sk_odb_batch *b, struct sk_oid *oids, size_t n,
		       unsigned seed)
{
	struct sk_blob_enc *e = sk_blob_enc_new();
	for (size_t i = 0; i < n; i++) {
		size_t len = (i + 1) * 200000;
		unsigned char *data = th_random_bytes(len, seed + i);
		const unsigned char *z;
		size_t zlen;
		struct sk_err err;
		sk_oid_hash(&oids[i], SK_OBJ_BLOB, data, len);
		assert_int_equal(sk_odb_batch_claim(b, &oids[i]), 1);
		assert_int_equal(sk_odb_batch_claim(b, &oids[i]), 0); /* claimed once */
		th_must(sk_blob_enc_run(e, data, len, &z, &zlen, &err), &err);
		th_must(sk_odb_batch_put(b, &oids[i], z, zlen, &err), &err);
		free(data);
	}
	sk_blob_enc_free(e);
	/* Nothing is visible before the commit. */
	for (size_t i = 0; i < n; i++)
		assert_false(sk_odb_exists(fx->odb, &oids[i]));
	assert_int_equal(count_temps(fx), (int)n);
}

/* Commits a batch of two with SKIFF_FAULT set to fault, in a child (the
 * fault counters are per process); returns the commit's error code, or
 * -99 when it succeeded or its message does not name the failed step. */
static int batch_fault(struct fx *fx, struct sk_oid *oids, unsigned seed, const char *fault)
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct sk_err err;
		struct sk_odb_batch *b = sk_odb_batch_new(fx->odb);
		batch_fill(fx, b, oids, 2, seed);
		setenv("SKIFF_FAULT", fault, 1);
		int rc = sk_odb_batch_commit(b, &err);
		unsetenv("SKIFF_FAULT");
		sk_odb_batch_free(b);
		_exit(rc < 0 && strstr(err.message, fault[0] == 'f' ? "sync" : "move") ? -rc : 99);
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	for (size_t i = 0; i < 2; i++) { /* the child's ids, recomputed here */
		size_t len = (i + 1) * 200000;
		unsigned char *data = th_random_bytes(len, seed + i);
		sk_oid_hash(&oids[i], SK_OBJ_BLOB, data, len);
		free(data);
	}
	return -WEXITSTATUS(status);
}

/* A batch's objects appear only on commit, complete; a batch freed
 * without commit, or whose commit fails, leaves no temp file, and a
 * failed first sync leaves no object at all. */
static void test_batch(void **state)
{
	struct fx *fx = *state;
	struct sk_oid oids[3], old;
	struct sk_err err;
	th_must(sk_odb_write(fx->odb, SK_OBJ_BLOB, "old", 3, &old, &err), &err);

	struct sk_odb_batch *b = sk_odb_batch_new(fx->odb);
	assert_int_equal(sk_odb_batch_claim(b, &old), 0); /* stored already */
	batch_fill(fx, b, oids, 3, 60);
	th_must(sk_odb_batch_commit(b, &err), &err);
	sk_odb_batch_free(b);
	for (size_t i = 0; i < 3; i++)
		expect_read(fx, &oids[i], SK_ODB_VERIFY, 0, NULL);
	assert_int_equal(count_temps(fx), 0);
	assert_int_equal(count_files(fx->objdir), 4);

	b = sk_odb_batch_new(fx->odb); /* never committed */
	batch_fill(fx, b, oids, 2, 70);
	sk_odb_batch_free(b);
	assert_int_equal(count_temps(fx), 0);
	assert_false(sk_odb_exists(fx->odb, &oids[0]));

	/* The sync before any rename fails: no new object at all. */
	assert_int_equal(batch_fault(fx, oids, 80, "fsync:1:EIO"), SK_EIO);
	assert_int_equal(count_temps(fx), 0);
	assert_int_equal(count_files(fx->objdir), 4);
	/* The second rename fails: the first object is there, whole. */
	assert_int_equal(batch_fault(fx, oids, 90, "rename:2"), SK_ENOSPC);
	assert_int_equal(count_temps(fx), 0);
	expect_read(fx, &oids[0], SK_ODB_VERIFY, 0, NULL);
	assert_false(sk_odb_exists(fx->odb, &oids[1]));
}

/* Deferred writes: no fsync of their own (sk_odb_flush covers them), and
 * an object of the same id found torn -- what a power cut between rename
 * and syncfs can leave -- is replaced, where a normal write trusts it. */
static void test_defer(void **state)
{
	struct fx *fx = *state;
	struct sk_oid oid;
	struct sk_err err;
	assert_int_equal(sk_odb_defer(fx->odb, 1), 0);
	setenv("SKIFF_FAULT", "fsync:1:EIO", 1); /* any fsync would fail */
	th_must(sk_odb_write(fx->odb, SK_OBJ_BLOB, "deferred", 8, &oid, &err), &err);
	unsetenv("SKIFF_FAULT");
	th_must(sk_odb_flush(fx->odb, &err), &err);
	expect_read(fx, &oid, SK_ODB_VERIFY, 0, NULL);

	char *path = sk_odb_path(fx->odb, &oid);
	chmod(path, 0644);
	assert_int_equal(truncate(path, 5), 0);
	assert_int_equal(sk_odb_defer(fx->odb, 0), 1);
	th_must(sk_odb_write(fx->odb, SK_OBJ_BLOB, "deferred", 8, &oid, &err), &err);
	unsigned char *p = NULL;
	size_t len = 0;
	/* a normal write trusts what is there */
	assert_true(sk_odb_read(fx->odb, &oid, SK_OBJ_NONE, SK_ODB_VERIFY, NULL, &p, &len, &err) < 0);
	free(p);
	sk_odb_defer(fx->odb, 1);
	th_must(sk_odb_write(fx->odb, SK_OBJ_BLOB, "deferred", 8, &oid, &err), &err);
	sk_odb_defer(fx->odb, 0);
	expect_read(fx, &oid, SK_ODB_VERIFY, 0, NULL);
	assert_int_equal(count_temps(fx), 0);
	free(path);
}

static void test_open_missing(void **state)
{
	(void)state;
	struct sk_odb *odb = NULL;
	struct sk_err err;
	assert_int_equal(sk_odb_open(&odb, "/nonexistent/skiff/objects", &err), SK_ENOTFOUND);
	assert_null(odb);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_decompression_bomb),
		T(test_write_read_blob),
		T(test_random_sizes),
		T(test_json_objects),
		T(test_wrong_type_and_missing),
		T(test_prefix),
		T(test_foreach),
		T(test_write_fd),
		T(test_max_size),
		T(test_size_claims),
		T(test_bad_headers),
		T(test_truncated_and_trailing),
		T(test_hash_mismatch),
		T(test_stored_json_not_canonical),
		T(test_wire_form),
		T(test_fault_injection),
		T(test_blob_encoder),
		T(test_batch),
		T(test_defer),
		T(test_stream_matches_read),
		T(test_stream_json_and_types),
		T(test_stream_hash_mismatch),
		T(test_stream_sink_error),
		T(test_stream_lying_frames),
		T(test_stream_memory),
		cmocka_unit_test(test_open_missing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
