/*
 * The runner's setup, its view of control, and its reports (see runner.h).
 */
#include "runner/runner.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/fs.h"
#include "ops/engine.h"
#include "refs/keys.h"
#include "refs/reports.h"
#include "refs/service.h"
#include "remote-s3/direct.h"
#include "remote-s3/remote.h"
#include "runner/secrets.h"

long long sk_runner_parse_duration(const char *s)
{
	char *end = NULL;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || end == s || v < 0 || v > 86400000LL)
		return -1;
	if (!strcmp(end, "ms"))
		return v;
	if (!*end || !strcmp(end, "s"))
		return v * 1000;
	if (!strcmp(end, "m"))
		return v * 60000;
	if (!strcmp(end, "h"))
		return v * 3600000;
	return -1;
}

/* Absolute: the workload runs with its tree as cwd, and its command is
 * a path into that tree. */
static char *run_dir(struct sk_repo *repo, const char *svc, const char *target)
{
	char *base = realpath(sk_repo_path(repo), NULL);
	if (!base)
		return NULL;
	size_t n = strlen(base) + strlen(svc) + strlen(target) + 16;
	char *p = malloc(n);
	if (!p)
		abort();
	snprintf(p, n, "%s/run/%s/%s", base, svc, target);
	free(base);
	return p;
}

/* --cache, else $XDG_CACHE_HOME (or ~/.cache)/skiff-runner/<the remote's
 * key>/<svc>/<target>: a runner's state never goes into a repository. */
static char *remote_state_dir(const struct sk_runner_opts *o, struct sk_err *err)
{
	if (o->cache_dir)
		return strdup(o->cache_dir);
	struct sk_remote *rm = NULL;
	if (sk_remote_open(&rm, o->remote_url, NULL, err) < 0)
		return NULL;
	const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
	char *base = xdg && *xdg ? strdup(xdg) : sk_path_join(home && *home ? home : "/tmp", ".cache");
	size_t n = strlen(base) + strlen(o->service) + strlen(o->target) + 64;
	char *p = malloc(n);
	if (!p)
		abort();
	snprintf(p, n, "%s/skiff-runner/%s/%s/%s", base, sk_remote_key(rm), o->service, o->target);
	free(base);
	sk_remote_free(rm);
	return p;
}

/* --remote: the state directory holds the direct cache (.skiff) beside
 * releases/, log/ and runner.pid. */
static int open_remote(struct sk_runner *r, struct sk_err *err)
{
	char *dir = remote_state_dir(r->o, err);
	if (!dir)
		return err->code ? err->code : sk_err_set(err, SK_ENOMEM, NULL, "out of memory");
	int rc = sk_fs_mkdirs(dir, 0, err);
	if (rc == 0 && !(r->dir = realpath(dir, NULL)))
		rc = sk_err_errno(err, errno, "cannot resolve", dir);
	free(dir);
	if (rc == 0)
		rc = sk_direct_open_at(&r->direct, r->o->remote_url, r->dir, 0, err);
	if (rc == 0)
		r->repo = sk_direct_repo(r->direct);
	/* a cache is made without an owner: one with an owner is somebody's
	 * repository, which a runner's reports and releases stay out of */
	if (rc == 0 && sk_repo_identity(r->repo)[0])
		rc = sk_err_set(err, SK_EINVAL, "pass --cache an empty or runner-owned directory",
				"%s holds a repository, not a runner's cache", r->dir);
	return rc;
}

static int open_repo(struct sk_runner *r, struct sk_err *err)
{
	int rc = sk_repo_open(&r->repo, r->o->repo_dir, err);
	if (rc == 0 && !(r->dir = run_dir(r->repo, r->o->service, r->o->target)))
		rc = sk_err_errno(err, errno, "cannot resolve", sk_repo_path(r->repo));
	return rc;
}

static int load_identity(struct sk_runner *r, struct sk_err *err)
{
	const char *id = r->o->identity;
	if (!id || !*id)
		id = getenv("SKIFF_IDENTITY");
	/* never the repository owner's key by default: a runner signs only
	 * with the key that holds its runner role */
	if (!id || !*id)
		return sk_err_set(err, SK_EIDENTITY, "pass --identity NAME|PATH or set SKIFF_IDENTITY",
				  "skiff-runner needs its runner key");
	return sk_key_load(&r->key, id, err);
}

/* runner.pid: one runner per target; a live one elsewhere is a conflict. */
static int claim_pid(struct sk_runner *r, struct sk_err *err)
{
	char *path = sk_path_join(r->dir, "runner.pid"), buf[32];
	char *old = NULL;
	size_t len = 0;
	int rc = 0;
	if (sk_fs_read_file(path, 31, &old, &len, NULL) == 0) {
		long pid = strtol(old, NULL, 10);
		if (pid > 0 && pid != getpid() && !sk_runner_pid_gone((pid_t)pid))
			rc = sk_err_set(err, SK_ELOCKED, "stop the other runner first",
					"a runner for %s/%s is running (pid %ld)", r->o->service,
					r->o->target, pid);
		free(old);
	}
	snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (rc == 0)
		rc = sk_fs_write_atomic(path, buf, strlen(buf), 0644, err);
	r->claimed = rc == 0; /* only then is runner.pid ours to remove */
	free(path);
	return rc;
}

static void init_report(struct sk_runner *r)
{
	memset(&r->rep, 0, sizeof(r->rep));
	snprintf(r->rep.service, sizeof(r->rep.service), "%s", r->o->service);
	snprintf(r->rep.target, sizeof(r->rep.target), "%s", r->o->target);
	r->rep.pid = r->rep.health_last_ms = -1;
}

int sk_runner_open(struct sk_runner *r, const struct sk_runner_opts *o,
		   volatile sig_atomic_t *stop, struct sk_err *err)
{
	memset(r, 0, sizeof(*r));
	r->o = o;
	r->stop = stop;
	r->proc.out_fd = r->proc.err_fd = -1;
	r->log.fd = -1;
	r->backoff_ms = 200;
	init_report(r);
	char ref[SK_REF_MAX + 1];
	/* the names become paths: checked before anything is created */
	int rc = sk_reports_ref(ref, sizeof(ref), o->service, o->target, err);
	/* --verify-only reports nothing, so it signs nothing */
	if (rc == 0 && !o->verify_only)
		rc = load_identity(r, err);
	if (rc == 0)
		rc = o->remote_url ? open_remote(r, err) : open_repo(r, err);
	if (rc < 0)
		return rc;
	char *logdir = sk_path_join(r->dir, "log");
	rc = sk_fs_mkdirs(r->dir, 0, err);
	if (rc == 0)
		rc = claim_pid(r, err);
	/* what a killed runner of this target left running holds its port */
	pid_t orphan = rc == 0 && !o->verify_only ? sk_runner_reap_orphan(r->dir, o->stop_timeout_ms)
						 : 0;
	if (orphan > 0)
		fprintf(stderr, "skiff-runner: stopped workload %ld, left running by a previous runner\n",
			(long)orphan);
	if (rc == 0)
		rc = sk_runner_log_open(&r->log, logdir, o->target, o->log_max_bytes, o->log_keep,
					err);
	free(logdir);
	return rc;
}

void sk_runner_close(struct sk_runner *r)
{
	if (r->dir && r->claimed) {
		char *path = sk_path_join(r->dir, "runner.pid");
		unlink(path);
		free(path);
	}
	sk_runner_log_close(&r->log);
	sk_runner_rel_clear(&r->cur);
	json_decref(r->want_pins);
	json_decref(r->loaded_pins);
	json_decref(r->refused_pins);
	json_decref(r->rep.secrets);
	r->want_pins = r->loaded_pins = r->refused_pins = r->rep.secrets = NULL;
	sk_key_free(r->key);
	if (r->direct)
		sk_direct_free(r->direct); /* and its repository */
	else
		sk_repo_free(r->repo);
	r->direct = NULL;
	r->repo = NULL;
	free(r->dir);
	r->dir = NULL;
}

/* The trace of the operation that made the service's head commit. */
static void op_trace(struct sk_runner *r, const char *op)
{
	struct sk_op *doc = NULL;
	struct sk_err ignore;
	r->want_trace[0] = '\0';
	if (!op[0] || sk_op_load(r->repo, op, &doc, &ignore) < 0)
		return;
	const char *t = json_string_value(json_object_get(doc->doc, "trace"));
	snprintf(r->want_trace, sizeof(r->want_trace), "%s", t ? t : "");
	sk_op_free(doc);
}

int sk_runner_poll_control(struct sk_runner *r, struct sk_err *err)
{
	struct sk_service_state st;
	/* every poll reads the remote's current records again */
	if (r->direct)
		sk_direct_refresh(r->direct);
	int rc = sk_service_load(r->repo, r->o->service, &st, err);
	if (rc < 0)
		return rc;
	json_t *t = json_object_get(json_object_get(st.control, "targets"), r->o->target);
	const char *v = json_string_value(json_object_get(t, "release"));
	const char *addr = json_string_value(json_object_get(t, "addr"));
	snprintf(r->want, sizeof(r->want), "%s", v ? v : "");
	snprintf(r->want_addr, sizeof(r->want_addr), "%s", addr ? addr : "");
	json_decref(r->want_pins);
	r->want_pins = sk_secrets_pins(st.control, r->o->target);
	if (st.has_head)
		op_trace(r, st.commit.op);
	sk_service_state_clear(&st);
	return 0;
}

static void fill_logs(struct sk_runner *r)
{
	r->rep.log_lines = r->log.lines;
	r->rep.patterns = r->log.patterns; /* borrowed for sk_report_to_json */
	r->logged_lines = r->log.lines;
}

static int write_once(struct sk_runner *r, struct sk_err *err)
{
	int has = 0;
	int rc = sk_reports_head(r->repo, r->o->service, r->o->target, &has, &r->rep.prev, err);
	r->rep.has_prev = has;
	json_t *doc = rc == 0 ? sk_report_to_json(&r->rep) : NULL;
	if (rc == 0 && !doc)
		rc = sk_err_set(err, SK_ENOMEM, NULL, "out of memory");
	if (rc == 0)
		rc = sk_reports_write(r->repo, r->key, doc, err);
	json_decref(doc);
	return rc;
}

/* --remote: the remote's head of the ref is brought in (verified) first,
 * the report is chained onto it here and pushed: the object, then the
 * remote's ref by compare-and-swap. */
static int publish(struct sk_runner *r, struct sk_err *err)
{
	if (!r->direct)
		return write_once(r, err);
	char ref[SK_REF_MAX + 1];
	int rc = sk_reports_ref(ref, sizeof(ref), r->o->service, r->o->target, err);
	if (rc == 0)
		rc = sk_direct_sync_ref(r->direct, ref, err);
	if (rc == 0)
		rc = write_once(r, err);
	if (rc == 0)
		rc = sk_direct_push_ref(r->direct, ref, err);
	return rc;
}

/* A report's reason is printable text of at most 512 bytes: control
 * characters become spaces and a cut never splits a UTF-8 sequence. */
static void set_reason(char *dst, size_t n, const char *reason)
{
	size_t len = 0;
	for (const char *s = reason ? reason : ""; *s && len + 1 < n; s++)
		dst[len++] = ((unsigned char)*s < 0x20 || *s == 0x7f) ? ' ' : *s;
	if (reason && strlen(reason) > len)
		while (len > 0 && ((unsigned char)reason[len] & 0xc0) == 0x80)
			len--;
	dst[len] = '\0';
}

void sk_runner_report(struct sk_runner *r, const char *state, const char *reason)
{
	struct sk_err err;
	char st[sizeof(r->rep.state)], why[sizeof(r->rep.reason)];
	/* state and reason may be the report's own fields (a counter update) */
	snprintf(st, sizeof(st), "%s", state);
	set_reason(why, sizeof(why), reason);
	memcpy(r->rep.state, st, sizeof(st));
	memcpy(r->rep.reason, why, sizeof(why));
	state = st;
	reason = why;
	r->rep.time_ms = sk_runner_wall_ms();
	fill_logs(r);
	int rc = publish(r, &err);
	if (rc == SK_ECONFLICT || rc == SK_ELOCKED) /* raced a stale writer: once more */
		rc = publish(r, &err);
	r->rep.patterns = NULL;
	r->last_report = sk_runner_mono_ms();
	r->dirty = 0;
	if (rc < 0)
		fprintf(stderr, "skiff-runner: report %s: %s\n", state, err.message);
	else
		fprintf(stderr, "skiff-runner: %s/%s %s%s%s\n", r->o->service, r->o->target, state,
			reason && *reason ? ": " : "", reason ? reason : "");
}
