/*
 * Reading and following runners' workload logs (logs.h).
 *
 * Each target keeps its current file open after reading it: following is
 * reading that descriptor on, and a rotation (the path now names another
 * inode) is seen after the old file's rest was read, so no line is lost
 * or read twice across a rotation.
 */
#include "observe/logs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "objects/release.h"

#define MAX_ROTATED 1000
#define MAX_TARGETS 256

struct src {
	char target[65];
	char file[32];
	long long lines, bad;
};

struct tgt {
	char name[65];
	int fd;          /* the current workload.jsonl, or -1 */
	ino_t ino;
	char *part;      /* an unfinished last line */
	size_t partn;
	int skipping;    /* inside an over-long line: drop until newline */
	size_t src;      /* index of the current file's source entry */
};

struct sk_logs {
	char dir[4096]; /* .skiff/run/<svc> */
	struct sk_logs_filter f;
	char target[65], release[65], trace[65];
	struct tgt *t;
	size_t nt;
	struct src *s;
	size_t ns;
	long long seq; /* file order, for a stable merge */
};

/* One line read: its merge key and the object. */
struct entry {
	long long time, seq;
	size_t tgt;
	json_t *line;
};

struct batch {
	struct entry *v;
	size_t n, cap;
};

static const char *const line_keys[] = { "line", "release", "stream", "target", "time_ms",
					 "trace", NULL };

static int bad(struct sk_err *err, const char *why)
{
	return sk_err_set(err, SK_EINVAL, NULL, "bad log line: %s", why);
}

static int hex_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 64)
		return 0;
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return 0;
	return 1;
}

int sk_logs_line_parse(const char *buf, size_t len, const char *target, json_t **out,
		       struct sk_err *err)
{
	*out = NULL;
	if (len > SK_LOGS_LINE_MAX)
		return bad(err, "too long");
	json_error_t je;
	json_t *o = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
	int rc = 0;
	if (!json_is_object(o))
		rc = bad(err, "not a JSON object");
	const char *k;
	json_t *v;
	if (!rc)
		json_object_foreach(o, k, v) {
			size_t i = 0;
			while (line_keys[i] && strcmp(line_keys[i], k) != 0)
				i++;
			if (!line_keys[i]) {
				rc = bad(err, "unknown key");
				break;
			}
		}
	if (!rc && json_object_size(o) != 6)
		rc = bad(err, "missing keys");
	const json_t *rel = json_object_get(o, "release"), *tr = json_object_get(o, "trace");
	const json_t *t = json_object_get(o, "time_ms");
	const char *stream = json_string_value(json_object_get(o, "stream"));
	struct sk_err ignore;
	if (!rc && !json_is_string(json_object_get(o, "line")))
		rc = bad(err, "\"line\" must be a string");
	if (!rc && !json_is_null(rel) &&
	    (!json_is_string(rel) || sk_release_version_check(json_string_value(rel), &ignore)))
		rc = bad(err, "\"release\" must be a version or null");
	if (!rc && (!stream || (strcmp(stream, "stdout") && strcmp(stream, "stderr"))))
		rc = bad(err, "\"stream\" must be stdout or stderr");
	if (!rc && (!json_is_string(json_object_get(o, "target")) ||
		    strcmp(json_string_value(json_object_get(o, "target")), target) != 0))
		rc = bad(err, "\"target\" is not the log's target");
	if (!rc && (!json_is_integer(t) || json_integer_value(t) < 0))
		rc = bad(err, "\"time_ms\" must be a non-negative integer");
	if (!rc && !json_is_null(tr) && (!json_is_string(tr) || !hex_ok(json_string_value(tr))))
		rc = bad(err, "\"trace\" must be lowercase hex or null");
	if (rc) {
		json_decref(o);
		return rc;
	}
	*out = o;
	return 0;
}

int sk_logs_match(const json_t *line, const struct sk_logs_filter *f)
{
	const char *rel = json_string_value(json_object_get(line, "release"));
	const char *tr = json_string_value(json_object_get(line, "trace"));
	if (f->release && (!rel || strcmp(rel, f->release) != 0))
		return 0;
	if (f->trace && (!tr || strcmp(tr, f->trace) != 0))
		return 0;
	return 1;
}

/* --- targets ------------------------------------------------------------ */

static int name_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 64 || s[0] == '.' || s[0] == '-')
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '.' || *s == '_' || *s == '-'))
			return 0;
	return 1;
}

static size_t add_source(struct sk_logs *lg, const char *target, const char *file)
{
	struct src *s = realloc(lg->s, (lg->ns + 1) * sizeof(*s));
	if (!s)
		abort();
	lg->s = s;
	memset(&s[lg->ns], 0, sizeof(*s));
	snprintf(s[lg->ns].target, sizeof(s[lg->ns].target), "%s", target);
	snprintf(s[lg->ns].file, sizeof(s[lg->ns].file), "%s", file);
	return lg->ns++;
}

static struct tgt *find_target(struct sk_logs *lg, const char *name)
{
	for (size_t i = 0; i < lg->nt; i++)
		if (strcmp(lg->t[i].name, name) == 0)
			return &lg->t[i];
	return NULL;
}

static int has_log_dir(const struct sk_logs *lg, const char *name)
{
	char path[4200];
	struct stat st;
	snprintf(path, sizeof(path), "%s/%s/log", lg->dir, name);
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static struct tgt *add_target(struct sk_logs *lg, const char *name)
{
	struct tgt *t = realloc(lg->t, (lg->nt + 1) * sizeof(*t));
	if (!t)
		abort();
	lg->t = t;
	t = &lg->t[lg->nt++];
	memset(t, 0, sizeof(*t));
	snprintf(t->name, sizeof(t->name), "%s", name);
	t->fd = -1;
	return t;
}

/* New targets with a log directory (all when f.target is NULL), in name
 * order (the merge's tie-break). Returns how many exist now. */
static void scan_targets(struct sk_logs *lg, size_t *first_new)
{
	*first_new = lg->nt;
	if (lg->f.target) {
		if (!find_target(lg, lg->f.target) && has_log_dir(lg, lg->f.target))
			add_target(lg, lg->f.target);
		return;
	}
	struct dirent **names = NULL;
	int n = scandir(lg->dir, &names, NULL, alphasort);
	for (int i = 0; i < n; i++) {
		const char *nm = names[i]->d_name;
		if (name_ok(nm) && lg->nt < MAX_TARGETS && !find_target(lg, nm) &&
		    has_log_dir(lg, nm))
			add_target(lg, nm);
		free(names[i]);
	}
	free(names);
}

/* --- reading ------------------------------------------------------------ */

static void batch_add(struct batch *b, json_t *line, size_t tgt, long long seq)
{
	if (b->n == b->cap) {
		b->cap = b->cap ? b->cap * 2 : 256;
		b->v = realloc(b->v, b->cap * sizeof(*b->v));
		if (!b->v)
			abort();
	}
	b->v[b->n++] = (struct entry){ .time = (long long)json_integer_value(
						   json_object_get(line, "time_ms")),
				       .seq = seq, .tgt = tgt, .line = line };
}

static void one_line(struct sk_logs *lg, size_t ti, size_t si, const char *p, size_t n,
		     struct batch *b)
{
	if (n && p[n - 1] == '\r')
		n--;
	if (n == 0)
		return;
	json_t *o = NULL;
	struct sk_err e;
	if (sk_logs_line_parse(p, n, lg->t[ti].name, &o, &e) < 0) {
		lg->s[si].bad++;
		return;
	}
	lg->s[si].lines++;
	if (sk_logs_match(o, &lg->f))
		batch_add(b, o, ti, lg->seq++);
	else
		json_decref(o);
}

/* Reads fd to its end, line by line; an unfinished last line waits in
 * t->part (for the current file) or counts as a line (final). */
static int drain(struct sk_logs *lg, size_t ti, int fd, size_t si, int final, struct batch *b,
		 struct sk_err *err)
{
	struct tgt *t = &lg->t[ti];
	char buf[65536];
	for (;;) {
		ssize_t r = read(fd, buf, sizeof(buf));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return sk_err_errno(err, errno, "cannot read the log of", t->name);
		if (r == 0)
			break;
		size_t start = 0;
		for (size_t i = 0; i < (size_t)r; i++) {
			if (buf[i] != '\n')
				continue;
			if (t->skipping) {
				t->skipping = 0;
			} else if (t->partn) {
				char *full = realloc(t->part, t->partn + (i - start));
				if (!full)
					abort();
				memcpy(full + t->partn, buf + start, i - start);
				one_line(lg, ti, si, full, t->partn + (i - start), b);
				free(full);
				t->part = NULL;
				t->partn = 0;
			} else {
				one_line(lg, ti, si, buf + start, i - start, b);
			}
			start = i + 1;
		}
		size_t rest = (size_t)r - start;
		if (rest && !t->skipping) {
			if (t->partn + rest > SK_LOGS_LINE_MAX) {
				lg->s[si].bad++;
				free(t->part);
				t->part = NULL;
				t->partn = 0;
				t->skipping = 1;
			} else {
				char *np = realloc(t->part, t->partn + rest);
				if (!np)
					abort();
				memcpy(np + t->partn, buf + start, rest);
				t->part = np;
				t->partn += rest;
			}
		}
	}
	if (final) {
		if (t->partn)
			one_line(lg, ti, si, t->part, t->partn, b);
		free(t->part);
		t->part = NULL;
		t->partn = 0;
		t->skipping = 0;
	}
	return 0;
}

static int open_log(const struct sk_logs *lg, const char *target, const char *file, int *fd,
		    ino_t *ino, struct sk_err *err)
{
	char path[4300];
	snprintf(path, sizeof(path), "%s/%s/log/%s", lg->dir, target, file);
	*fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (*fd < 0)
		return errno == ENOENT ? SK_ENOTFOUND : sk_err_errno(err, errno, "cannot open", path);
	struct stat st;
	if (fstat(*fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(*fd);
		*fd = -1;
		return sk_err_set(err, SK_EINVAL, NULL, "%s is not a regular file", path);
	}
	*ino = st.st_ino;
	return 0;
}

/* A target's rotated files, oldest (highest number) first, then its
 * current file, which stays open. */
static int read_target(struct sk_logs *lg, size_t ti, struct batch *b, struct sk_err *err)
{
	int top = 0, rc = 0;
	char path[4300], file[32];
	struct stat st;
	while (top < MAX_ROTATED) {
		snprintf(path, sizeof(path), "%s/%s/log/workload.jsonl.%d", lg->dir, lg->t[ti].name,
			 top + 1);
		if (lstat(path, &st) != 0)
			break;
		top++;
	}
	for (int i = top; i >= 1 && !rc; i--) {
		int fd;
		ino_t ino;
		snprintf(file, sizeof(file), "workload.jsonl.%d", i);
		rc = open_log(lg, lg->t[ti].name, file, &fd, &ino, err);
		if (rc == SK_ENOTFOUND) { /* rotated away meanwhile */
			rc = 0;
			continue;
		}
		if (!rc) {
			rc = drain(lg, ti, fd, add_source(lg, lg->t[ti].name, file), 1, b, err);
			close(fd);
		}
	}
	if (rc)
		return rc;
	struct tgt *t = &lg->t[ti];
	rc = open_log(lg, t->name, "workload.jsonl", &t->fd, &t->ino, err);
	if (rc == SK_ENOTFOUND)
		return 0;
	if (!rc) {
		t->src = add_source(lg, t->name, "workload.jsonl");
		rc = drain(lg, ti, t->fd, t->src, 0, b, err);
	}
	return rc;
}

/* Following one target: the rest of its open file; when the path names
 * another file now (rotated), that one from its start. */
static int follow_target(struct sk_logs *lg, size_t ti, struct batch *b, struct sk_err *err)
{
	struct tgt *t = &lg->t[ti];
	char path[4300];
	snprintf(path, sizeof(path), "%s/%s/log/workload.jsonl", lg->dir, t->name);
	for (int round = 0; round < 2; round++) {
		if (t->fd >= 0) {
			int rc = drain(lg, ti, t->fd, t->src, 0, b, err);
			if (rc)
				return rc;
		}
		struct stat st;
		if (stat(path, &st) != 0 || (t->fd >= 0 && st.st_ino == t->ino))
			return 0;
		if (t->fd >= 0) { /* rotated: what is left of the old file was read */
			if (t->partn)
				one_line(lg, ti, t->src, t->part, t->partn, b);
			free(t->part);
			t->part = NULL;
			t->partn = 0;
			close(t->fd);
			t->fd = -1;
		}
		int rc = open_log(lg, t->name, "workload.jsonl", &t->fd, &t->ino, err);
		if (rc == SK_ENOTFOUND)
			return 0;
		if (rc)
			return rc;
		t->src = add_source(lg, t->name, "workload.jsonl");
	}
	return 0;
}

static int entry_cmp(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;
	if (x->time != y->time)
		return x->time < y->time ? -1 : 1;
	if (x->tgt != y->tgt)
		return x->tgt < y->tgt ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* The batch sorted, its last max entries as an array (the rest freed). */
static json_t *merged(struct batch *b, long long max)
{
	if (b->n)
		qsort(b->v, b->n, sizeof(*b->v), entry_cmp);
	size_t from = max > 0 && (size_t)max < b->n ? b->n - (size_t)max : 0;
	json_t *arr = json_array();
	for (size_t i = 0; i < b->n; i++) {
		if (i >= from)
			json_array_append(arr, b->v[i].line);
		json_decref(b->v[i].line);
	}
	free(b->v);
	return arr;
}

int sk_logs_open(struct sk_logs **out, const char *skiff_dir, const char *service,
		 const struct sk_logs_filter *f, struct sk_err *err)
{
	*out = NULL;
	struct sk_logs *lg = calloc(1, sizeof(*lg));
	if (!lg)
		abort();
	snprintf(lg->dir, sizeof(lg->dir), "%s/run/%s", skiff_dir, service);
	if (f->target)
		lg->f.target = strncpy(lg->target, f->target, sizeof(lg->target) - 1);
	if (f->release)
		lg->f.release = strncpy(lg->release, f->release, sizeof(lg->release) - 1);
	if (f->trace)
		lg->f.trace = strncpy(lg->trace, f->trace, sizeof(lg->trace) - 1);
	if (f->target && !has_log_dir(lg, f->target)) {
		sk_logs_free(lg);
		return sk_err_set(err, SK_ENOTFOUND, "skiff status shows the service's targets",
				  "target '%s' of %s has no logs", f->target, service);
	}
	*out = lg;
	return 0;
}

void sk_logs_free(struct sk_logs *lg)
{
	if (!lg)
		return;
	for (size_t i = 0; i < lg->nt; i++) {
		if (lg->t[i].fd >= 0)
			close(lg->t[i].fd);
		free(lg->t[i].part);
	}
	free(lg->t);
	free(lg->s);
	free(lg);
}

int sk_logs_read_all(struct sk_logs *lg, long long max, json_t **out, struct sk_err *err)
{
	*out = NULL;
	size_t first;
	struct batch b = { 0 };
	scan_targets(lg, &first);
	int rc = 0;
	for (size_t i = first; i < lg->nt && !rc; i++)
		rc = read_target(lg, i, &b, err);
	json_t *arr = merged(&b, max);
	if (rc) {
		json_decref(arr);
		return rc;
	}
	*out = arr;
	return 0;
}

int sk_logs_poll(struct sk_logs *lg, json_t **out, struct sk_err *err)
{
	*out = NULL;
	size_t first;
	struct batch b = { 0 };
	size_t known = lg->nt;
	scan_targets(lg, &first);
	int rc = 0;
	for (size_t i = 0; i < known && !rc; i++)
		rc = follow_target(lg, i, &b, err);
	for (size_t i = first; i < lg->nt && !rc; i++)
		rc = read_target(lg, i, &b, err);
	json_t *arr = merged(&b, 0);
	if (rc) {
		json_decref(arr);
		return rc;
	}
	*out = arr;
	return 0;
}

json_t *sk_logs_sources(const struct sk_logs *lg, long long *bad_total)
{
	json_t *arr = json_array();
	*bad_total = 0;
	for (size_t i = 0; i < lg->ns; i++) {
		json_t *o = json_pack("{s:s, s:s, s:I, s:I}", "target", lg->s[i].target, "file",
				      lg->s[i].file, "lines", (json_int_t)lg->s[i].lines, "bad",
				      (json_int_t)lg->s[i].bad);
		if (!o)
			abort();
		json_array_append_new(arr, o);
		*bad_total += lg->s[i].bad;
	}
	return arr;
}
