/*
 * Traffic for a repository's services (cloud/traffic.h): the HAProxy
 * config is a function of the recorded services and their controls, so
 * any command can regenerate it; weights move at run time on the admin
 * socket and reach the config at the next regeneration. Commands that
 * change the record, the config or the process take DIR/lock, so two
 * skiff processes never reload haproxy on top of each other.
 */
#include "cloud/traffic.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "cloud/haproxy.h"
#include "common/fs.h"
#include "objects/cjson.h"
#include "objects/spec.h"
#include "objects/state.h"
#include "refs/refs.h"
#include "refs/service.h"

#define HINT_START "skiff traffic start %s --listen HOST:PORT"

char *sk_traffic_dir(struct sk_repo *repo)
{
	return sk_path_join(sk_repo_path(repo), "traffic");
}

static char *record_path(const char *dir, const char *service)
{
	char name[96];
	snprintf(name, sizeof(name), "services/%s.json", service);
	return sk_path_join(dir, name);
}

static const char *str_or_null(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

int sk_traffic_weight(const json_t *control, const char *target)
{
	const json_t *t = json_object_get(json_object_get(control, "targets"), target);
	json_t *w = json_object_get(t, "weight");
	if (json_is_true(json_object_get(t, "drain")))
		return 0;
	if (json_is_integer(w))
		return (int)json_integer_value(w);
	const char *stable = str_or_null(control, "release"), *rel = str_or_null(t, "release");
	int same = (!stable && !rel) || (stable && rel && strcmp(stable, rel) == 0);
	return same ? SK_HAPROXY_WEIGHT_MAX : 0;
}

int sk_traffic_standby(const json_t *control, const char *target)
{
	const char *active = str_or_null(control, "active_group");
	const json_t *t = json_object_get(json_object_get(control, "targets"), target);
	const char *group = str_or_null(t, "group");
	return active && (!group || strcmp(group, active) != 0);
}

/* ---- the per-service record ------------------------------------------------ */

static int record_check(const json_t *rec, const char *service, struct sk_err *err)
{
	static const char *const keys[] = { "check_ms", "health_path", "listen", NULL };
	const char *listen, *path;
	long long ms;
	int rc = sk_cjson_only_keys(rec, keys, "a traffic record", err);
	if (!rc)
		rc = sk_cjson_get_str(rec, "listen", &listen, err);
	if (!rc)
		rc = sk_control_addr_check(listen, err);
	if (!rc)
		rc = sk_cjson_get_str(rec, "health_path", &path, err);
	if (!rc && (path[0] != '/' || strlen(path) > 1024 || strpbrk(path, " \t#\"'\\")))
		rc = sk_err_set(err, SK_EINVAL, NULL, "health path \"%.64s\" is not an absolute URL path",
				path);
	if (!rc)
		rc = sk_cjson_get_int(rec, "check_ms", &ms, err);
	if (!rc && (ms < 100 || ms > 86400000))
		rc = sk_err_set(err, SK_EINVAL, NULL, "check_ms %lld is not 100..86400000", ms);
	return rc ? sk_err_wrap(err, "traffic record of %s", service) : 0;
}

/* SK_ENOTFOUND (with the start hint) when service has no record. */
static int record_load(const char *dir, const char *service, json_t **out, struct sk_err *err)
{
	*out = NULL;
	int rc = sk_spec_component_check(service, SK_SPEC_NAME_MAX, "service", err);
	if (rc)
		return rc;
	char *path = record_path(dir, service), *text = NULL;
	size_t len;
	rc = sk_fs_read_file(path, 65536, &text, &len, err);
	free(path);
	if (rc == SK_ENOTFOUND) {
		char hint[160];
		snprintf(hint, sizeof(hint), HINT_START, service);
		return sk_err_set(err, SK_ENOTFOUND, hint, "traffic was never started for %s", service);
	}
	if (rc)
		return rc;
	json_error_t je;
	json_t *rec = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	free(text);
	if (!json_is_object(rec)) {
		json_decref(rec);
		return sk_err_set(err, SK_EINVAL, HINT_START, "traffic record of %s is not a JSON object",
				  service);
	}
	if ((rc = record_check(rec, service, err))) {
		json_decref(rec);
		return rc;
	}
	*out = rec;
	return 0;
}

static char *keep_json(const char *entry)
{
	size_t n = strlen(entry);
	if (n <= 5 || entry[0] == '.' || strcmp(entry + n - 5, ".json") != 0)
		return NULL;
	char *s = strndup(entry, n - 5);
	if (!s)
		abort();
	return s;
}

static void free_names(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/* ---- the model ------------------------------------------------------------- */

/* The servers of one control: every target with an address. */
static json_t *servers_of(const json_t *control)
{
	json_t *servers = json_object();
	const char *t;
	json_t *v;
	json_object_foreach(json_object_get(control, "targets"), t, v) {
		const char *addr = str_or_null(v, "addr");
		if (addr)
			json_object_set_new(servers, t,
					    json_pack("{s:s, s:i, s:b}", "addr", addr, "weight",
						      sk_traffic_weight(control, t), "backup",
						      sk_traffic_standby(control, t)));
	}
	return servers;
}

/* The model of every recorded service (cloud/haproxy.h), with override
 * (may be NULL) used as over_svc's control and over_rec (may be NULL) as
 * its record, present or not; skip (may be NULL) is left out. */
static int build_model(struct sk_repo *repo, const char *dir, const char *over_svc,
		       const json_t *override, const json_t *over_rec, const char *skip,
		       json_t **out, struct sk_err *err)
{
	*out = NULL;
	char **names, *sdir = sk_path_join(dir, "services");
	size_t n;
	int rc = sk_fs_list_names(sdir, keep_json, &names, &n, err);
	free(sdir);
	if (rc)
		return rc;
	json_t *model = json_object();
	int seen_over = 0;
	for (size_t i = 0; i <= n && !rc; i++) {
		const char *svc = i < n ? names[i] : over_svc;
		if (i == n && (!over_rec || seen_over))
			break;
		if (!svc || (skip && strcmp(svc, skip) == 0))
			continue;
		int is_over = over_svc && strcmp(svc, over_svc) == 0;
		seen_over |= is_over;
		json_t *rec = NULL;
		if (is_over && over_rec)
			rec = json_incref((json_t *)over_rec);
		else if ((rc = record_load(dir, svc, &rec, err)))
			break;
		struct sk_service_state st = { 0 };
		const json_t *control = is_over ? override : NULL;
		if (!control) {
			if ((rc = sk_service_load(repo, svc, &st, err))) {
				json_decref(rec);
				break;
			}
			control = st.control;
		}
		json_t *s = json_deep_copy(rec);
		json_object_set_new(s, "servers", servers_of(control));
		json_object_set_new(model, svc, s);
		sk_service_state_clear(&st);
		json_decref(rec);
	}
	free_names(names, n);
	if (rc) {
		json_decref(model);
		return rc;
	}
	*out = model;
	return 0;
}

/* ---- locking ---------------------------------------------------------------- */

static int lock_dir(const char *dir, int *fd_out, struct sk_err *err)
{
	int rc = sk_fs_mkdirs(dir, 1, err);
	if (rc)
		return rc;
	char *path = sk_path_join(dir, "lock");
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = sk_err_errno(err, errno, "opening", path);
		free(path);
		return rc;
	}
	free(path);
	while (flock(fd, LOCK_EX) < 0)
		if (errno != EINTR) {
			close(fd);
			return sk_err_errno(err, errno, "locking", dir);
		}
	*fd_out = fd;
	return 0;
}

static void unlock_dir(int fd)
{
	if (fd >= 0)
		close(fd); /* releases the flock */
}

/* ---- start and stop --------------------------------------------------------- */

static int running(const char *dir, long *pid)
{
	struct sk_err e;
	return sk_haproxy_pid(dir, pid, &e) == 0;
}

/* Writes the config of model, then starts or reloads haproxy. */
static int install(const char *dir, const json_t *model, const char **action, struct sk_err *err)
{
	long pid;
	int rc = sk_haproxy_write_config(dir, model, err);
	if (rc)
		return rc;
	if (running(dir, &pid)) {
		*action = "reload";
		return sk_haproxy_reload(dir, err);
	}
	*action = "start";
	return sk_haproxy_start(dir, err);
}

static int write_record(const char *dir, const char *service, const json_t *rec,
			struct sk_err *err)
{
	char *path = record_path(dir, service);
	char *text = json_dumps(rec, JSON_SORT_KEYS | JSON_COMPACT);
	int rc = sk_fs_mkdirs_for(path, err);
	if (!rc)
		rc = sk_fs_write_atomic(path, text, strlen(text), 0600, err);
	free(text);
	free(path);
	return rc;
}

int sk_traffic_start(struct sk_repo *repo, const char *service, const char *listen,
		     const char *health_path, long long check_ms, int plan, json_t **facts,
		     struct sk_err *err)
{
	*facts = NULL;
	json_t *rec = json_pack("{s:s, s:s, s:I}", "listen", listen, "health_path",
				health_path ? health_path : SK_TRAFFIC_DEFAULT_HEALTH, "check_ms",
				(json_int_t)(check_ms ? check_ms : SK_TRAFFIC_DEFAULT_CHECK_MS));
	int rc = sk_spec_component_check(service, SK_SPEC_NAME_MAX, "service", err);
	if (!rc)
		rc = record_check(rec, service, err);
	if (rc) {
		json_decref(rec);
		return rc;
	}
	char *dir = sk_traffic_dir(repo), *path = record_path(dir, service), *old = NULL, *cfg = NULL;
	size_t oldlen = 0;
	int lock = -1;
	long pid = 0;
	json_t *model = NULL;
	const char *action = "start";
	struct sk_err e;
	if (!plan)
		rc = lock_dir(dir, &lock, err);
	if (!rc)
		rc = build_model(repo, dir, service, NULL, rec, NULL, &model, err);
	if (!rc && plan) {
		action = running(dir, &pid) ? "reload" : "start";
		rc = sk_haproxy_config(dir, model, 1, &cfg, err);
	} else if (!rc) {
		if (sk_fs_read_file(path, 65536, &old, &oldlen, &e) != 0)
			old = NULL;
		rc = write_record(dir, service, rec, err);
		if (!rc && (rc = install(dir, model, &action, err))) {
			/* put the previous record back, so one bad listen address
			 * does not break every later config */
			if (old)
				sk_fs_write_atomic(path, old, oldlen, 0600, &e);
			else
				unlink(path);
		}
		if (!rc)
			running(dir, &pid);
	}
	if (!rc) {
		*facts = json_pack("{s:s, s:s, s:s, s:i, s:b}", "service", service, "listen", listen,
				   "action", action, "servers",
				   (int)json_object_size(json_object_get(json_object_get(model, service),
									 "servers")),
				   "dry_run", plan);
		json_object_set_new(*facts, "pid", pid ? json_integer(pid) : json_null());
		if (cfg)
			json_object_set_new(*facts, "config", json_string(cfg));
	}
	unlock_dir(lock);
	json_decref(model);
	json_decref(rec);
	free(cfg);
	free(old);
	free(path);
	free(dir);
	return rc;
}

int sk_traffic_stop(struct sk_repo *repo, const char *service, int plan, json_t **facts,
		    struct sk_err *err)
{
	*facts = NULL;
	char *dir = sk_traffic_dir(repo), *sdir = sk_path_join(dir, "services");
	char **names = NULL;
	size_t n = 0;
	int lock = -1, rc = 0;
	long pid;
	if (service)
		rc = sk_spec_component_check(service, SK_SPEC_NAME_MAX, "service", err);
	if (!rc && !plan && sk_fs_is_dir(dir))
		rc = lock_dir(dir, &lock, err);
	if (!rc)
		rc = sk_fs_list_names(sdir, keep_json, &names, &n, err);
	json_t *stopped = json_array();
	size_t left = 0;
	for (size_t i = 0; i < n; i++) {
		if (!service || strcmp(names[i], service) == 0)
			json_array_append_new(stopped, json_string(names[i]));
		else
			left++;
	}
	int was = running(dir, &pid);
	const char *what = !was ? "not running" : left ? "reloaded" : "stopped";
	if (!rc && !plan) {
		size_t i;
		json_t *s;
		json_array_foreach(stopped, i, s) {
			char *p = record_path(dir, json_string_value(s));
			unlink(p);
			free(p);
		}
		json_t *model = NULL;
		if (left && was) {
			rc = build_model(repo, dir, NULL, NULL, NULL, NULL, &model, err);
			if (!rc && (rc = sk_haproxy_write_config(dir, model, err)) == 0)
				rc = sk_haproxy_reload(dir, err);
		} else if (!left) {
			rc = sk_haproxy_stop(dir, NULL, err);
		}
		json_decref(model);
	}
	if (!rc)
		*facts = json_pack("{s:O, s:s, s:b}", "stopped", stopped, "haproxy", what, "dry_run", plan);
	json_decref(stopped);
	unlock_dir(lock);
	free_names(names, n);
	free(sdir);
	free(dir);
	return rc;
}

/* ---- apply, sample, state --------------------------------------------------- */

/* Checks the record and that haproxy runs: a recorded service whose
 * haproxy is gone is unreachable, not "never started". */
static int live_service(const char *dir, const char *service, json_t **rec, struct sk_err *err)
{
	int rc = record_load(dir, service, rec, err);
	long pid;
	if (!rc && (rc = sk_haproxy_pid(dir, &pid, err)) == SK_ENOTFOUND) {
		char hint[160];
		snprintf(hint, sizeof(hint), HINT_START, service);
		rc = sk_err_set(err, SK_EUNREACHABLE, hint,
				"haproxy for %s is not running (its pid file is gone)", service);
	}
	if (rc) {
		json_decref(*rec);
		*rec = NULL;
	}
	return rc;
}

static int apply(struct sk_repo *repo, const char *service, const json_t *control, int plan,
		 json_t **facts, struct sk_err *err)
{
	*facts = NULL;
	char *dir = sk_traffic_dir(repo);
	json_t *rec = NULL, *model = NULL, *stat = NULL;
	int lock = -1, rc = live_service(dir, service, &rec, err);
	if (!rc && !plan)
		rc = lock_dir(dir, &lock, err);
	if (!rc)
		rc = build_model(repo, dir, service, control, rec, NULL, &model, err);
	/* what haproxy has now: a backend it does not know yet has no servers */
	if (!rc && (rc = sk_haproxy_stat(dir, service, &stat, err)) == SK_ENOTFOUND) {
		stat = json_object();
		rc = 0;
	}
	char want[65], have[65];
	if (!rc)
		rc = sk_haproxy_structure(dir, model, want, err);
	json_t *changed = json_array(), *removed = json_array();
	int unchanged = 0, reload = 0;
	const json_t *live = json_object_get(stat, service);
	if (!rc) {
		sk_haproxy_written_structure(dir, have);
		reload = strcmp(want, have) != 0;
	}
	const char *t;
	json_t *v;
	json_object_foreach(json_object_get(json_object_get(model, service), "servers"), t, v) {
		if (rc)
			break;
		int to = (int)json_integer_value(json_object_get(v, "weight")), from = -1;
		const json_t *cur = json_object_get(live, t);
		if (!cur ||
		    strcmp(str_or_null(cur, "addr") ? str_or_null(cur, "addr") : "",
			   str_or_null(v, "addr")) != 0)
			reload = 1; /* a new server, or one that moved */
		if (cur && (rc = sk_haproxy_get_weight(dir, service, t, &from, err)))
			break;
		if (from == to) {
			unchanged++;
			continue;
		}
		json_array_append_new(changed, json_pack("{s:s, s:o, s:i}", "target", t, "from",
							 from < 0 ? json_null() : json_integer(from),
							 "to", to));
		if (!plan && !reload && (rc = sk_haproxy_set_weight(dir, service, t, to, err)))
			break;
	}
	json_object_foreach((json_t *)live, t, v) {
		if (!json_object_get(json_object_get(json_object_get(model, service), "servers"), t)) {
			json_array_append_new(removed, json_string(t));
			reload = 1;
		}
	}
	/* a reload starts every server at the config's weight, which is the
	 * wanted one: the weights listed in changed are set by it */
	if (!rc && !plan && reload && (rc = sk_haproxy_write_config(dir, model, err)) == 0)
		rc = sk_haproxy_reload(dir, err);
	if (!rc)
		*facts = json_pack("{s:s, s:O, s:i, s:b, s:O, s:b}", "service", service, "changed",
				   changed, "unchanged", unchanged, "reloaded", reload, "removed",
				   removed, "dry_run", plan);
	json_decref(changed);
	json_decref(removed);
	unlock_dir(lock);
	json_decref(stat);
	json_decref(model);
	json_decref(rec);
	free(dir);
	return rc;
}

int sk_traffic_apply(struct sk_repo *repo, const char *service, const json_t *control,
		     json_t **facts, struct sk_err *err)
{
	return apply(repo, service, control, 0, facts, err);
}

int sk_traffic_apply_plan(struct sk_repo *repo, const char *service, const json_t *control,
			  json_t **facts, struct sk_err *err)
{
	return apply(repo, service, control, 1, facts, err);
}

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int sk_traffic_sample(struct sk_repo *repo, const char *service, json_t **out,
		      struct sk_err *err)
{
	*out = NULL;
	char *dir = sk_traffic_dir(repo);
	json_t *rec = NULL, *stat = NULL;
	int rc = live_service(dir, service, &rec, err);
	if (!rc)
		rc = sk_haproxy_stat(dir, service, &stat, err);
	if (!rc) {
		json_t *servers = json_object_get(stat, service);
		servers = servers ? json_incref(servers) : json_object();
		*out = json_pack("{s:I, s:O, s:o}", "time_ms", (json_int_t)now_ms(), "listen",
				 json_object_get(rec, "listen"), "servers", servers);
	}
	json_decref(stat);
	json_decref(rec);
	free(dir);
	return rc;
}

int sk_traffic_set_state(struct sk_repo *repo, const char *service, const char *target,
			 const char *state, struct sk_err *err)
{
	char *dir = sk_traffic_dir(repo);
	json_t *rec = NULL;
	int rc = live_service(dir, service, &rec, err);
	if (!rc)
		rc = sk_haproxy_set_state(dir, service, target, state, err);
	json_decref(rec);
	free(dir);
	return rc;
}
