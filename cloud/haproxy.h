/*
 * HAProxy, the local traffic provider (Debian's haproxy 2.6). Skiff owns
 * one haproxy process per repository, in a runtime directory DIR:
 *   DIR/haproxy.cfg   written here (atomically) from a model of services
 *   DIR/haproxy.pid   haproxy's pid (-p)
 *   DIR/admin.sock    the stats socket, level admin, mode 600
 *   DIR/haproxy.log   haproxy's own start-up messages (stderr)
 * and drives it through the runtime API on admin.sock: set weight,
 * get weight, set server state, show stat. Everything that comes back
 * from the socket is parsed strictly (a surprise is SK_EINVAL, never a
 * guess). Errors: SK_ENOTFOUND when haproxy was never started in DIR,
 * SK_EUNREACHABLE when its pid is gone or its socket does not answer.
 */
#ifndef SK_HAPROXY_H
#define SK_HAPROXY_H

#include <jansson.h>
#include <stddef.h>

#include "common/err.h"

#define SK_HAPROXY_WEIGHT_MAX 256
/* Cap on one reply from the socket: show stat of 64 servers is ~40 KiB. */
#define SK_HAPROXY_REPLY_MAX (4u << 20)
#define SK_HAPROXY_NAME_MAX 64
#define SK_HAPROXY_TEXT_MAX 128

/* The config of a model
 *   {SVC: {"listen":"HOST:PORT", "health_path":"/p", "check_ms":N,
 *          "servers": {T: {"addr":"HOST:PORT", "weight":W, "backup":BOOL}}}}
 * (one frontend fe_SVC bound to listen, one backend SVC with one server
 * per target). with_weights 0 leaves the weights out: the text then
 * describes only the structure, which decides whether a reload is needed
 * (weights move at run time, never by reload). Every name, address and
 * path is checked for characters the config language would misread.
 * *out is malloc'd. */
int sk_haproxy_config(const char *dir, const json_t *model, int with_weights, char **out,
		      struct sk_err *err);
/* Hex SHA-256 of the structure-only config (65 bytes with NUL). */
int sk_haproxy_structure(const char *dir, const json_t *model, char out[65], struct sk_err *err);
/* The structure digest recorded in DIR/haproxy.cfg ("" when none). */
void sk_haproxy_written_structure(const char *dir, char out[65]);
/* Writes the config for model atomically to DIR/haproxy.cfg (with its
 * structure digest in a comment) and checks it with `haproxy -c`. */
int sk_haproxy_write_config(const char *dir, const json_t *model, struct sk_err *err);

/* haproxy's pid from DIR/haproxy.pid when that process is alive and is
 * haproxy: SK_ENOTFOUND without a pid file, SK_EUNREACHABLE when the
 * process is gone. */
int sk_haproxy_pid(const char *dir, long *pid, struct sk_err *err);
/* Starts haproxy on DIR/haproxy.cfg and waits until its socket answers. */
int sk_haproxy_start(const char *dir, struct sk_err *err);
/* Graceful reload: a new haproxy on the current config takes over the
 * listeners (-sf OLD), old connections finish; waits for the new one's
 * socket. */
int sk_haproxy_reload(const char *dir, struct sk_err *err);
/* Stops haproxy (SIGUSR1, then SIGTERM, then SIGKILL, each after a
 * wait), removes the socket and pid file. *was_running (may be NULL)
 * tells whether there was a process to stop. */
int sk_haproxy_stop(const char *dir, int *was_running, struct sk_err *err);

/* One runtime API command; *reply (malloc'd, NUL-terminated) is the whole
 * answer. */
int sk_haproxy_cmd(const char *dir, const char *cmd, char **reply, size_t *len,
		   struct sk_err *err);

/* Parses `show stat … 4 -1` output (servers only) into
 *   {BACKEND: {SERVER: {"requests","hrsp_2xx","hrsp_5xx","rtime_ms","weight",
 *                       "sessions","backup","status","check_status","addr"}}}
 * Pure. The header must name every field used; each row must have the
 * header's field count, type 2 (server), names of [A-Za-z0-9._:-],
 * digits where numbers belong; the reply must end with its blank line
 * (else it was truncated). Anything else is SK_EINVAL; more than
 * SK_HAPROXY_REPLY_MAX bytes is SK_ETOOBIG. */
int sk_haproxy_parse_stat(const char *buf, size_t len, json_t **out, struct sk_err *err);
/* Parses `get weight` output ("W (initial I)\n\n"). Pure. */
int sk_haproxy_parse_weight(const char *buf, size_t len, int *weight, struct sk_err *err);

/* show stat for one backend (NULL: every backend), parsed as above. */
int sk_haproxy_stat(const char *dir, const char *backend, json_t **out, struct sk_err *err);
int sk_haproxy_get_weight(const char *dir, const char *backend, const char *server, int *weight,
			  struct sk_err *err);
int sk_haproxy_set_weight(const char *dir, const char *backend, const char *server, int weight,
			  struct sk_err *err);
/* state: ready, drain or maint. */
int sk_haproxy_set_state(const char *dir, const char *backend, const char *server,
			 const char *state, struct sk_err *err);

#endif
