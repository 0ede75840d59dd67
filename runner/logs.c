/*
 * Workload log capture (see logs.h).
 */
#include "runner/logs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fs.h"
#include "runner/workload.h"

/* Length of the valid UTF-8 sequence at s (n bytes left), or 0. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	size_t len = s[0] < 0x80 ? 1 : (s[0] & 0xe0) == 0xc0 ? 2 : (s[0] & 0xf0) == 0xe0 ? 3
				     : (s[0] & 0xf8) == 0xf0 ? 4 : 0;
	if (len == 0 || len > n || (len == 1 && s[0] == 0))
		return 0;
	for (size_t i = 1; i < len; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	unsigned cp = len == 1 ? s[0] : len == 2 ? s[0] & 0x1f : len == 3 ? s[0] & 0x0f : s[0] & 7;
	for (size_t i = 1; i < len; i++)
		cp = (cp << 6) | (s[i] & 0x3f);
	static const unsigned min[] = { 0, 0, 0x80, 0x800, 0x10000 };
	if (cp < min[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

char *sk_runner_utf8_clean(const char *s, size_t n)
{
	char *out = malloc(3 * n + 1), *o = out;
	if (!out)
		abort();
	for (size_t i = 0; i < n;) {
		size_t k = utf8_seq((const unsigned char *)s + i, n - i);
		if (k == 0) {
			memcpy(o, "\xef\xbf\xbd", 3);
			o += 3;
			i++;
		} else {
			memcpy(o, s + i, k);
			o += k;
			i += k;
		}
	}
	*o = '\0';
	return out;
}

int sk_runner_log_open(struct sk_runner_log *l, const char *dir, const char *target,
		       long long max_bytes, int keep, struct sk_err *err)
{
	memset(l, 0, sizeof(*l));
	l->fd = -1;
	l->max_bytes = max_bytes;
	l->keep = keep;
	snprintf(l->target, sizeof(l->target), "%s", target);
	l->patterns = json_array();
	int rc = sk_fs_mkdirs(dir, 0, err);
	if (rc < 0)
		return rc;
	l->path = sk_path_join(dir, "workload.jsonl");
	l->fd = open(l->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (l->fd < 0)
		return sk_err_errno(err, errno, "cannot open", l->path);
	struct stat st;
	l->size = fstat(l->fd, &st) == 0 ? (long long)st.st_size : 0;
	return 0;
}

void sk_runner_log_close(struct sk_runner_log *l)
{
	if (l->fd >= 0)
		close(l->fd);
	l->fd = -1;
	json_decref(l->patterns);
	l->patterns = NULL;
	free(l->path);
	l->path = NULL;
}

void sk_runner_log_reset(struct sk_runner_log *l, const char *release, const char *trace,
			 const json_t *log_patterns)
{
	snprintf(l->release, sizeof(l->release), "%s", release);
	snprintf(l->trace, sizeof(l->trace), "%s", trace);
	l->lines = 0;
	json_array_clear(l->patterns);
	size_t i;
	json_t *p;
	json_array_foreach(log_patterns, i, p)
		json_array_append_new(l->patterns,
				      json_pack("{s:i, s:O}", "count", 0, "pattern",
						json_object_get(p, "pattern")));
	l->out.len = l->err.len = 0;
}

static char *numbered(const char *path, int i)
{
	size_t n = strlen(path) + 16;
	char *p = malloc(n);
	if (!p)
		abort();
	snprintf(p, n, "%s.%d", path, i);
	return p;
}

/* workload.jsonl -> .1 -> .2 ... -> .keep (the oldest is dropped). */
static void rotate(struct sk_runner_log *l)
{
	for (int i = l->keep; i >= 1; i--) {
		char *from = i == 1 ? strdup(l->path) : numbered(l->path, i - 1);
		char *to = numbered(l->path, i);
		rename(from, to);
		free(from);
		free(to);
	}
	close(l->fd);
	l->fd = open(l->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	l->size = 0;
}

static void count_patterns(struct sk_runner_log *l, const char *s, size_t n)
{
	size_t i;
	json_t *p;
	json_array_foreach(l->patterns, i, p) {
		const char *pat = json_string_value(json_object_get(p, "pattern"));
		if (pat && memmem(s, n, pat, strlen(pat))) {
			json_t *c = json_object_get(p, "count");
			json_integer_set(c, json_integer_value(c) + 1);
		}
	}
}

void sk_runner_log_line(struct sk_runner_log *l, int is_err, const char *s, size_t n)
{
	char *clean = sk_runner_utf8_clean(s, n);
	l->lines++;
	count_patterns(l, s, n);
	json_t *doc = json_pack("{s:s, s:s, s:s, s:s, s:I, s:o}", "line", clean, "release",
				l->release, "stream", is_err ? "stderr" : "stdout", "target",
				l->target, "time_ms", (json_int_t)sk_runner_wall_ms(), "trace",
				l->trace[0] ? json_string(l->trace) : json_null());
	free(clean);
	char *text = doc ? json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(doc);
	if (!text || l->fd < 0) {
		free(text);
		return;
	}
	size_t len = strlen(text);
	text[len++] = '\n'; /* replaces the NUL; written by length */
	if (l->size > 0 && l->size + (long long)len > l->max_bytes)
		rotate(l);
	if (l->fd >= 0 && sk_fs_write_all(l->fd, text, len) == 0)
		l->size += (long long)len;
	free(text);
}

void sk_runner_log_feed(struct sk_runner_log *l, int is_err, const char *buf, size_t n)
{
	struct sk_runner_linebuf *b = is_err ? &l->err : &l->out;
	for (size_t i = 0; i < n; i++) {
		if (buf[i] == '\n') {
			sk_runner_log_line(l, is_err, b->buf, b->len);
			b->len = 0;
			continue;
		}
		b->buf[b->len++] = buf[i];
		if (b->len == sizeof(b->buf)) {
			sk_runner_log_line(l, is_err, b->buf, b->len);
			b->len = 0;
		}
	}
}

void sk_runner_log_flush(struct sk_runner_log *l, int is_err)
{
	struct sk_runner_linebuf *b = is_err ? &l->err : &l->out;
	if (b->len > 0)
		sk_runner_log_line(l, is_err, b->buf, b->len);
	b->len = 0;
}
