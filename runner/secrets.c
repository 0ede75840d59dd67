/*
 * Secret providers and a workload's secrets (see secrets.h).
 */
#include "runner/secrets.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "objects/odb.h"
#include "objects/spec.h"

#define HOOK_TIMEOUT_MS 60000

extern char **environ;

void sk_secret_wipe(struct sk_secret_value *v)
{
	if (v->buf) {
		explicit_bzero(v->buf, v->len);
		free(v->buf);
	}
	v->buf = NULL;
	v->len = 0;
}

/* --- file: ---------------------------------------------------------- */

static int file_check(const char *ref, struct sk_err *err)
{
	return sk_secretref_check_ref("file", ref, err);
}

/* Reads at most SK_SECRET_VALUE_MAX bytes of fd into a fresh buffer. */
static int read_all(int fd, const char *path, struct sk_secret_value *out, struct sk_err *err)
{
	out->buf = malloc(SK_SECRET_VALUE_MAX + 2);
	out->len = 0;
	if (!out->buf)
		return sk_err_set(err, SK_ENOMEM, NULL, "out of memory");
	for (;;) {
		ssize_t n = read(fd, out->buf + out->len, SK_SECRET_VALUE_MAX + 1 - out->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			sk_secret_wipe(out);
			return sk_err_errno(err, errno, "cannot read", path);
		}
		if (n == 0 || (out->len += (size_t)n) > SK_SECRET_VALUE_MAX)
			break;
	}
	if (out->len > SK_SECRET_VALUE_MAX) {
		sk_secret_wipe(out);
		return sk_err_set(err, SK_EFAIL, NULL, "%s is larger than %d bytes", path,
				  SK_SECRET_VALUE_MAX);
	}
	out->buf[out->len] = '\0';
	return 0;
}

/* The value becomes an environment variable: no NUL inside, and the one
 * newline an editor or echo leaves at the end is not part of it. */
static int as_variable(struct sk_secret_value *v, const char *where, struct sk_err *err)
{
	if (memchr(v->buf, '\0', v->len)) {
		sk_secret_wipe(v);
		return sk_err_set(err, SK_EFAIL, NULL, "%s holds a NUL byte", where);
	}
	if (v->len > 0 && v->buf[v->len - 1] == '\n')
		v->buf[--v->len] = '\0';
	return 0;
}

static int file_resolve(const char *ref, struct sk_secret_value *out, struct sk_err *err)
{
	struct stat st;
	int rc = file_check(ref, err);
	if (rc)
		return rc;
	/* O_NOFOLLOW: the reference names the file itself, not a link that
	 * someone else could point elsewhere */
	int fd = open(ref, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0)
		return sk_err_errno(err, errno, "cannot open", ref);
	if (fstat(fd, &st) != 0)
		rc = sk_err_errno(err, errno, "cannot stat", ref);
	else if (!S_ISREG(st.st_mode))
		rc = sk_err_set(err, SK_EFAIL, NULL, "%s is not a regular file", ref);
	else if (st.st_uid != geteuid())
		rc = sk_err_set(err, SK_EKEYPERM, "chown it to the runner's user",
				"%s is not owned by the runner's user (uid %ld)", ref,
				(long)geteuid());
	else if (st.st_mode & 077)
		rc = sk_err_set(err, SK_EKEYPERM, "chmod 600 it",
				"%s is readable by group or others (mode %03o)", ref,
				(unsigned)(st.st_mode & 0777));
	if (!rc)
		rc = read_all(fd, ref, out, err);
	close(fd);
	return rc ? rc : as_variable(out, ref, err);
}

/* --- env: ----------------------------------------------------------- */

static int env_check(const char *ref, struct sk_err *err)
{
	return sk_secretref_check_ref("env", ref, err);
}

static int env_resolve(const char *ref, struct sk_secret_value *out, struct sk_err *err)
{
	int rc = env_check(ref, err);
	if (rc)
		return rc;
	const char *v = getenv(ref);
	if (!v)
		return sk_err_set(err, SK_ENOTFOUND, "set it in the runner's environment",
				  "the runner's environment has no %s", ref);
	out->len = strlen(v);
	if (out->len > SK_SECRET_VALUE_MAX)
		return sk_err_set(err, SK_EFAIL, NULL, "%s is larger than %d bytes", ref,
				  SK_SECRET_VALUE_MAX);
	if (!(out->buf = malloc(out->len + 1)))
		return sk_err_set(err, SK_ENOMEM, NULL, "out of memory");
	memcpy(out->buf, v, out->len + 1);
	return 0;
}

/* --- revoke: the hook, or a record ------------------------------------ */

static long long mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void hook_child(char **argv, const char *oldref)
{
	int null = open("/dev/null", O_RDWR);
	if (null >= 0) {
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
	}
	setenv("SKIFF_SECRET_REF", oldref, 1);
	execv(argv[0], argv);
	_exit(127);
}

/* Runs hook with SKIFF_SECRET_REF=oldref; its exit status, or -1 when it
 * was killed (a timeout, a signal). */
static int run_hook(const json_t *hook, const char *oldref, int *status, struct sk_err *err)
{
	size_t n = json_array_size(hook);
	char **argv = calloc(n + 1, sizeof(char *));
	if (!argv)
		return sk_err_set(err, SK_ENOMEM, NULL, "out of memory");
	for (size_t i = 0; i < n; i++)
		argv[i] = (char *)json_string_value(json_array_get(hook, i));
	pid_t pid = fork();
	if (pid == 0)
		hook_child(argv, oldref);
	free(argv);
	if (pid < 0)
		return sk_err_errno(err, errno, "cannot fork the revoke hook", NULL);
	int st = 0;
	long long deadline = mono_ms() + HOOK_TIMEOUT_MS;
	while (waitpid(pid, &st, WNOHANG) == 0) {
		if (mono_ms() >= deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			break;
		}
		usleep(20000);
	}
	*status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	return 0;
}

static int hook_or_record(const struct sk_secretref *s, json_t **facts, struct sk_err *err)
{
	char oldref[SK_SECRETREF_REF_MAX + 16];
	snprintf(oldref, sizeof(oldref), "%s:%s", s->provider, s->ref);
	if (!s->hook) {
		*facts = json_pack("{s:b, s:s}", "hook", 0, "revoked", oldref);
		return 0;
	}
	int status = 0;
	int rc = run_hook(s->hook, oldref, &status, err);
	if (rc)
		return rc;
	*facts = json_pack("{s:b, s:i, s:s}", "hook", 1, "exit", status, "revoked", oldref);
	if (status != 0)
		return sk_err_set(err, SK_EFAIL, "fix the hook, then skiff resume ID",
				  "the revoke hook of %s version %lld exited with %d", s->name,
				  s->version, status);
	return 0;
}

static const struct sk_secret_provider providers[] = {
	{ "file", file_check, file_resolve, hook_or_record },
	{ "env", env_check, env_resolve, hook_or_record },
};

const struct sk_secret_provider *sk_secret_provider_find(const char *name)
{
	for (size_t i = 0; name && i < sizeof(providers) / sizeof(providers[0]); i++)
		if (strcmp(providers[i].name, name) == 0)
			return &providers[i];
	return NULL;
}

/* --- a workload's secrets ------------------------------------------------ */

json_t *sk_secrets_pins(const json_t *control, const char *target)
{
	json_t *pins = json_object();
	json_object_update(pins, json_object_get(control, "secrets"));
	const json_t *t = json_object_get(json_object_get(control, "targets"), target);
	json_object_update(pins, json_object_get(t, "secrets"));
	return pins;
}

static int resolve_one(const char *name, const char *provider, const char *ref,
		       struct sk_secret_value *out, struct sk_err *err)
{
	const struct sk_secret_provider *p = sk_secret_provider_find(provider);
	int rc = p ? p->resolve(ref, out, err)
		   : sk_err_set(err, SK_EFAIL, "use file: or env:",
				"provider %s is not available in this build", provider);
	return rc ? sk_err_wrap(err, "secret %s (%s:%s)", name, provider, ref) : 0;
}

/* A pinned version: read by id (hash verified), strictly checked, and
 * that service's secret of that name. */
static int load_pinned(struct sk_repo *repo, const char *service, const char *name,
		       const char *hex, struct sk_secretref *sr, struct sk_err *err)
{
	struct sk_oid oid;
	json_t *doc = NULL;
	int rc = sk_oid_fromhex(&oid, hex, err);
	if (!rc)
		rc = sk_odb_read_json(sk_repo_odb(repo), &oid, SK_OBJ_SECRETREF, SK_ODB_VERIFY, &doc,
				      err);
	if (!rc)
		rc = sk_secretref_from_json(sr, doc, err);
	json_decref(doc);
	if (!rc && (strcmp(sr->service, service) || strcmp(sr->name, name))) {
		rc = sk_err_set(err, SK_EVERIFY, "pin it with skiff secret set",
				"the pinned object is secret %s of %s", sr->name, sr->service);
		sk_secretref_clear(sr);
	}
	return rc ? sk_err_wrap(err, "secret %s: pinned version %.12s", name, hex) : 0;
}

static int add_one(struct sk_secret_env *e, const char *name, struct sk_err *err)
{
	if (e->n >= SK_SECRET_MAX)
		return sk_err_set(err, SK_EFAIL, NULL, "more than %d secrets", SK_SECRET_MAX);
	snprintf(e->name[e->n], sizeof(e->name[e->n]), "%s", name);
	return 0;
}

int sk_secrets_load(struct sk_repo *repo, const char *service, const json_t *pins,
		    const json_t *release_secrets, struct sk_secret_env *out, struct sk_err *err)
{
	memset(out, 0, sizeof(*out));
	out->loaded = json_object();
	const char *k;
	json_t *v;
	int rc = 0;
	json_object_foreach((json_t *)pins, k, v) {
		struct sk_secretref sr;
		if ((rc = add_one(out, k, err)) ||
		    (rc = load_pinned(repo, service, k, json_string_value(v), &sr, err)))
			break;
		rc = resolve_one(k, sr.provider, sr.ref, &out->value[out->n], err);
		if (!rc)
			json_object_set_new(out->loaded, k,
					    json_pack("{s:O, s:I}", "oid", v, "version",
						      (json_int_t)sr.version));
		sk_secretref_clear(&sr);
		if (rc)
			break;
		out->n++;
	}
	json_object_foreach((json_t *)release_secrets, k, v) {
		char provider[8], ref[SK_SECRETREF_REF_MAX + 1];
		if (rc || json_object_get(pins, k))
			continue;
		if ((rc = add_one(out, k, err)))
			break;
		if (!(rc = sk_secretref_parse_spec(json_string_value(v), provider, ref, err)))
			rc = resolve_one(k, provider, ref, &out->value[out->n], err);
		if (rc)
			break;
		out->n++;
	}
	if (rc) {
		if (rc != SK_EVERIFY && sk_err_exit_code(rc) != 4)
			err->code = rc = SK_EFAIL;
		sk_secrets_env_clear(out);
	}
	return rc;
}

void sk_secrets_env_clear(struct sk_secret_env *e)
{
	for (size_t i = 0; i < SK_SECRET_MAX; i++)
		sk_secret_wipe(&e->value[i]);
	e->n = 0;
	json_decref(e->loaded);
	e->loaded = NULL;
}
