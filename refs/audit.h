/*
 * The audit journal: one line for every ref this repository moves (a
 * signed update, a record adopted by fetch) and for every remote ref a
 * push moves, so `skiff audit` can answer who moved what, where, how
 * risky it was, and under which operation.
 *
 * Layout: .skiff/audit/YYYY-MM-DD.jsonl (UTC day), append-only, one
 * canonical JSON object per line (format in skiff-refs(5)). Writers take
 * an flock on .skiff/audit/lock, read the clock under it and append with
 * O_APPEND, so every file is ordered by time and a day's file holds only
 * that day; a reader binary-searches the first file for --since and reads
 * forward, so a query costs what it prints, not the whole history.
 *
 * An entry names the refrecord object that made the move; the reader
 * checks each entry it returns against that object (same ref, target,
 * seq and signer), which makes an edited line a verification failure.
 * The journal never holds a secret: names, ids, host, command, risk.
 */
#ifndef SK_AUDIT_H
#define SK_AUDIT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "refs/refs.h"

/* What the process is doing, recorded with every move it makes. The
 * strings are borrowed: they must outlive the context's use. NULL fields
 * are recorded as null. */
struct sk_audit_ctx {
	const char *command;    /* the skiff command, e.g. "update-ref" */
	const char *risk;       /* none|low|medium|high: the command's or the step's */
	const char *trace;      /* the operation's trace id */
	const char *op_service; /* the operation's service */
	const char *target;     /* where: the target acted on */
	const char *remote;     /* where: the remote of a push or fetch */
};

void sk_repo_set_audit(struct sk_repo *repo, const struct sk_audit_ctx *ctx);
/* The context in force (all NULL until set). */
const struct sk_audit_ctx *sk_repo_audit(const struct sk_repo *repo);

/* One ref that moved. */
struct sk_audit_move {
	const char *action;            /* "update", "fetch" or "push" */
	const char *ref;               /* the name that moved (push: the remote's) */
	int has_old;                   /* the ref pointed at old before */
	struct sk_oid old;
	const struct sk_refrecord *rec; /* the record it holds now */
	struct sk_oid record;          /* the id of rec's refrecord object */
};

/* Appends one entry per move, under the journal lock, durably. policy
 * (may be NULL: the current one is loaded) names the signers; keyname is
 * the signer's own name when the policy does not know it (may be NULL).
 * Nothing is written for a --direct cache (a repository with a ref
 * source): it mirrors a remote and acts for no one. */
int sk_audit_append(struct sk_repo *repo, const struct sk_trust *policy, const char *keyname,
		    const struct sk_audit_move *moves, size_t n, struct sk_err *err);
/* sk_audit_append after the refs already moved: a failure is reported on
 * stderr and does not fail the caller (see audit.c for why). sync 0
 * leaves the entries' durability to the caller's next syncfs (a ref
 * transaction makes its rename and its entries durable with one). */
void sk_audit_record(struct sk_repo *repo, const struct sk_trust *policy, const char *keyname,
		     const struct sk_audit_move *moves, size_t n, int sync);

/* --- reading ------------------------------------------------------------ */

/* TIME: RFC 3339 UTC (2026-12-04T21:00:00Z, or a day 2026-12-04), unix
 * seconds, or an age before now (30s, 10m, 2h, 7d, 2w). SK_EUSAGE else. */
int sk_audit_parse_time(const char *s, int64_t now, int64_t *out, struct sk_err *err);

/* Parses one journal line (without its newline), strictly: canonical
 * JSON, exactly the entry's fields, each of its type. SK_ECORRUPT else. */
int sk_audit_parse_line(const char *line, size_t len, json_t **out, struct sk_err *err);

struct sk_audit_query {
	int has_since, has_until;
	int64_t since, until;    /* inclusive bounds on "time" */
	const char *service;     /* refs of that service, or operations on it */
	const char *actor;       /* key id or name */
	const char *actor_id;    /* key id the policy gives actor's name (may be NULL) */
	const char *ref_pattern; /* ref glob (objects/trust.h syntax) or exact name */
	size_t limit;            /* > 0: only the newest limit entries */
};

/* The entries matching q, oldest first (*out: a new JSON array of entry
 * objects). A line that does not parse is SK_ECORRUPT naming the file and
 * byte offset; only lines read are parsed (--since skips the rest). */
int sk_audit_query(struct sk_repo *repo, const struct sk_audit_query *q, json_t **out,
		   struct sk_err *err);
/* The same over a journal directory (.skiff/audit); for tests and fuzzing. */
int sk_audit_query_dir(const char *dir, const struct sk_audit_query *q, json_t **out,
		       struct sk_err *err);

/* Checks entry against its refrecord object: present and hash-verified,
 * same ref (a tracking ref's record carries the remote's name), new
 * target (null: a deletion), seq and signer. SK_EVERIFY else. */
int sk_audit_verify_entry(struct sk_repo *repo, const json_t *entry, struct sk_err *err);

/* The service a ref belongs to (refs/services/S, refs/releases/S/…,
 * refs/runners/S/…, refs/backups/S/…, also under refs/remotes/R/), written
 * into buf; NULL when none. */
const char *sk_audit_ref_service(const char *ref, char *buf, size_t n);

#endif
