/*
 * The audit journal (see audit.h): writing under the journal lock,
 * reading with a binary search for --since, the strict line reader, and
 * the check of an entry against its refrecord object.
 *
 * Invariants: every file .skiff/audit/YYYY-MM-DD.jsonl holds entries of
 * that UTC day only, in non-decreasing "time" order, each line one
 * canonical JSON entry ending in '\n'. The time is read under the lock
 * and never goes below the file's last entry (a clock stepping back is
 * clamped), which is what lets a reader seek by time.
 *
 * Why a failed journal write does not fail the update: the entry is
 * written after the ref moved (an entry must describe a move that
 * happened, so it cannot go first), and at that point the move is the
 * truth -- reporting failure would make a caller retry a move that is
 * already done, and lose a compare-and-swap against itself. So the ref
 * update succeeds and the lost entry is reported on stderr, naming the
 * ref and its record, whose signed chain (skiff log --records) still says
 * who moved it and when.
 */
#include "refs/internal.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/fs.h"
#include "objects/cjson.h"

#define AUDIT_DIR "audit"
#define AUDIT_LINE_MAX 65536
/* "YYYY-MM-DD.jsonl" */
#define AUDIT_NAME_LEN 16

void sk_repo_set_audit(struct sk_repo *repo, const struct sk_audit_ctx *ctx)
{
	repo->audit = *ctx;
}

const struct sk_audit_ctx *sk_repo_audit(const struct sk_repo *repo)
{
	return &repo->audit;
}

const char *sk_audit_ref_service(const char *ref, char *buf, size_t n)
{
	static const char *const prefixes[] = { "refs/services/", "refs/releases/", "refs/runners/",
						"refs/backups/" };
	char rname[SK_REF_MAX + 1];
	ref = sk_refs_record_name(ref, rname, sizeof(rname));
	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
		size_t pl = strlen(prefixes[i]);
		if (strncmp(ref, prefixes[i], pl) != 0)
			continue;
		const char *s = ref + pl, *end = strchr(s, '/');
		size_t len = end ? (size_t)(end - s) : strlen(s);
		if (len == 0 || len >= n)
			return NULL;
		memcpy(buf, s, len);
		buf[len] = '\0';
		return buf;
	}
	return NULL;
}

/* --- writing ------------------------------------------------------------ */

static json_t *str_or_null(const char *s)
{
	return s && *s ? json_string(s) : json_null();
}

static json_t *oid_or_null(int has, const struct sk_oid *oid)
{
	char hex[SK_OID_HEXSZ + 1];
	return has ? json_string(sk_oid_tohex(oid, hex)) : json_null();
}

static const char *signer_name(const struct sk_trust *policy, const char *keyid,
			       const char *keyname)
{
	const struct sk_trust_key *k = policy ? sk_trust_find_key(policy, keyid) : NULL;
	return k && k->name ? k->name : keyname;
}

static json_t *entry_json(const struct sk_repo *repo, const struct sk_audit_move *m,
			  const char *name, const char *host, int64_t now)
{
	const struct sk_audit_ctx *c = &repo->audit;
	char svc[SK_REF_MAX + 1], hex[SK_OID_HEXSZ + 1];
	const char *service = c->op_service ? c->op_service
					    : sk_audit_ref_service(m->ref, svc, sizeof(svc));
	json_t *e = json_object();
	json_object_set_new(e, "action", json_string(m->action));
	json_object_set_new(e, "command", str_or_null(c->command));
	json_object_set_new(e, "host", str_or_null(host));
	json_object_set_new(e, "key", json_string(m->rec->signer));
	json_object_set_new(e, "name", str_or_null(name));
	json_object_set_new(e, "new", oid_or_null(m->rec->has_oid, &m->rec->oid));
	json_object_set_new(e, "old", oid_or_null(m->has_old, &m->old));
	json_object_set_new(e, "op", str_or_null(m->rec->op));
	json_object_set_new(e, "record", json_string(sk_oid_tohex(&m->record, hex)));
	json_object_set_new(e, "ref", json_string(m->ref));
	json_object_set_new(e, "remote", str_or_null(c->remote));
	json_object_set_new(e, "risk", str_or_null(c->risk));
	json_object_set_new(e, "seq", json_integer((json_int_t)m->rec->seq));
	json_object_set_new(e, "service", str_or_null(service));
	json_object_set_new(e, "target", str_or_null(c->target));
	json_object_set_new(e, "time", json_integer((json_int_t)now));
	json_object_set_new(e, "trace", str_or_null(c->trace));
	json_object_set_new(e, "v", json_integer(1));
	return e;
}

/* The entries as lines, one buffer (one write keeps them together). */
static int format_lines(const struct sk_repo *repo, const struct sk_trust *policy,
			const char *keyname, const struct sk_audit_move *moves, size_t n,
			int64_t now, char **out, size_t *outlen, struct sk_err *err)
{
	char host[256] = "";
	if (gethostname(host, sizeof(host) - 1) < 0)
		host[0] = '\0';
	size_t len = 0, cap = 0;
	char *buf = NULL;
	int rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++) {
		const char *name = signer_name(policy, moves[i].rec->signer, keyname);
		json_t *e = entry_json(repo, &moves[i], name, host, now);
		char *line = NULL;
		size_t ll = 0;
		rc = sk_cjson_dump(e, &line, &ll, err);
		json_decref(e);
		if (rc == 0) {
			if (len + ll + 1 > cap) {
				cap = (len + ll + 1) * 2;
				buf = realloc(buf, cap);
				if (!buf)
					abort();
			}
			memcpy(buf + len, line, ll);
			len += ll;
			buf[len++] = '\n';
		}
		free(line);
	}
	if (rc < 0) {
		free(buf);
		return rc;
	}
	*out = buf;
	*outlen = len;
	return 0;
}

static void day_name(int64_t t, char *buf, size_t n)
{
	time_t tt = (time_t)t;
	struct tm tm;
	if (!gmtime_r(&tt, &tm))
		memset(&tm, 0, sizeof(tm));
	/* not strftime: glibc's reads the time zone files first, for nothing */
	snprintf(buf, n, "%04d-%02d-%02d.jsonl", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
}

/* The "time" of the last line of the file fd (size bytes), or -1. */
static int64_t last_time(int fd, off_t size)
{
	char tail[4096];
	off_t from = size > (off_t)sizeof(tail) ? size - (off_t)sizeof(tail) : 0;
	ssize_t got = pread(fd, tail, (size_t)(size - from), from);
	if (got < 2 || tail[got - 1] != '\n')
		return -1;
	ssize_t start = got - 1;
	while (start > 0 && tail[start - 1] != '\n')
		start--;
	if (start == 0 && from > 0)
		return -1;
	json_t *e = NULL;
	if (sk_audit_parse_line(tail + start, (size_t)(got - 1 - start), &e, NULL) < 0)
		return -1;
	int64_t t = (int64_t)json_integer_value(json_object_get(e, "time"));
	json_decref(e);
	return t;
}

/* A writer that died (or hit a full disk) in the middle of its write
 * leaves a last line without its newline; appending after it would glue
 * the next entry onto it. Under the lock nobody else is writing, so the
 * torn tail is cut back to the last whole line. */
static int repair_tail(int fd, off_t *size, const char *path, struct sk_err *err)
{
	char c;
	if (*size == 0 || (pread(fd, &c, 1, *size - 1) == 1 && c == '\n'))
		return 0;
	char buf[4096];
	off_t end = *size, keep = 0;
	while (end > 0 && keep == 0) {
		off_t from = end > (off_t)sizeof(buf) ? end - (off_t)sizeof(buf) : 0;
		ssize_t got = pread(fd, buf, (size_t)(end - from), from);
		if (got <= 0)
			return sk_err_errno(err, got < 0 ? errno : EIO, "cannot read audit journal", path);
		for (ssize_t i = got; i-- > 0 && keep == 0;)
			if (buf[i] == '\n')
				keep = from + i + 1;
		end = from;
	}
	if (ftruncate(fd, keep) < 0)
		return sk_err_errno(err, errno, "cannot repair audit journal", path);
	fprintf(stderr, "skiff: warning: %s ended in a torn line (%lld bytes), removed\n", path,
		(long long)(*size - keep));
	*size = keep;
	return 0;
}

/* Appends the entries to the day's file; the caller holds the lock. */
static int append_locked(struct sk_repo *repo, const char *dir, const struct sk_trust *policy,
			 const char *keyname, const struct sk_audit_move *moves, size_t n, int sync,
			 struct sk_err *err)
{
	int64_t now = (int64_t)time(NULL);
	char name[48];
	day_name(now, name, sizeof(name));
	char *path = sk_path_join(dir, name);
	int fd = sk_fs_open(path, O_RDWR | O_APPEND | O_CREAT, 0644);
	struct stat st;
	int rc = 0;
	if (fd < 0 || fstat(fd, &st) < 0)
		rc = sk_err_errno(err, errno, "cannot open audit journal", path);
	char *buf = NULL;
	size_t len = 0;
	if (rc == 0)
		rc = repair_tail(fd, &st.st_size, path, err);
	if (rc == 0 && st.st_size > 0) {
		int64_t last = last_time(fd, st.st_size);
		if (last > now)
			now = last; /* the clock stepped back: keep the file ordered */
	}
	if (rc == 0)
		rc = format_lines(repo, policy, keyname, moves, n, now, &buf, &len, err);
	if (rc == 0 && (sk_fs_write_all(fd, buf, len) < 0 || (sync && sk_fs_fsync(fd) < 0)))
		rc = sk_err_errno(err, errno, "cannot write audit journal", path);
	if (rc == 0 && st.st_size == 0 && sync)
		rc = sk_fs_fsync_dir(dir, err);
	if (fd >= 0)
		close(fd);
	free(buf);
	free(path);
	return rc;
}

static int append(struct sk_repo *repo, const struct sk_trust *policy, const char *keyname,
		  const struct sk_audit_move *moves, size_t n, int sync, struct sk_err *err)
{
	if (n == 0 || repo->source.ref)
		return 0;
	struct sk_trust *loaded = NULL;
	if (!policy && sk_refs_load_trust(repo, &loaded, NULL) == 0)
		policy = loaded;
	char *dir = sk_path_join(repo->path, AUDIT_DIR);
	char *lock = sk_path_join(dir, "lock");
	int rc = sk_fs_mkdirs(dir, 0, err);
	int fd = -1;
	if (rc == 0 && (fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644)) < 0)
		rc = sk_err_errno(err, errno, "cannot open audit lock", lock);
	while (rc == 0 && flock(fd, LOCK_EX) < 0)
		if (errno != EINTR)
			rc = sk_err_errno(err, errno, "cannot lock audit journal", lock);
	if (rc == 0)
		rc = append_locked(repo, dir, policy, keyname, moves, n, sync, err);
	if (fd >= 0)
		close(fd); /* releases the flock */
	sk_trust_free(loaded);
	free(lock);
	free(dir);
	return rc;
}

int sk_audit_append(struct sk_repo *repo, const struct sk_trust *policy, const char *keyname,
		    const struct sk_audit_move *moves, size_t n, struct sk_err *err)
{
	return append(repo, policy, keyname, moves, n, 1, err);
}

void sk_audit_record(struct sk_repo *repo, const struct sk_trust *policy, const char *keyname,
		     const struct sk_audit_move *moves, size_t n, int sync)
{
	struct sk_err err;
	sk_err_clear(&err);
	if (append(repo, policy, keyname, moves, n, sync, &err) == 0)
		return;
	for (size_t i = 0; i < n; i++) {
		char hex[SK_OID_HEXSZ + 1];
		fprintf(stderr,
			"skiff: warning: %s moved (record %s, seq %llu) but its audit entry was not "
			"written: %s\n",
			moves[i].ref, sk_oid_tohex(&moves[i].record, hex),
			(unsigned long long)moves[i].rec->seq, err.message);
	}
}

/* --- the line reader ------------------------------------------------------ */

enum field_kind { F_STR, F_STR_NULL, F_HEX64, F_HEX64_NULL, F_KEYID, F_INT, F_REF, F_RISK,
		  F_OP, F_ACTION, F_V };

static const struct {
	const char *name;
	enum field_kind kind;
} fields[] = {
	{ "action", F_ACTION }, { "command", F_STR_NULL }, { "host", F_STR_NULL },
	{ "key", F_KEYID },     { "name", F_STR_NULL },    { "new", F_HEX64_NULL },
	{ "old", F_HEX64_NULL }, { "op", F_OP },           { "record", F_HEX64 },
	{ "ref", F_REF },       { "remote", F_STR_NULL },  { "risk", F_RISK },
	{ "seq", F_INT },       { "service", F_STR_NULL }, { "target", F_STR_NULL },
	{ "time", F_INT },      { "trace", F_STR_NULL },   { "v", F_V },
};
#define NFIELDS (sizeof(fields) / sizeof(fields[0]))

static int is_hex(const char *s, size_t n)
{
	if (!s || strlen(s) != n)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!isdigit((unsigned char)s[i]) && !(s[i] >= 'a' && s[i] <= 'f'))
			return 0;
	return 1;
}

static int one_of(const char *s, const char *const *set)
{
	for (; s && *set; set++)
		if (strcmp(s, *set) == 0)
			return 1;
	return 0;
}

static int field_ok(enum field_kind kind, const json_t *v)
{
	static const char *const risks[] = { "none", "low", "medium", "high", NULL };
	static const char *const actions[] = { "update", "fetch", "push", NULL };
	const char *s = json_string_value(v);
	int null = json_is_null(v);
	switch (kind) {
	case F_STR: return s != NULL;
	case F_STR_NULL: return s || null;
	case F_HEX64: return is_hex(s, SK_OID_HEXSZ);
	case F_HEX64_NULL: return null || is_hex(s, SK_OID_HEXSZ);
	case F_KEYID: return is_hex(s, SK_KEYID_HEXSZ);
	case F_INT: return json_is_integer(v) && json_integer_value(v) >= 0;
	case F_REF: return s && sk_ref_name_check(s, NULL) == 0;
	case F_RISK: return null || one_of(s, risks);
	case F_OP: return null || (s && sk_opid_check(s, NULL) == 0);
	case F_ACTION: return one_of(s, actions);
	case F_V: return json_is_integer(v) && json_integer_value(v) == 1;
	}
	return 0;
}

int sk_audit_parse_line(const char *line, size_t len, json_t **out, struct sk_err *err)
{
	json_t *e = NULL;
	struct sk_err perr;
	*out = NULL;
	if (sk_cjson_parse(line, len, &e, &perr) < 0)
		return sk_err_set(err, SK_ECORRUPT, NULL, "not an audit entry: %s", perr.message);
	const char *bad = NULL;
	for (size_t i = 0; i < NFIELDS && !bad; i++)
		if (!field_ok(fields[i].kind, json_object_get(e, fields[i].name)))
			bad = fields[i].name;
	if (!bad && json_object_size(e) != NFIELDS)
		bad = "(an unknown field)";
	if (!bad && json_integer_value(json_object_get(e, "seq")) < 1)
		bad = "seq";
	if (bad) {
		json_decref(e);
		return sk_err_set(err, SK_ECORRUPT, NULL, "not an audit entry: field %s is wrong",
				  bad);
	}
	*out = e;
	return 0;
}

/* --- time ----------------------------------------------------------------- */

static int digits(const char *s, size_t n, int *out)
{
	int v = 0;
	for (size_t i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

static int leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* "YYYY-MM-DD" or "YYYY-MM-DDTHH:MM:SSZ" (T and Z in either case). */
static int parse_rfc3339(const char *s, int64_t *out)
{
	static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	size_t n = strlen(s);
	int y, mo, d, h = 0, mi = 0, sec = 0;
	if (n != 10 && n != 20)
		return -1;
	if (digits(s, 4, &y) || s[4] != '-' || digits(s + 5, 2, &mo) || s[7] != '-' ||
	    digits(s + 8, 2, &d))
		return -1;
	if (n == 20 && ((s[10] != 'T' && s[10] != 't') || digits(s + 11, 2, &h) || s[13] != ':' ||
			digits(s + 14, 2, &mi) || s[16] != ':' || digits(s + 17, 2, &sec) ||
			(s[19] != 'Z' && s[19] != 'z')))
		return -1;
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 ||
	    d > mdays[mo - 1] + (mo == 2 && leap(y)) || h > 23 || mi > 59 || sec > 60)
		return -1;
	struct tm tm = { .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h,
			 .tm_min = mi, .tm_sec = sec };
	*out = (int64_t)timegm(&tm);
	return 0;
}

int sk_audit_parse_time(const char *s, int64_t now, int64_t *out, struct sk_err *err)
{
	static const char hint[] =
		"use RFC 3339 UTC (2026-12-04T21:00:00Z), unix seconds, or an age (30s, 10m, 2h, 7d)";
	size_t n = s ? strlen(s) : 0, num = 0;
	while (num < n && isdigit((unsigned char)s[num]))
		num++;
	if (n > 0 && num == n && n <= 12) {
		*out = (int64_t)strtoll(s, NULL, 10);
		return 0;
	}
	if (num > 0 && num <= 9 && n == num + 1 && strchr("smhdw", s[num])) {
		static const int64_t mult[] = { 1, 60, 3600, 86400, 604800 };
		int64_t v = (int64_t)strtoll(s, NULL, 10);
		*out = now - v * mult[strchr("smhdw", s[num]) - "smhdw"];
		return 0;
	}
	if (s && parse_rfc3339(s, out) == 0)
		return 0;
	return sk_err_set(err, SK_EUSAGE, hint, "cannot read time '%s'", s ? s : "");
}

/* --- reading the journal ---------------------------------------------------- */

struct jfile {
	int fd;
	const char *path;
	off_t size;
};

/* Reads the line starting at off into *line (malloc'd, without '\n'); *next
 * gets the offset after it. A last line without '\n' is torn: corrupt. */
static int read_line_at(const struct jfile *f, off_t off, char **line, size_t *len, off_t *next,
			struct sk_err *err)
{
	size_t cap = 512, n = 0;
	char *buf = malloc(cap);
	if (!buf)
		abort();
	for (;;) {
		if (n == cap) {
			if (cap >= AUDIT_LINE_MAX) {
				free(buf);
				return sk_err_set(err, SK_ECORRUPT, NULL,
						  "%s at byte %lld: a line longer than %d bytes",
						  f->path, (long long)off, AUDIT_LINE_MAX);
			}
			cap *= 2;
			buf = realloc(buf, cap);
			if (!buf)
				abort();
		}
		ssize_t got = pread(f->fd, buf + n, cap - n, off + (off_t)n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			free(buf);
			return sk_err_errno(err, errno, "cannot read audit journal", f->path);
		}
		char *nl = memchr(buf + n, '\n', (size_t)got);
		if (nl) {
			*len = (size_t)(nl - buf);
			*next = off + (off_t)*len + 1;
			*line = buf;
			return 0;
		}
		if (got == 0) {
			free(buf);
			return sk_err_set(err, SK_ECORRUPT, "the journal's last line was cut short",
					  "%s at byte %lld: a line without its end", f->path,
					  (long long)off);
		}
		n += (size_t)got;
	}
}

/* Reads and parses the entry at off. */
static int entry_at(const struct jfile *f, off_t off, json_t **e, off_t *next,
		    struct sk_err *err)
{
	char *line = NULL;
	size_t len = 0;
	int rc = read_line_at(f, off, &line, &len, next, err);
	if (rc == 0 && (rc = sk_audit_parse_line(line, len, e, err)) < 0)
		sk_err_wrap(err, "%s at byte %lld", f->path, (long long)off);
	free(line);
	return rc;
}

/* The first line start at or after x. */
static int line_start(const struct jfile *f, off_t x, off_t *out, struct sk_err *err)
{
	char buf[512];
	if (x == 0) {
		*out = 0;
		return 0;
	}
	for (off_t p = x - 1; p < f->size;) {
		ssize_t got = pread(f->fd, buf, sizeof(buf), p);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return sk_err_errno(err, errno, "cannot read audit journal", f->path);
		if (got == 0)
			break;
		char *nl = memchr(buf, '\n', (size_t)got);
		if (nl) {
			*out = p + (nl - buf) + 1;
			return 0;
		}
		p += got;
	}
	*out = f->size;
	return 0;
}

/* Binary search over byte offsets: the first line whose time is at least
 * since. The time of "the line starting at or after x" grows with x, so
 * the smallest such x is found in O(log size) line reads. */
static int seek_since(const struct jfile *f, int64_t since, off_t *out, struct sk_err *err)
{
	off_t lo = 0, hi = f->size;
	while (lo < hi) {
		off_t mid = lo + (hi - lo) / 2, s, next;
		int rc = line_start(f, mid, &s, err);
		if (rc < 0)
			return rc;
		int64_t t = INT64_MAX;
		if (s < f->size) {
			json_t *e = NULL;
			if ((rc = entry_at(f, s, &e, &next, err)) < 0)
				return rc;
			t = (int64_t)json_integer_value(json_object_get(e, "time"));
			json_decref(e);
		}
		if (t >= since)
			hi = mid;
		else
			lo = mid + 1;
	}
	return line_start(f, lo, out, err);
}

static int match_service(const json_t *e, const char *service)
{
	char buf[SK_REF_MAX + 1];
	const char *s = json_string_value(json_object_get(e, "service"));
	const char *r = sk_audit_ref_service(json_string_value(json_object_get(e, "ref")), buf,
					     sizeof(buf));
	return (s && strcmp(s, service) == 0) || (r && strcmp(r, service) == 0);
}

static int matches(const json_t *e, const struct sk_audit_query *q)
{
	int64_t t = (int64_t)json_integer_value(json_object_get(e, "time"));
	const char *ref = json_string_value(json_object_get(e, "ref"));
	const char *key = json_string_value(json_object_get(e, "key"));
	const char *name = json_string_value(json_object_get(e, "name"));
	if ((q->has_since && t < q->since) || (q->has_until && t > q->until))
		return 0;
	if (q->service && !match_service(e, q->service))
		return 0;
	if (q->actor && strcmp(key, q->actor) != 0 && !(name && strcmp(name, q->actor) == 0) &&
	    !(q->actor_id && strcmp(key, q->actor_id) == 0))
		return 0;
	if (q->ref_pattern && strcmp(q->ref_pattern, ref) != 0 &&
	    !sk_ref_pattern_match(q->ref_pattern, ref))
		return 0;
	return 1;
}

static void keep(json_t *arr, json_t *e, size_t limit)
{
	json_array_append_new(arr, e);
	if (limit && json_array_size(arr) > limit)
		json_array_remove(arr, 0);
}

/* Reads f from off (a line start); *past is set once an entry lies beyond
 * --until (the files are in time order, so nothing later can match). */
static int scan_file(const struct jfile *f, off_t off, const struct sk_audit_query *q,
		     json_t *arr, int *past, struct sk_err *err)
{
	while (off < f->size) {
		json_t *e = NULL;
		off_t next;
		int rc = entry_at(f, off, &e, &next, err);
		if (rc < 0)
			return rc;
		if (q->has_until && json_integer_value(json_object_get(e, "time")) > q->until) {
			json_decref(e);
			*past = 1;
			return 0;
		}
		if (matches(e, q))
			keep(arr, e, q->limit);
		else
			json_decref(e);
		off = next;
	}
	return 0;
}

static int is_journal_name(const char *s)
{
	int y, m, d;
	return strlen(s) == AUDIT_NAME_LEN && strcmp(s + 10, ".jsonl") == 0 &&
	       digits(s, 4, &y) == 0 && s[4] == '-' && digits(s + 5, 2, &m) == 0 && s[7] == '-' &&
	       digits(s + 8, 2, &d) == 0;
}

static char *journal_name_of(const char *entry)
{
	if (!is_journal_name(entry))
		return NULL;
	char *s = strdup(entry);
	if (!s)
		abort();
	return s;
}

static int query_file(const char *dir, const char *name, int first,
		      const struct sk_audit_query *q, json_t *arr, int *past, struct sk_err *err)
{
	char *path = sk_path_join(dir, name);
	struct jfile f = { .fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW), .path = path };
	struct stat st;
	int rc = 0;
	if (f.fd < 0 || fstat(f.fd, &st) < 0)
		rc = sk_err_errno(err, errno, "cannot open audit journal", path);
	off_t start = 0;
	if (rc == 0) {
		f.size = st.st_size;
		if (first && q->has_since)
			rc = seek_since(&f, q->since, &start, err);
	}
	if (rc == 0)
		rc = scan_file(&f, start, q, arr, past, err);
	if (f.fd >= 0)
		close(f.fd);
	free(path);
	return rc;
}

int sk_audit_query(struct sk_repo *repo, const struct sk_audit_query *q, json_t **out,
		   struct sk_err *err)
{
	char *dir = sk_path_join(repo->path, AUDIT_DIR);
	int rc = sk_audit_query_dir(dir, q, out, err);
	free(dir);
	return rc;
}

int sk_audit_query_dir(const char *dir, const struct sk_audit_query *q, json_t **out,
		       struct sk_err *err)
{
	*out = NULL;
	char **names = NULL, since_day[48] = "", until_day[48] = "";
	size_t n = 0;
	if (q->has_since)
		day_name(q->since, since_day, sizeof(since_day));
	if (q->has_until)
		day_name(q->until, until_day, sizeof(until_day));
	int rc = sk_fs_list_names(dir, journal_name_of, &names, &n, err), past = 0, first = 1;
	json_t *arr = json_array();
	for (size_t i = 0; rc == 0 && i < n && !past; i++) {
		if (q->has_since && strcmp(names[i], since_day) < 0)
			continue; /* a whole day before --since */
		if (q->has_until && strcmp(names[i], until_day) > 0)
			break;
		rc = query_file(dir, names[i], first, q, arr, &past, err);
		first = 0;
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	if (rc < 0) {
		json_decref(arr);
		return rc;
	}
	*out = arr;
	return 0;
}

/* --- verification ------------------------------------------------------------ */

static int mismatch(struct sk_err *err, const json_t *e, const char *what)
{
	return sk_err_set(err, SK_EVERIFY,
			  "the audit journal was altered; compare with skiff log --records REF",
			  "audit entry for %s (seq %" JSON_INTEGER_FORMAT ") does not match its record %s: %s",
			  json_string_value(json_object_get(e, "ref")),
			  json_integer_value(json_object_get(e, "seq")),
			  json_string_value(json_object_get(e, "record")), what);
}

int sk_audit_verify_entry(struct sk_repo *repo, const json_t *e, struct sk_err *err)
{
	struct sk_oid id;
	struct sk_refrecord rec;
	struct sk_err rerr;
	const char *ref = json_string_value(json_object_get(e, "ref"));
	const char *newhex = json_string_value(json_object_get(e, "new"));
	char rname[SK_REF_MAX + 1], hex[SK_OID_HEXSZ + 1];
	if (!ref || sk_oid_fromhex(&id, json_string_value(json_object_get(e, "record")), NULL) < 0)
		return mismatch(err, e, "no record id");
	if (sk_refs_read_record_object(repo, &id, &rec, &rerr) < 0)
		return mismatch(err, e, rerr.message);
	if (strcmp(rec.ref, sk_refs_record_name(ref, rname, sizeof(rname))) != 0)
		return mismatch(err, e, "another ref");
	if (!newhex != !rec.has_oid ||
	    (newhex && strcmp(newhex, sk_oid_tohex(&rec.oid, hex)) != 0))
		return mismatch(err, e, "another target");
	if ((json_int_t)rec.seq != json_integer_value(json_object_get(e, "seq")))
		return mismatch(err, e, "another seq");
	if (strcmp(rec.signer, json_string_value(json_object_get(e, "key"))) != 0)
		return mismatch(err, e, "another signer");
	const char *op = json_string_value(json_object_get(e, "op"));
	if (strcmp(rec.op, op ? op : "") != 0)
		return mismatch(err, e, "another operation");
	return 0;
}
