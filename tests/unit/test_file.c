/*
 * File objects: store -> verify -> extract round trips, deduplication of
 * a second store and of an edited artifact, empty and piped input, a file
 * that changes while it is read, missing and corrupt chunks (named by
 * index and id), extract never overwriting and never leaving anything
 * behind, and strict validation of the file document.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/fs.h"
#include "objects/chunker.h"
#include "objects/cjson.h"
#include "objects/file.h"
#include "objects/odb.h"
#include "tests/unit/helpers.h"

#define MIB ((size_t)1 << 20)
#define EMPTY_SHA "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

struct fx {
	char root[64];
	char *objdir;
	char *work; /* inputs and extract destinations */
	struct sk_odb *odb;
};

static int setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));
	if (!fx || th_tmpdir(fx->root, sizeof(fx->root), "file") < 0)
		return -1;
	th_isolate_env(NULL);
	fx->objdir = sk_path_join(fx->root, "objects");
	fx->work = sk_path_join(fx->root, "work");
	mkdir(fx->objdir, 0777);
	mkdir(fx->work, 0777);
	struct sk_err err;
	if (sk_odb_open(&fx->odb, fx->objdir, &err) != 0)
		return -1;
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;
	sk_odb_free(fx->odb);
	th_rmtree(fx->root);
	free(fx->objdir);
	free(fx->work);
	free(fx);
	th_isolate_env(NULL);
	return 0;
}

static char *write_input(struct fx *fx, const char *name, const void *data, size_t n)
{
	char *path = sk_path_join(fx->work, name);
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, n, f), n);
	assert_int_equal(fclose(f), 0);
	return path;
}

static int store_path(struct fx *fx, const char *path, struct sk_file_stats *st,
		      struct sk_oid *oid, unsigned char sha[32], struct sk_err *err)
{
	int fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	int rc = sk_file_store(fx->odb, fd, st, oid, sha, err);
	close(fd);
	return rc;
}

static void store_data(struct fx *fx, const void *data, size_t n, struct sk_file_stats *st,
		       struct sk_oid *oid)
{
	struct sk_err err;
	unsigned char sha[32], want[32];
	char *path = write_input(fx, "input", data, n);
	th_must(store_path(fx, path, st, oid, sha, &err), &err);
	sk_sha256(data, n, want);
	assert_memory_equal(sha, want, 32);
	unlink(path);
	free(path);
}

static unsigned char *read_all(const char *path, size_t *n)
{
	char *buf;
	struct sk_err err;
	th_must(sk_fs_read_file(path, (size_t)1 << 30, &buf, n, &err), &err);
	return (unsigned char *)buf;
}

static int count_entries(const char *dir)
{
	int n = 0;
	DIR *d = opendir(dir);
	assert_non_null(d);
	struct dirent *e;
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static void extract_equals(struct fx *fx, const struct sk_oid *oid, const void *data, size_t n)
{
	struct sk_err err;
	char *dest = sk_path_join(fx->work, "out");
	th_must(sk_file_extract(fx->odb, oid, dest, &err), &err);
	size_t got;
	unsigned char *back = read_all(dest, &got);
	assert_int_equal(got, n);
	assert_memory_equal(back, data, n);
	free(back);
	unlink(dest);
	free(dest);
	assert_int_equal(count_entries(fx->work), 0);
}

static void test_round_trip(void **state)
{
	struct fx *fx = *state;
	size_t n = 20 * MIB + 12345;
	unsigned char *data = th_random_bytes(n, 1);
	struct sk_file_stats st;
	struct sk_oid oid;
	struct sk_err err;
	store_data(fx, data, n, &st, &oid);
	assert_int_equal(st.bytes, n);
	assert_int_equal(st.new_bytes, n);
	assert_int_equal(st.dedup_bytes, 0);
	assert_true(st.chunks >= 5 && st.chunks <= 80);
	assert_int_equal(st.new_chunks, st.chunks);
	th_must(sk_file_verify(fx->odb, &oid, &err), &err);
	struct sk_file *f;
	th_must(sk_file_read(fx->odb, &oid, &f, &err), &err);
	assert_int_equal(f->nchunks, st.chunks);
	assert_int_equal(f->size, n);
	sk_file_free(f);
	extract_equals(fx, &oid, data, n);

	/* Storing the same bytes again writes nothing new. */
	struct sk_file_stats st2;
	struct sk_oid oid2;
	store_data(fx, data, n, &st2, &oid2);
	assert_memory_equal(&oid, &oid2, sizeof(oid));
	assert_int_equal(st2.new_bytes, 0);
	assert_int_equal(st2.new_chunks, 0);
	assert_int_equal(st2.dedup_bytes, n);
	assert_int_equal(st2.chunks, st.chunks);
	free(data);
}

static void test_empty(void **state)
{
	struct fx *fx = *state;
	struct sk_file_stats st;
	struct sk_oid oid;
	struct sk_err err;
	store_data(fx, "", 0, &st, &oid);
	assert_int_equal(st.bytes, 0);
	assert_int_equal(st.chunks, 0);
	json_t *doc;
	th_must(sk_odb_read_json(fx->odb, &oid, SK_OBJ_FILE, SK_ODB_VERIFY, &doc, &err), &err);
	char *s;
	size_t len;
	th_must(sk_cjson_dump(doc, &s, &len, &err), &err);
	assert_string_equal(s, "{\"chunks\":[],\"sha256\":\"" EMPTY_SHA "\",\"size\":0,\"v\":1}");
	free(s);
	json_decref(doc);
	th_must(sk_file_verify(fx->odb, &oid, &err), &err);
	extract_equals(fx, &oid, "", 0);
}

/* Repeated content inside one artifact is stored once: 20 MiB of zeros
 * are five identical 4 MiB chunks, even while the first is being written. */
static void test_repeats_within_file(void **state)
{
	struct fx *fx = *state;
	size_t n = 20 * MIB;
	unsigned char *data = calloc(1, n);
	assert_non_null(data);
	struct sk_file_stats st;
	struct sk_oid oid;
	struct sk_err err;
	store_data(fx, data, n, &st, &oid);
	assert_int_equal(st.chunks, 5);
	assert_int_equal(st.new_chunks, 1);
	assert_int_equal(st.new_bytes, SK_CDC_MAX);
	assert_int_equal(st.dedup_bytes, n - SK_CDC_MAX);
	th_must(sk_file_verify(fx->odb, &oid, &err), &err);
	extract_equals(fx, &oid, data, n);
	free(data);
}

/* A pipe has no size to check: read to its end, same result as a file. */
static void test_pipe(void **state)
{
	struct fx *fx = *state;
	size_t n = 3 * MIB;
	unsigned char *data = th_random_bytes(n, 5);
	char *path = write_input(fx, "in", data, n);
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "cat %s", path);
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	struct sk_oid a, b;
	struct sk_err err;
	th_must(sk_file_store(fx->odb, fileno(p), NULL, &a, NULL, &err), &err);
	assert_int_equal(pclose(p), 0);
	th_must(store_path(fx, path, NULL, &b, NULL, &err), &err);
	assert_memory_equal(&a, &b, sizeof(a));
	unlink(path);
	free(path);
	extract_equals(fx, &a, data, n);
	free(data);
}

/* 1 MiB inserted into 64 MiB, at three places: the new chunk data is the
 * insert plus the chunks around it. Each edit must stay within 4 MiB on
 * average and 8 MiB at worst: with 1 MiB mean chunks and a 4 MiB maximum
 * some edit positions cost more than 4 MiB (about 6% in simulation; see
 * objects/chunker.c), the mean is about 2.5 MiB. */
static void test_insert_dedup(void **state)
{
	struct fx *fx = *state;
	size_t n = 64 * MIB, ins = MIB;
	unsigned char *a = th_random_bytes(n, 9);
	unsigned char *b = malloc(n + ins);
	unsigned char *mid = th_random_bytes(ins, 10);
	assert_non_null(b);
	struct sk_file_stats st;
	struct sk_oid oid;
	store_data(fx, a, n, &st, &oid);
	uint64_t total = 0;
	for (size_t k = 1; k <= 3; k++) {
		size_t at = n / 4 * k + 4099 * k;
		memcpy(b, a, at);
		memcpy(b + at, mid, ins);
		memcpy(b + at + ins, a + at, n - at);
		store_data(fx, b, n + ins, &st, &oid);
		print_message("1 MiB inserted at %zu: %llu new bytes in %llu of %llu chunks\n", at,
			      (unsigned long long)st.new_bytes, (unsigned long long)st.new_chunks,
			      (unsigned long long)st.chunks);
		/* The insert itself was stored by the first edit. */
		assert_true(k > 1 || st.new_bytes >= ins);
		assert_true(st.new_bytes <= 8 * MIB);
		assert_int_equal(st.new_bytes + st.dedup_bytes, n + ins);
		total += st.new_bytes;
	}
	assert_true(total <= 12 * MIB);
	free(a);
	free(b);
	free(mid);
}

/* Issue 3's case: 1 MiB overwritten in the middle of a 256 MiB artifact
 * stores at most 4 MiB of new chunk data. A fixed draw: the boundaries
 * around an edit decide the figure, and about 3% of edit positions in
 * random data cost more than 4 MiB (tests/bench measures the spread);
 * this one costs 2.9 MiB (the edit falls inside one chunk). It fails when
 * storing or the chunker stops deduplicating what did not change. */
static void test_overwrite_dedup(void **state)
{
	struct fx *fx = *state;
	size_t n = 256 * MIB, at = n / 2;
	unsigned char *data = th_random_bytes(n, 13);
	unsigned char *patch = th_random_bytes(MIB, 14);
	struct sk_file_stats st;
	struct sk_oid oid;
	store_data(fx, data, n, &st, &oid);
	memcpy(data + at, patch, MIB);
	store_data(fx, data, n, &st, &oid);
	print_message("1 MiB overwritten at %zu of %zu: %llu new bytes in %llu of %llu chunks\n",
		      at, n, (unsigned long long)st.new_bytes, (unsigned long long)st.new_chunks,
		      (unsigned long long)st.chunks);
	assert_true(st.new_bytes >= MIB && st.new_bytes <= 4 * MIB);
	assert_int_equal(st.new_bytes + st.dedup_bytes, n);
	free(data);
	free(patch);
}

/* Appends to the file until told to stop. */
struct grower {
	const char *path;
	atomic_int stop;
};

static void *grow(void *arg)
{
	struct grower *g = arg;
	int fd = open(g->path, O_WRONLY | O_APPEND);
	while (fd >= 0 && !atomic_load(&g->stop)) {
		if (write(fd, "x", 1) != 1)
			break;
		usleep(500);
	}
	if (fd >= 0)
		close(fd);
	return NULL;
}

static int only_blobs(const struct sk_oid *oid, void *arg)
{
	struct fx *fx = arg;
	enum sk_otype t;
	struct sk_err err;
	th_must(sk_odb_read_header(fx->odb, oid, &t, NULL, &err), &err);
	return t == SK_OBJ_BLOB ? 0 : 1;
}

static void test_changed_while_read(void **state)
{
	struct fx *fx = *state;
	size_t n = 32 * MIB;
	unsigned char *data = th_random_bytes(n, 12);
	char *path = write_input(fx, "in", data, n);
	struct grower g = { path, 0 };
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, grow, &g), 0);
	usleep(2000);
	struct sk_err err;
	struct sk_oid oid;
	int rc = store_path(fx, path, NULL, &oid, NULL, &err);
	atomic_store(&g.stop, 1);
	pthread_join(th, NULL);
	assert_int_equal(rc, SK_ECONFLICT);
	assert_non_null(strstr(err.message, "changed while it was read"));
	assert_non_null(strstr(err.hint, "stable"));
	assert_int_equal(sk_odb_foreach(fx->odb, only_blobs, fx, &err), 0);

	/* A short read (here: input that ends before its size) is caught too. */
	int fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(lseek(fd, 1000, SEEK_SET), 1000);
	assert_int_equal(sk_file_store(fx->odb, fd, NULL, &oid, NULL, &err), SK_ECONFLICT);
	close(fd);
	assert_int_equal(sk_odb_foreach(fx->odb, only_blobs, fx, &err), 0);
	unlink(path);
	free(path);
	free(data);
}

static void test_directory_rejected(void **state)
{
	struct fx *fx = *state;
	int fd = open(fx->work, O_RDONLY | O_DIRECTORY);
	assert_true(fd >= 0);
	struct sk_err err;
	struct sk_oid oid;
	assert_int_equal(sk_file_store(fx->odb, fd, NULL, &oid, NULL, &err), SK_EINVAL);
	close(fd);
}

/* Stores 6 MiB of random data (several chunks) and returns its file. */
static struct sk_file *store_some(struct fx *fx, struct sk_oid *oid, unsigned char **data,
				  size_t *n)
{
	*n = 6 * MIB;
	*data = th_random_bytes(*n, 21);
	store_data(fx, *data, *n, NULL, oid);
	struct sk_file *f;
	struct sk_err err;
	th_must(sk_file_read(fx->odb, oid, &f, &err), &err);
	assert_true(f->nchunks >= 3);
	return f;
}

static void expect_bad_chunk(struct fx *fx, const struct sk_oid *oid, size_t idx,
			     const struct sk_oid *chunk)
{
	struct sk_err err;
	char hex[SK_OID_HEXSZ + 1], want[32];
	sk_oid_tohex(chunk, hex);
	snprintf(want, sizeof(want), "chunk %zu ", idx);
	assert_int_equal(sk_file_verify(fx->odb, oid, &err), SK_ECORRUPT);
	assert_non_null(strstr(err.message, want));
	assert_non_null(strstr(err.message, hex));
	char *dest = sk_path_join(fx->work, "out");
	assert_int_equal(sk_file_extract(fx->odb, oid, dest, &err), SK_ECORRUPT);
	assert_non_null(strstr(err.message, hex));
	assert_false(sk_fs_exists(dest));
	assert_int_equal(count_entries(fx->work), 0);
	free(dest);
}

static void test_missing_chunk(void **state)
{
	struct fx *fx = *state;
	struct sk_oid oid;
	unsigned char *data;
	size_t n;
	struct sk_file *f = store_some(fx, &oid, &data, &n);
	char *p = sk_odb_path(fx->odb, &f->chunks[1].oid);
	assert_int_equal(unlink(p), 0);
	free(p);
	expect_bad_chunk(fx, &oid, 1, &f->chunks[1].oid);
	sk_file_free(f);
	free(data);
}

static void overwrite(const char *path, const void *data, size_t n)
{
	chmod(path, 0644);
	int fd = open(path, O_WRONLY | O_TRUNC);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, n), (ssize_t)n);
	close(fd);
}

static void test_corrupt_chunk(void **state)
{
	struct fx *fx = *state;
	struct sk_oid oid, other;
	struct sk_err err;
	unsigned char *data;
	size_t n;
	struct sk_file *f = store_some(fx, &oid, &data, &n);
	/* Chunk 2's file holds another valid blob: a hash mismatch. */
	th_must(sk_odb_write(fx->odb, SK_OBJ_BLOB, "x", 1, &other, &err), &err);
	char *op = sk_odb_path(fx->odb, &other), *bytes;
	size_t len;
	th_must(sk_fs_read_file(op, 1 << 20, &bytes, &len, &err), &err);
	char *cp = sk_odb_path(fx->odb, &f->chunks[2].oid);
	overwrite(cp, bytes, len);
	expect_bad_chunk(fx, &oid, 2, &f->chunks[2].oid);
	free(bytes);
	free(cp);
	free(op);

	/* Chunk 0 with a flipped byte in its compressed bytes. */
	cp = sk_odb_path(fx->odb, &f->chunks[0].oid);
	th_must(sk_fs_read_file(cp, 16 << 20, &bytes, &len, &err), &err);
	bytes[len / 2] ^= 0x40;
	overwrite(cp, bytes, len);
	expect_bad_chunk(fx, &oid, 0, &f->chunks[0].oid);
	free(bytes);
	free(cp);
	sk_file_free(f);
	free(data);
}

static void test_extract_never_overwrites(void **state)
{
	struct fx *fx = *state;
	struct sk_oid oid;
	unsigned char *data;
	size_t n;
	struct sk_err err;
	struct sk_file *f = store_some(fx, &oid, &data, &n);
	char *dest = write_input(fx, "out", "keep", 4);
	assert_int_equal(sk_file_extract(fx->odb, &oid, dest, &err), SK_EEXISTS);
	size_t got;
	unsigned char *back = read_all(dest, &got);
	assert_int_equal(got, 4);
	assert_memory_equal(back, "keep", 4);
	free(back);
	assert_int_equal(count_entries(fx->work), 1);
	unlink(dest);
	/* A dangling symlink counts as existing: nothing is created through it. */
	assert_int_equal(symlink("/nonexistent-skiff-target", dest), 0);
	assert_int_equal(sk_file_extract(fx->odb, &oid, dest, &err), SK_EEXISTS);
	unlink(dest);
	free(dest);
	sk_file_free(f);
	free(data);
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

static int count_objects(const struct sk_oid *oid, void *arg)
{
	(void)oid;
	++*(int *)arg;
	return 0;
}

/* Stores path with SKIFF_FAULT set to fault, in a child (so the fault
 * counters of this process stay at zero): 0 when the store failed with
 * code and a message containing needle. */
static int faulty_store(struct fx *fx, const char *path, const char *fault, int code,
			const char *needle)
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct sk_err err;
		struct sk_oid oid;
		setenv("SKIFF_FAULT", fault, 1);
		int fd = open(path, O_RDONLY);
		int rc = sk_file_store(fx->odb, fd, NULL, &oid, NULL, &err);
		_exit(rc == code && strstr(err.message, needle) ? 0 : 1);
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

/* A chunk write failing on a writer thread fails the store with the
 * writer's error, and a failed sync of the new chunks makes none of them
 * visible: no file object, no temp file, no chunk before it is durable.
 * The next store completes. */
static void test_store_fault(void **state)
{
	struct fx *fx = *state;
	size_t n = 12 * MIB;
	unsigned char *data = th_random_bytes(n, 31);
	char *path = write_input(fx, "in", data, n);
	struct sk_err err;
	int objects = 0;
	assert_int_equal(faulty_store(fx, path, "fsync:1:EIO", SK_EIO, "sync"), 0);
	assert_int_equal(sk_odb_foreach(fx->odb, count_objects, &objects, &err), 0);
	assert_int_equal(objects, 0);
	assert_int_equal(count_temps(fx), 0);
	assert_int_equal(faulty_store(fx, path, "write:3", SK_ENOSPC, "write"), 0);
	assert_int_equal(sk_odb_foreach(fx->odb, only_blobs, fx, &err), 0);
	assert_int_equal(count_temps(fx), 0);
	struct sk_oid oid;
	th_must(store_path(fx, path, NULL, &oid, NULL, &err), &err);
	th_must(sk_file_verify(fx->odb, &oid, &err), &err);
	unlink(path);
	free(path);
	free(data);
}

/* A failed fsync or write during extract leaves neither dest nor temp. */
static void test_extract_fault(void **state)
{
	struct fx *fx = *state;
	struct sk_oid oid;
	unsigned char *data;
	size_t n;
	struct sk_err err;
	struct sk_file *f = store_some(fx, &oid, &data, &n);
	char *dest = sk_path_join(fx->work, "out");
	/* Every operation counts while SKIFF_FAULT is set: write first, as
	 * the failed extract stops before any fsync. */
	setenv("SKIFF_FAULT", "write:2:ENOSPC", 1);
	assert_int_equal(sk_file_extract(fx->odb, &oid, dest, &err), SK_ENOSPC);
	assert_int_equal(count_entries(fx->work), 0);
	setenv("SKIFF_FAULT", "fsync:1:EIO", 1);
	assert_int_equal(sk_file_extract(fx->odb, &oid, dest, &err), SK_EIO);
	unsetenv("SKIFF_FAULT");
	assert_false(sk_fs_exists(dest));
	assert_int_equal(count_entries(fx->work), 0);
	th_must(sk_file_extract(fx->odb, &oid, dest, &err), &err);
	unlink(dest);
	free(dest);
	sk_file_free(f);
	free(data);
}

/* --- the document ---------------------------------------------------- */

#define OID_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define OID_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

static int parse_doc(const char *text, struct sk_file **out, struct sk_err *err)
{
	json_t *doc = NULL;
	*out = NULL;
	int rc = sk_cjson_parse(text, strlen(text), &doc, err);
	if (!rc)
		rc = sk_file_from_json(out, doc, err);
	json_decref(doc);
	return rc;
}

static void expect_reject(const char *text, const char *needle)
{
	struct sk_file *f;
	struct sk_err err;
	int rc = parse_doc(text, &f, &err);
	if (rc == 0)
		fail_msg("accepted: %s", text);
	assert_int_equal(rc, SK_EINVAL);
	assert_null(f);
	if (!strstr(err.message, needle))
		fail_msg("message \"%s\" lacks \"%s\"", err.message, needle);
}

static void test_doc_valid(void **state)
{
	(void)state;
	const char *text = "{\"chunks\":[{\"oid\":\"" OID_A "\",\"size\":262144},{\"oid\":\"" OID_B
			   "\",\"size\":5}],\"sha256\":\"" EMPTY_SHA "\",\"size\":262149,\"v\":1}";
	struct sk_file *f;
	struct sk_err err;
	th_must(parse_doc(text, &f, &err), &err);
	assert_int_equal(f->nchunks, 2);
	assert_int_equal(f->size, 262149);
	assert_int_equal(f->chunks[1].size, 5);
	json_t *j = sk_file_to_json(f);
	char *s;
	size_t len;
	th_must(sk_cjson_dump(j, &s, &len, &err), &err);
	assert_string_equal(s, text);
	free(s);
	json_decref(j);
	sk_file_free(f);
}

static void test_doc_rejects(void **state)
{
	(void)state;
	const char *tail = "\"sha256\":\"" EMPTY_SHA "\",\"size\":262149,\"v\":1}";
	char buf[1024];
#define DOC(chunks) (snprintf(buf, sizeof(buf), "{\"chunks\":[%s],%s", chunks, tail), buf)
	expect_reject(DOC("{\"oid\":\"" OID_A "\",\"size\":262144},{\"oid\":\"" OID_B
			  "\",\"size\":6}"), "add up");
	expect_reject(DOC("{\"oid\":\"" OID_A "\",\"size\":262144},{\"oid\":\"" OID_B
			  "\",\"size\":4194305}"), "chunk 1: size out of range");
	expect_reject(DOC("{\"oid\":\"" OID_A "\",\"size\":100},{\"oid\":\"" OID_B
			  "\",\"size\":262049}"), "chunk 0: size out of range");
	expect_reject(DOC("{\"oid\":\"" OID_A "\",\"size\":262149},{\"oid\":\"" OID_B
			  "\",\"size\":0}"), "chunk 1: size out of range");
	expect_reject(DOC("{\"oid\":\"" OID_A "\",\"size\":262144},{\"oid\":\"" OID_B
			  "\",\"size\":5,\"x\":1}"), "chunk 1");
	expect_reject(DOC("{\"oid\":\"" OID_A "\",\"size\":262144},{\"oid\":\"ABC\",\"size\":5}"),
		      "chunk 1");
	expect_reject(DOC("{\"oid\":\"" OID_A "\",\"size\":262144},{\"oid\":5,\"size\":5}"),
		      "chunk 1");
	expect_reject(DOC("{\"oid\":\"" OID_A "\",\"size\":262144},5"), "chunk 1");
	/* Unsorted keys never reach the validator: not canonical. */
	expect_reject("{\"chunks\":[{\"size\":5,\"oid\":\"" OID_A "\"}],\"sha256\":\"" EMPTY_SHA
		      "\",\"size\":5,\"v\":1}", "");
	expect_reject("{\"chunks\":[],\"extra\":1,\"sha256\":\"" EMPTY_SHA "\",\"size\":0,\"v\":1}",
		      "extra");
	expect_reject("{\"chunks\":[],\"size\":0,\"v\":1}", "sha256");
	expect_reject("{\"chunks\":[],\"sha256\":\"" EMPTY_SHA "00\",\"size\":0,\"v\":1}", "sha256");
	expect_reject("{\"chunks\":[],\"sha256\":\"E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA4"
		      "95991B7852B855\",\"size\":0,\"v\":1}", "sha256");
	expect_reject("{\"chunks\":[],\"sha256\":\"" EMPTY_SHA "\",\"size\":-1,\"v\":1}", "size");
	expect_reject("{\"chunks\":[],\"sha256\":\"" EMPTY_SHA "\",\"size\":1,\"v\":1}", "add up");
	expect_reject("{\"chunks\":{},\"sha256\":\"" EMPTY_SHA "\",\"size\":0,\"v\":1}", "chunks");
	expect_reject("{\"sha256\":\"" EMPTY_SHA "\",\"size\":0,\"v\":1}", "chunks");
#undef DOC
}

static void test_doc_too_many_chunks(void **state)
{
	(void)state;
	json_t *arr = json_array();
	size_t n = SK_FILE_MAX_CHUNKS + 1;
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, json_pack("{s:s,s:I}", "oid", OID_A, "size",
						     (json_int_t)SK_CDC_MIN));
	json_t *doc = json_pack("{s:o,s:s,s:I,s:i}", "chunks", arr, "sha256", EMPTY_SHA, "size",
				(json_int_t)(n * SK_CDC_MIN), "v", 1);
	struct sk_file *f;
	struct sk_err err;
	assert_int_equal(sk_file_from_json(&f, doc, &err), SK_EINVAL);
	assert_non_null(strstr(err.message, "more than 131072 chunks"));
	/* One fewer is fine, and its document fits the canonical JSON cap. */
	json_array_remove(arr, 0);
	json_object_set_new(doc, "size", json_integer((json_int_t)((n - 1) * SK_CDC_MIN)));
	th_must(sk_file_from_json(&f, doc, &err), &err);
	char *s;
	size_t len;
	th_must(sk_cjson_dump(doc, &s, &len, &err), &err);
	assert_true(len < SK_CJSON_MAX);
	free(s);
	sk_file_free(f);
	json_decref(doc);
}

/* A stored file object that is not a valid file is corrupt, not input. */
static void test_stored_bad_doc(void **state)
{
	struct fx *fx = *state;
	const char *text = "{\"chunks\":[],\"sha256\":\"" EMPTY_SHA "\",\"size\":3,\"v\":1}";
	struct sk_oid oid;
	struct sk_err err;
	th_must(sk_odb_write(fx->odb, SK_OBJ_FILE, text, strlen(text), &oid, &err), &err);
	assert_int_equal(sk_file_verify(fx->odb, &oid, &err), SK_ECORRUPT);
	char *dest = sk_path_join(fx->work, "out");
	assert_int_equal(sk_file_extract(fx->odb, &oid, dest, &err), SK_ECORRUPT);
	assert_int_equal(count_entries(fx->work), 0);
	free(dest);
	/* A blob is not a file. */
	th_must(sk_odb_write(fx->odb, SK_OBJ_BLOB, "x", 1, &oid, &err), &err);
	assert_int_not_equal(sk_file_verify(fx->odb, &oid, &err), 0);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_round_trip),
		T(test_empty),
		T(test_repeats_within_file),
		T(test_pipe),
		T(test_insert_dedup),
		T(test_overwrite_dedup),
		T(test_changed_while_read),
		T(test_directory_rejected),
		T(test_missing_chunk),
		T(test_corrupt_chunk),
		T(test_extract_never_overwrites),
		T(test_store_fault),
		T(test_extract_fault),
		T(test_doc_valid),
		T(test_doc_rejects),
		T(test_doc_too_many_chunks),
		T(test_stored_bad_doc),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
