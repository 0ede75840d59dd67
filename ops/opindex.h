/*
 * The operations index: .skiff/index/operations, a local cache of every
 * operation's summary, so `skiff op list` reads one file and stats the
 * ref files instead of reading every ref record and operation object.
 *
 * Nothing in it is trusted: the engine never writes it (a crash between a
 * ref's CAS and any index write cannot leave it wrong, because there is
 * no such write), and every listing validates each entry against its ref
 * file's stat signature (inode, size, mtime and ctime in ns), as git's
 * index does. An entry whose signature differs, a ref without an entry,
 * and a "racily clean" entry are re-read from the repository (record and
 * operation object, checked as sk_op_list always did); the index is
 * rewritten (temp file and rename, no fsync: it is a cache) when anything
 * changed. A missing, corrupt or foreign index (bad form or checksum,
 * another file system) is ignored and rebuilt.
 *
 * Racily clean: a ref replaced in the same timestamp tick as it was read
 * could keep the signature the index recorded. Each index carries the
 * time its build started, minus a margin for coarse file system clocks;
 * an entry whose mtime is not older than that is always re-read (the
 * index file's own mtime, git's reference, is later, so this is
 * stricter: it also covers a ref replaced between its stat and the
 * index write).
 *
 * The directory shortcut: a ref file is only ever replaced by rename(2),
 * never rewritten in place (refs/refs.c), so every create or move of an
 * operation ref changes refs/operations/ itself (its lock file comes and
 * goes there). When the directory's signature is the one the index
 * recorded before its scan, and not racy, no ref file changed since, and
 * the listing needs no per-file stat at all. (A ref file rewritten in
 * place by something other than skiff is seen once the directory changes.)
 *
 * The file (text, one record a line, fields separated by one space):
 *   skiff-opindex 1 DEV DINO DSIZE DMSEC DMNSEC DCSEC DCNSEC REFSEC REFNSEC COUNT
 *   NAME INO SIZE MSEC MNSEC CSEC CNSEC ID KIND SERVICE|- STATE CREATED STEPS DONE ACTOR
 *   ...                                       (COUNT lines, NAME strictly ascending)
 *   sha256 HEX                                (of every byte before this line)
 */
#ifndef SK_OPINDEX_H
#define SK_OPINDEX_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "objects/refrecord.h"
#include "ops/opdoc.h"

struct sk_repo;

/* Where the index lives, relative to the .skiff directory. */
#define SK_OPINDEX_FILE "index/operations"
/* An index larger than this is not read (and not written). */
#define SK_OPINDEX_MAX_BYTES (256u << 20)
/* How far before a build's start an mtime counts as racy (seconds). */
#define SK_OPINDEX_RACY_MARGIN 2

/* A ref file's stat signature. */
struct sk_opindex_sig {
	uint64_t ino, size;
	int64_t msec, csec;
	long mnsec, cnsec;
};

/* One operation's summary, as op list prints it, and its ref's signature. */
struct sk_opindex_entry {
	char name[SK_OPID_MAX + 1]; /* the ref component under refs/operations/ */
	struct sk_opindex_sig sig;
	char id[SK_OPID_MAX + 1];
	char kind[SK_OP_NAME_MAX + 1];
	char service[SK_OP_NAME_MAX + 1]; /* "" when null */
	char state[24];
	long long created;
	int steps, done;
	char actor[SK_KEYID_HEXSZ + 1];
};

struct sk_opindex {
	uint64_t dev;       /* st_dev of refs/operations when it was built */
	struct sk_opindex_sig dir; /* refs/operations itself, taken before the scan */
	int64_t ref_sec;    /* racy reference: build start - margin */
	long ref_nsec;
	size_t n;
	struct sk_opindex_entry *v; /* sorted by name, unique */
};

/* Parses index bytes (untrusted): the exact form above, every field in
 * range (names and ids as op ids, kind and service as names, a known
 * state, 1..SK_OP_MAX_STEPS steps, done <= steps, lowercase hex), names
 * strictly ascending, the count and the checksum right. SK_ECORRUPT
 * otherwise. out is emptied first; sk_opindex_clear it either way. */
int sk_opindex_parse(const char *buf, size_t len, struct sk_opindex *out, struct sk_err *err);
/* The bytes of ix (what sk_opindex_parse reads back); malloc'd. */
char *sk_opindex_format(const struct sk_opindex *ix, size_t *len);
void sk_opindex_clear(struct sk_opindex *ix);

/* The summary object op list prints for e:
 * {id, kind, service, state, created, steps, done, actor}. */
json_t *sk_opindex_summary(const struct sk_opindex_entry *e);

enum {
	SK_OPINDEX_NONE = 1 << 0, /* read every operation; neither read nor write the index */
};

/* What a listing did (tests and benchmarks look). */
struct sk_opindex_stats {
	size_t refs;     /* operation refs seen */
	size_t reused;   /* summaries taken from the index */
	size_t reread;   /* summaries read from the repository */
	int loaded;      /* an index was found and accepted */
	int dir_clean;   /* the directory shortcut held: no ref file was stat'ed */
	int written;     /* the index was rewritten */
};

/* sk_op_list (ops/engine.h) with flags; stats may be NULL. */
int sk_opindex_list(struct sk_repo *repo, const char *service, const char *state,
		    unsigned flags, json_t **out, struct sk_opindex_stats *stats,
		    struct sk_err *err);

#endif
