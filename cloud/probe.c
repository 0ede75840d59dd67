/*
 * HTTP probe through a frontend (see probe.h).
 */
#include "cloud/probe.h"

#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

/* Splits listen into host and port; a wildcard host becomes loopback. */
static int split_listen(const char *listen, char *host, size_t hn, char *port, size_t pn)
{
	const char *colon = strrchr(listen, ':');
	if (!colon || !colon[1] || (size_t)(colon - listen) >= hn || strlen(colon + 1) >= pn)
		return -1;
	const char *h = listen;
	size_t len = (size_t)(colon - listen);
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

static int connect_any(const char *host, const char *port, long long timeout_ms)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res = NULL;
	if (getaddrinfo(host, port, &hints, &res) != 0)
		return -1;
	struct timeval tv = { (time_t)(timeout_ms / 1000), (suseconds_t)(timeout_ms % 1000) * 1000 };
	int fd = -1;
	for (struct addrinfo *a = res; a && fd < 0; a = a->ai_next) {
		fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
		if (fd < 0)
			continue;
		/* a send or receive timeout also bounds connect on Linux */
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		if (connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(res);
	return fd;
}

int sk_probe_http(const char *listen, const char *path, long long timeout_ms)
{
	char host[256], port[16], req[1400], buf[256];
	if (split_listen(listen, host, sizeof(host), port, sizeof(port)) != 0)
		return -1;
	int n = snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\nHost: %s\r\nUser-Agent: skiff\r\n\r\n",
			 path, listen);
	if (n < 0 || (size_t)n >= sizeof(req))
		return -1;
	int fd = connect_any(host, port, timeout_ms);
	if (fd < 0)
		return -1;
	size_t len = 0;
	int code = -1;
	if (send(fd, req, (size_t)n, MSG_NOSIGNAL) == n) {
		while (len < sizeof(buf) - 1 && !memchr(buf, '\n', len)) {
			ssize_t r = recv(fd, buf + len, sizeof(buf) - 1 - len, 0);
			if (r <= 0)
				break;
			len += (size_t)r;
		}
		buf[len] = '\0';
		if (strncmp(buf, "HTTP/1.", 7) != 0 || sscanf(buf + 8, " %3d", &code) != 1)
			code = -1;
	}
	close(fd);
	return code;
}
