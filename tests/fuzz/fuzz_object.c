/*
 * Fuzz target for stored and fetched objects: the zstd frame, the header,
 * the size caps and the canonical-JSON check. The same bytes are decoded
 * from memory (sk_obj_decode, the wire path) and from a file in a scratch
 * object store (sk_odb_read, the local path); both must agree. Accepted
 * objects re-encode and decode to the same payload. The blob cap is
 * lowered so a decompression bomb shows up as a crash or an OOM here.
 *
 * Input: a zstd frame as stored (first byte even, as the zstd magic's
 * 0x28 is), or, when the first byte is odd, the decompressed bytes
 * ("<type> <len>\0" + payload) after it, which this target compresses
 * itself (bit 1: with content size) so mutations reach the header and
 * JSON checks instead of dying at the frame checksum.
 */
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zstd.h>

#include "common/fs.h"
#include "objects/odb.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char root[64];
static struct sk_odb *odb;
static struct sk_oid slot; /* the one object id the input is stored under */

static int rm_cb(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)flag;
	(void)f;
	return remove(p);
}

static void cleanup(void)
{
	sk_odb_free(odb);
	nftw(root, rm_cb, 8, FTW_DEPTH | FTW_PHYS);
}

static void init(void)
{
	setenv("SKIFF_MAX_OBJECT_BYTES", "1048576", 1);
	snprintf(root, sizeof(root), "/tmp/skiff-fuzz-object-XXXXXX");
	if (!mkdtemp(root))
		abort();
	char *objdir = sk_path_join(root, "objects");
	struct sk_err err;
	if (mkdir(objdir, 0700) < 0 || sk_odb_open(&odb, objdir, &err) != 0)
		abort();
	free(objdir);
	sk_oid_hash(&slot, SK_OBJ_BLOB, "slot", 4);
	atexit(cleanup);
}

static void store(const uint8_t *data, size_t size)
{
	char *path = sk_odb_path(odb, &slot);
	struct sk_err err;
	sk_fs_mkdirs_for(path, &err);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || (size && write(fd, data, size) != (ssize_t)size))
		abort();
	close(fd);
	free(path);
}

static void check_message(const struct sk_err *err)
{
	if (err->message[0] == '\0')
		abort();
}

/* The local read path must agree with the wire decoder. */
static void compare_file_read(int wire_rc, enum sk_otype t, const unsigned char *p, size_t len,
			      const struct sk_oid *id)
{
	struct sk_err err;
	enum sk_otype ft;
	unsigned char *fp = NULL;
	size_t flen;
	int rc = sk_odb_read(odb, &slot, SK_OBJ_NONE, 0, &ft, &fp, &flen, &err);
	if (wire_rc == 0) {
		/* unverified reads skip only the id and canonical checks */
		if (rc != 0 || ft != t || flen != len || memcmp(fp, p, len) != 0)
			abort();
		free(fp);
		rc = sk_odb_read(odb, &slot, SK_OBJ_NONE, SK_ODB_VERIFY, &ft, &fp, &flen, &err);
		if ((rc == 0) != (sk_oid_cmp(id, &slot) == 0))
			abort();
	} else if (rc == 0 && wire_rc != SK_ECORRUPT) {
		abort(); /* size and format failures do not depend on verification */
	} else if (rc != 0) {
		check_message(&err);
	}
	if (rc == 0)
		free(fp);
	uint64_t hsize;
	if (sk_odb_read_header(odb, &slot, &ft, &hsize, &err) == 0 && wire_rc == 0 &&
	    (ft != t || hsize != len))
		abort();
}

static void reencode(enum sk_otype t, const unsigned char *p, size_t len, const struct sk_oid *id)
{
	struct sk_err err;
	unsigned char *z;
	size_t zlen;
	if (sk_obj_encode(t, p, len, &z, &zlen, &err) != 0)
		abort();
	enum sk_otype t2;
	unsigned char *p2;
	size_t len2;
	if (sk_obj_decode(z, zlen, id, &t2, &p2, &len2, &err) != 0 || t2 != t || len2 != len ||
	    memcmp(p, p2, len) != 0)
		abort();
	free(p2);
	free(z);
}

/* Compresses raw "<type> <len>\0" + payload into one frame; free() it. */
static uint8_t *compress_raw(const uint8_t *raw, size_t len, int csize, size_t *zlen)
{
	size_t cap = ZSTD_compressBound(len);
	uint8_t *z = malloc(cap);
	ZSTD_CCtx *c = ZSTD_createCCtx();
	if (!z || !c)
		abort();
	ZSTD_CCtx_setParameter(c, ZSTD_c_contentSizeFlag, csize);
	ZSTD_outBuffer o = { z, cap, 0 };
	ZSTD_inBuffer in = { raw, len, 0 };
	if (ZSTD_compressStream2(c, &o, &in, ZSTD_e_end) != 0)
		abort();
	ZSTD_freeCCtx(c);
	*zlen = o.pos;
	return z;
}

static int one_input(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!odb)
		init();
	if (size > (1 << 20))
		return 0;
	if (size == 0 || !(data[0] & 1))
		return one_input(data, size);
	size_t zlen;
	uint8_t *z = compress_raw(data + 1, size - 1, (data[0] & 2) != 0, &zlen);
	one_input(z, zlen);
	free(z);
	return 0;
}

static int one_input(const uint8_t *data, size_t size)
{
	struct sk_err err;
	enum sk_otype t = SK_OBJ_NONE;
	unsigned char *p = NULL;
	size_t len = 0;
	int rc = sk_obj_decode(data, size, NULL, &t, &p, &len, &err);
	struct sk_oid id;
	if (rc == 0) {
		if (t <= SK_OBJ_NONE || t >= SK_OBJ__COUNT || len > sk_odb_max_size(t) || p[len])
			abort();
		sk_oid_hash(&id, t, p, len);
		reencode(t, p, len, &id);
	} else {
		if (p || (rc != SK_ECORRUPT && rc != SK_ETOOBIG && rc != SK_ENOMEM))
			abort();
		check_message(&err);
	}
	store(data, size);
	compare_file_read(rc, t, p, len, &id);
	free(p);
	return 0;
}
