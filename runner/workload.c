/*
 * Starting and stopping the workload (see workload.h).
 */
#include "runner/workload.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/fs.h"
#include "runner/secrets.h"

extern char **environ;

long long sk_runner_mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

long long sk_runner_wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static char *dup_kv(const char *k, const char *v)
{
	size_t n = strlen(k) + strlen(v) + 2;
	char *s = malloc(n);
	if (!s)
		abort();
	snprintf(s, n, "%s=%s", k, v);
	return s;
}

/* Replaces or appends NAME=value in a NULL-terminated malloc'd vector. */
static void env_put(char ***envp, size_t *n, const char *k, const char *v)
{
	size_t kl = strlen(k);
	for (size_t i = 0; i < *n; i++)
		if (strncmp((*envp)[i], k, kl) == 0 && (*envp)[i][kl] == '=') {
			explicit_bzero((*envp)[i], strlen((*envp)[i]));
			free((*envp)[i]);
			(*envp)[i] = dup_kv(k, v);
			return;
		}
	if (!(*envp = realloc(*envp, (*n + 2) * sizeof(char *))))
		abort();
	(*envp)[(*n)++] = dup_kv(k, v);
	(*envp)[*n] = NULL;
}

static char **build_env(const json_t *run, const struct sk_runner_env *e)
{
	char **envp = calloc(1, sizeof(char *));
	size_t n = 0;
	char port[16];
	if (!envp)
		abort();
	for (char **p = environ; *p; p++) {
		if (!strncmp(*p, "SKIFF_", 6) || !strncmp(*p, "AWS_", 4) || !strchr(*p, '='))
			continue;
		char *eq = strchr(*p, '='), *k = strndup(*p, (size_t)(eq - *p));
		env_put(&envp, &n, k, eq + 1);
		free(k);
	}
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)json_object_get(run, "env"), k, v)
		env_put(&envp, &n, k, json_string_value(v));
	for (size_t i = 0; e->secrets && i < e->secrets->n; i++)
		env_put(&envp, &n, e->secrets->name[i], e->secrets->value[i].buf);
	snprintf(port, sizeof(port), "%d", e->port);
	env_put(&envp, &n, "PORT", port);
	env_put(&envp, &n, "SKIFF_SERVICE", e->service);
	env_put(&envp, &n, "SKIFF_TARGET", e->target);
	env_put(&envp, &n, "SKIFF_RELEASE", e->release);
	env_put(&envp, &n, "SKIFF_TRACE_ID", e->trace);
	return envp;
}

static char **build_argv(const json_t *run, const char *tree)
{
	const json_t *args = json_object_get(run, "args");
	const char *cmd = json_string_value(json_object_get(run, "command"));
	char **argv = calloc(json_array_size(args) + 2, sizeof(char *));
	if (!argv)
		abort();
	if (cmd[0] == '/') {
		argv[0] = strdup(cmd);
	} else {
		size_t n = strlen(tree) + strlen(cmd) + 2;
		argv[0] = malloc(n);
		if (argv[0])
			snprintf(argv[0], n, "%s/%s", tree, cmd);
	}
	for (size_t i = 0; i < json_array_size(args); i++)
		argv[i + 1] = strdup(json_string_value(json_array_get(args, i)));
	return argv;
}

/* Wipes as it frees: an environment vector may hold secrets' values. */
static void free_vec(char **v)
{
	for (size_t i = 0; v && v[i]; i++) {
		explicit_bzero(v[i], strlen(v[i]));
		free(v[i]);
	}
	free(v);
}

/* In the child: new group, pipes on 1 and 2, cwd tree, exec; on failure
 * the errno goes back through the close-on-exec pipe. */
static void child(char **argv, char **envp, const char *tree, int out, int errfd, int report)
{
	setpgid(0, 0);
	signal(SIGPIPE, SIG_DFL);
	int devnull = open("/dev/null", O_RDONLY);
	if (devnull >= 0)
		dup2(devnull, 0);
	dup2(out, 1);
	dup2(errfd, 2);
	if (chdir(tree) == 0)
		execve(argv[0], argv, envp);
	int e = errno;
	if (write(report, &e, sizeof(e)) < 0)
		_exit(127);
	_exit(127);
}

static int exec_result(int fd, pid_t pid, const char *cmd, struct sk_err *err)
{
	int e = 0;
	ssize_t n;
	do
		n = read(fd, &e, sizeof(e));
	while (n < 0 && errno == EINTR);
	close(fd);
	if (n <= 0)
		return 0;
	waitpid(pid, NULL, 0);
	return sk_err_set(err, SK_EFAIL, "the release's run.command must be a program in the release",
			  "cannot start %s: %s", cmd, strerror(e));
}

int sk_runner_spawn(const json_t *run, const char *tree, const struct sk_runner_env *env,
		    struct sk_runner_proc *p, struct sk_err *err)
{
	int out[2], errp[2], rep[2];
	if (pipe2(out, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0 || pipe2(rep, O_CLOEXEC) < 0)
		return sk_err_errno(err, errno, "cannot create a pipe", NULL);
	char **argv = build_argv(run, tree), **envp = build_env(run, env);
	pid_t pid = fork();
	if (pid == 0)
		child(argv, envp, tree, out[1], errp[1], rep[1]);
	close(out[1]);
	close(errp[1]);
	close(rep[1]);
	int rc = pid < 0 ? sk_err_errno(err, errno, "cannot fork", NULL) : 0;
	if (pid > 0) {
		setpgid(pid, pid); /* both sides, so a stop never misses the group */
		rc = exec_result(rep[0], pid, argv[0], err);
	} else {
		close(rep[0]);
	}
	free_vec(argv);
	free_vec(envp);
	if (rc < 0) {
		close(out[0]);
		close(errp[0]);
		return rc;
	}
	fcntl(out[0], F_SETFL, O_NONBLOCK);
	fcntl(errp[0], F_SETFL, O_NONBLOCK);
	p->pid = pid;
	p->out_fd = out[0];
	p->err_fd = errp[0];
	return 0;
}

int sk_runner_exited(struct sk_runner_proc *p, int *status)
{
	if (p->pid <= 0)
		return 0;
	pid_t r = waitpid(p->pid, status, WNOHANG);
	if (r != p->pid)
		return 0;
	/* the group may outlive its leader: nothing of it keeps running */
	kill(-p->pid, SIGKILL);
	p->pid = 0;
	return 1;
}

static void close_fds(struct sk_runner_proc *p)
{
	if (p->out_fd >= 0)
		close(p->out_fd);
	if (p->err_fd >= 0)
		close(p->err_fd);
	p->out_fd = p->err_fd = -1;
}

void sk_runner_stop(struct sk_runner_proc *p, long long timeout_ms, int *status)
{
	int st = 0;
	if (p->pid > 0) {
		kill(-p->pid, SIGTERM);
		long long deadline = sk_runner_mono_ms() + timeout_ms;
		while (waitpid(p->pid, &st, WNOHANG) == 0) {
			if (sk_runner_mono_ms() >= deadline) {
				kill(-p->pid, SIGKILL);
				waitpid(p->pid, &st, 0);
				break;
			}
			struct timespec ts = { 0, 20 * 1000000L };
			nanosleep(&ts, NULL);
		}
		kill(-p->pid, SIGKILL); /* stragglers of the group */
		p->pid = 0;
	}
	if (status)
		*status = st;
	close_fds(p);
}

void sk_runner_pidfile_set(const char *dir, pid_t pid)
{
	char *path = sk_path_join(dir, "workload.pid"), buf[32];
	if (pid > 0) {
		snprintf(buf, sizeof(buf), "%ld\n", (long)pid);
		(void)sk_fs_write_atomic(path, buf, strlen(buf), 0644, NULL);
	} else {
		unlink(path);
	}
	free(path);
}

int sk_runner_pid_gone(pid_t pid)
{
	char path[64], buf[256];
	if (kill(pid, 0) != 0)
		return 1;
	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return 1;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	const char *rp = strrchr(buf, ')');
	return rp && rp[1] == ' ' && rp[2] == 'Z';
}

/* Is pid's working directory inside DIR/releases (one of our trees)? */
static int ours(const char *dir, pid_t pid)
{
	char link[64], cwd[4096], *rel = sk_path_join(dir, "releases");
	char *real = realpath(rel, NULL);
	snprintf(link, sizeof(link), "/proc/%ld/cwd", (long)pid);
	ssize_t n = readlink(link, cwd, sizeof(cwd) - 1);
	int yes = 0;
	if (n > 0 && real) {
		cwd[n] = '\0';
		size_t rl = strlen(real);
		yes = strncmp(cwd, real, rl) == 0 && cwd[rl] == '/';
	}
	free(real);
	free(rel);
	return yes;
}

pid_t sk_runner_reap_orphan(const char *dir, long long timeout_ms)
{
	char *path = sk_path_join(dir, "workload.pid"), *text = NULL;
	size_t len = 0;
	pid_t pid = 0;
	if (sk_fs_read_file(path, 31, &text, &len, NULL) == 0)
		pid = (pid_t)strtol(text, NULL, 10);
	free(text);
	if (pid > 1 && !sk_runner_pid_gone(pid) && ours(dir, pid)) {
		kill(-pid, SIGTERM);
		long long deadline = sk_runner_mono_ms() + timeout_ms;
		while (!sk_runner_pid_gone(pid) && sk_runner_mono_ms() < deadline)
			usleep(20000);
		if (!sk_runner_pid_gone(pid))
			kill(-pid, SIGKILL);
	} else {
		pid = 0;
	}
	unlink(path);
	free(path);
	return pid;
}
