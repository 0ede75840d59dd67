/* skiff-example-httpd: the demo workload. A small HTTP/1.1 server (libc
 * only, one thread, epoll) whose behaviour comes from its environment, so
 * a good and a bad release are built from this same source and differ only
 * in their spec's run.env:
 *
 *   PORT                   port on 127.0.0.1 (or --listen HOST:PORT)
 *   EXAMPLE_NAME           name in the response body (default the program's)
 *   EXAMPLE_HEALTH_FAIL=1  GET /health answers 503
 *   EXAMPLE_ERROR_PERCENT  0..100: that share of other requests answers 500,
 *                          spread evenly (request n fails when
 *                          floor(n*p/100) moves), so tests see exact counts
 *   EXAMPLE_ERROR_LOG      stderr line per injected 500
 *                          (default "error: injected failure")
 *   EXAMPLE_LATENCY_MS     delay before answering non-health requests; a
 *                          timer, so other connections are not held up
 *   GET /slow?ms=N         one answer held N ms (at most 60000): an open
 *                          request, as a drain test needs
 *   EXAMPLE_CRASH_AFTER_S  exit 1 after that many seconds (0: never)
 *   EXAMPLE_CRASH_AT_START=1  exit 1 at once
 *
 * stdout: one start-up line, then one summary line per second with
 * traffic. SIGTERM or SIGINT: clean exit 0. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define IN_MAX 8192   /* request head limit; larger heads get 431 */
#define OUT_MAX 1024
#define MAX_EVENTS 256

struct conn {
	int fd;
	char in[IN_MAX];
	size_t inlen;
	size_t skip; /* request body bytes still to discard */
	char out[OUT_MAX];
	size_t outlen, outoff;
	int close_after; /* close once out is written */
	int delayed;     /* response waits in the latency queue */
	long long due_ms;
	struct conn *qnext, *qprev; /* latency queue (FIFO = due order) */
};

struct config {
	char host[256];
	int port;
	const char *name;
	int health_fail;
	int error_percent;
	const char *error_log;
	long long latency_ms;
	long long crash_after_s;
};

static struct conn **conns; /* indexed by fd */
static int nconns_cap;
static struct conn *q_head, *q_tail;
static int epfd;
static unsigned long long n_requests, n_errors, n_health, app_seq;
static unsigned long long sec_requests, sec_errors;

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "skiff-example-httpd: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

/* env_int: NAME's value as an integer in [lo, hi], def when unset or
 * empty; anything else is a start-up error (a typo must not mean 0). */
static long long env_int(const char *name, long long lo, long long hi, long long def)
{
	const char *v = getenv(name);
	if (!v || !*v)
		return def;
	char *end;
	errno = 0;
	long long x = strtoll(v, &end, 10);
	if (errno || *end || end == v || x < lo || x > hi)
		die("%s=%s: expected an integer in %lld..%lld", name, v, lo, hi);
	return x;
}

static void parse_listen(struct config *c, const char *s)
{
	const char *colon = strrchr(s, ':');
	if (!colon || colon == s || (size_t)(colon - s) >= sizeof c->host)
		die("--listen %s: expected HOST:PORT", s);
	memcpy(c->host, s, (size_t)(colon - s));
	c->host[colon - s] = 0;
	char *end;
	long p = strtol(colon + 1, &end, 10);
	if (*end || end == colon + 1 || p < 1 || p > 65535)
		die("--listen %s: port must be 1..65535", s);
	c->port = (int)p;
}

static void load_config(struct config *c, int argc, char **argv)
{
	if (env_int("EXAMPLE_CRASH_AT_START", 0, 1, 0)) {
		fprintf(stderr, "crash: EXAMPLE_CRASH_AT_START=1\n");
		exit(1);
	}
	memset(c, 0, sizeof *c);
	strcpy(c->host, "127.0.0.1");
	c->port = (int)env_int("PORT", 1, 65535, 0);
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--listen") && i + 1 < argc)
			parse_listen(c, argv[++i]);
		else if (!strncmp(argv[i], "--listen=", 9))
			parse_listen(c, argv[i] + 9);
		else if (!strcmp(argv[i], "--help")) {
			printf("usage: skiff-example-httpd [--listen HOST:PORT]  (or PORT=N; see the source "
			       "for EXAMPLE_* settings)\n");
			exit(0);
		} else
			die("unknown argument %s (usage: [--listen HOST:PORT])", argv[i]);
	}
	if (!c->port)
		die("no port: set PORT or pass --listen HOST:PORT");
	c->name = getenv("EXAMPLE_NAME");
	if (!c->name || !*c->name)
		c->name = "skiff-example-httpd";
	c->health_fail = (int)env_int("EXAMPLE_HEALTH_FAIL", 0, 1, 0);
	c->error_percent = (int)env_int("EXAMPLE_ERROR_PERCENT", 0, 100, 0);
	c->error_log = getenv("EXAMPLE_ERROR_LOG");
	if (!c->error_log || !*c->error_log)
		c->error_log = "error: injected failure";
	c->latency_ms = env_int("EXAMPLE_LATENCY_MS", 0, 600000, 0);
	c->crash_after_s = env_int("EXAMPLE_CRASH_AFTER_S", 0, 86400 * 365, 0);
}

static int listen_on(const struct config *c)
{
	struct sockaddr_in6 a6;
	struct sockaddr_in a4;
	struct sockaddr *sa;
	socklen_t len;
	int family;
	memset(&a4, 0, sizeof a4);
	memset(&a6, 0, sizeof a6);
	if (inet_pton(AF_INET, c->host, &a4.sin_addr) == 1) {
		a4.sin_family = AF_INET;
		a4.sin_port = htons((uint16_t)c->port);
		sa = (struct sockaddr *)&a4, len = sizeof a4, family = AF_INET;
	} else if (inet_pton(AF_INET6, c->host, &a6.sin6_addr) == 1) {
		a6.sin6_family = AF_INET6;
		a6.sin6_port = htons((uint16_t)c->port);
		sa = (struct sockaddr *)&a6, len = sizeof a6, family = AF_INET6;
	} else {
		die("listen address %s: expected a numeric IPv4 or IPv6 address", c->host);
	}
	int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("socket: %s", strerror(errno));
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(fd, sa, len) < 0)
		die("bind %s:%d: %s", c->host, c->port, strerror(errno));
	if (listen(fd, 1024) < 0)
		die("listen: %s", strerror(errno));
	return fd;
}

static void q_remove(struct conn *c)
{
	if (!c->delayed)
		return;
	if (c->qprev)
		c->qprev->qnext = c->qnext;
	else
		q_head = c->qnext;
	if (c->qnext)
		c->qnext->qprev = c->qprev;
	else
		q_tail = c->qprev;
	c->qnext = c->qprev = NULL;
	c->delayed = 0;
}

/* Every delay is the same length, so appending keeps the queue in due
 * order and the head is always the next to fire. */
static void q_append(struct conn *c, long long due)
{
	c->due_ms = due;
	c->delayed = 1;
	c->qnext = NULL;
	c->qprev = q_tail;
	if (q_tail)
		q_tail->qnext = c;
	else
		q_head = c;
	q_tail = c;
}

static void conn_close(struct conn *c)
{
	q_remove(c);
	epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	conns[c->fd] = NULL;
	free(c);
}

static void set_events(struct conn *c, uint32_t ev)
{
	struct epoll_event e = {.events = ev, .data.fd = c->fd};
	epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &e);
}

static void respond(struct conn *c, int status, const char *reason, const char *body, int head_only)
{
	size_t blen = strlen(body);
	int n = snprintf(c->out, sizeof c->out,
			 "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n%s\r\n%s", status,
			 reason, blen, c->close_after ? "Connection: close\r\n" : "", head_only ? "" : body);
	c->outlen = n < 0 ? 0 : (size_t)n >= sizeof c->out ? sizeof c->out - 1 : (size_t)n;
	c->outoff = 0;
}

/* Returns -1 when the connection was closed. */
static int flush_out(struct conn *c)
{
	while (c->outoff < c->outlen) {
		ssize_t w = send(c->fd, c->out + c->outoff, c->outlen - c->outoff, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			set_events(c, EPOLLOUT);
			return 0;
		}
		if (w <= 0) {
			conn_close(c);
			return -1;
		}
		c->outoff += (size_t)w;
	}
	c->outlen = c->outoff = 0;
	if (c->close_after) {
		conn_close(c);
		return -1;
	}
	set_events(c, EPOLLIN);
	return 0;
}

static int header_is(const char *line, size_t len, const char *name, const char **val)
{
	size_t n = strlen(name);
	if (len <= n || strncasecmp(line, name, n) || line[n] != ':')
		return 0;
	const char *v = line + n + 1;
	while (*v == ' ' || *v == '\t')
		v++;
	*val = v;
	return 1;
}

static int token_in(const char *v, const char *end, const char *tok)
{
	size_t n = strlen(tok);
	for (const char *p = v; p + n <= end; p++)
		if (!strncasecmp(p, tok, n))
			return 1;
	return 0;
}

/* handle_request: one complete head of hlen bytes at c->in. Fills c->out
 * (or queues it behind the latency timer). Returns -1 on a malformed head,
 * which is answered with 400 and a close. */
static int handle_request(const struct config *cfg, struct conn *c, size_t hlen)
{
	char *line_end = memmem(c->in, hlen, "\r\n", 2);
	char method[16], path[2048], version[16];
	if (!line_end || line_end - c->in >= 2100)
		return -1;
	*line_end = 0;
	if (sscanf(c->in, "%15s %2047s %15s", method, path, version) != 3 ||
	    strncmp(version, "HTTP/1.", 7))
		return -1;
	int keep = !strcmp(version, "HTTP/1.1");
	long long clen = 0;
	for (char *p = line_end + 2; p < c->in + hlen - 2;) {
		char *e = memmem(p, (size_t)(c->in + hlen - p), "\r\n", 2);
		if (!e)
			return -1;
		const char *v;
		if (header_is(p, (size_t)(e - p), "Connection", &v)) {
			if (token_in(v, e, "close"))
				keep = 0;
			else if (token_in(v, e, "keep-alive"))
				keep = 1;
		} else if (header_is(p, (size_t)(e - p), "Content-Length", &v)) {
			char *end;
			clen = strtoll(v, &end, 10);
			if (end == v || clen < 0 || clen > (1LL << 30))
				return -1;
		} else if (header_is(p, (size_t)(e - p), "Transfer-Encoding", &v)) {
			return -1; /* no chunked bodies: nothing here accepts a body */
		}
		p = e + 2;
	}
	c->skip = (size_t)clen;
	c->close_after = !keep;
	int head_only = !strcmp(method, "HEAD");
	char *q = strchr(path, '?');
	long long delay_ms = cfg->latency_ms;
	if (q) {
		*q = 0;
		/* GET /slow?ms=N holds one answer N ms (at most a minute): an
		 * open request, for tests of draining */
		if (!strcmp(path, "/slow") && !strncmp(q + 1, "ms=", 3)) {
			delay_ms = strtoll(q + 4, NULL, 10);
			delay_ms = delay_ms < 0 ? 0 : delay_ms > 60000 ? 60000 : delay_ms;
		}
	}
	if (!strcmp(path, "/health")) {
		n_health++;
		if (cfg->health_fail)
			respond(c, 503, "Service Unavailable", "unhealthy\n", head_only);
		else
			respond(c, 200, "OK", "ok\n", head_only);
		return 0;
	}
	n_requests++, sec_requests++;
	app_seq++;
	/* Request n fails when floor(n*p/100) steps: exactly p of every 100,
	 * evenly spread, the same on every run. */
	unsigned long long pct = (unsigned)cfg->error_percent;
	int fail = pct && (app_seq * pct) / 100 != ((app_seq - 1) * pct) / 100;
	if (fail) {
		n_errors++, sec_errors++;
		fprintf(stderr, "%s\n", cfg->error_log);
		respond(c, 500, "Internal Server Error", "injected failure\n", head_only);
	} else {
		char body[300];
		snprintf(body, sizeof body, "hello from %.200s\n", cfg->name);
		respond(c, 200, "OK", body, head_only);
	}
	if (delay_ms > 0) {
		/* the queue is due-ordered only for one delay; a shorter
		 * /slow answer queued behind a longer one just leaves later */
		q_append(c, now_ms() + delay_ms);
		set_events(c, 0); /* nothing read until the answer leaves */
	}
	return 0;
}

/* process_input: answers every complete request in c->in, one at a time
 * (a pipelined request waits until the one before it is written). */
static void process_input(const struct config *cfg, struct conn *c)
{
	for (;;) {
		if (c->delayed || c->outlen)
			return;
		if (c->skip) {
			size_t n = c->skip < c->inlen ? c->skip : c->inlen;
			memmove(c->in, c->in + n, c->inlen - n);
			c->inlen -= n, c->skip -= n;
			if (c->skip)
				return;
		}
		char *end = memmem(c->in, c->inlen, "\r\n\r\n", 4);
		if (!end) {
			if (c->inlen == sizeof c->in) {
				c->close_after = 1;
				respond(c, 431, "Request Header Fields Too Large", "request head too large\n", 0);
				flush_out(c);
			}
			return;
		}
		size_t hlen = (size_t)(end - c->in) + 4;
		if (handle_request(cfg, c, hlen) < 0) {
			c->close_after = 1;
			respond(c, 400, "Bad Request", "bad request\n", 0);
			flush_out(c);
			return;
		}
		memmove(c->in, c->in + hlen, c->inlen - hlen);
		c->inlen -= hlen;
		if (c->delayed)
			return;
		if (flush_out(c) < 0 || c->outlen)
			return;
	}
}

static void on_readable(const struct config *cfg, struct conn *c)
{
	for (;;) {
		if (c->inlen == sizeof c->in)
			break;
		ssize_t r = recv(c->fd, c->in + c->inlen, sizeof c->in - c->inlen, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (r <= 0) {
			conn_close(c);
			return;
		}
		c->inlen += (size_t)r;
	}
	process_input(cfg, c);
}

static void on_accept(int lfd)
{
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return; /* EAGAIN, or EMFILE: try again on the next event */
		if (fd >= nconns_cap) {
			int cap = nconns_cap ? nconns_cap : 1024;
			while (cap <= fd)
				cap *= 2;
			struct conn **n = realloc(conns, (size_t)cap * sizeof *n);
			if (!n) {
				close(fd);
				continue;
			}
			memset(n + nconns_cap, 0, (size_t)(cap - nconns_cap) * sizeof *n);
			conns = n, nconns_cap = cap;
		}
		struct conn *c = calloc(1, sizeof *c);
		if (!c) {
			close(fd);
			continue;
		}
		c->fd = fd;
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		conns[fd] = c;
		struct epoll_event e = {.events = EPOLLIN, .data.fd = fd};
		if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &e) < 0) {
			conns[fd] = NULL;
			close(fd);
			free(c);
		}
	}
}

static void fire_due(const struct config *cfg, long long now)
{
	while (q_head && q_head->due_ms <= now) {
		struct conn *c = q_head;
		q_remove(c);
		if (flush_out(c) < 0 || c->outlen)
			continue;
		process_input(cfg, c); /* a pipelined request may be waiting */
	}
}

int main(int argc, char **argv)
{
	struct config cfg;
	load_config(&cfg, argc, argv);
	setvbuf(stdout, NULL, _IOLBF, 0);
	setvbuf(stderr, NULL, _IOLBF, 0);

	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	int sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	int lfd = listen_on(&cfg);
	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (sfd < 0 || epfd < 0)
		die("signalfd/epoll: %s", strerror(errno));
	struct epoll_event e = {.events = EPOLLIN, .data.fd = lfd};
	epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &e);
	e.data.fd = sfd;
	epoll_ctl(epfd, EPOLL_CTL_ADD, sfd, &e);

	printf("%s listening on %s:%d pid %d (errors %d%%, latency %lldms, crash after %llds)\n", cfg.name,
	       cfg.host, cfg.port, (int)getpid(), cfg.error_percent, cfg.latency_ms, cfg.crash_after_s);

	long long start = now_ms(), next_summary = start + 1000;
	long long crash_at = cfg.crash_after_s ? start + cfg.crash_after_s * 1000 : LLONG_MAX;
	struct epoll_event evs[MAX_EVENTS];
	for (;;) {
		long long now = now_ms(), wake = next_summary < crash_at ? next_summary : crash_at;
		if (q_head && q_head->due_ms < wake)
			wake = q_head->due_ms;
		int timeout = wake <= now ? 0 : (int)(wake - now);
		int n = epoll_wait(epfd, evs, MAX_EVENTS, timeout);
		if (n < 0 && errno != EINTR)
			die("epoll_wait: %s", strerror(errno));
		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;
			if (fd == lfd) {
				on_accept(lfd);
			} else if (fd == sfd) {
				struct signalfd_siginfo si;
				if (read(sfd, &si, sizeof si) == (ssize_t)sizeof si) {
					printf("signal %u: shutting down after %llu requests (%llu errors)\n",
					       si.ssi_signo, n_requests, n_errors);
					return 0;
				}
			} else if (fd < nconns_cap && conns[fd]) {
				struct conn *c = conns[fd];
				if (evs[i].events & (EPOLLERR | EPOLLHUP) && !(evs[i].events & EPOLLIN))
					conn_close(c);
				else if (c->outlen && !c->delayed) {
					if (flush_out(c) == 0 && !c->outlen)
						process_input(&cfg, c);
				} else
					on_readable(&cfg, c);
			}
		}
		now = now_ms();
		fire_due(&cfg, now);
		if (now >= crash_at) {
			fprintf(stderr, "crash: EXAMPLE_CRASH_AFTER_S=%lld reached\n", cfg.crash_after_s);
			return 1;
		}
		if (now >= next_summary) {
			if (sec_requests)
				printf("requests %llu errors %llu (total %llu, %llu errors, %llu health checks)\n",
				       sec_requests, sec_errors, n_requests, n_errors, n_health);
			sec_requests = sec_errors = 0;
			next_summary = now + 1000;
		}
	}
}
