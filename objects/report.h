/*
 * The `report` object: what a runner saw its target do, one document per
 * state transition (and when its counters change), chained by "prev":
 *   {"addr":"HOST:PORT","health":{"fails":N,"last_ms":N|null,"passes":N},
 *    "logs":{"lines":N,"patterns":[{"count":N,"pattern":P}]},
 *    "pid":N|null,"prev":OID|null,"reason":TEXT,
 *    "release":V|null,"release_oid":OID|null,"restarts":N,"service":S,
 *    "secrets":{NAME:{"oid":OID,"version":N}} (optional),
 *    "state":STATE,"target":T,"time_ms":INT,"trace":HEX32|null,"v":1}
 * STATE is one of verifying, starting, healthy, unhealthy, crashed,
 * refused-unverified, stopped. health counts consecutive probe passes and
 * failures; logs counts the workload's lines and the spec's log patterns
 * for the current release since it started; trace is the trace id of the
 * operation that assigned the release; reason says why in words ("" when
 * nothing needs saying). secrets names the secretref version of each
 * pinned secret the running workload loaded (absent when none: reports of
 * before secrets stay valid); never a value. The report is not signed itself: the runner signs
 * the ref record that moves refs/runners/<svc>/<target> to it, and only a
 * key holding the runner role for that ref may.
 *
 * Reading and writing reports through refs (verified load, list of a
 * service's runners, CAS write) is refs/reports.h: sk_reports_load,
 * sk_reports_list, sk_reports_head, sk_reports_write.
 */
#ifndef SK_REPORT_H
#define SK_REPORT_H

#include <jansson.h>

#include "common/err.h"
#include "objects/oid.h"

#define SK_REPORT_REASON_MAX 512
#define SK_REPORT_ADDR_MAX 300

struct sk_report {
	char service[65];
	char target[65];
	char state[24];
	char release[65]; /* "" when null */
	char addr[SK_REPORT_ADDR_MAX + 1];
	char reason[SK_REPORT_REASON_MAX + 1];
	char trace[33]; /* "" when null */
	int has_release_oid;
	struct sk_oid release_oid;
	int has_prev;
	struct sk_oid prev;
	long long pid; /* -1 when null */
	long long restarts;
	long long time_ms;
	long long health_passes, health_fails;
	long long health_last_ms; /* -1 when null */
	long long log_lines;
	json_t *patterns; /* owned: [{"count","pattern"}] */
	json_t *secrets;  /* owned: {NAME:{"oid","version"}}, NULL when absent */
	json_t *doc;      /* owned: the whole document */
};

/* Nonzero when s is one of the report states above. */
int sk_report_state_valid(const char *s);
/* Strict validation of an untrusted report document (exact keys and
 * types, v == 1, names, lengths, hex): SK_EINVAL naming the field. */
int sk_report_from_json(struct sk_report **out, const json_t *doc, struct sk_err *err);
void sk_report_free(struct sk_report *r);
/* The document for r's fields (doc is ignored; patterns NULL means []):
 * a new reference, NULL only on out of memory. What it builds passes
 * sk_report_from_json when the fields are in range. */
json_t *sk_report_to_json(const struct sk_report *r);

#endif
