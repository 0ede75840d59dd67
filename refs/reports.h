/*
 * Runner reports on top of refs: refs/runners/<svc>/<target> points at
 * the newest `report` object (objects/report.h) of that target's runner;
 * each report names the one before it ("prev"), so the ref's history and
 * the reports' own chain agree. Readers verify the head record (signature
 * by a trusted key that holds the runner role for the ref, not just any
 * role the rules allow) and read the report with hash verification; a
 * report that does not parse, or names another service or target than its
 * ref, is damage (SK_ECORRUPT). The writer stores the report, then moves
 * the ref by CAS from the report its "prev" names, so two runners that
 * both think they own a target cannot silently overwrite each other.
 */
#ifndef SK_REPORTS_H
#define SK_REPORTS_H

#include <jansson.h>

#include "common/err.h"
#include "objects/report.h"
#include "refs/refs.h"

/* refs/runners/<service>/<target> into ref (>= SK_REF_MAX + 1 bytes),
 * after checking both names (SK_EINVAL naming which). */
int sk_reports_ref(char *ref, size_t n, const char *service, const char *target,
		   struct sk_err *err);

/* The target's current report: SK_ENOTFOUND (hint: start its runner) when
 * the runner never reported (or the ref was deleted); SK_ESIGNATURE or
 * SK_EROLE when the head record does not verify; SK_ECORRUPT when the
 * object is missing, malformed or about another target. */
int sk_reports_load(struct sk_repo *repo, const char *service, const char *target,
		    struct sk_report **out, struct sk_err *err);

/* {target: report document} of every runner of service that reported
 * (a new object; {} when none). Every entry is verified as by
 * sk_reports_load; the first that does not verify fails the whole list,
 * naming the ref. */
int sk_reports_list(struct sk_repo *repo, const char *service, json_t **out, struct sk_err *err);

/* The report the ref points at now (*has = 1), or *has = 0 when the runner
 * never reported: what a new report's "prev" must be. Reads the ref file
 * only (the writer verifies its own chain through the CAS). */
int sk_reports_head(struct sk_repo *repo, const char *service, const char *target, int *has,
		    struct sk_oid *oid, struct sk_err *err);

/* Validates doc (sk_report_from_json), stores it as a `report` object and
 * moves refs/runners/<service>/<target> to it, signed by key, from the
 * report doc's "prev" names (from absent when prev is null). SK_ECONFLICT
 * when the ref is elsewhere now; SK_EROLE when key may not sign the ref.
 * The new head is then what sk_reports_head returns. */
int sk_reports_write(struct sk_repo *repo, const struct sk_key *key, const json_t *doc,
		     struct sk_err *err);

#endif
