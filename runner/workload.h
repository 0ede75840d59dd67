/*
 * The workload process: started from a release's "run" section without a
 * shell, in its own process group (so a stop reaches everything it
 * forked), with stdout and stderr on pipes the runner reads; stopped with
 * SIGTERM to the group, then SIGKILL after a timeout.
 */
#ifndef SK_RUNNER_WORKLOAD_H
#define SK_RUNNER_WORKLOAD_H

#include <jansson.h>
#include <sys/types.h>

#include "common/err.h"

struct sk_runner_proc {
	pid_t pid;  /* 0 when not running */
	int out_fd; /* -1 when closed */
	int err_fd;
};

/* What the workload gets besides run.env: PORT and the SKIFF_* names. */
struct sk_secret_env;

struct sk_runner_env {
	int port;
	const char *service, *target, *release, *trace; /* trace "" when none */
	const struct sk_secret_env *secrets; /* may be NULL */
};

/* Starts run ({command, args, env, port}) with cwd tree; a relative
 * command is a path inside tree. The runner's environment is inherited
 * without its SKIFF_* and AWS_* variables, then run.env, the secrets
 * (one variable each) and env's names are set; the copies of the
 * secrets' values are wiped once the child has them. An exec failure is reported here (SK_EFAIL with its errno),
 * not as a crash. */
int sk_runner_spawn(const json_t *run, const char *tree, const struct sk_runner_env *env,
		    struct sk_runner_proc *p, struct sk_err *err);

/* Stops p's process group (SIGTERM, SIGKILL after timeout_ms), reaps it
 * and closes its pipes. *status (may be NULL) receives its wait status. */
void sk_runner_stop(struct sk_runner_proc *p, long long timeout_ms, int *status);

/* 1 and *status when p has exited (reaped; pipes stay open to drain). */
int sk_runner_exited(struct sk_runner_proc *p, int *status);

/* DIR/workload.pid names the running workload (pid > 0), or is removed
 * (pid 0): so a runner that was killed (SIGKILL, a crash, a reboot of the
 * runner alone) leaves a trace of what it left running. Best effort. */
void sk_runner_pidfile_set(const char *dir, pid_t pid);

/* 1 when pid no longer runs: gone, or a zombie nobody reaps (its parent
 * died where no init reaps orphans, as in some containers). */
int sk_runner_pid_gone(pid_t pid);

/* A workload a previous runner of DIR left running (workload.pid names a
 * live process whose working directory is under DIR/releases): its process
 * group is stopped (SIGTERM, SIGKILL after timeout_ms) so the new runner
 * can start its release on the port. Returns the pid stopped, or 0. */
pid_t sk_runner_reap_orphan(const char *dir, long long timeout_ms);

/* Milliseconds on the monotonic clock, and since the epoch. */
long long sk_runner_mono_ms(void);
long long sk_runner_wall_ms(void);

#endif
