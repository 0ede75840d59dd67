/*
 * HAProxy as the local traffic provider: config writer, process control
 * and the runtime API (see cloud/haproxy.h). HAProxy is a separate,
 * long-lived process that outlives the skiff command that started it, so
 * every call re-learns its state from DIR (the pid file, the socket)
 * rather than trusting anything remembered.
 */
#include "cloud/haproxy.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/fs.h"
#include "common/sha256.h"

extern char **environ;

#define HINT_FORMAT "skiff drives Debian's haproxy 2.6; is another version installed?"
#define WAIT_STEP_MS 20
#define ANSWER_WAIT_MS 10000

/* ---- small helpers --------------------------------------------------------- */

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static char *dir_file(const char *dir, const char *name)
{
	return sk_path_join(dir, name);
}

static int is_name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
	       c == '_' || c == '-';
}

/* A name HAProxy and skiff agree on: 1..64 of [A-Za-z0-9._-]. */
static int name_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > SK_HAPROXY_NAME_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!is_name_char(s[i]))
			return 0;
	return 1;
}

/* A config word: printable, none of the characters the config language
 * treats specially (space, #, quotes, backslash), at most max bytes. */
static int word_ok(const char *s, size_t max)
{
	size_t n = strlen(s);
	if (n == 0 || n > max)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c <= 0x20 || c >= 0x7f || c == '#' || c == '"' || c == '\'' || c == '\\')
			return 0;
	}
	return 1;
}

/* ---- config ---------------------------------------------------------------- */

struct sbuf {
	char *p;
	size_t len, cap;
};

static void sb_add(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_add(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		abort();
	if (b->len + (size_t)n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 1024;
		while (cap < b->len + (size_t)n + 1)
			cap *= 2;
		b->p = realloc(b->p, cap);
		if (!b->p)
			abort();
		b->cap = cap;
	}
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

static int bad_model(struct sk_err *err, const char *svc, const char *what)
{
	return sk_err_set(err, SK_EINVAL, NULL, "traffic model of %.64s: %s", svc ? svc : "?", what);
}

static int config_service(struct sbuf *b, const char *svc, const json_t *s, int with_weights,
			  struct sk_err *err)
{
	const char *listen = json_string_value(json_object_get(s, "listen"));
	const char *path = json_string_value(json_object_get(s, "health_path"));
	json_t *ms = json_object_get(s, "check_ms");
	const json_t *servers = json_object_get(s, "servers");
	if (!name_ok(svc))
		return bad_model(err, svc, "service name is not 1..64 of [A-Za-z0-9._-]");
	if (!listen || !word_ok(listen, 300))
		return bad_model(err, svc, "\"listen\" is not a HOST:PORT word");
	if (!path || path[0] != '/' || !word_ok(path, 1024))
		return bad_model(err, svc, "\"health_path\" is not an absolute URL path");
	if (!json_is_integer(ms) || json_integer_value(ms) < 100 ||
	    json_integer_value(ms) > 86400000)
		return bad_model(err, svc, "\"check_ms\" is not 100..86400000");
	if (!json_is_object(servers))
		return bad_model(err, svc, "\"servers\" is not an object");
	sb_add(b, "\nfrontend fe_%s\n    bind %s\n    default_backend %s\n", svc, listen, svc);
	/* allbackups: when the active group is down, every standby server
	 * shares the load, not just the first */
	sb_add(b,
	       "\nbackend %s\n    balance roundrobin\n    option allbackups\n"
	       "    option httpchk GET %s\n",
	       svc, path);
	const char *t;
	json_t *v;
	/* jansson keeps insertion order; sorting would need a copy, and the
	 * callers build models from sorted sources (control is canonical). */
	json_object_foreach((json_t *)servers, t, v) {
		const char *addr = json_string_value(json_object_get(v, "addr"));
		json_t *w = json_object_get(v, "weight");
		if (!name_ok(t))
			return bad_model(err, svc, "a server name is not 1..64 of [A-Za-z0-9._-]");
		if (!addr || !word_ok(addr, 300))
			return bad_model(err, svc, "a server's \"addr\" is not a HOST:PORT word");
		if (!json_is_integer(w) || json_integer_value(w) < 0 ||
		    json_integer_value(w) > SK_HAPROXY_WEIGHT_MAX)
			return bad_model(err, svc, "a server's \"weight\" is not 0..256");
		sb_add(b, "    server %s %s", t, addr);
		if (with_weights)
			sb_add(b, " weight %lld", (long long)json_integer_value(w));
		/* a backup server takes traffic only when every other is down:
		 * that is structure (a reload), not a runtime weight */
		if (json_is_true(json_object_get(v, "backup")))
			sb_add(b, " backup");
		sb_add(b, " check inter %lld\n", (long long)json_integer_value(ms));
	}
	return 0;
}

int sk_haproxy_config(const char *dir, const json_t *model, int with_weights, char **out,
		      struct sk_err *err)
{
	*out = NULL;
	if (!json_is_object(model))
		return sk_err_set(err, SK_EINVAL, NULL, "traffic model is not an object");
	char *sock = dir_file(dir, "admin.sock");
	if (!word_ok(sock, sizeof(((struct sockaddr_un *)0)->sun_path) - 1)) {
		int rc = sk_err_set(err, SK_EINVAL,
				    "a unix socket path holds at most 107 bytes and no spaces: use a "
				    "repository at a shorter path",
				    "cannot place haproxy's socket at %.300s", sock);
		free(sock);
		return rc;
	}
	struct sbuf b = { 0 };
	sb_add(&b, "# Written by skiff (cloud/haproxy.c) from each service's control; do not edit:\n"
		   "# the next change rewrites it. Weights change at run time on admin.sock.\n"
		   "global\n"
		   "    stats socket %s mode 600 level admin\n"
		   "    stats timeout 30s\n"
		   "    hard-stop-after 10s\n"
		   "\ndefaults\n"
		   "    mode http\n"
		   "    timeout connect 2s\n"
		   "    timeout client 30s\n"
		   "    timeout server 30s\n"
		   "    timeout check 2s\n"
		   "    default-server rise 2 fall 3\n",
		   sock);
	free(sock);
	const char *svc;
	json_t *s;
	json_object_foreach((json_t *)model, svc, s) {
		int rc = config_service(&b, svc, s, with_weights, err);
		if (rc) {
			free(b.p);
			return rc;
		}
	}
	*out = b.p;
	return 0;
}

int sk_haproxy_structure(const char *dir, const json_t *model, char out[65], struct sk_err *err)
{
	char *text;
	int rc = sk_haproxy_config(dir, model, 0, &text, err);
	if (rc)
		return rc;
	unsigned char d[32];
	struct sk_sha256 *h = sk_sha256_new();
	sk_sha256_update(h, text, strlen(text));
	sk_sha256_final(h, d);
	sk_sha256_free(h);
	free(text);
	for (int i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
	return 0;
}

#define STRUCT_TAG "# structure "

void sk_haproxy_written_structure(const char *dir, char out[65])
{
	out[0] = 0;
	char *path = dir_file(dir, "haproxy.cfg"), *text = NULL;
	size_t len;
	struct sk_err e;
	if (sk_fs_read_file(path, 1 << 20, &text, &len, &e) == 0) {
		char *p = strstr(text, "\n" STRUCT_TAG);
		if (p && strlen(p + 1 + strlen(STRUCT_TAG)) >= 64) {
			memcpy(out, p + 1 + strlen(STRUCT_TAG), 64);
			out[64] = 0;
		}
	}
	free(text);
	free(path);
}

static const char *haproxy_bin(void)
{
	const char *b = getenv("SKIFF_HAPROXY");
	if (b && *b)
		return b;
	return access("/usr/sbin/haproxy", X_OK) == 0 ? "/usr/sbin/haproxy" : "haproxy";
}

/* Runs haproxy with args (argv[0] filled in), stdin from /dev/null and
 * stdout/stderr into DIR/haproxy.log (truncated: it tells about this run
 * only); returns its exit status or -1. */
static int run_haproxy(const char *dir, char **args, struct sk_err *err)
{
	char *log = dir_file(dir, "haproxy.log");
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	posix_spawn_file_actions_adddup2(&fa, 1, 2);
	args[0] = (char *)haproxy_bin();
	pid_t pid;
	int rc = posix_spawnp(&pid, args[0], &fa, NULL, args, environ);
	posix_spawn_file_actions_destroy(&fa);
	free(log);
	if (rc)
		return sk_err_set(err, SK_EFAIL, "install it: apt-get install haproxy (or make deps)",
				  "cannot run %s: %s", args[0], strerror(rc));
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return sk_err_errno(err, errno, "waiting for haproxy", args[0]);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

/* The last meaningful line haproxy wrote to DIR/haproxy.log, for errors. */
static void log_tail(const char *dir, char *out, size_t n)
{
	char *path = dir_file(dir, "haproxy.log"), *text = NULL;
	size_t len;
	struct sk_err e;
	snprintf(out, n, "(no message)");
	if (sk_fs_read_file(path, 1 << 20, &text, &len, &e) == 0) {
		/* the ALERT lines say what failed; NOTICE lines are chatter */
		char *best = NULL;
		for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n"))
			if (strstr(line, "ALERT") || !best)
				best = line;
		if (best) {
			size_t k = 0;
			for (const char *p = best; *p && k + 1 < n; p++)
				out[k++] = (*p >= 0x20 && *p < 0x7f) ? *p : '?';
			out[k] = 0;
		}
	}
	free(text);
	free(path);
}

int sk_haproxy_write_config(const char *dir, const json_t *model, struct sk_err *err)
{
	char structure[65], *text;
	int rc = sk_haproxy_structure(dir, model, structure, err);
	if (rc || (rc = sk_haproxy_config(dir, model, 1, &text, err)))
		return rc;
	/* the digest goes after the first comment lines, before "global" */
	char *g = strstr(text, "global\n");
	size_t head = g ? (size_t)(g - text) : 0;
	struct sbuf b = { 0 };
	sb_add(&b, "%.*s" STRUCT_TAG "%s\n%s", (int)head, text, structure, text + head);
	free(text);
	char *cfg = dir_file(dir, "haproxy.cfg"), *tmp = dir_file(dir, "haproxy.cfg.new");
	if ((rc = sk_fs_mkdirs(dir, 1, err)) == 0)
		rc = sk_fs_write_atomic(tmp, b.p, b.len, 0600, err);
	free(b.p);
	if (!rc) {
		/* haproxy -c on the candidate, so a bad config never replaces a
		 * good one that a later reload would then fail on */
		char *args[] = { NULL, "-c", "-q", "-f", tmp, NULL };
		int st = run_haproxy(dir, args, err);
		if (st < 0)
			rc = st;
		else if (st != 0) {
			char tail[300];
			log_tail(dir, tail, sizeof(tail));
			rc = sk_err_set(err, SK_EINVAL, "the generated config is in DIR/haproxy.cfg.new",
					"haproxy rejects the config for %.300s: %s", dir, tail);
		} else if (sk_fs_rename(tmp, cfg) < 0) {
			rc = sk_err_errno(err, errno, "installing", cfg);
		}
	}
	free(cfg);
	free(tmp);
	return rc;
}

/* ---- the process ----------------------------------------------------------- */

/* 1 when pid is a live (not zombie) process named haproxy: a stale pid
 * file whose pid was reused by something else must never get a signal. */
static int proc_is_haproxy(long pid)
{
	char path[64], buf[256];
	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	char *open = strchr(buf, '('), *close = strrchr(buf, ')');
	if (!open || !close || close < open || close[1] != ' ')
		return 0;
	*close = 0;
	return strcmp(open + 1, "haproxy") == 0 && close[2] != 'Z' && close[2] != 'X';
}

static int read_pidfile(const char *dir, long *pid)
{
	char *path = dir_file(dir, "haproxy.pid"), *text = NULL;
	size_t len;
	struct sk_err e;
	int rc = sk_fs_read_file(path, 4096, &text, &len, &e);
	free(path);
	if (rc) {
		free(text);
		return rc;
	}
	/* haproxy writes one pid per line (one per process; one here) */
	char *end;
	errno = 0;
	long p = strtol(text, &end, 10);
	rc = (errno || end == text || p <= 1 || (*end && *end != '\n')) ? SK_EINVAL : 0;
	free(text);
	*pid = p;
	return rc;
}

int sk_haproxy_pid(const char *dir, long *pid, struct sk_err *err)
{
	int rc = read_pidfile(dir, pid);
	if (rc == SK_ENOTFOUND)
		return sk_err_set(err, SK_ENOTFOUND, "skiff traffic start SERVICE --listen HOST:PORT",
				  "haproxy was never started in %.300s (no haproxy.pid)", dir);
	if (rc)
		return sk_err_set(err, SK_EUNREACHABLE,
				  "skiff traffic stop, then skiff traffic start SERVICE --listen HOST:PORT",
				  "haproxy's pid file in %.300s is unreadable", dir);
	if (!proc_is_haproxy(*pid))
		return sk_err_set(err, SK_EUNREACHABLE,
				  "skiff traffic start SERVICE --listen HOST:PORT starts it again",
				  "haproxy (pid %ld) is not running: it was killed or crashed", *pid);
	return 0;
}

static int connect_sock(const char *dir, int *fd_out, struct sk_err *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char *sock = dir_file(dir, "admin.sock");
	int rc = 0;
	if (strlen(sock) >= sizeof(sa.sun_path)) {
		rc = sk_err_set(err, SK_EINVAL, NULL, "socket path too long: %.300s", sock);
		free(sock);
		return rc;
	}
	strcpy(sa.sun_path, sock);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		rc = sk_err_errno(err, errno, "socket for", sock);
		free(sock);
		return rc;
	}
	struct timeval tv = { 5, 0 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;
		close(fd);
		long pid;
		/* why it failed decides the error: never started, gone, or mute */
		if ((rc = sk_haproxy_pid(dir, &pid, err)) == 0)
			rc = sk_err_set(err, SK_EUNREACHABLE,
					"skiff traffic stop, then skiff traffic start SERVICE --listen "
					"HOST:PORT",
					"haproxy (pid %ld) does not answer on %.300s: %s", pid, sock,
					strerror(e));
		free(sock);
		return rc;
	}
	free(sock);
	*fd_out = fd;
	return 0;
}

int sk_haproxy_cmd(const char *dir, const char *cmd, char **reply, size_t *len,
		   struct sk_err *err)
{
	*reply = NULL;
	*len = 0;
	if (strchr(cmd, '\n') || strchr(cmd, ';'))
		return sk_err_set(err, SK_EINVAL, NULL, "one runtime command at a time");
	int fd = -1, rc = connect_sock(dir, &fd, err);
	if (rc)
		return rc;
	size_t cl = strlen(cmd);
	char *line = malloc(cl + 2);
	if (!line)
		abort();
	memcpy(line, cmd, cl);
	line[cl] = '\n';
	if (sk_fs_write_all(fd, line, cl + 1) < 0)
		rc = sk_err_set(err, SK_EUNREACHABLE, NULL, "haproxy closed its socket: %s",
				strerror(errno));
	free(line);
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap);
	if (!buf)
		abort();
	while (!rc) {
		if (n + 1 >= cap) {
			if (cap > SK_HAPROXY_REPLY_MAX) {
				rc = sk_err_set(err, SK_ETOOBIG, NULL,
						"haproxy's answer to \"%.64s\" exceeds %u bytes", cmd,
						SK_HAPROXY_REPLY_MAX);
				break;
			}
			cap *= 2;
			buf = realloc(buf, cap);
			if (!buf)
				abort();
		}
		ssize_t r = read(fd, buf + n, cap - n - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			rc = sk_err_set(err, SK_EUNREACHABLE, "is haproxy overloaded or stopped?",
					"reading haproxy's answer to \"%.64s\": %s", cmd, strerror(errno));
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	if (rc) {
		free(buf);
		return rc;
	}
	buf[n] = 0;
	*reply = buf;
	*len = n;
	return 0;
}

/* Waits until the socket answers `show info` from pid want (0: any pid,
 * which is then written to *got). */
static int wait_answer(const char *dir, long want, long old, struct sk_err *err)
{
	for (int waited = 0; waited < ANSWER_WAIT_MS; waited += WAIT_STEP_MS) {
		long pid = 0;
		if (want == 0 && read_pidfile(dir, &pid) == 0 && pid != old && proc_is_haproxy(pid))
			want = pid;
		if (want) {
			char *r;
			size_t n;
			struct sk_err e;
			if (sk_haproxy_cmd(dir, "show info", &r, &n, &e) == 0) {
				char tag[40];
				snprintf(tag, sizeof(tag), "\nPid: %ld\n", want);
				int ok = strstr(r, tag) != NULL;
				free(r);
				if (ok)
					return 0;
			}
		}
		sleep_ms(WAIT_STEP_MS);
	}
	char tail[300];
	log_tail(dir, tail, sizeof(tail));
	return sk_err_set(err, SK_EUNREACHABLE, "see haproxy.log in the traffic directory",
			  "haproxy did not answer on its socket in %d s: %s", ANSWER_WAIT_MS / 1000,
			  tail);
}

static int spawn_daemon(const char *dir, long old, struct sk_err *err)
{
	char *cfg = dir_file(dir, "haproxy.cfg"), *pidf = dir_file(dir, "haproxy.pid");
	char oldbuf[24];
	snprintf(oldbuf, sizeof(oldbuf), "%ld", old);
	char *args[] = { NULL, "-D", "-f", cfg, "-p", pidf, old ? "-sf" : NULL, oldbuf, NULL };
	int st = run_haproxy(dir, args, err);
	free(cfg);
	free(pidf);
	if (st < 0)
		return st;
	if (st != 0) {
		char tail[300];
		log_tail(dir, tail, sizeof(tail));
		return sk_err_set(err, SK_EFAIL,
				  "is the listen address in use by another program? (ss -ltnp)",
				  "haproxy failed to %s (exit %d): %s", old ? "reload" : "start", st, tail);
	}
	return wait_answer(dir, 0, old, err);
}

int sk_haproxy_start(const char *dir, struct sk_err *err)
{
	long pid;
	struct sk_err e;
	if (sk_haproxy_pid(dir, &pid, &e) == 0)
		return sk_err_set(err, SK_EEXISTS, "skiff traffic stop stops it",
				  "haproxy already runs in %.300s (pid %ld)", dir, pid);
	char *sock = dir_file(dir, "admin.sock"), *pidf = dir_file(dir, "haproxy.pid");
	unlink(sock);
	unlink(pidf);
	free(sock);
	free(pidf);
	return spawn_daemon(dir, 0, err);
}

int sk_haproxy_reload(const char *dir, struct sk_err *err)
{
	long pid;
	int rc = sk_haproxy_pid(dir, &pid, err);
	if (rc)
		return rc;
	return spawn_daemon(dir, pid, err);
}

/* Waits up to ms for pid to end; 1 when it did. */
static int wait_gone(long pid, int ms)
{
	for (int w = 0; w < ms; w += WAIT_STEP_MS) {
		if (!proc_is_haproxy(pid))
			return 1;
		sleep_ms(WAIT_STEP_MS);
	}
	return !proc_is_haproxy(pid);
}

int sk_haproxy_stop(const char *dir, int *was_running, struct sk_err *err)
{
	long pid;
	struct sk_err e;
	int running = sk_haproxy_pid(dir, &pid, &e) == 0;
	if (was_running)
		*was_running = running;
	/* SIGUSR1 lets requests in flight finish; SIGTERM and SIGKILL are
	 * for a haproxy that will not let go */
	if (running) {
		static const int sigs[] = { SIGUSR1, SIGTERM, SIGKILL };
		static const int waits[] = { 3000, 3000, 2000 };
		int gone = 0;
		for (size_t i = 0; i < 3 && !gone; i++) {
			kill((pid_t)pid, sigs[i]);
			gone = wait_gone(pid, waits[i]);
		}
		if (!gone)
			return sk_err_set(err, SK_EFAIL, NULL, "haproxy (pid %ld) did not stop", pid);
	}
	char *sock = dir_file(dir, "admin.sock"), *pidf = dir_file(dir, "haproxy.pid");
	unlink(sock);
	unlink(pidf);
	free(sock);
	free(pidf);
	return 0;
}

/* ---- parsing what the socket says ------------------------------------------ */

static int stat_bad(struct sk_err *err, size_t line, const char *what)
{
	return sk_err_set(err, SK_EINVAL, HINT_FORMAT, "haproxy show stat, line %zu: %s", line, what);
}

/* Splits line (len bytes, no newline) at commas into fields (pointers into
 * a NUL-separated copy). Returns the count, or -1 beyond max. */
static int split_csv(char *line, char **fields, int max)
{
	int n = 0;
	char *p = line;
	for (;;) {
		if (n == max)
			return -1;
		fields[n++] = p;
		char *c = strchr(p, ',');
		if (!c)
			break;
		*c = 0;
		p = c + 1;
	}
	return n;
}

static int digits_ok(const char *s, long long *v)
{
	size_t n = strlen(s);
	if (n == 0 || n > 18)
		return 0;
	long long x = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
		x = x * 10 + (s[i] - '0');
	}
	*v = x;
	return 1;
}

static int stat_name_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > SK_HAPROXY_NAME_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!is_name_char(s[i]) && s[i] != ':')
			return 0;
	return 1;
}

enum {
	F_PX, F_SV, F_STOT, F_STATUS, F_WEIGHT, F_CHECK, F_2XX, F_5XX, F_RTIME, F_TYPE, F_ADDR,
	F_SCUR, F_BCK, F_N
};
static const char *const wanted[F_N] = { "pxname",   "svname",       "stot",
					 "status",   "weight",       "check_status",
					 "hrsp_2xx", "hrsp_5xx",     "rtime",
					 "type",     "addr",         "scur",
					 "bck" };

#define MAX_FIELDS 1024

static int parse_header(char *line, size_t lineno, int idx[F_N], int *nfields, char **fields,
			struct sk_err *err)
{
	if (strncmp(line, "# ", 2) != 0)
		return stat_bad(err, lineno, "the header does not start with \"# \"");
	int n = split_csv(line + 2, fields, MAX_FIELDS);
	if (n < 0)
		return stat_bad(err, lineno, "the header has too many fields");
	for (int i = 0; i < F_N; i++)
		idx[i] = -1;
	for (int j = 0; j < n; j++) {
		const char *f = fields[j];
		/* HAProxy ends the header with a comma: one empty last field */
		if (!*f && j == n - 1)
			continue;
		if (!*f || strlen(f) > 64)
			return stat_bad(err, lineno, "the header has an empty or overlong field name");
		for (const char *p = f; *p; p++)
			if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_' ||
			      *p == '-'))
				return stat_bad(err, lineno, "a field name is not [a-z0-9_-]");
		for (int i = 0; i < F_N; i++) {
			if (strcmp(f, wanted[i]) != 0)
				continue;
			if (idx[i] >= 0)
				return stat_bad(err, lineno, "a field is named twice in the header");
			idx[i] = j;
		}
	}
	for (int i = 0; i < F_N; i++)
		if (idx[i] < 0) {
			char m[96];
			snprintf(m, sizeof(m), "the header lacks the field \"%s\"", wanted[i]);
			return stat_bad(err, lineno, m);
		}
	*nfields = n;
	return 0;
}

static int text_ok(const char *s, int may_be_empty)
{
	size_t n = strlen(s);
	return (may_be_empty || n > 0) && n <= SK_HAPROXY_TEXT_MAX;
}

static int parse_row(char *line, size_t lineno, const int idx[F_N], int nfields, char **fields,
		     json_t *out, struct sk_err *err)
{
	int n = split_csv(line, fields, MAX_FIELDS);
	if (n != nfields)
		return stat_bad(err, lineno, "the row's field count differs from the header's");
	const char *px = fields[idx[F_PX]], *sv = fields[idx[F_SV]];
	if (strcmp(fields[idx[F_TYPE]], "2") != 0)
		return stat_bad(err, lineno, "not a server row (type is not 2)");
	if (!stat_name_ok(px) || !stat_name_ok(sv))
		return stat_bad(err, lineno, "a proxy or server name is not 1..64 of [A-Za-z0-9._:-]");
	static const int nums[] = { F_STOT, F_2XX, F_5XX, F_RTIME, F_WEIGHT, F_SCUR };
	static const char *const keys[] = { "requests", "hrsp_2xx", "hrsp_5xx",
					    "rtime_ms", "weight",   "sessions" };
	json_t *srv = json_object();
	for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
		long long v;
		if (!digits_ok(fields[idx[nums[i]]], &v) ||
		    (nums[i] == F_WEIGHT && v > SK_HAPROXY_WEIGHT_MAX)) {
			json_decref(srv);
			char m[96];
			snprintf(m, sizeof(m), "\"%s\" is not a number in range", wanted[nums[i]]);
			return stat_bad(err, lineno, m);
		}
		json_object_set_new(srv, keys[i], json_integer(v));
	}
	const char *status = fields[idx[F_STATUS]], *check = fields[idx[F_CHECK]],
		   *addr = fields[idx[F_ADDR]], *bck = fields[idx[F_BCK]];
	if (!text_ok(status, 0) || !text_ok(check, 1) || !text_ok(addr, 1)) {
		json_decref(srv);
		return stat_bad(err, lineno, "status, check_status or addr is empty or too long");
	}
	if (strcmp(bck, "0") != 0 && strcmp(bck, "1") != 0) {
		json_decref(srv);
		return stat_bad(err, lineno, "\"bck\" is not 0 or 1");
	}
	json_object_set_new(srv, "backup", json_boolean(bck[0] == '1'));
	json_object_set_new(srv, "status", json_string(status));
	json_object_set_new(srv, "check_status", json_string(check));
	json_object_set_new(srv, "addr", json_string(addr));
	json_t *be = json_object_get(out, px);
	if (!be) {
		be = json_object();
		json_object_set_new(out, px, be);
	}
	if (json_object_get(be, sv)) {
		json_decref(srv);
		return stat_bad(err, lineno, "a server appears twice");
	}
	json_object_set_new(be, sv, srv);
	return 0;
}

int sk_haproxy_parse_stat(const char *buf, size_t len, json_t **out, struct sk_err *err)
{
	*out = NULL;
	if (len > SK_HAPROXY_REPLY_MAX)
		return sk_err_set(err, SK_ETOOBIG, NULL, "haproxy show stat: %zu bytes exceed the cap of %u",
				  len, SK_HAPROXY_REPLY_MAX);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)buf[i];
		if ((c < 0x20 && c != '\n') || c >= 0x7f)
			return sk_err_set(err, SK_EINVAL, HINT_FORMAT,
					  "haproxy show stat: byte 0x%02x at offset %zu", c, i);
	}
	/* the answer ends with an empty line; without it, it was cut short */
	if (len < 2 || buf[len - 1] != '\n' || buf[len - 2] != '\n')
		return sk_err_set(err, SK_EINVAL, "haproxy may have stopped while answering",
				  "haproxy show stat: truncated (no final blank line)");
	char *copy = malloc(len + 1);
	char **fields = malloc(MAX_FIELDS * sizeof(*fields));
	if (!copy || !fields)
		abort();
	memcpy(copy, buf, len);
	copy[len] = 0;
	json_t *res = json_object();
	int idx[F_N], nfields = 0, rc = 0;
	size_t lineno = 0;
	char *p = copy, *end = copy + len - 1; /* the final '\n' of the blank line */
	while (!rc && p < end) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl) /* cannot happen: end-1 is '\n' */
			break;
		*nl = 0;
		lineno++;
		if (lineno == 1)
			rc = parse_header(p, lineno, idx, &nfields, fields, err);
		else if (!*p)
			rc = stat_bad(err, lineno, "an empty line before the end");
		else
			rc = parse_row(p, lineno, idx, nfields, fields, res, err);
		p = nl + 1;
	}
	if (!rc && lineno == 0)
		rc = stat_bad(err, 1, "no header line (is this a show stat answer?)");
	free(copy);
	free(fields);
	if (rc) {
		json_decref(res);
		return rc;
	}
	*out = res;
	return 0;
}

int sk_haproxy_parse_weight(const char *buf, size_t len, int *weight, struct sk_err *err)
{
	/* "W (initial I)\n\n", W and I 0..256 */
	char tmp[64];
	unsigned w, ini;
	int consumed = -1;
	if (len >= sizeof(tmp) || memchr(buf, 0, len))
		goto bad;
	memcpy(tmp, buf, len);
	tmp[len] = 0;
	if (sscanf(tmp, "%3u (initial %3u)\n\n%n", &w, &ini, &consumed) != 2 || consumed != (int)len ||
	    tmp[0] < '0' || tmp[0] > '9' || w > SK_HAPROXY_WEIGHT_MAX || ini > SK_HAPROXY_WEIGHT_MAX ||
	    strcmp(tmp + len - 3, ")\n\n") != 0)
		goto bad;
	*weight = (int)w;
	return 0;
bad:
	return sk_err_set(err, SK_EINVAL, HINT_FORMAT, "haproxy get weight: unexpected answer");
}

/* ---- runtime commands ------------------------------------------------------ */

/* A set command answers an empty line on success, else its complaint. */
static int check_ack(const char *cmd, const char *r, struct sk_err *err)
{
	if (strcmp(r, "\n") == 0 || strcmp(r, "") == 0)
		return 0;
	char msg[200];
	size_t k = 0;
	for (const char *p = r; *p && *p != '\n' && k + 1 < sizeof(msg); p++)
		msg[k++] = (*p >= 0x20 && *p < 0x7f) ? *p : '?';
	msg[k] = 0;
	if (strncmp(msg, "No such", 7) == 0)
		return sk_err_set(err, SK_ENOTFOUND,
				  "skiff traffic apply SERVICE writes every target into the config",
				  "haproxy: %s (%.100s)", msg, cmd);
	return sk_err_set(err, SK_EFAIL, NULL, "haproxy refused \"%.100s\": %s", cmd, msg);
}

static int names_check(const char *backend, const char *server, struct sk_err *err)
{
	if (!name_ok(backend) || (server && !name_ok(server)))
		return sk_err_set(err, SK_EINVAL, NULL, "names must be 1..64 of [A-Za-z0-9._-]");
	return 0;
}

static int run_set(const char *dir, const char *cmd, struct sk_err *err)
{
	char *r;
	size_t n;
	int rc = sk_haproxy_cmd(dir, cmd, &r, &n, err);
	if (rc)
		return rc;
	rc = check_ack(cmd, r, err);
	free(r);
	return rc;
}

int sk_haproxy_stat(const char *dir, const char *backend, json_t **out, struct sk_err *err)
{
	*out = NULL;
	char cmd[128];
	int rc = backend ? names_check(backend, NULL, err) : 0;
	if (rc)
		return rc;
	snprintf(cmd, sizeof(cmd), "show stat %s 4 -1", backend ? backend : "-1");
	char *r;
	size_t n;
	if ((rc = sk_haproxy_cmd(dir, cmd, &r, &n, err)))
		return rc;
	if (strncmp(r, "No such", 7) == 0)
		rc = check_ack(cmd, r, err);
	else
		rc = sk_haproxy_parse_stat(r, n, out, err);
	free(r);
	return rc;
}

int sk_haproxy_get_weight(const char *dir, const char *backend, const char *server, int *weight,
			  struct sk_err *err)
{
	char cmd[160], *r;
	size_t n;
	int rc = names_check(backend, server, err);
	if (rc)
		return rc;
	snprintf(cmd, sizeof(cmd), "get weight %s/%s", backend, server);
	if ((rc = sk_haproxy_cmd(dir, cmd, &r, &n, err)))
		return rc;
	if (strncmp(r, "No such", 7) == 0)
		rc = check_ack(cmd, r, err);
	else
		rc = sk_haproxy_parse_weight(r, n, weight, err);
	free(r);
	return rc;
}

int sk_haproxy_set_weight(const char *dir, const char *backend, const char *server, int weight,
			  struct sk_err *err)
{
	char cmd[160];
	int rc = names_check(backend, server, err);
	if (rc)
		return rc;
	if (weight < 0 || weight > SK_HAPROXY_WEIGHT_MAX)
		return sk_err_set(err, SK_EINVAL, NULL, "weight %d is not 0..256", weight);
	snprintf(cmd, sizeof(cmd), "set weight %s/%s %d", backend, server, weight);
	return run_set(dir, cmd, err);
}

int sk_haproxy_set_state(const char *dir, const char *backend, const char *server,
			 const char *state, struct sk_err *err)
{
	char cmd[160];
	int rc = names_check(backend, server, err);
	if (rc)
		return rc;
	if (strcmp(state, "ready") && strcmp(state, "drain") && strcmp(state, "maint"))
		return sk_err_set(err, SK_EUSAGE, "one of ready, drain, maint",
				  "server state \"%.32s\" is not ready, drain or maint", state);
	snprintf(cmd, sizeof(cmd), "set server %s/%s state %s", backend, server, state);
	return run_set(dir, cmd, err);
}
