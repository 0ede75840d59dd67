/* skiff-example-store: the stateful demo workload. A small HTTP/1.1
 * key/value service (libc only, one connection at a time, every answer
 * closes the connection) that keeps its data in one file, and the client
 * of its own backup, restore and validate commands (examples/store.yaml).
 *
 * Server (no arguments, or "serve"):
 *   PORT                port on 127.0.0.1 (the runner sets it)
 *   EXAMPLE_DATA        the data file (default ./store.db); ending in '/',
 *                       a directory holding $SKIFF_TARGET.db (one file per
 *                       target when several share a spec)
 *   GET /health         200 "ok"
 *   GET /kv/KEY         the value, or 404
 *   PUT /kv/KEY         body = value (204); DELETE /kv/KEY (204 or 404)
 *   GET /dump           the whole data file
 *   POST /load          body = a data file: checked whole, then it replaces
 *                       the data (400 and nothing changed when it does not
 *                       parse)
 * Every change is written atomically: temp file, fsync, rename, fsync of
 * the directory. Keys are 1..128 of [A-Za-z0-9._-]; values at most 64 KiB.
 *
 * Data file: "skiff-example-store 1\n", then per key "KLEN VLEN\n" KEY
 * VALUE "\n", then "end COUNT\n": a truncated or altered file does not
 * parse.
 *
 * Client (the address defaults to $SKIFF_TARGET_ADDR, the file to
 * $SKIFF_BACKUP_PATH, as skiff backup and restore set them):
 *   skiff-example-store backup [--addr HOST:PORT] [--out FILE]
 *       GET /dump into FILE (atomically, mode 0600), checked to parse
 *   skiff-example-store restore [--addr HOST:PORT] [--in FILE]
 *       POST FILE to /load
 *   skiff-example-store validate [--addr HOST:PORT]
 *       /health answers 200 and /dump parses
 * Exit 0 on success, 1 with a message on stderr otherwise. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#define KEY_MAX 128
#define VALUE_MAX 65536
#define KEYS_MAX 4096
#define HEAD_MAX 8192
#define BODY_MAX (16 << 20)
#define MAGIC "skiff-example-store 1\n"

struct entry {
	char key[KEY_MAX + 1];
	char *value;
	size_t len;
};

struct store {
	struct entry *e;
	size_t n;
};

struct buf {
	char *p;
	size_t len, cap;
};

static const char *prog = "skiff-example-store";
static char data_path[4096];
static struct store db;
static volatile sig_atomic_t stopping;

static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "%s: ", prog);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

static void buf_add(struct buf *b, const void *p, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *q = realloc(b->p, cap);
		if (!q)
			die("out of memory");
		b->p = q, b->cap = cap;
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
	b->p[b->len] = 0;
}

static void buf_printf(struct buf *b, const char *fmt, ...)
{
	char tmp[256];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	buf_add(b, tmp, (size_t)n);
}

static int key_ok(const char *k, size_t n)
{
	if (n < 1 || n > KEY_MAX || k[0] == '.' || k[0] == '-')
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!(k[i] >= 'a' && k[i] <= 'z') && !(k[i] >= 'A' && k[i] <= 'Z') &&
		    !(k[i] >= '0' && k[i] <= '9') && k[i] != '.' && k[i] != '_' && k[i] != '-')
			return 0;
	return 1;
}

static void store_free(struct store *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->e[i].value);
	free(s->e);
	s->e = NULL;
	s->n = 0;
}

static struct entry *store_find(struct store *s, const char *key)
{
	for (size_t i = 0; i < s->n; i++)
		if (!strcmp(s->e[i].key, key))
			return &s->e[i];
	return NULL;
}

/* Keys stay sorted, so one set of data always serializes to one file. */
static int store_put(struct store *s, const char *key, const char *v, size_t len)
{
	struct entry *e = store_find(s, key);
	char *copy = malloc(len + 1);
	if (!copy)
		return -1;
	memcpy(copy, v, len);
	copy[len] = 0;
	if (e) {
		free(e->value);
		e->value = copy, e->len = len;
		return 0;
	}
	if (s->n >= KEYS_MAX) {
		free(copy);
		return -1;
	}
	struct entry *ne = realloc(s->e, (s->n + 1) * sizeof *ne);
	if (!ne) {
		free(copy);
		return -1;
	}
	s->e = ne;
	size_t at = 0;
	while (at < s->n && strcmp(s->e[at].key, key) < 0)
		at++;
	memmove(&s->e[at + 1], &s->e[at], (s->n - at) * sizeof *ne);
	snprintf(s->e[at].key, sizeof s->e[at].key, "%s", key);
	s->e[at].value = copy, s->e[at].len = len;
	s->n++;
	return 0;
}

static int store_del(struct store *s, const char *key)
{
	struct entry *e = store_find(s, key);
	if (!e)
		return -1;
	free(e->value);
	size_t at = (size_t)(e - s->e);
	memmove(&s->e[at], &s->e[at + 1], (s->n - at - 1) * sizeof *e);
	s->n--;
	return 0;
}

static void store_dump(const struct store *s, struct buf *out)
{
	buf_add(out, MAGIC, strlen(MAGIC));
	for (size_t i = 0; i < s->n; i++) {
		buf_printf(out, "%zu %zu\n", strlen(s->e[i].key), s->e[i].len);
		buf_add(out, s->e[i].key, strlen(s->e[i].key));
		buf_add(out, s->e[i].value, s->e[i].len);
		buf_add(out, "\n", 1);
	}
	buf_printf(out, "end %zu\n", s->n);
}

/* Reads a decimal number ended by stop; advances *p past it. */
static int read_num(const char **p, const char *end, char stop, size_t max, size_t *out)
{
	size_t v = 0, digits = 0;
	while (*p < end && **p >= '0' && **p <= '9' && digits < 9)
		v = v * 10 + (size_t)(*(*p)++ - '0'), digits++;
	if (!digits || *p >= end || **p != stop || v > max)
		return -1;
	(*p)++;
	*out = v;
	return 0;
}

/* Parses a whole data file into s (empty on entry); -1 with why. */
static int store_parse(struct store *s, const char *data, size_t len, const char **why)
{
	const char *p = data, *end = data + len;
	size_t m = strlen(MAGIC), n = 0, klen, vlen, count;
	*why = "bad header";
	if (len < m || memcmp(p, MAGIC, m))
		return -1;
	p += m;
	while (p < end && *p != 'e') {
		char key[KEY_MAX + 1];
		*why = "bad entry";
		if (read_num(&p, end, ' ', KEY_MAX, &klen) || read_num(&p, end, '\n', VALUE_MAX, &vlen) ||
		    (size_t)(end - p) < klen + vlen + 1 || p[klen + vlen] != '\n' || !key_ok(p, klen))
			goto fail;
		memcpy(key, p, klen);
		key[klen] = 0;
		*why = "duplicate or unsorted key";
		if ((s->n && strcmp(s->e[s->n - 1].key, key) >= 0) || store_put(s, key, p + klen, vlen))
			goto fail;
		p += klen + vlen + 1;
		n++;
	}
	*why = "bad or missing end line";
	if ((size_t)(end - p) < 4 || memcmp(p, "end ", 4))
		goto fail;
	p += 4;
	if (read_num(&p, end, '\n', KEYS_MAX, &count) || count != n || p != end)
		goto fail;
	return 0;
fail:
	store_free(s);
	return -1;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w, n -= (size_t)w;
	}
	return 0;
}

/* temp file, fsync, rename, fsync of the directory: a crash leaves the
 * old file or the new one, never a mix. */
static int write_atomic(const char *path, const char *data, size_t len)
{
	char tmp[4200], dir[4096];
	snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	if (write_all(fd, data, len) || fsync(fd)) {
		close(fd);
		unlink(tmp);
		return -1;
	}
	close(fd);
	if (rename(tmp, path)) {
		unlink(tmp);
		return -1;
	}
	snprintf(dir, sizeof dir, "%s", path);
	int dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return 0;
}

static int save(void)
{
	struct buf b = { 0 };
	store_dump(&db, &b);
	int rc = write_atomic(data_path, b.p, b.len);
	free(b.p);
	return rc;
}

static int read_file(const char *path, struct buf *out)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	char tmp[65536];
	for (;;) {
		ssize_t r = read(fd, tmp, sizeof tmp);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 || out->len + (size_t)r > BODY_MAX) {
			close(fd);
			return -1;
		}
		if (r == 0)
			break;
		buf_add(out, tmp, (size_t)r);
	}
	close(fd);
	return 0;
}

/* --- server ---------------------------------------------------------- */

static void reply(int fd, int status, const char *reason, const char *body, size_t len)
{
	char head[256];
	int n = snprintf(head, sizeof head,
			 "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
			 "Connection: close\r\n\r\n",
			 status, reason, len);
	if (write_all(fd, head, (size_t)n) == 0 && len)
		write_all(fd, body, len);
}

static void reply_text(int fd, int status, const char *reason, const char *text)
{
	reply(fd, status, reason, text, strlen(text));
}

/* Reads one request: head (up to HEAD_MAX) and its Content-Length body. */
static int read_request(int fd, char *method, char *path, struct buf *body)
{
	char head[HEAD_MAX + 1];
	size_t len = 0;
	char *end = NULL;
	while (!end) {
		if (len == HEAD_MAX)
			return -1;
		ssize_t r = read(fd, head + len, HEAD_MAX - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		len += (size_t)r;
		head[len] = 0;
		end = strstr(head, "\r\n\r\n");
	}
	if (sscanf(head, "%15s %1023s", method, path) != 2)
		return -1;
	long long clen = 0;
	for (char *l = strstr(head, "\r\n"); l && l < end; l = strstr(l + 2, "\r\n"))
		if (!strncasecmp(l + 2, "Content-Length:", 15)) {
			clen = strtoll(l + 17, NULL, 10);
			if (clen < 0 || clen > BODY_MAX)
				return -1;
		}
	size_t have = len - (size_t)(end + 4 - head);
	if (have > (size_t)clen)
		have = (size_t)clen;
	buf_add(body, end + 4, have);
	while (body->len < (size_t)clen) {
		char tmp[65536];
		size_t want = (size_t)clen - body->len;
		ssize_t r = read(fd, tmp, want < sizeof tmp ? want : sizeof tmp);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		buf_add(body, tmp, (size_t)r);
	}
	return 0;
}

static void serve_kv(int fd, const char *method, const char *key, const struct buf *body)
{
	if (!key_ok(key, strlen(key))) {
		reply_text(fd, 400, "Bad Request", "bad key\n");
		return;
	}
	struct entry *e = store_find(&db, key);
	if (!strcmp(method, "GET") || !strcmp(method, "HEAD")) {
		if (e)
			reply(fd, 200, "OK", e->value, e->len);
		else
			reply_text(fd, 404, "Not Found", "no such key\n");
	} else if (!strcmp(method, "PUT")) {
		if (body->len > VALUE_MAX || store_put(&db, key, body->p ? body->p : "", body->len))
			reply_text(fd, 413, "Payload Too Large", "value too large or too many keys\n");
		else if (save())
			reply_text(fd, 500, "Internal Server Error", "could not save\n");
		else
			reply(fd, 204, "No Content", "", 0);
	} else if (!strcmp(method, "DELETE")) {
		if (store_del(&db, key))
			reply_text(fd, 404, "Not Found", "no such key\n");
		else if (save())
			reply_text(fd, 500, "Internal Server Error", "could not save\n");
		else
			reply(fd, 204, "No Content", "", 0);
	} else {
		reply_text(fd, 405, "Method Not Allowed", "GET, PUT or DELETE\n");
	}
}

/* The new data is parsed whole before it replaces anything. */
static void serve_load(int fd, const struct buf *body)
{
	struct store next = { 0 };
	const char *why;
	if (store_parse(&next, body->p ? body->p : "", body->len, &why)) {
		char msg[128];
		snprintf(msg, sizeof msg, "data does not parse: %s\n", why);
		reply_text(fd, 400, "Bad Request", msg);
		return;
	}
	if (write_atomic(data_path, body->p, body->len)) {
		store_free(&next);
		reply_text(fd, 500, "Internal Server Error", "could not save\n");
		return;
	}
	store_free(&db);
	db = next;
	printf("loaded %zu keys\n", db.n);
	reply(fd, 204, "No Content", "", 0);
}

static void serve_one(int fd)
{
	char method[16], path[1024];
	struct buf body = { 0 };
	struct timeval tv = { 5, 0 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	if (read_request(fd, method, path, &body)) {
		reply_text(fd, 400, "Bad Request", "bad request\n");
	} else if (!strcmp(path, "/health")) {
		reply_text(fd, 200, "OK", "ok\n");
	} else if (!strncmp(path, "/kv/", 4)) {
		serve_kv(fd, method, path + 4, &body);
	} else if (!strcmp(path, "/dump") && !strcmp(method, "GET")) {
		struct buf out = { 0 };
		store_dump(&db, &out);
		reply(fd, 200, "OK", out.p, out.len);
		free(out.p);
	} else if (!strcmp(path, "/load") && !strcmp(method, "POST")) {
		serve_load(fd, &body);
	} else if (!strcmp(path, "/")) {
		char msg[64];
		snprintf(msg, sizeof msg, "store: %zu keys\n", db.n);
		reply_text(fd, 200, "OK", msg);
	} else {
		reply_text(fd, 404, "Not Found", "not found\n");
	}
	free(body.p);
	close(fd);
}

static void on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

static void set_data_path(void)
{
	const char *d = getenv("EXAMPLE_DATA");
	if (!d || !*d)
		d = "./store.db";
	size_t n = strlen(d);
	if (d[n - 1] == '/') {
		const char *t = getenv("SKIFF_TARGET");
		snprintf(data_path, sizeof data_path, "%s%s.db", d, t && *t ? t : "store");
		mkdir(d, 0700);
	} else {
		snprintf(data_path, sizeof data_path, "%s", d);
	}
}

static int serve(void)
{
	const char *ps = getenv("PORT");
	long port = ps ? strtol(ps, NULL, 10) : 0;
	if (port < 1 || port > 65535)
		die("set PORT to 1..65535");
	set_data_path();
	struct buf f = { 0 };
	const char *why = "";
	if (read_file(data_path, &f) == 0) {
		if (store_parse(&db, f.p ? f.p : "", f.len, &why))
			die("%s: data does not parse: %s", data_path, why);
	} else if (errno != ENOENT) {
		die("%s: %s", data_path, strerror(errno));
	}
	free(f.p);
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof a) || listen(lfd, 128))
		die("listen 127.0.0.1:%ld: %s", port, strerror(errno));
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("store listening on 127.0.0.1:%ld, data %s (%zu keys)\n", port, data_path, db.n);
	while (!stopping) {
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd >= 0)
			serve_one(fd);
	}
	printf("shutting down\n");
	store_free(&db);
	return 0;
}

/* --- client ---------------------------------------------------------- */

/* One request to addr; *status and the body of the answer. */
static int request(const char *addr, const char *method, const char *path, const struct buf *in,
		   int *status, struct buf *out)
{
	char host[256];
	const char *colon = strrchr(addr, ':');
	if (!colon || (size_t)(colon - addr) >= sizeof host)
		die("address %s: expected HOST:PORT", addr);
	memcpy(host, addr, (size_t)(colon - addr));
	host[colon - addr] = 0;
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons((uint16_t)atoi(colon + 1)) };
	if (inet_pton(AF_INET, host, &a.sin_addr) != 1)
		die("address %s: expected a numeric IPv4 address", addr);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct timeval tv = { 10, 0 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a)) {
		fprintf(stderr, "%s: connect %s: %s\n", prog, addr, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	struct buf req = { 0 };
	buf_printf(&req, "%s %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
		   method, path, addr, in ? in->len : 0);
	if (in && in->len)
		buf_add(&req, in->p, in->len);
	int rc = write_all(fd, req.p, req.len);
	free(req.p);
	struct buf resp = { 0 };
	char tmp[65536];
	for (ssize_t r; !rc && (r = read(fd, tmp, sizeof tmp)) != 0;) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 || resp.len + (size_t)r > BODY_MAX + HEAD_MAX)
			rc = -1;
		else
			buf_add(&resp, tmp, (size_t)r);
	}
	close(fd);
	char *end = resp.p ? strstr(resp.p, "\r\n\r\n") : NULL;
	if (rc || !end || sscanf(resp.p, "HTTP/1.%*d %d", status) != 1) {
		fprintf(stderr, "%s: %s %s on %s: no valid answer\n", prog, method, path, addr);
		free(resp.p);
		return -1;
	}
	buf_add(out, end + 4, resp.len - (size_t)(end + 4 - resp.p));
	free(resp.p);
	return 0;
}

static const char *opt(int argc, char **argv, const char *name, const char *env)
{
	for (int i = 2; i + 1 < argc; i++)
		if (!strcmp(argv[i], name))
			return argv[i + 1];
	const char *v = getenv(env);
	if (!v || !*v)
		die("%s: pass %s or set %s", argv[1], name, env);
	return v;
}

static void check_args(int argc, char **argv, const char *const *allowed)
{
	for (int i = 2; i < argc; i += 2) {
		int ok = 0;
		for (const char *const *a = allowed; *a; a++)
			ok |= !strcmp(argv[i], *a);
		if (!ok || i + 1 >= argc)
			die("%s: unknown or incomplete argument %s", argv[1], argv[i]);
	}
}

static int cmd_backup(int argc, char **argv)
{
	static const char *const allowed[] = { "--addr", "--out", NULL };
	check_args(argc, argv, allowed);
	const char *addr = opt(argc, argv, "--addr", "SKIFF_TARGET_ADDR");
	const char *out = opt(argc, argv, "--out", "SKIFF_BACKUP_PATH");
	struct buf body = { 0 };
	struct store s = { 0 };
	const char *why;
	int status = 0;
	if (request(addr, "GET", "/dump", NULL, &status, &body) || status != 200)
		die("backup: GET /dump on %s answered %d", addr, status);
	if (store_parse(&s, body.p ? body.p : "", body.len, &why))
		die("backup: the dump does not parse: %s", why);
	if (write_atomic(out, body.p, body.len))
		die("backup: writing %s: %s", out, strerror(errno));
	printf("backup: %zu keys, %zu bytes into %s\n", s.n, body.len, out);
	store_free(&s);
	free(body.p);
	return 0;
}

static int cmd_restore(int argc, char **argv)
{
	static const char *const allowed[] = { "--addr", "--in", NULL };
	check_args(argc, argv, allowed);
	const char *addr = opt(argc, argv, "--addr", "SKIFF_TARGET_ADDR");
	const char *in = opt(argc, argv, "--in", "SKIFF_BACKUP_PATH");
	struct buf data = { 0 }, answer = { 0 };
	int status = 0;
	if (read_file(in, &data))
		die("restore: reading %s: %s", in, strerror(errno));
	if (request(addr, "POST", "/load", &data, &status, &answer) || status != 204)
		die("restore: POST /load on %s answered %d: %s", addr, status,
		    answer.p ? answer.p : "");
	printf("restore: %zu bytes from %s loaded\n", data.len, in);
	free(data.p);
	free(answer.p);
	return 0;
}

static int cmd_validate(int argc, char **argv)
{
	static const char *const allowed[] = { "--addr", NULL };
	check_args(argc, argv, allowed);
	const char *addr = opt(argc, argv, "--addr", "SKIFF_TARGET_ADDR");
	struct buf h = { 0 }, d = { 0 };
	struct store s = { 0 };
	const char *why;
	int status = 0;
	if (request(addr, "GET", "/health", NULL, &status, &h) || status != 200)
		die("validate: /health on %s answered %d", addr, status);
	if (request(addr, "GET", "/dump", NULL, &status, &d) || status != 200)
		die("validate: /dump on %s answered %d", addr, status);
	if (store_parse(&s, d.p ? d.p : "", d.len, &why))
		die("validate: the data does not parse: %s", why);
	printf("validate: healthy, %zu keys\n", s.n);
	store_free(&s);
	free(h.p);
	free(d.p);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "serve"))
		return serve();
	if (!strcmp(argv[1], "backup"))
		return cmd_backup(argc, argv);
	if (!strcmp(argv[1], "restore"))
		return cmd_restore(argc, argv);
	if (!strcmp(argv[1], "validate"))
		return cmd_validate(argc, argv);
	if (!strcmp(argv[1], "--help")) {
		printf("usage: skiff-example-store [serve]\n"
		       "       skiff-example-store backup [--addr HOST:PORT] [--out FILE]\n"
		       "       skiff-example-store restore [--addr HOST:PORT] [--in FILE]\n"
		       "       skiff-example-store validate [--addr HOST:PORT]\n");
		return 0;
	}
	die("unknown command %s (serve, backup, restore, validate)", argv[1]);
	return 1;
}
