/*
 * HTTP health probe (see health.h).
 */
#include "runner/health.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "runner/workload.h"

/* Waits for events on fd until deadline: 0 ready, -1 timeout or error. */
static int wait_fd(int fd, short events, long long deadline)
{
	for (;;) {
		long long left = deadline - sk_runner_mono_ms();
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

static int connect_to(int port, long long deadline)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0)
		return -1;
	int soerr = 0;
	socklen_t sl = sizeof(soerr);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0 &&
	    (errno != EINPROGRESS || wait_fd(fd, POLLOUT, deadline) < 0 ||
	     getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0 || soerr != 0)) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Reads until the status line is complete; its code, or -1. */
static int read_status(int fd, long long deadline)
{
	char buf[256];
	size_t len = 0;
	while (len < sizeof(buf) - 1 && !memchr(buf, '\n', len)) {
		if (wait_fd(fd, POLLIN, deadline) < 0)
			return -1;
		ssize_t n = read(fd, buf + len, sizeof(buf) - 1 - len);
		if (n <= 0 && !(n < 0 && (errno == EAGAIN || errno == EINTR)))
			break;
		if (n > 0)
			len += (size_t)n;
	}
	buf[len] = '\0';
	int code = 0;
	if (strncmp(buf, "HTTP/1.", 7) != 0 || sscanf(buf + 8, " %3d", &code) != 1)
		return -1;
	return code;
}

int sk_runner_probe(int port, const char *path, long long timeout_ms, long long *elapsed_ms)
{
	long long start = sk_runner_mono_ms(), deadline = start + timeout_ms;
	char req[1200];
	int n = snprintf(req, sizeof(req),
			 "GET %s HTTP/1.0\r\nHost: 127.0.0.1:%d\r\nUser-Agent: skiff-runner\r\n\r\n",
			 path, port);
	int code = -1, fd = connect_to(port, deadline);
	if (fd >= 0 && n > 0 && (size_t)n < sizeof(req) &&
	    send(fd, req, (size_t)n, MSG_NOSIGNAL) == n)
		code = read_status(fd, deadline);
	if (fd >= 0)
		close(fd);
	*elapsed_ms = sk_runner_mono_ms() - start;
	return code >= 200 && code < 300 ? 0 : -1;
}
