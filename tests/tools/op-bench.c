/*
 * Bench helper for the saga engine (tests/bench/run.sh section 10), on the
 * test-only operation type (it sets SKIFF_TEST_OPS=1 for itself).
 *
 *   op-bench transitions REPO-DIR KEY N
 *     Times engine transitions (event object, operation object, CAS of
 *     refs/operations/<id>, each durable) with clock_gettime, at least N of
 *     them: every sk_op_create is one transition (the "created" event, CAS
 *     from absent) timed alone; every sk_op_cancel of a planned operation
 *     is two ("compensating", then "cancelled", CAS from the operation it
 *     read) timed together and counted as two samples of half the time.
 *     Neither runs a step action, so nothing but the engine is timed.
 *     Prints {"n","median_ms","p90_ms","create_median_ms","cancel_median_ms"}.
 *
 *   op-bench populate REPO-DIR KEY N
 *     Creates N operations for `op list` to read: services svc-0..svc-9
 *     in turn, every tenth one cancelled, the rest planned.
 *     Prints {"operations","cancelled"}.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ops/engine.h"
#include "refs/refs.h"

#define STEPS "8"

static int fail(const struct sk_err *err)
{
	fprintf(stderr, "op-bench: %s\n", err->message);
	return 1;
}

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* The q-quantile (0..1) of n sorted samples (nearest rank). */
static double quantile(const double *v, size_t n, double q)
{
	size_t i = (size_t)(q * (double)n);
	return v[i < n ? i : n - 1];
}

static double median_of(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return quantile(v, n, 0.5);
}

static int create(struct sk_repo *repo, const struct sk_key *key, const char *service,
		  struct sk_op **op, struct sk_err *err)
{
	json_t *p = json_pack("{s:s, s:s}", "steps", STEPS, "ledger", "/nonexistent/op-bench");
	int rc = sk_op_create(repo, key, "test", service, p, op, err);
	json_decref(p);
	return rc;
}

static int transitions(struct sk_repo *repo, const struct sk_key *key, long want)
{
	struct sk_err err;
	size_t ops = (size_t)(want + 2) / 3, n = 0;
	double *all = calloc(ops * 3, sizeof(double)), *cr = calloc(ops, sizeof(double)),
	       *ca = calloc(ops, sizeof(double));
	if (!all || !cr || !ca)
		abort();
	sk_err_clear(&err);
	for (size_t i = 0; i < ops; i++) {
		struct sk_op *op = NULL;
		double t0 = now_ms();
		if (create(repo, key, "bench", &op, &err) < 0)
			return fail(&err);
		double t1 = now_ms();
		if (sk_op_cancel(repo, key, op, &err) < 0)
			return fail(&err);
		double t2 = now_ms();
		sk_op_free(op);
		cr[i] = t1 - t0;
		ca[i] = (t2 - t1) / 2;
		all[n++] = cr[i];
		all[n++] = ca[i];
		all[n++] = ca[i];
	}
	qsort(all, n, sizeof(*all), cmp_double);
	printf("{\"n\":%zu,\"median_ms\":%.4f,\"p90_ms\":%.4f,\"create_median_ms\":%.4f,"
	       "\"cancel_median_ms\":%.4f}\n",
	       n, quantile(all, n, 0.5), quantile(all, n, 0.9), median_of(cr, ops),
	       median_of(ca, ops));
	free(all);
	free(cr);
	free(ca);
	return 0;
}

static int populate(struct sk_repo *repo, const struct sk_key *key, long n)
{
	struct sk_err err;
	long cancelled = 0;
	sk_err_clear(&err);
	for (long i = 0; i < n; i++) {
		struct sk_op *op = NULL;
		char service[16];
		snprintf(service, sizeof(service), "svc-%ld", i % 10);
		if (create(repo, key, service, &op, &err) < 0)
			return fail(&err);
		if (i % 10 == 9) {
			if (sk_op_cancel(repo, key, op, &err) < 0)
				return fail(&err);
			cancelled++;
		}
		sk_op_free(op);
	}
	printf("{\"operations\":%ld,\"cancelled\":%ld}\n", n, cancelled);
	return 0;
}

int main(int argc, char **argv)
{
	struct sk_err err;
	struct sk_repo *repo = NULL;
	struct sk_key *key = NULL;
	sk_err_clear(&err);
	if (argc != 5 || (strcmp(argv[1], "transitions") && strcmp(argv[1], "populate")) ||
	    atol(argv[4]) < 1) {
		fprintf(stderr, "usage: op-bench transitions|populate REPO-DIR KEY N\n");
		return 2;
	}
	setenv("SKIFF_TEST_OPS", "1", 1);
	if (sk_repo_open(&repo, argv[2], &err) < 0 || sk_key_load(&key, argv[3], &err) < 0)
		return fail(&err);
	int rc = strcmp(argv[1], "transitions") == 0 ? transitions(repo, key, atol(argv[4]))
						     : populate(repo, key, atol(argv[4]));
	sk_key_free(key);
	sk_repo_free(repo);
	return rc;
}
