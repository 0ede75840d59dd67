/*
 * Following an operation while it runs (see progress.h).
 */
#include "porcelain/progress.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ops/follow.h"
#include "refs/refs.h"

#define TICK_MS 250

static const char *jstr(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "";
}

static long long jint(const json_t *o, const char *k)
{
	return (long long)json_integer_value(json_object_get(o, k));
}

/* "canary 523 req, 2 5xx (0.38%), 12 ms" */
static void signals(FILE *out, const char *label, const json_t *w)
{
	if (!w)
		return;
	long long bp = jint(w, "error_rate_bp");
	fprintf(out, "  %s %lld req, %lld 5xx (%lld.%02lld%%), %lld ms", label, jint(w, "requests"),
		jint(w, "errors"), bp / 100, bp % 100, jint(w, "rtime_ms"));
}

static const char *step_name(const json_t *op, const json_t *e)
{
	const json_t *s = json_object_get(e, "step");
	if (!json_is_integer(s))
		return "";
	return jstr(json_array_get(json_object_get(op, "steps"), (size_t)json_integer_value(s)),
		    "name");
}

static void event_line(FILE *out, const json_t *op, const json_t *e)
{
	const json_t *f = json_object_get(e, "facts");
	const char *kind = jstr(e, "kind"), *step = step_name(op, e);
	char t[32];
	time_t now = (time_t)jint(e, "time");
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(t, sizeof(t), "%H:%M:%S", &tm);
	fprintf(out, "%s  ", t);
	if (strcmp(kind, "intent") == 0)
		fprintf(out, "-> %-14s %s risk, %s", step, jstr(f, "risk"),
			json_is_true(json_object_get(f, "reversible")) ? "reversible" : "irreversible");
	else if (strcmp(kind, "result") == 0 || strcmp(kind, "observed") == 0) {
		fprintf(out, "ok %-14s", step);
		if (json_object_get(f, "decision")) {
			fprintf(out, " %s: %s", jstr(f, "decision"),
				json_string_value(json_array_get(json_object_get(f, "reasons"), 0)));
			signals(out, "| canary", json_object_get(f, "canary"));
			signals(out, "| stable", json_object_get(f, "stable"));
		}
	} else if (strcmp(kind, "step-failed") == 0)
		fprintf(out, "FAILED %s: %s", step, jstr(f, "error"));
	else if (strcmp(kind, "paused") == 0)
		fprintf(out, "PAUSED %s: %s", step, jstr(f, "reason"));
	else if (strcmp(kind, "compensate-intent") == 0)
		fprintf(out, "<- undoing %s (%s)", step, jstr(f, "compensation"));
	else if (strcmp(kind, "compensate-result") == 0)
		fprintf(out, "<- undone %s", step);
	else if (strcmp(kind, "state") == 0)
		fprintf(out, "operation %s -> %s", jstr(f, "from"), jstr(f, "to"));
	else
		fprintf(out, "%s %s", kind, step);
	fputc('\n', out);
}

/* The terminal's status line: the bake under way and its live signals. */
static void live_line(struct sk_cli *cli, const char *id)
{
	char path[4200];
	snprintf(path, sizeof(path), "%s/ops-live/%s.json", sk_repo_path(cli->repo), id);
	json_t *live = json_load_file(path, 0, NULL);
	if (!json_is_object(live)) {
		json_decref(live);
		return;
	}
	fprintf(stdout, "\r\033[K   baking %s: %lld%% on the canary, %llds left", jstr(live, "step"),
		jint(live, "weight"), (jint(live, "left_ms") + 999) / 1000);
	signals(stdout, "|", json_object_get(live, "canary"));
	fflush(stdout);
	json_decref(live);
}

struct follower {
	struct sk_oid last;
	long long seq;
	int tty;
};

static void print_new(struct sk_cli *cli, const char *id, struct follower *f)
{
	struct sk_op *op = NULL;
	json_t *events = NULL;
	struct sk_err e;
	if (sk_op_load(cli->repo, id, &op, &e) != 0)
		return;
	if (sk_op_events_after(cli->repo, op, &f->last, f->seq, &events, &e) == 0) {
		size_t i;
		json_t *ev;
		json_array_foreach(events, i, ev) {
			if (f->tty)
				fputs("\r\033[K", stdout);
			event_line(stdout, op->doc, ev);
			f->seq = jint(ev, "seq");
			sk_oid_fromhex(&f->last, jstr(ev, "id"), NULL);
		}
	}
	fflush(stdout);
	json_decref(events);
	sk_op_free(op);
}

struct outcome {
	int rc;
	struct sk_err err;
};

int sk_progress_run(struct sk_cli *cli, struct sk_op *op, struct sk_err *err)
{
	if (cli->format == SK_FMT_JSON)
		return sk_op_run(cli->repo, cli->key, op, err);
	int fds[2];
	if (pipe(fds) != 0)
		return sk_err_errno(err, errno, "pipe", "progress");
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0)
		return sk_err_errno(err, errno, "fork", "progress");
	if (pid == 0) {
		close(fds[0]);
		struct outcome o;
		memset(&o, 0, sizeof(o));
		o.rc = sk_op_run(cli->repo, cli->key, op, &o.err);
		ssize_t w = write(fds[1], &o, sizeof(o));
		_exit(w == (ssize_t)sizeof(o) ? 0 : 1);
	}
	close(fds[1]);
	char id[SK_OPID_MAX + 1];
	snprintf(id, sizeof(id), "%s", jstr(op->doc, "id"));
	struct follower f;
	memset(&f, 0, sizeof(f));
	f.tty = isatty(STDOUT_FILENO);
	struct outcome o;
	memset(&o, 0, sizeof(o));
	o.rc = SK_EFAIL;
	snprintf(o.err.message, sizeof(o.err.message), "the executor of %s died", id);
	for (;;) {
		struct pollfd p = { fds[0], POLLIN, 0 };
		int ready = poll(&p, 1, TICK_MS);
		print_new(cli, id, &f);
		if (ready > 0) {
			if (read(fds[0], &o, sizeof(o)) != (ssize_t)sizeof(o))
				o.rc = o.rc ? o.rc : SK_EFAIL;
			break;
		}
		if (f.tty)
			live_line(cli, id);
	}
	close(fds[0]);
	int status;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	print_new(cli, id, &f);
	if (f.tty)
		fputs("\r\033[K", stdout);
	*err = o.err;
	return o.rc;
}
