/*
 * Canary arithmetic, kept apart from the saga so it can be tested alone:
 * the HAProxy weights that put a percentage of traffic on the canary
 * servers, the signals of one bake window (two traffic samples and the
 * runners' log counts), and the verdict the gates give them.
 *
 * A verdict is one of
 *   advance   every gate holds with enough requests behind it;
 *   pause     ambiguous: too few requests, the traffic provider did not
 *             answer, or a signal borderline (at least 80% of its gate and
 *             worse than stable) — a person or a second bake decides;
 *   rollback  unsafe: a gate failed or a canary runner is not healthy.
 */
#ifndef SK_OPS_CANARY_H
#define SK_OPS_CANARY_H

#include <jansson.h>
#include <stddef.h>

/* Weights (0..256) for pct percent of traffic on nc canary servers and
 * the rest on ns stable ones: *wc for each canary, *ws for each stable.
 * The achieved share is within a fraction of a percent of pct. */
void sk_canary_weights(int pct, size_t nc, size_t ns, int *wc, int *ws);

/* The signals of the servers named in targets (an array of names) over
 * one window: before and after are sk_traffic_sample results.
 * {"requests","errors","error_rate_bp","rtime_ms","servers_down":[…]};
 * a counter that went backwards (haproxy restarted) counts from zero. */
json_t *sk_canary_window(const json_t *before, const json_t *after, const json_t *targets);

/* Log pattern counts of the window: {pattern: count} summed over targets
 * from the runners' reports (report documents by target) at the start
 * and the end of the window, for release. */
json_t *sk_canary_patterns(const json_t *before, const json_t *after, const json_t *targets,
			   const char *release);

/* The verdict of gates (a release's compiled canary.gates, or NULL for
 * the defaults) on the window: canary and stable from sk_canary_window
 * (stable may be NULL: nothing to compare with), patterns from
 * sk_canary_patterns, unhealthy an array of "target: why" for canary
 * runners that are not healthy on the release. A new
 * {"decision","reasons":[…]}. */
json_t *sk_canary_verdict(const json_t *gates, const json_t *canary, const json_t *stable,
			  const json_t *patterns, const json_t *unhealthy);

#endif
