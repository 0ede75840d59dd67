/*
 * Backup and restore commands of a stateful service (see backupjob.h).
 */
#include "ops/backupjob.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/fs.h"
#include "common/sha256.h"
#include "objects/cjson.h"
#include "objects/oid.h"
#include "refs/backups.h"
#include "refs/release_verify.h"
#include "refs/service.h"

#define TAIL_MAX 400

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void sk_backupjob_clear(struct sk_backupjob *j)
{
	json_decref(j->backup);
	json_decref(j->restore);
	j->backup = j->restore = NULL;
}

/* The first target in name order running want (any release when want is
 * NULL). */
static const char *pick_target(const json_t *targets, const char *want)
{
	const char *k, *best = NULL;
	json_t *v;
	json_object_foreach((json_t *)targets, k, v) {
		const char *rel = json_string_value(json_object_get(v, "release"));
		if (rel && (!want || strcmp(rel, want) == 0) && (!best || strcmp(k, best) < 0))
			best = k;
	}
	return best;
}

static int fill_target(struct sk_backupjob *out, const json_t *control, const char *target,
		       struct sk_err *err)
{
	const json_t *targets = json_object_get(control, "targets");
	if (!target) {
		const char *stable = json_string_value(json_object_get(control, "release"));
		target = pick_target(targets, stable);
		if (!target && !stable)
			target = pick_target(targets, NULL);
	}
	const json_t *t = target ? json_object_get(targets, target) : NULL;
	if (!t)
		return sk_err_set(err, SK_ENOTFOUND, "skiff target list SERVICE lists them",
				  target ? "%s has no target %s" : "%s has no target running a release%s",
				  out->service, target ? target : "");
	const char *rel = json_string_value(json_object_get(t, "release"));
	const char *addr = json_string_value(json_object_get(t, "addr"));
	if (!rel)
		return sk_err_set(err, SK_ENOTFOUND, "skiff deploy SERVICE puts a release on it",
				  "target %s of %s runs no release", target, out->service);
	if (!addr)
		return sk_err_set(err, SK_EINVAL, "skiff target add SERVICE T --addr HOST:PORT",
				  "target %s of %s has no address", target, out->service);
	snprintf(out->target, sizeof(out->target), "%s", target);
	snprintf(out->release, sizeof(out->release), "%s", rel);
	snprintf(out->addr, sizeof(out->addr), "%s", addr);
	return 0;
}

int sk_backupjob_load(struct sk_repo *repo, const char *service, const char *target,
		      struct sk_backupjob *out, struct sk_err *err)
{
	struct sk_service_state st;
	memset(out, 0, sizeof(*out));
	snprintf(out->service, sizeof(out->service), "%s", service);
	int rc = sk_service_load(repo, service, &st, err);
	if (rc)
		return rc;
	rc = fill_target(out, st.control, target, err);
	sk_service_state_clear(&st);
	struct sk_rel_signed sig;
	struct sk_release *rel = NULL;
	if (!rc)
		rc = sk_rel_load_signed(repo, service, out->release, &sig, &rel, err);
	if (!rc) {
		json_t *b = json_object_get(rel->doc, "backup"), *r = json_object_get(rel->doc, "restore");
		out->backup = b ? json_incref(b) : NULL;
		out->restore = r ? json_incref(r) : NULL;
	}
	sk_release_free(rel);
	return rc;
}

char *sk_backupjob_dir(struct sk_repo *repo, const char *dir, const char *service)
{
	char buf[4096];
	if (dir) {
		char *abs = realpath(dir, NULL);
		snprintf(buf, sizeof(buf), "%s/%s", abs ? abs : dir, service);
		free(abs);
	} else {
		snprintf(buf, sizeof(buf), "%s/backups/%s", sk_repo_path(repo), service);
	}
	return strdup(buf);
}

/* --- running a command ---------------------------------------------------- */

static void child_exec(const struct sk_backupjob *j, char **argv, const char *path, int out)
{
	setpgid(0, 0);
	signal(SIGPIPE, SIG_DFL);
	int devnull = open("/dev/null", O_RDONLY);
	if (devnull >= 0)
		dup2(devnull, 0);
	dup2(out, 1);
	dup2(out, 2);
	setenv("SKIFF_SERVICE", j->service, 1);
	setenv("SKIFF_TARGET", j->target, 1);
	setenv("SKIFF_TARGET_ADDR", j->addr, 1);
	setenv("SKIFF_RELEASE", j->release, 1);
	if (path)
		setenv("SKIFF_BACKUP_PATH", path, 1);
	else
		unsetenv("SKIFF_BACKUP_PATH");
	execvp(argv[0], argv);
	dprintf(2, "cannot run %s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

/* Reads the child's output until it closes or the deadline passes; keeps
 * the last TAIL_MAX bytes. 1 when the deadline passed. */
static int drain_output(int fd, long long deadline, char *tail, size_t *tlen)
{
	for (;;) {
		long long left = deadline - now_ms();
		if (left <= 0)
			return 1;
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int n = poll(&p, 1, left > 1000 ? 1000 : (int)left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			continue;
		char buf[4096];
		ssize_t r = read(fd, buf, sizeof(buf));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return 0;
		size_t k = (size_t)r;
		if (k >= TAIL_MAX) {
			memcpy(tail, buf + k - TAIL_MAX, TAIL_MAX);
			*tlen = TAIL_MAX;
		} else {
			size_t keep = *tlen + k > TAIL_MAX ? TAIL_MAX - k : *tlen;
			memmove(tail, tail + *tlen - keep, keep);
			memcpy(tail + keep, buf, k);
			*tlen = keep + k;
		}
	}
}

static char **argv_of(const json_t *arr)
{
	size_t n = json_array_size(arr);
	char **argv = calloc(n + 1, sizeof(char *));
	if (!argv)
		abort();
	for (size_t i = 0; i < n; i++)
		argv[i] = (char *)json_string_value(json_array_get(arr, i));
	return argv;
}

int sk_backupjob_run(const struct sk_backupjob *j, const json_t *argv, const char *path,
		     long long timeout_ms, json_t **facts, struct sk_err *err)
{
	*facts = NULL;
	if (!json_is_array(argv) || json_array_size(argv) == 0)
		return sk_err_set(err, SK_EINVAL, NULL, "no command to run");
	int fds[2];
	if (pipe2(fds, O_CLOEXEC) != 0)
		return sk_err_errno(err, errno, "pipe", "");
	char **av = argv_of(argv);
	long long start = now_ms();
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0)
		child_exec(j, av, path, fds[1]);
	free(av);
	close(fds[1]);
	if (pid < 0) {
		close(fds[0]);
		return sk_err_errno(err, errno, "fork", "");
	}
	char tail[TAIL_MAX + 1];
	size_t tlen = 0;
	int timed_out = drain_output(fds[0], start + timeout_ms, tail, &tlen);
	close(fds[0]);
	if (timed_out)
		kill(-pid, SIGKILL);
	int status = 0;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	const char *cmd = json_string_value(json_array_get(argv, 0));
	int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	*facts = json_pack("{s:s, s:i, s:I}", "command", cmd, "exit", code, "ms",
			   (json_int_t)(now_ms() - start));
	if (!timed_out && code == 0)
		return 0;
	while (tlen && (tail[tlen - 1] == '\n' || tail[tlen - 1] == ' '))
		tlen--;
	char q[TAIL_MAX * 4 + 8];
	sk_cjson_quote(tail, tlen, q, sizeof(q));
	if (timed_out)
		return sk_err_set(err, SK_EFAIL, "raise the command's speed or look at the service",
				  "%s ran longer than %lld s and was killed: %s", cmd,
				  timeout_ms / 1000, q);
	return sk_err_set(err, SK_EFAIL, "run the command by hand with the same SKIFF_* variables",
			  "%s exited with %d: %s", cmd, code, q);
}

/* --- hashing, taking, freshness -------------------------------------------- */

int sk_backupjob_hash(const char *path, char hex[65], long long *size, struct sk_err *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return sk_err_errno(err, errno, "open", path);
	struct sk_sha256 *h = sk_sha256_new();
	unsigned char buf[1 << 16], d[32];
	long long total = 0;
	int rc = 0;
	for (;;) {
		ssize_t r = read(fd, buf, sizeof(buf));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = sk_err_errno(err, errno, "read", path);
			break;
		}
		if (r == 0)
			break;
		sk_sha256_update(h, buf, (size_t)r);
		total += r;
	}
	close(fd);
	sk_sha256_final(h, d);
	sk_sha256_free(h);
	if (!rc) {
		sk_hex(d, sizeof(d), hex);
		*size = total;
	}
	return rc;
}

int sk_backupjob_take(struct sk_repo *repo, const struct sk_key *key,
		      const struct sk_backupjob *j, const char *dir, const char *kind,
		      const char *op, struct sk_backup *out, json_t **facts, struct sk_err *err)
{
	*facts = NULL;
	memset(out, 0, sizeof(*out));
	if (!j->backup)
		return sk_err_set(err, SK_ENOTFOUND, "add a backup section to the spec (skiff-spec(5))",
				  "release %s of %s declares no backup command", j->release,
				  j->service);
	sk_backup_new_id(out->id, sizeof(out->id));
	char *base = sk_backupjob_dir(repo, dir, j->service);
	char path[SK_BACKUP_LOCATION_MAX + 64], bdir[SK_BACKUP_LOCATION_MAX + 1];
	int n = snprintf(bdir, sizeof(bdir), "%s/%s", base, out->id);
	snprintf(path, sizeof(path), "%s/data", bdir);
	free(base);
	int rc = n < 0 || (size_t)n + 5 >= SK_BACKUP_LOCATION_MAX
			 ? sk_err_set(err, SK_EINVAL, "use a shorter --dir", "backup directory too long")
			 : sk_fs_mkdirs(bdir, 1, err);
	if (!rc)
		rc = sk_backupjob_run(j, json_object_get(j->backup, "command"), path,
				      SK_BACKUPJOB_TIMEOUT_MS, facts, err);
	if (!rc && !sk_fs_exists(path))
		rc = sk_err_set(err, SK_EFAIL, "the command must write the file SKIFF_BACKUP_PATH names",
				"the backup command exited 0 but wrote nothing at %s", path);
	if (!rc)
		rc = sk_backupjob_hash(path, out->sha256, &out->size, err);
	if (rc) {
		/* a failed backup leaves nothing that looks like one */
		unlink(path);
		rmdir(bdir);
		return rc;
	}
	snprintf(out->kind, sizeof(out->kind), "%s", kind);
	memcpy(out->location, path, strlen(path) + 1); /* fits: checked above */
	snprintf(out->op, sizeof(out->op), "%s", op ? op : "");
	snprintf(out->release, sizeof(out->release), "%s", j->release);
	snprintf(out->service, sizeof(out->service), "%s", j->service);
	snprintf(out->target, sizeof(out->target), "%s", j->target);
	out->taken_at = (long long)time(NULL);
	return sk_backups_write(repo, key, out, op, 0, NULL, err);
}

int sk_backupjob_freshness(const struct sk_backup *b, long long max_age_s, long long now,
			   json_t **facts, struct sk_err *err)
{
	long long age = now - b->taken_at;
	char hex[65] = "";
	long long size = -1;
	struct sk_err herr;
	int hrc = sk_backupjob_hash(b->location, hex, &size, &herr);
	*facts = json_pack("{s:s, s:I, s:I, s:o, s:s, s:I, s:s}", "backup", b->id, "taken_at",
			   (json_int_t)b->taken_at, "age_s", (json_int_t)age, "max_age_s",
			   max_age_s > 0 ? json_integer(max_age_s) : json_null(), "sha256", b->sha256,
			   "size", (json_int_t)b->size, "location", b->location);
	if (max_age_s > 0 && age > max_age_s)
		return sk_err_set(err, SK_ECONFLICT,
				  "take a fresh one (skiff backup SERVICE) or name another (--backup ID)",
				  "backup %s is stale: taken %lld s ago, the release allows %lld s",
				  b->id, age, max_age_s);
	if (hrc) {
		json_object_set_new(*facts, "found", json_string(herr.message));
		return sk_err_set(err, SK_EVERIFY, "the backup's file is gone: name another backup",
				  "backup %s cannot be read: %s", b->id, herr.message);
	}
	json_object_set_new(*facts, "found_sha256", json_string(hex));
	json_object_set_new(*facts, "found_size", json_integer(size));
	if (size != b->size || strcmp(hex, b->sha256) != 0)
		return sk_err_set(err, SK_EVERIFY,
				  "the file changed since the backup was taken: name another backup",
				  "backup %s does not match its digest: %s has %lld bytes, sha256 %s; "
				  "the backup recorded %lld bytes, sha256 %s",
				  b->id, b->location, size, hex, b->size, b->sha256);
	return 0;
}
