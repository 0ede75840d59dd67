/*
 * The supervision loop (see runner.h): follow control, verify and
 * materialize a new release before touching the old one, start, probe,
 * restart with backoff, give up after too many crashes, stop gracefully.
 */
#include "runner/runner.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/fs.h"
#include "runner/health.h"
#include "runner/secrets.h"

#define BACKOFF_MIN_MS 200
#define BACKOFF_MAX_MS 5000

static const json_t *spec_part(const struct sk_runner *r, const char *key)
{
	return json_object_get(r->cur.rel->doc, key);
}

static long long health_int(const struct sk_runner *r, const char *key)
{
	return (long long)json_integer_value(json_object_get(spec_part(r, "health"), key));
}

static long long probe_interval(const struct sk_runner *r)
{
	return r->o->health_interval_ms > 0 ? r->o->health_interval_ms
					     : health_int(r, "interval_ms");
}

/* --port, else the port of control's addr, else run.port. */
static void pick_port(struct sk_runner *r)
{
	const char *colon = strrchr(r->want_addr, ':');
	r->port = r->o->port;
	if (!r->port && colon)
		r->port = atoi(colon + 1);
	if (!r->port)
		r->port = (int)json_integer_value(json_object_get(spec_part(r, "run"), "port"));
	if (r->want_addr[0] && !r->o->port)
		snprintf(r->rep.addr, sizeof(r->rep.addr), "%s", r->want_addr);
	else
		snprintf(r->rep.addr, sizeof(r->rep.addr), "127.0.0.1:%d", r->port);
}

/* Reads what is there; at end of stream (or, with final, when nothing
 * more is there) the partial last line is written and fd closed. */
static void drain(struct sk_runner *r, int *fd, int is_err, int final)
{
	char buf[8192];
	while (*fd >= 0) {
		ssize_t n = read(*fd, buf, sizeof(buf));
		if (n > 0) {
			sk_runner_log_feed(&r->log, is_err, buf, (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN && !final)
			return;
		sk_runner_log_flush(&r->log, is_err);
		close(*fd);
		*fd = -1;
	}
}

static void stop_workload(struct sk_runner *r)
{
	if (r->proc.pid <= 0 && r->proc.out_fd < 0)
		return;
	if (r->proc.pid > 0) {
		kill(-r->proc.pid, SIGTERM);
		long long deadline = sk_runner_mono_ms() + r->o->stop_timeout_ms;
		int st;
		/* keep reading its last words while it shuts down */
		while (!sk_runner_exited(&r->proc, &st) && sk_runner_mono_ms() < deadline) {
			drain(r, &r->proc.out_fd, 0, 0);
			drain(r, &r->proc.err_fd, 1, 0);
			usleep(20000);
		}
	}
	drain(r, &r->proc.out_fd, 0, 1);
	drain(r, &r->proc.err_fd, 1, 1);
	sk_runner_stop(&r->proc, 0, NULL);
	sk_runner_pidfile_set(r->dir, 0);
	r->rep.pid = -1;
}

/* A crash: restart after the backoff, or give up after max_restarts. */
static void crashed(struct sk_runner *r, const char *why)
{
	char msg[SK_REPORT_REASON_MAX + 1];
	r->rep.pid = -1;
	r->crashes++;
	if (r->crashes >= r->o->max_restarts) {
		r->gave_up = 1;
		snprintf(msg, sizeof(msg), "gave up after %lld crashes (last: %s)", r->crashes, why);
	} else {
		snprintf(msg, sizeof(msg), "%s", why);
		r->next_start = sk_runner_mono_ms() + r->backoff_ms;
		r->backoff_ms = r->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : r->backoff_ms * 2;
	}
	sk_runner_report(r, "crashed", msg);
}

/* The pins the workload loads now become the report's "secrets". */
static void loaded(struct sk_runner *r, const struct sk_secret_env *sec)
{
	json_decref(r->rep.secrets);
	r->rep.secrets = json_object_size(sec->loaded) ? json_incref(sec->loaded) : NULL;
}

static void start(struct sk_runner *r)
{
	struct sk_err err;
	struct sk_secret_env sec;
	struct sk_runner_env env = { r->port, r->o->service, r->o->target, r->cur.rel->version,
				     r->want_trace, &sec };
	r->rep.health_passes = r->rep.health_fails = 0;
	r->rep.health_last_ms = -1;
	int rc = sk_secrets_load(r->repo, r->o->service, r->want_pins, spec_part(r, "secrets"),
				 &sec, &err);
	/* tried: a failure is retried with backoff, or when the pins move */
	json_decref(r->loaded_pins);
	r->loaded_pins = r->want_pins ? json_deep_copy(r->want_pins) : json_object();
	if (rc == 0) {
		loaded(r, &sec);
		rc = sk_runner_spawn(spec_part(r, "run"), r->cur.tree, &env, &r->proc, &err);
		sk_secrets_env_clear(&sec);
	}
	r->rep.pid = rc == 0 ? r->proc.pid : -1;
	if (rc == 0)
		sk_runner_pidfile_set(r->dir, r->proc.pid);
	if (rc == 0) {
		r->next_probe = sk_runner_mono_ms() + (probe_interval(r) < 500 ? probe_interval(r)
									   : 500);
		sk_runner_report(r, "starting", "");
		return;
	}
	crashed(r, err.message);
}

/* The report's release fields: version (oid NULL while unverified). */
static void set_release(struct sk_runner *r, const char *version, const struct sk_oid *oid,
			const char *trace)
{
	snprintf(r->rep.release, sizeof(r->rep.release), "%s", version);
	r->rep.has_release_oid = oid != NULL;
	if (oid)
		r->rep.release_oid = *oid;
	snprintf(r->rep.trace, sizeof(r->rep.trace), "%s", trace);
}

/* Sets the report's release fields to the release now in use. */
static void adopt(struct sk_runner *r, struct sk_runner_rel *rel)
{
	sk_runner_rel_clear(&r->cur);
	r->cur = *rel;
	set_release(r, rel->rel->version, &rel->oid, r->want_trace);
	r->rep.restarts = 0;
	r->crashes = 0;
	r->gave_up = 0;
	r->backoff_ms = BACKOFF_MIN_MS;
	const json_t *gates = json_object_get(spec_part(r, "canary"), "gates");
	sk_runner_log_reset(&r->log, rel->rel->version, r->want_trace,
			    json_object_get(gates, "log_patterns"));
	pick_port(r);
}

/* A refused release leaves the running one alone: the report names the
 * refused version and why, later reports describe the running release
 * again, and the version is not retried until control names another. */
static void refuse(struct sk_runner *r, const char *version, const struct sk_err *err)
{
	sk_runner_report(r, "refused-unverified", err->message);
	/* a remote that cannot be reached now is no verdict: tried again at
	 * the next poll */
	int verdict = sk_err_exit_code(err->code) == 4 || err->code == SK_ENOTFOUND;
	snprintf(r->refused, sizeof(r->refused), "%s", verdict ? version : "");
	if (r->cur.rel)
		set_release(r, r->cur.rel->version, &r->cur.oid, r->log.trace);
}

static void switch_release(struct sk_runner *r, const char *version)
{
	struct sk_err err;
	struct sk_runner_rel rel;
	char *releases = sk_path_join(r->dir, "releases");
	set_release(r, version, NULL, r->want_trace);
	sk_runner_report(r, "verifying", "");
	int rc = sk_runner_materialize(r->repo, r->o->service, version, releases, &rel, &err);
	free(releases);
	if (rc < 0) {
		refuse(r, version, &err);
		return;
	}
	r->refused[0] = '\0';
	stop_workload(r);
	adopt(r, &rel);
	start(r);
}

static void on_exit_status(struct sk_runner *r, int st)
{
	char why[96];
	if (WIFSIGNALED(st))
		snprintf(why, sizeof(why), "killed by signal %d", WTERMSIG(st));
	else
		snprintf(why, sizeof(why), "exited with status %d", WEXITSTATUS(st));
	drain(r, &r->proc.out_fd, 0, 1);
	drain(r, &r->proc.err_fd, 1, 1);
	sk_runner_pidfile_set(r->dir, 0);
	crashed(r, why);
}

static void probe(struct sk_runner *r)
{
	long long ms = 0;
	const char *path = json_string_value(json_object_get(spec_part(r, "health"), "path"));
	int ok = sk_runner_probe(r->port, path, health_int(r, "timeout_ms"), &ms) == 0;
	r->next_probe = sk_runner_mono_ms() + probe_interval(r);
	r->rep.health_last_ms = ok ? ms : r->rep.health_last_ms;
	r->rep.health_passes = ok ? r->rep.health_passes + 1 : 0;
	if (!ok)
		r->dirty = 1;
	r->rep.health_fails = ok ? 0 : r->rep.health_fails + 1;
	const char *s = r->rep.state;
	/* a refusal stays the news until control moves on or the old
	 * release's workload does something worse */
	if (ok && (r->refused[0] || r->ctl_bad))
		return;
	if (ok && strcmp(s, "healthy") && r->rep.health_passes >= health_int(r, "healthy_threshold")) {
		r->backoff_ms = BACKOFF_MIN_MS;
		sk_runner_report(r, "healthy", "");
	} else if (!ok && strcmp(s, "unhealthy") &&
		   r->rep.health_fails >= health_int(r, "unhealthy_threshold")) {
		sk_runner_report(r, "unhealthy", "health check failed");
	}
}

/* Control that does not verify (a bad signature or role, a damaged or
 * rolled-back record) is refused as a release is: reported once, and
 * nothing changes (what runs keeps running) until control verifies
 * again. Other failures (a remote out of reach) are only logged. */
static void control_failed(struct sk_runner *r, const struct sk_err *err)
{
	char why[SK_ERR_MSG + 200]; /* cut to a reason's length by the report */
	if (r->ctl_bad) /* said once already */
		return;
	fprintf(stderr, "skiff-runner: reading control: %s\n", err->message);
	if (sk_err_exit_code(err->code) != 4)
		return;
	snprintf(r->ctl_prev, sizeof(r->ctl_prev), "%s", r->rep.state);
	r->ctl_bad = 1;
	snprintf(why, sizeof(why), "control of %s: %s", r->o->service, err->message);
	sk_runner_report(r, "refused-unverified", why);
}

/* Control verifies again: the state the refusal interrupted is news. */
static void control_ok(struct sk_runner *r)
{
	if (!r->ctl_bad)
		return;
	r->ctl_bad = 0;
	if (r->ctl_prev[0])
		sk_runner_report(r, r->ctl_prev, "");
}

/* Control pins other secret versions for the target: the workload is
 * restarted with them, but only once they load, so a reference that
 * cannot be resolved (a file not there yet, a wrong mode) leaves the
 * running workload on the versions it has and says why, once. */
static void follow_pins(struct sk_runner *r)
{
	if (!r->cur.rel || !r->loaded_pins || json_equal(r->want_pins, r->loaded_pins) ||
	    (r->refused_pins && json_equal(r->want_pins, r->refused_pins)))
		return;
	struct sk_err err;
	struct sk_secret_env sec;
	int rc = sk_secrets_load(r->repo, r->o->service, r->want_pins, spec_part(r, "secrets"),
				 &sec, &err);
	sk_secrets_env_clear(&sec);
	json_decref(r->refused_pins);
	r->refused_pins = NULL;
	if (rc) {
		char why[SK_ERR_MSG + 64];
		r->refused_pins = json_deep_copy(r->want_pins);
		snprintf(why, sizeof(why), "%s; still on the secrets loaded before", err.message);
		sk_runner_report(r, r->rep.state, why);
		return;
	}
	stop_workload(r);
	r->crashes = 0;
	r->gave_up = 0;
	r->backoff_ms = BACKOFF_MIN_MS;
	start(r);
}

/* One round of control: a new release to run, or nothing to do. */
static void follow_control(struct sk_runner *r)
{
	struct sk_err err;
	memset(&err, 0, sizeof(err));
	r->next_poll = sk_runner_mono_ms() + r->o->poll_ms;
	if (sk_runner_poll_control(r, &err) < 0) {
		control_failed(r, &err);
		return;
	}
	control_ok(r);
	if (!r->want[0] || !strcmp(r->want, r->refused))
		return;
	if (r->cur.rel && !strcmp(r->want, r->cur.rel->version)) {
		follow_pins(r);
		return;
	}
	switch_release(r, r->want);
}

static long long next_deadline(const struct sk_runner *r, long long now)
{
	long long t = r->o->once ? now + 200 : r->next_poll;
	if (r->proc.pid > 0 && r->next_probe < t)
		t = r->next_probe;
	if (r->cur.rel && r->proc.pid <= 0 && !r->gave_up && r->next_start < t)
		t = r->next_start;
	if (r->dirty && r->last_report + r->o->report_interval_ms < t)
		t = r->last_report + r->o->report_interval_ms;
	t -= now;
	return t < 0 ? 0 : t > 200 ? 200 : t;
}

static void wait_io(struct sk_runner *r)
{
	struct pollfd p[2] = { { r->proc.out_fd, POLLIN, 0 }, { r->proc.err_fd, POLLIN, 0 } };
	long long now = sk_runner_mono_ms();
	int n = poll(p, 2, (int)next_deadline(r, now));
	if (n > 0) {
		drain(r, &r->proc.out_fd, 0, 0);
		drain(r, &r->proc.err_fd, 1, 0);
	}
	if (r->log.lines != r->logged_lines)
		r->dirty = 1;
}

static void step(struct sk_runner *r)
{
	long long now = sk_runner_mono_ms();
	int st;
	if (!r->o->once && now >= r->next_poll)
		follow_control(r);
	if (r->proc.pid > 0 && sk_runner_exited(&r->proc, &st))
		on_exit_status(r, st);
	now = sk_runner_mono_ms();
	if (r->cur.rel && r->proc.pid <= 0 && !r->gave_up && now >= r->next_start) {
		r->rep.restarts += r->crashes > 0;
		start(r);
	}
	if (r->proc.pid > 0 && sk_runner_mono_ms() >= r->next_probe)
		probe(r);
	wait_io(r);
	if (r->dirty && !strcmp(r->rep.state, "refused-unverified"))
		r->dirty = 0; /* the refusal stays visible until something happens */
	if (r->dirty && sk_runner_mono_ms() >= r->last_report + r->o->report_interval_ms)
		sk_runner_report(r, r->rep.state, r->rep.reason);
}

/* --once: done when healthy, refused, given up or unhealthy. */
static int once_done(const struct sk_runner *r, int *code)
{
	const char *s = r->rep.state;
	if (!strcmp(s, "healthy"))
		*code = 0;
	else if (!strcmp(s, "refused-unverified"))
		*code = 4;
	else if (r->gave_up || !strcmp(s, "unhealthy"))
		*code = 1;
	else
		return 0;
	return 1;
}

static int first_pass(struct sk_runner *r)
{
	struct sk_err err;
	memset(&err, 0, sizeof(err));
	int rc = sk_runner_poll_control(r, &err);
	if (rc < 0) {
		control_failed(r, &err);
	} else if (!r->want[0] && r->o->once) {
		sk_err_set(&err, SK_ENOTFOUND, "assign one with skiff deploy",
			   "control assigns no release to target %s", r->o->target);
		fprintf(stderr, "skiff-runner: %s\n", err.message);
	}
	if (r->o->once && (rc < 0 || !r->want[0]))
		return sk_err_exit_code(err.code);
	r->next_poll = sk_runner_mono_ms() + r->o->poll_ms;
	if (r->want[0])
		switch_release(r, r->want);
	return -1;
}

int sk_runner_loop(struct sk_runner *r)
{
	int code = first_pass(r);
	if (code >= 0)
		return code;
	code = 0;
	while (!*r->stop && !(r->o->once && once_done(r, &code)))
		step(r);
	if (r->proc.pid > 0 || r->cur.rel) {
		stop_workload(r);
		sk_runner_report(r, "stopped", *r->stop ? "runner stopped by signal" : "");
	}
	return code;
}

int sk_runner_verify_only(struct sk_runner *r)
{
	struct sk_err err;
	struct sk_runner_rel rel;
	memset(&err, 0, sizeof(err));
	if (!r->o->release && sk_runner_poll_control(r, &err) < 0)
		return fprintf(stderr, "skiff-runner: %s\n", err.message), sk_err_exit_code(err.code);
	const char *v = r->o->release ? r->o->release : r->want;
	char *releases = sk_path_join(r->dir, "releases");
	long long t0 = sk_runner_mono_ms();
	int rc = *v ? sk_runner_materialize(r->repo, r->o->service, v, releases, &rel, &err)
		    : sk_err_set(&err, SK_ENOTFOUND, NULL, "control assigns no release");
	long long ms = sk_runner_mono_ms() - t0;
	free(releases);
	json_t *out = json_pack("{s:s, s:s, s:s, s:I, s:b}", "service", r->o->service, "target",
				r->o->target, "release", v, "ms", (json_int_t)ms, "verified", rc == 0);
	if (rc == 0)
		json_object_set_new(out, "tree", json_string(rel.tree));
	else
		json_object_set_new(out, "error", json_string(err.message));
	char *s = json_dumps(out, JSON_COMPACT | JSON_SORT_KEYS);
	printf("%s\n", s);
	free(s);
	json_decref(out);
	if (rc == 0)
		sk_runner_rel_clear(&rel);
	return rc == 0 ? 0 : sk_err_exit_code(rc);
}
