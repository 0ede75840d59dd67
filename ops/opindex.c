/*
 * The operations index (see opindex.h): its file format, and the listing
 * that validates each entry against its ref file and re-reads what it
 * cannot trust.
 */
#include "ops/opindex.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/fs.h"
#include "objects/odb.h"
#include "objects/oid.h"
#include "objects/spec.h"
#include "refs/refs.h"

#define MAGIC "skiff-opindex 1"
#define OPS_PREFIX "refs/operations/"
/* Room for OPS_PREFIX and any directory entry name (the length is checked
 * against SK_REF_MAX before use; this only keeps snprintf provably whole). */
#define REF_BUF (sizeof(OPS_PREFIX) + 256)
/* The shortest entry line: 15 one-byte fields and their separators. */
#define MIN_LINE 30

void sk_opindex_clear(struct sk_opindex *ix)
{
	free(ix->v);
	memset(ix, 0, sizeof(*ix));
}

/* --- parsing ---------------------------------------------------------- */

struct cur {
	const char *p, *end; /* the rest of the current line */
};

static int corrupt(struct sk_err *err, size_t line, const char *what)
{
	return sk_err_set(err, SK_ECORRUPT, "it is rebuilt by the next skiff op list",
			  "operations index, line %zu: %s", line, what);
}

/* The next space-separated token of the line; 0 when there is none or
 * it is empty (two spaces in a row). */
static int token(struct cur *c, const char **tok, size_t *n)
{
	if (c->p >= c->end)
		return 0;
	const char *sp = memchr(c->p, ' ', (size_t)(c->end - c->p));
	const char *stop = sp ? sp : c->end;
	*tok = c->p;
	*n = (size_t)(stop - c->p);
	c->p = sp ? sp + 1 : c->end;
	return *n > 0;
}

/* Every token taken and no trailing space. */
static int at_end(const struct cur *c)
{
	return c->p == c->end && c->end[-1] != ' ';
}

/* A decimal without sign or leading zeros, at most max. */
static int dec(const char *t, size_t n, uint64_t max, uint64_t *out)
{
	if (n == 0 || n > 20 || (n > 1 && t[0] == '0'))
		return -1;
	uint64_t v = 0;
	for (size_t i = 0; i < n; i++) {
		if (t[i] < '0' || t[i] > '9')
			return -1;
		unsigned d = (unsigned)(t[i] - '0');
		if (d > max || v > (max - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

static int num_field(struct cur *c, uint64_t max, uint64_t *out)
{
	const char *t;
	size_t n;
	return token(c, &t, &n) && dec(t, n, max, out) == 0 ? 0 : -1;
}

/* A string token into buf (NUL-terminated), at most cap - 1 bytes. */
static int str_field(struct cur *c, char *buf, size_t cap)
{
	const char *t;
	size_t n;
	if (!token(c, &t, &n) || n >= cap || memchr(t, '\0', n))
		return -1;
	memcpy(buf, t, n);
	buf[n] = '\0';
	return 0;
}

static int lower_hex(const char *s, size_t want)
{
	size_t n = strlen(s);
	if (n != want)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

static int parse_sig(struct cur *c, struct sk_opindex_sig *s)
{
	/* ino, size, mtime s, ns, ctime s, ns */
	static const uint64_t max[6] = { UINT64_MAX, INT64_MAX, INT64_MAX,
					 999999999,  INT64_MAX, 999999999 };
	uint64_t v[6];
	for (int i = 0; i < 6; i++)
		if (num_field(c, max[i], &v[i]))
			return -1;
	s->ino = v[0];
	s->size = v[1];
	s->msec = (int64_t)v[2];
	s->mnsec = (long)v[3];
	s->csec = (int64_t)v[4];
	s->cnsec = (long)v[5];
	return 0;
}

static int parse_entry(struct cur *c, struct sk_opindex_entry *e, const char **what)
{
	uint64_t created, steps, done;
	*what = "bad ref signature";
	if (str_field(c, e->name, sizeof(e->name)) || sk_opid_check(e->name, NULL) ||
	    parse_sig(c, &e->sig))
		return -1;
	*what = "bad summary";
	if (str_field(c, e->id, sizeof(e->id)) ||
	    (strcmp(e->id, e->name) != 0 && sk_opid_check(e->id, NULL)) ||
	    str_field(c, e->kind, sizeof(e->kind)) ||
	    sk_spec_component_check(e->kind, SK_OP_NAME_MAX, "kind", NULL) ||
	    str_field(c, e->service, sizeof(e->service)))
		return -1;
	if (strcmp(e->service, "-") == 0)
		e->service[0] = '\0';
	else if (sk_spec_component_check(e->service, SK_OP_NAME_MAX, "service", NULL))
		return -1;
	if (str_field(c, e->state, sizeof(e->state)) || !sk_op_enum_has(sk_op_states, e->state) ||
	    num_field(c, INT64_MAX, &created) || num_field(c, SK_OP_MAX_STEPS, &steps) ||
	    steps == 0 || num_field(c, steps, &done) ||
	    str_field(c, e->actor, sizeof(e->actor)) || !lower_hex(e->actor, SK_KEYID_HEXSZ))
		return -1;
	*what = "extra fields";
	if (!at_end(c))
		return -1;
	e->created = (long long)created;
	e->steps = (int)steps;
	e->done = (int)done;
	return 0;
}

/* The next line (without its '\n') from *p; 0 at the end or when the
 * last line has no '\n'. */
static int next_line(const char **p, const char *end, struct cur *c)
{
	if (*p >= end)
		return 0;
	const char *nl = memchr(*p, '\n', (size_t)(end - *p));
	if (!nl)
		return 0;
	c->p = *p;
	c->end = nl;
	*p = nl + 1;
	return 1;
}

static int parse_header(struct cur *c, struct sk_opindex *ix, uint64_t *count)
{
	uint64_t dev, sec, nsec;
	size_t m = strlen(MAGIC);
	if ((size_t)(c->end - c->p) <= m || memcmp(c->p, MAGIC, m) != 0 || c->p[m] != ' ')
		return -1;
	c->p += m + 1;
	if (num_field(c, UINT64_MAX, &dev) || parse_sig(c, &ix->dir) ||
	    num_field(c, INT64_MAX, &sec) || num_field(c, 999999999, &nsec) ||
	    num_field(c, UINT64_MAX, count) || !at_end(c))
		return -1;
	ix->dev = dev;
	ix->ref_sec = (int64_t)sec;
	ix->ref_nsec = (long)nsec;
	return 0;
}

static int parse_trailer(const char *buf, const char *start, const char *end)
{
	static const char tag[] = "sha256 ";
	size_t tn = sizeof(tag) - 1;
	if ((size_t)(end - start) != tn + 2 * SK_OID_RAWSZ + 1 || memcmp(start, tag, tn) != 0 ||
	    end[-1] != '\n')
		return -1;
	unsigned char want[32];
	char hex[2 * 32 + 1];
	sk_sha256(buf, (size_t)(start - buf), want);
	sk_hex(want, sizeof(want), hex);
	return memcmp(hex, start + tn, 2 * 32) == 0 ? 0 : -1;
}

int sk_opindex_parse(const char *buf, size_t len, struct sk_opindex *out, struct sk_err *err)
{
	memset(out, 0, sizeof(*out));
	const char *p = buf, *end = buf + len;
	struct cur c;
	uint64_t count = 0;
	if (len > SK_OPINDEX_MAX_BYTES)
		return corrupt(err, 0, "too large");
	if (!next_line(&p, end, &c) || parse_header(&c, out, &count))
		return corrupt(err, 1, "not a skiff operations index (version 1)");
	if (count > len / MIN_LINE)
		return corrupt(err, 1, "the count does not fit the file");
	out->v = calloc(count ? count : 1, sizeof(*out->v));
	if (!out->v)
		return sk_err_set(err, SK_ENOMEM, NULL, "out of memory");
	for (size_t i = 0; i < count; i++) {
		const char *what = "missing";
		struct sk_opindex_entry *e = &out->v[i];
		if (!next_line(&p, end, &c) || parse_entry(&c, e, &what))
			return corrupt(err, i + 2, what);
		if (i > 0 && strcmp(out->v[i - 1].name, e->name) >= 0)
			return corrupt(err, i + 2, "names out of order");
		out->n = i + 1;
	}
	if (parse_trailer(buf, p, end))
		return corrupt(err, (size_t)count + 2, "bad checksum line");
	return 0;
}

/* --- formatting ------------------------------------------------------- */

struct buf {
	char *p;
	size_t n, cap;
};

static void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void buf_printf(struct buf *b, const char *fmt, ...)
{
	for (;;) {
		va_list ap;
		va_start(ap, fmt);
		int k = vsnprintf(b->p + b->n, b->cap - b->n, fmt, ap);
		va_end(ap);
		if (k < 0)
			abort();
		if ((size_t)k < b->cap - b->n) {
			b->n += (size_t)k;
			return;
		}
		b->cap = (b->cap + (size_t)k + 1) * 2;
		b->p = realloc(b->p, b->cap);
		if (!b->p)
			abort();
	}
}

char *sk_opindex_format(const struct sk_opindex *ix, size_t *len)
{
	struct buf b = { .cap = 256 + ix->n * 200 };
	b.p = malloc(b.cap);
	if (!b.p)
		abort();
	const struct sk_opindex_sig *d = &ix->dir;
	buf_printf(&b, MAGIC " %llu %llu %llu %lld %ld %lld %ld %lld %ld %zu\n",
		   (unsigned long long)ix->dev, (unsigned long long)d->ino,
		   (unsigned long long)d->size, (long long)d->msec, d->mnsec, (long long)d->csec,
		   d->cnsec, (long long)ix->ref_sec, ix->ref_nsec, ix->n);
	for (size_t i = 0; i < ix->n; i++) {
		const struct sk_opindex_entry *e = &ix->v[i];
		const struct sk_opindex_sig *s = &e->sig;
		buf_printf(&b, "%s %llu %llu %lld %ld %lld %ld %s %s %s %s %lld %d %d %s\n", e->name,
			   (unsigned long long)s->ino, (unsigned long long)s->size,
			   (long long)s->msec, s->mnsec, (long long)s->csec, s->cnsec, e->id,
			   e->kind, e->service[0] ? e->service : "-", e->state, e->created,
			   e->steps, e->done, e->actor);
	}
	unsigned char sum[32];
	char hex[2 * 32 + 1];
	sk_sha256(b.p, b.n, sum);
	sk_hex(sum, sizeof(sum), hex);
	buf_printf(&b, "sha256 %s\n", hex);
	*len = b.n;
	return b.p;
}

/* The fields are ASCII checked by the parser or by sk_operation_check,
 * so the summary skips jansson's UTF-8 checks (10,000 of them add up). */
json_t *sk_opindex_summary(const struct sk_opindex_entry *e)
{
	json_t *o = json_object();
	if (!o)
		abort();
	json_object_set_new_nocheck(o, "id", json_string_nocheck(e->id));
	json_object_set_new_nocheck(o, "kind", json_string_nocheck(e->kind));
	json_object_set_new_nocheck(o, "service",
				    e->service[0] ? json_string_nocheck(e->service) : json_null());
	json_object_set_new_nocheck(o, "state", json_string_nocheck(e->state));
	json_object_set_new_nocheck(o, "created", json_integer((json_int_t)e->created));
	json_object_set_new_nocheck(o, "steps", json_integer((json_int_t)e->steps));
	json_object_set_new_nocheck(o, "done", json_integer((json_int_t)e->done));
	json_object_set_new_nocheck(o, "actor", json_string_nocheck(e->actor));
	return o;
}

/* --- reading operations ----------------------------------------------- */

static const char *jstr(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

/* e's summary fields from a checked operation document. */
static void entry_from_doc(const json_t *doc, struct sk_opindex_entry *e)
{
	const json_t *steps = json_object_get(doc, "steps");
	size_t n = json_array_size(steps), done = 0;
	for (size_t i = 0; i < n; i++)
		if (strcmp(jstr(json_array_get(steps, i), "state"), "succeeded") == 0)
			done++;
	snprintf(e->id, sizeof(e->id), "%s", jstr(doc, "id"));
	snprintf(e->kind, sizeof(e->kind), "%s", jstr(doc, "kind"));
	snprintf(e->service, sizeof(e->service), "%s",
		 jstr(doc, "service") ? jstr(doc, "service") : "");
	snprintf(e->state, sizeof(e->state), "%s", jstr(doc, "state"));
	snprintf(e->actor, sizeof(e->actor), "%s", jstr(doc, "actor"));
	e->created = (long long)json_integer_value(json_object_get(doc, "created"));
	e->steps = (int)n;
	e->done = (int)done;
}

/* The operation the record points at, checked, as an entry. */
static int read_operation(struct sk_repo *repo, const struct sk_refrecord *rec,
			  struct sk_opindex_entry *e, struct sk_err *err)
{
	json_t *doc = NULL;
	int rc = sk_odb_read_json(sk_repo_odb(repo), &rec->oid, SK_OBJ_OPERATION, 0, &doc, err);
	if (!rc)
		rc = sk_operation_check(doc, err);
	if (rc)
		sk_err_wrap(err, "%s", rec->ref);
	else
		entry_from_doc(doc, e);
	json_decref(doc);
	return rc;
}

static int matches(const struct sk_opindex_entry *e, const char *service, const char *state)
{
	return (!service || (e->service[0] && strcmp(e->service, service) == 0)) &&
	       (!state || strcmp(e->state, state) == 0);
}

/* Every operation read from the repository, as sk_op_list did before the
 * index: the reference the indexed listing must agree with. */
static int list_unindexed(struct sk_repo *repo, const char *service, const char *state,
			  json_t *arr, struct sk_opindex_stats *st, struct sk_err *err)
{
	struct sk_refrecord *recs = NULL;
	size_t n = 0;
	int rc = sk_refs_list(repo, OPS_PREFIX "*", 0, &recs, &n, err);
	for (size_t i = 0; !rc && i < n; i++) {
		struct sk_opindex_entry e;
		memset(&e, 0, sizeof(e));
		rc = read_operation(repo, &recs[i], &e, err);
		if (!rc && matches(&e, service, state))
			json_array_append_new(arr, sk_opindex_summary(&e));
	}
	st->refs = st->reread = n;
	free(recs);
	return rc;
}

/* --- the indexed listing ---------------------------------------------- */

struct scanned {
	char name[SK_REF_MAX + 1];
	struct sk_opindex_sig sig;
	int regular;
	int indexable; /* the name fits an entry (an op id, as the engine makes) */
};

/* Temp files are "<name>.tmp.<pid>.<8 hex>" (sk_fs_temp_name); refs.c
 * skips them the same way. */
static int is_temp_name(const char *s)
{
	for (const char *t = strstr(s, ".tmp."); t; t = strstr(t + 1, ".tmp.")) {
		const char *p = t + 5;
		size_t digits = strspn(p, "0123456789");
		if (digits > 0 && p[digits] == '.' && strlen(p + digits + 1) == 8 &&
		    strspn(p + digits + 1, "0123456789abcdef") == 8)
			return 1;
	}
	return 0;
}

static void sig_of(const struct stat *st, struct sk_opindex_sig *s)
{
	s->ino = (uint64_t)st->st_ino;
	s->size = (uint64_t)st->st_size;
	s->msec = (int64_t)st->st_mtim.tv_sec;
	s->mnsec = st->st_mtim.tv_nsec;
	s->csec = (int64_t)st->st_ctim.tv_sec;
	s->cnsec = st->st_ctim.tv_nsec;
}

static int sig_eq(const struct sk_opindex_sig *a, const struct sk_opindex_sig *b)
{
	return a->ino == b->ino && a->size == b->size && a->msec == b->msec &&
	       a->mnsec == b->mnsec && a->csec == b->csec && a->cnsec == b->cnsec;
}

/* mtime not older than the reference: the entry may hide a change. */
static int racy(const struct sk_opindex_sig *s, int64_t sec, long nsec)
{
	return s->msec > sec || (s->msec == sec && s->mnsec >= nsec);
}

static int cmp_scanned(const void *a, const void *b)
{
	return strcmp(((const struct scanned *)a)->name, ((const struct scanned *)b)->name);
}

/* The names under refs/operations/ that sk_refs_list would read for the
 * pattern refs/operations/ + '*', with their stat signatures, sorted. A
 * missing directory is no operation at all. */
static int scan(const char *dir, struct scanned **out, size_t *n, struct sk_err *err)
{
	*out = NULL;
	*n = 0;
	DIR *d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : sk_err_errno(err, errno, "cannot read", dir);
	struct stat st;
	size_t cap = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		char ref[REF_BUF];
		if (de->d_name[0] == '.' || is_temp_name(de->d_name) ||
		    strlen(de->d_name) + strlen(OPS_PREFIX) > SK_REF_MAX)
			continue;
		snprintf(ref, sizeof(ref), OPS_PREFIX "%s", de->d_name);
		if (sk_ref_name_check(ref, NULL) != 0)
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
			if (errno == ENOENT)
				continue;
			int e = errno;
			closedir(d);
			free(*out);
			*out = NULL;
			return sk_err_errno(err, e, "cannot stat ref", de->d_name);
		}
		if (S_ISDIR(st.st_mode)) /* refs below it are not operations */
			continue;
		if (*n == cap) {
			cap = cap ? cap * 2 : 256;
			*out = realloc(*out, cap * sizeof(**out));
			if (!*out)
				abort();
		}
		struct scanned *s = &(*out)[(*n)++];
		memcpy(s->name, de->d_name, strlen(de->d_name) + 1);
		sig_of(&st, &s->sig);
		s->regular = S_ISREG(st.st_mode);
		s->indexable = sk_opid_check(s->name, NULL) == 0;
	}
	closedir(d);
	if (*n > 1)
		qsort(*out, *n, sizeof(**out), cmp_scanned);
	return 0;
}

static char *index_path(struct sk_repo *repo)
{
	return sk_path_join(sk_repo_path(repo), SK_OPINDEX_FILE);
}

/* The index on disk, or an empty one when it is missing, unreadable,
 * corrupt or from another file system (*loaded 0). */
static void load_index(struct sk_repo *repo, uint64_t dev, struct sk_opindex *ix, int *loaded)
{
	char *path = index_path(repo), *buf = NULL;
	size_t len = 0;
	*loaded = 0;
	memset(ix, 0, sizeof(*ix));
	if (sk_fs_read_file(path, SK_OPINDEX_MAX_BYTES, &buf, &len, NULL) == 0 &&
	    sk_opindex_parse(buf, len, ix, NULL) == 0 && ix->dev == dev)
		*loaded = 1;
	else
		sk_opindex_clear(ix);
	free(buf);
	free(path);
}

/* Best effort: the listing is right without it, so a read-only
 * repository or a full disk only costs the next listing its speed. No
 * fsync: a torn index fails its checksum and is rebuilt. */
static int store_index(struct sk_repo *repo, const struct sk_opindex *ix)
{
	size_t len = 0;
	char *data = sk_opindex_format(ix, &len);
	char *path = index_path(repo), *tmp = sk_fs_temp_name(path);
	int ok = 0;
	if (len <= SK_OPINDEX_MAX_BYTES && sk_fs_mkdirs_for(path, NULL) == 0) {
		int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (fd >= 0) {
			size_t off = 0;
			while (off < len) {
				ssize_t w = write(fd, data + off, len - off);
				if (w < 0 && errno == EINTR)
					continue;
				if (w <= 0)
					break;
				off += (size_t)w;
			}
			ok = close(fd) == 0 && off == len && rename(tmp, path) == 0;
			if (!ok)
				unlink(tmp);
		}
	}
	free(tmp);
	free(path);
	free(data);
	return ok;
}

static int entry_eq(const struct sk_opindex_entry *a, const struct sk_opindex_entry *b)
{
	return strcmp(a->name, b->name) == 0 && sig_eq(&a->sig, &b->sig) &&
	       strcmp(a->id, b->id) == 0 && strcmp(a->kind, b->kind) == 0 &&
	       strcmp(a->service, b->service) == 0 && strcmp(a->state, b->state) == 0 &&
	       a->created == b->created && a->steps == b->steps && a->done == b->done &&
	       strcmp(a->actor, b->actor) == 0;
}

/* s went from racy under old's reference to clean under now's. */
static int settled(const struct sk_opindex_sig *s, const struct sk_opindex *old,
		   const struct sk_opindex *now)
{
	return racy(s, old->ref_sec, old->ref_nsec) && !racy(s, now->ref_sec, now->ref_nsec);
}

/* Rewrite when the entries or the directory changed, or when an entry
 * (or the directory) racy under the old reference is clean under the new
 * one, so it stops being re-read. */
static int needs_write(const struct sk_opindex *old, int loaded, const struct sk_opindex *now)
{
	if (!loaded || old->n != now->n || !sig_eq(&old->dir, &now->dir) ||
	    settled(&now->dir, old, now))
		return 1;
	for (size_t i = 0; i < now->n; i++) {
		const struct sk_opindex_sig *s = &now->v[i].sig;
		if (!entry_eq(&old->v[i], &now->v[i]) || settled(s, old, now))
			return 1;
	}
	return 0;
}

/* The entry for name in ix (sorted), from *j on; NULL when none. */
static const struct sk_opindex_entry *find_from(const struct sk_opindex *ix, size_t *j,
						const char *name)
{
	while (*j < ix->n && strcmp(ix->v[*j].name, name) < 0)
		(*j)++;
	return *j < ix->n && strcmp(ix->v[*j].name, name) == 0 ? &ix->v[*j] : NULL;
}

/* One scanned ref's entry: from the index when its signature holds and it
 * is not racy, else read. *live 0 for a ref that is gone or deleted. */
static int resolve(struct sk_repo *repo, const struct scanned *s, const struct sk_opindex *old,
		   size_t *j, struct sk_opindex_entry *e, int *live, struct sk_opindex_stats *st,
		   struct sk_err *err)
{
	const struct sk_opindex_entry *hit = s->indexable ? find_from(old, j, s->name) : NULL;
	*live = 1;
	if (hit && s->regular && sig_eq(&hit->sig, &s->sig) &&
	    !racy(&s->sig, old->ref_sec, old->ref_nsec)) {
		*e = *hit;
		st->reused++;
		return 0;
	}
	char ref[REF_BUF];
	struct sk_refrecord rec;
	snprintf(ref, sizeof(ref), OPS_PREFIX "%s", s->name);
	int rc = sk_refs_read(repo, ref, &rec, err);
	if (rc == SK_ENOTFOUND || (!rc && !rec.has_oid)) {
		*live = 0;
		return 0;
	}
	if (rc)
		return rc;
	memset(e, 0, sizeof(*e));
	if (s->indexable)
		memcpy(e->name, s->name, strlen(s->name) + 1);
	e->sig = s->sig;
	st->reread++;
	return read_operation(repo, &rec, e, err);
}

/* Appends the entries of ix that match the filters. */
static void append_matching(const struct sk_opindex *ix, const char *service, const char *state,
			    json_t *arr)
{
	for (size_t i = 0; i < ix->n; i++)
		if (matches(&ix->v[i], service, state))
			json_array_append_new(arr, sk_opindex_summary(&ix->v[i]));
}

static int list_indexed(struct sk_repo *repo, const char *service, const char *state,
			json_t *arr, struct sk_opindex_stats *st, struct sk_err *err)
{
	/* The reference for what is read now is taken before any stat. */
	struct timespec t0;
	clock_gettime(CLOCK_REALTIME_COARSE, &t0);
	char *dir = sk_path_join(sk_repo_path(repo), "refs/operations");
	struct stat dst;
	if (stat(dir, &dst) != 0) {
		int e = errno;
		free(dir);
		return e == ENOENT ? 0 : sk_err_errno(err, e, "cannot stat", "refs/operations");
	}
	struct sk_opindex old, now = { .dev = (uint64_t)dst.st_dev,
				       .ref_sec = (int64_t)t0.tv_sec - SK_OPINDEX_RACY_MARGIN,
				       .ref_nsec = t0.tv_nsec };
	sig_of(&dst, &now.dir);
	load_index(repo, now.dev, &old, &st->loaded);
	if (st->loaded && sig_eq(&old.dir, &now.dir) && !racy(&now.dir, old.ref_sec, old.ref_nsec)) {
		st->dir_clean = 1;
		st->refs = st->reused = old.n;
		append_matching(&old, service, state, arr);
		sk_opindex_clear(&old);
		free(dir);
		return 0;
	}
	struct scanned *refs = NULL;
	size_t n = 0;
	int rc = scan(dir, &refs, &n, err);
	free(dir);
	now.v = calloc(n ? n : 1, sizeof(*now.v));
	if (!now.v)
		abort();
	st->refs = n;
	size_t j = 0;
	for (size_t i = 0; !rc && i < n; i++) {
		int live = 0;
		struct sk_opindex_entry e;
		rc = resolve(repo, &refs[i], &old, &j, &e, &live, st, err);
		if (rc || !live)
			continue;
		if (refs[i].indexable)
			now.v[now.n++] = e;
		else /* listed, not indexed: the shortcut would leave it out */
			memset(&now.dir, 0, sizeof(now.dir));
		if (matches(&e, service, state))
			json_array_append_new(arr, sk_opindex_summary(&e));
	}
	if (!rc && needs_write(&old, st->loaded, &now))
		st->written = store_index(repo, &now);
	sk_opindex_clear(&old);
	sk_opindex_clear(&now);
	free(refs);
	return rc;
}

int sk_opindex_list(struct sk_repo *repo, const char *service, const char *state,
		    unsigned flags, json_t **out, struct sk_opindex_stats *stats,
		    struct sk_err *err)
{
	struct sk_opindex_stats local;
	struct sk_opindex_stats *st = stats ? stats : &local;
	memset(st, 0, sizeof(*st));
	*out = NULL;
	json_t *arr = json_array();
	if (!arr)
		return sk_err_set(err, SK_ENOMEM, NULL, "out of memory");
	int rc = (flags & SK_OPINDEX_NONE) ? list_unindexed(repo, service, state, arr, st, err)
					   : list_indexed(repo, service, state, arr, st, err);
	if (rc) {
		json_decref(arr);
		return rc;
	}
	*out = arr;
	return 0;
}
