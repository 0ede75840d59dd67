/*
 * The HTTP probe (see probe.h). Nonblocking connect and poll against one
 * monotonic deadline, so a peer that accepts and then says nothing costs
 * the timeout, never more.
 */
#include "cloud/probe.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static long long mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Splits addr into host and port; a wildcard host becomes loopback. */
static int split_addr(const char *addr, char *host, size_t hn, char *port, size_t pn)
{
	const char *colon = strrchr(addr, ':');
	if (!colon || !colon[1] || (size_t)(colon - addr) >= hn || strlen(colon + 1) >= pn)
		return -1;
	const char *h = addr;
	size_t len = (size_t)(colon - addr);
	if (len >= 2 && h[0] == '[' && h[len - 1] == ']') {
		h++;
		len -= 2;
	}
	snprintf(host, hn, "%.*s", (int)len, h);
	snprintf(port, pn, "%s", colon + 1);
	if (strcmp(host, "0.0.0.0") == 0 || strcmp(host, "*") == 0 || !*host)
		snprintf(host, hn, "127.0.0.1");
	else if (strcmp(host, "::") == 0)
		snprintf(host, hn, "::1");
	return 0;
}

/* Waits for events on fd until deadline: 0 ready, -1 timeout or error. */
static int wait_fd(int fd, short events, long long deadline)
{
	for (;;) {
		long long left = deadline - mono_ms();
		if (left <= 0)
			return -1;
		struct pollfd p = { .fd = fd, .events = events };
		int r = poll(&p, 1, (int)left);
		if (r > 0)
			return 0;
		if (r < 0 && errno != EINTR)
			return -1;
	}
}

static int connect_one(const struct addrinfo *a, long long deadline)
{
	int fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
	if (fd < 0)
		return -1;
	int soerr = 0;
	socklen_t sl = sizeof(soerr);
	if (connect(fd, a->ai_addr, a->ai_addrlen) < 0 &&
	    (errno != EINPROGRESS || wait_fd(fd, POLLOUT, deadline) < 0 ||
	     getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0 || soerr != 0)) {
		close(fd);
		return -1;
	}
	return fd;
}

static int connect_any(const char *host, const char *port, long long deadline)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICSERV }, *res = NULL;
	if (getaddrinfo(host, port, &hints, &res) != 0)
		return -1;
	int fd = -1;
	for (struct addrinfo *a = res; a && fd < 0; a = a->ai_next)
		fd = connect_one(a, deadline);
	freeaddrinfo(res);
	return fd;
}

int sk_probe_status_line(const char *buf, size_t len)
{
	if (len < 13 || memcmp(buf, "HTTP/1.", 7) != 0 || buf[7] < '0' || buf[7] > '9' ||
	    buf[8] != ' ')
		return -1;
	int code = 0;
	for (int i = 9; i < 12; i++) {
		if (buf[i] < '0' || buf[i] > '9')
			return -1;
		code = code * 10 + (buf[i] - '0');
	}
	/* the code ends there: a space, or the end of the line */
	if (buf[12] != ' ' && buf[12] != '\r' && buf[12] != '\n')
		return -1;
	return code >= 100 && code <= 599 ? code : -1;
}

/* Reads until the status line is complete; its code, or -1. */
static int read_status(int fd, long long deadline)
{
	char buf[256];
	size_t len = 0;
	while (len < sizeof(buf) && !memchr(buf, '\n', len)) {
		if (wait_fd(fd, POLLIN, deadline) < 0)
			return -1;
		ssize_t n = read(fd, buf + len, sizeof(buf) - len);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			break;
		if (n > 0)
			len += (size_t)n;
	}
	return memchr(buf, '\n', len) ? sk_probe_status_line(buf, len) : -1;
}

int sk_probe_http(const char *addr, const char *path, long long timeout_ms,
		  long long *elapsed_ms)
{
	long long start = mono_ms(), deadline = start + timeout_ms;
	char host[256], port[16], req[1400];
	int code = -1, fd = -1;
	int n = snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\nHost: %s\r\nUser-Agent: skiff\r\n\r\n",
			 path, addr);
	if (split_addr(addr, host, sizeof(host), port, sizeof(port)) == 0 && n > 0 &&
	    (size_t)n < sizeof(req))
		fd = connect_any(host, port, deadline);
	if (fd >= 0 && send(fd, req, (size_t)n, MSG_NOSIGNAL) == n)
		code = read_status(fd, deadline);
	if (fd >= 0)
		close(fd);
	if (elapsed_ms)
		*elapsed_ms = mono_ms() - start;
	return code;
}
