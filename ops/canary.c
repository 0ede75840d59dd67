/*
 * Canary weights, windows and verdicts (see canary.h).
 */
#include "ops/canary.h"

#include <stdio.h>
#include <string.h>

#define WMAX 256

void sk_canary_weights(int pct, size_t nc, size_t ns, int *wc, int *ws)
{
	if (pct <= 0 || nc == 0) {
		*wc = 0;
		*ws = WMAX;
		return;
	}
	if (pct >= 100 || ns == 0) {
		*wc = WMAX;
		*ws = 0;
		return;
	}
	/* the pair whose share nc*c / (nc*c + ns*t) is nearest pct: error
	 * |100*nc*c - pct*tot| / (100*tot), compared by cross-multiplying.
	 * 65,536 candidates cost nothing next to a bake, and no rounding
	 * rule can miss the best; ties keep the larger weights (finer). */
	long long bd = -1, btot = 1;
	for (long long c = WMAX; c >= 1; c--)
		for (long long t = WMAX; t >= 1; t--) {
			long long tot = (long long)nc * c + (long long)ns * t;
			long long a = 100LL * (long long)nc * c, b = (long long)pct * tot;
			long long d = a > b ? a - b : b - a;
			if (bd < 0 || d * btot < bd * tot) {
				bd = d;
				btot = tot;
				*wc = (int)c;
				*ws = (int)t;
			}
		}
}

static long long num(const json_t *o, const char *k)
{
	return (long long)json_integer_value(json_object_get(o, k));
}

static long long delta(const json_t *b, const json_t *a, const char *k)
{
	long long d = num(a, k) - num(b, k);
	return d < 0 ? num(a, k) : d; /* a restarted haproxy counts from zero */
}

json_t *sk_canary_window(const json_t *before, const json_t *after, const json_t *targets)
{
	const json_t *sb = json_object_get(before, "servers"), *sa = json_object_get(after, "servers");
	long long req = 0, errs = 0, rtime = 0;
	json_t *down = json_array();
	size_t i;
	json_t *t;
	json_array_foreach(targets, i, t) {
		const char *name = json_string_value(t);
		const json_t *b = json_object_get(sb, name), *a = json_object_get(sa, name);
		if (!a) {
			json_array_append_new(down, json_sprintf("%s: not in the traffic provider", name));
			continue;
		}
		req += delta(b, a, "requests");
		errs += delta(b, a, "hrsp_5xx");
		if (num(a, "rtime_ms") > rtime)
			rtime = num(a, "rtime_ms");
		const char *st = json_string_value(json_object_get(a, "status"));
		if (st && strncmp(st, "DOWN", 4) == 0)
			json_array_append_new(down, json_sprintf("%s: health check %s", name, st));
	}
	return json_pack("{s:I, s:I, s:I, s:I, s:o}", "requests", (json_int_t)req, "errors",
			 (json_int_t)errs, "error_rate_bp",
			 (json_int_t)(req ? errs * 10000 / req : 0), "rtime_ms", (json_int_t)rtime,
			 "servers_down", down);
}

static long long pattern_count(const json_t *report, const char *pattern, const char *release)
{
	const char *rel = json_string_value(json_object_get(report, "release"));
	if (!rel || strcmp(rel, release) != 0)
		return -1;
	size_t i;
	json_t *p;
	json_array_foreach(json_object_get(json_object_get(report, "logs"), "patterns"), i, p) {
		const char *s = json_string_value(json_object_get(p, "pattern"));
		if (s && strcmp(s, pattern) == 0)
			return num(p, "count");
	}
	return 0;
}

json_t *sk_canary_patterns(const json_t *before, const json_t *after, const json_t *targets,
			   const char *release)
{
	json_t *out = json_object();
	size_t i;
	json_t *t;
	json_array_foreach(targets, i, t) {
		const json_t *ra = json_object_get(after, json_string_value(t));
		const json_t *rb = json_object_get(before, json_string_value(t));
		size_t k;
		json_t *p;
		json_array_foreach(json_object_get(json_object_get(ra, "logs"), "patterns"), k, p) {
			const char *pat = json_string_value(json_object_get(p, "pattern"));
			long long a = pattern_count(ra, pat, release);
			long long b = pattern_count(rb, pat, release);
			/* the runner restarted the release: its count starts again */
			long long d = a < 0 ? 0 : (b < 0 || b > a) ? a : a - b;
			json_object_set_new(out, pat, json_integer(num(out, pat) + d));
		}
	}
	return out;
}

struct verdict {
	json_t *reasons;
	int unsafe, ambiguous;
};

static void say(struct verdict *v, int *flag, const char *fmt, long long a, long long b)
{
	char buf[256];
	snprintf(buf, sizeof(buf), fmt, a, b);
	json_array_append_new(v->reasons, json_string(buf));
	*flag = 1;
}

/* A signal at or over its gate is unsafe; at 80% of it and worse than
 * stable, borderline. */
static void gate(struct verdict *v, const char *what, long long val, long long max,
		 long long stable, int has_stable)
{
	char fmt[160];
	if (val > max) {
		snprintf(fmt, sizeof(fmt), "%s %%lld is over its gate %%lld", what);
		say(v, &v->unsafe, fmt, val, max);
	} else if (max > 0 && val * 10 >= max * 8 && (!has_stable || val > stable)) {
		snprintf(fmt, sizeof(fmt), "%s %%lld is close to its gate %%lld", what);
		say(v, &v->ambiguous, fmt, val, max);
	}
}

static void gate_patterns(struct verdict *v, const json_t *gates, const json_t *patterns)
{
	size_t i;
	json_t *p;
	json_array_foreach(json_object_get(gates, "log_patterns"), i, p) {
		const char *pat = json_string_value(json_object_get(p, "pattern"));
		long long n = num(patterns, pat), max = num(p, "max");
		if (n > max) {
			char buf[400];
			snprintf(buf, sizeof(buf), "log pattern \"%.200s\" seen %lld times (at most %lld)",
				 pat, n, max);
			json_array_append_new(v->reasons, json_string(buf));
			v->unsafe = 1;
		}
	}
}

json_t *sk_canary_verdict(const json_t *gates, const json_t *canary, const json_t *stable,
			  const json_t *patterns, const json_t *unhealthy)
{
	struct verdict v = { json_array(), 0, 0 };
	long long max_bp = gates ? num(gates, "max_error_rate_bp") : 100;
	long long min_req = gates ? num(gates, "min_requests") : 100;
	size_t i;
	json_t *u;
	json_array_foreach(unhealthy, i, u) {
		json_array_append_new(v.reasons, json_sprintf("canary %s", json_string_value(u)));
		v.unsafe = 1;
	}
	json_array_foreach(json_object_get(canary, "servers_down"), i, u) {
		json_array_append_new(v.reasons, json_sprintf("canary %s", json_string_value(u)));
		v.unsafe = 1;
	}
	long long req = num(canary, "requests");
	gate(&v, "canary error rate (basis points)", num(canary, "error_rate_bp"), max_bp,
	     num(stable, "error_rate_bp"), stable != NULL);
	const json_t *lat = json_object_get(gates, "max_latency_ms");
	if (lat)
		gate(&v, "canary latency (ms)", num(canary, "rtime_ms"), json_integer_value(lat),
		     num(stable, "rtime_ms"), stable != NULL);
	gate_patterns(&v, gates, patterns);
	if (req < min_req)
		say(&v, &v.ambiguous, "too few requests: %lld on the canary, the gate needs %lld", req,
		    min_req);
	const char *d = v.unsafe ? "rollback" : v.ambiguous ? "pause" : "advance";
	if (!v.unsafe && !v.ambiguous)
		say(&v, &v.ambiguous /* unused */, "every gate holds over %lld requests (at least %lld)",
		    req, min_req);
	return json_pack("{s:s, s:o}", "decision", d, "reasons", v.reasons);
}
