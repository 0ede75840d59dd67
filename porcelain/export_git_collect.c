/*
 * export-git, the skiff side (see export_git.h): every matching ref's head
 * record is verified against the trust policy, then only what is new is
 * read, each object with hash verification. A service is walked back from
 * its head until the commit exported last; a release is checked as every
 * release reader checks it (signature, the signer's role, the release
 * document). Nothing here writes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "objects/odb.h"
#include "porcelain/export_git.h"
#include "porcelain/release_common.h"
#include "refs/service.h"

/* A run of events, oldest first once complete. */
struct queue {
	struct sk_export_event *ev;
	size_t n, cap, next;
};

static const struct {
	const char *pattern;
	int release;
} namespaces[] = { { "refs/services/*", 0 }, { "refs/releases/*/*", 1 } };

/* Pretty-printed, keys sorted, a trailing newline: what reviewers read. */
static char *pretty(const json_t *doc)
{
	char *s = json_dumps(doc, JSON_INDENT(2) | JSON_SORT_KEYS);
	size_t n = s ? strlen(s) : 0;
	char *out = s ? realloc(s, n + 2) : NULL;
	if (!out) {
		free(s);
		return NULL;
	}
	out[n] = '\n';
	out[n + 1] = '\0';
	return out;
}

static struct sk_export_event *queue_push(struct queue *q, struct sk_err *err)
{
	if (q->n == q->cap) {
		size_t cap = q->cap ? q->cap * 2 : 16;
		struct sk_export_event *ev = realloc(q->ev, cap * sizeof(*ev));
		if (!ev) {
			sk_err_set(err, SK_ENOMEM, NULL, "out of memory");
			return NULL;
		}
		q->ev = ev;
		q->cap = cap;
	}
	struct sk_export_event *e = &q->ev[q->n++];
	memset(e, 0, sizeof(*e));
	return e;
}

static void event_clear(struct sk_export_event *e)
{
	free(e->message);
	free(e->op);
	free(e->file);
}

static void queue_clear(struct queue *q)
{
	for (size_t i = 0; i < q->n; i++)
		event_clear(&q->ev[i]);
	free(q->ev);
	memset(q, 0, sizeof(*q));
}

/* After a verified ref names an object, its absence or a wrong type is
 * damage, as for releases (sk_rel_damaged). */
static int damaged(int rc, struct sk_err *err)
{
	if (rc == SK_ENOTFOUND || rc == SK_EINVAL) {
		err->code = SK_ECORRUPT;
		return SK_ECORRUPT;
	}
	return rc;
}

/* The id exported last for ref; 0 when none. */
static int exported_id(const struct sk_export *x, const char *ref, struct sk_oid *out)
{
	const char *hex = json_string_value(json_object_get(x->exported, ref));
	return hex && sk_oid_fromhex(out, hex, NULL) == 0;
}

static int fill_commit(struct sk_export_event *e, const char *ref, const struct sk_oid *id,
		       const struct sk_commit *c, const json_t *control, struct sk_err *err)
{
	e->kind = SK_EXPORT_COMMIT;
	e->time = c->time;
	snprintf(e->ref, sizeof(e->ref), "%s", ref);
	snprintf(e->service, sizeof(e->service), "%s", c->service);
	e->oid = *id;
	e->object = c->control;
	snprintf(e->actor, sizeof(e->actor), "%s", c->actor);
	e->message = strdup(c->message);
	e->op = c->op[0] ? strdup(c->op) : NULL;
	e->file = pretty(control);
	if (!e->message || (c->op[0] && !e->op) || !e->file)
		return sk_err_set(err, SK_ENOMEM, NULL, "out of memory");
	return 0;
}

/* A service's commits from head back to the one exported last (or to
 * its first), into q oldest first. */
static int collect_service(struct sk_export *x, const char *ref, const struct sk_oid *head,
			   struct queue *q, struct sk_err *err)
{
	char hex[SK_OID_HEXSZ + 1];
	const char *svc = ref + strlen("refs/services/");
	struct sk_oid last, id = *head;
	int has_last = exported_id(x, ref, &last);
	struct sk_commit *c = malloc(sizeof(*c)); /* 4 KiB of message */
	if (!c)
		return sk_err_set(err, SK_ENOMEM, NULL, "out of memory");
	int rc = 0;
	while (!(has_last && sk_oid_cmp(&id, &last) == 0)) {
		json_t *control = NULL;
		rc = sk_service_read_commit(x->repo, &id, c, &control, err);
		if (rc < 0) {
			rc = sk_err_wrap(err, "%s: commit %s", ref, sk_oid_tohex(&id, hex));
			rc = damaged(rc, err);
			break;
		}
		struct sk_export_event *e = NULL;
		if (strcmp(c->service, svc) != 0)
			rc = sk_err_set(err, SK_ECORRUPT, NULL, "%s reaches commit %s of service %s", ref,
					sk_oid_tohex(&id, hex), c->service);
		else if (!(e = queue_push(q, err)))
			rc = SK_ENOMEM;
		else
			rc = fill_commit(e, ref, &id, c, control, err);
		json_decref(control);
		if (rc < 0)
			break;
		if (!c->has_parent) {
			if (has_last)
				rc = sk_err_set(err, SK_ECONFLICT,
						"the git history cannot follow a rewritten service history: "
						"export into a new directory",
						"%s no longer descends from commit %s, which was exported", ref,
						sk_oid_tohex(&last, hex));
			break;
		}
		id = c->parent;
	}
	free(c);
	for (size_t i = 0; rc == 0 && i < q->n / 2; i++) {
		struct sk_export_event t = q->ev[i];
		q->ev[i] = q->ev[q->n - 1 - i];
		q->ev[q->n - 1 - i] = t;
	}
	return rc;
}

static int collect_release(struct sk_export *x, const struct sk_refrecord *rec, struct queue *q,
			   struct sk_err *err)
{
	char svc[SK_REF_MAX + 1];
	const char *rest = rec->ref + strlen("refs/releases/"), *slash = strchr(rest, '/');
	snprintf(svc, sizeof(svc), "%.*s", (int)(slash - rest), rest);
	struct sk_rel_signed s;
	struct sk_release *r = NULL;
	int rc = sk_rel_check_signature(x->repo, x->policy, rec->ref, &rec->oid, &s, err);
	if (rc == 0 && (rc = sk_rel_read(sk_repo_odb(x->repo), &s.sig.release, svc, slash + 1, &r,
					 err)) < 0)
		rc = damaged(sk_err_wrap(err, "%s", rec->ref), err);
	struct sk_export_event *e = rc == 0 ? queue_push(q, err) : NULL;
	if (rc == 0 && !e)
		rc = SK_ENOMEM;
	if (rc == 0) {
		e->kind = SK_EXPORT_RELEASE;
		e->time = s.sig.time;
		snprintf(e->ref, sizeof(e->ref), "%s", rec->ref);
		snprintf(e->service, sizeof(e->service), "%s", r->service);
		snprintf(e->version, sizeof(e->version), "%s", r->version);
		e->oid = rec->oid;
		e->object = s.sig.release;
		snprintf(e->actor, sizeof(e->actor), "%s", s.sig.signer);
		if (!(e->file = pretty(r->doc)))
			rc = sk_err_set(err, SK_ENOMEM, NULL, "out of memory");
	}
	sk_release_free(r);
	return rc;
}

static int wanted(const struct sk_export *x, const char *ref)
{
	if (!x->npatterns)
		return 1;
	for (size_t i = 0; i < x->npatterns; i++)
		if (sk_ref_pattern_match(x->patterns[i], ref))
			return 1;
	return 0;
}

static void note_ref(struct sk_export *x, const char *ref, const char *kind, size_t n)
{
	json_array_append_new(x->refs, json_pack("{s:s, s:s, s:I}", "ref", ref, "kind", kind, "new",
						 (json_int_t)n));
}

/* The refs of one namespace: verify each head record; read what is new. */
static int collect_namespace(struct sk_export *x, size_t ns, struct queue **services,
			     size_t *nservices, struct queue *releases, size_t *matched,
			     struct sk_err *err)
{
	struct sk_refrecord *recs = NULL;
	size_t n = 0;
	int rc = sk_refs_list(x->repo, namespaces[ns].pattern, 0, &recs, &n, err);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		const struct sk_refrecord *rec = &recs[i];
		struct sk_oid last;
		if (!wanted(x, rec->ref))
			continue;
		(*matched)++;
		if ((rc = sk_refs_verify_record(x->policy, rec, err)) < 0)
			break;
		if (!rec->has_oid || (exported_id(x, rec->ref, &last) && !sk_oid_cmp(&last, &rec->oid)))
			continue;
		if (namespaces[ns].release) {
			size_t before = releases->n;
			if ((rc = collect_release(x, rec, releases, err)) == 0)
				note_ref(x, rec->ref, "release", releases->n - before);
			continue;
		}
		struct queue *qs = realloc(*services, (*nservices + 1) * sizeof(*qs));
		if (!qs) {
			rc = sk_err_set(err, SK_ENOMEM, NULL, "out of memory");
			break;
		}
		*services = qs;
		struct queue *q = &qs[(*nservices)++];
		memset(q, 0, sizeof(*q));
		if ((rc = collect_service(x, rec->ref, &rec->oid, q, err)) == 0)
			note_ref(x, rec->ref, "service", q->n);
	}
	free(recs);
	return rc;
}

static int earlier(const struct sk_export_event *a, const struct sk_export_event *b)
{
	if (a->time != b->time)
		return a->time < b->time;
	return strcmp(a->ref, b->ref) < 0;
}

static int cmp_release(const void *pa, const void *pb)
{
	const struct sk_export_event *a = pa, *b = pb;
	return earlier(a, b) ? -1 : earlier(b, a) ? 1 : 0;
}

/* Merges the runs by (time, ref) into x->events: each service's commits
 * stay in parent order even when clocks disagree, and ties fall the same
 * way every run. */
static int merge(struct sk_export *x, struct queue *qs, size_t nq, struct sk_err *err)
{
	size_t total = 0;
	for (size_t i = 0; i < nq; i++)
		total += qs[i].n;
	struct sk_export_event *all = calloc(total ? total : 1, sizeof(*all));
	if (!all)
		return sk_err_set(err, SK_ENOMEM, NULL, "out of memory");
	for (size_t k = 0; k < total; k++) {
		struct queue *best = NULL;
		for (size_t i = 0; i < nq; i++)
			if (qs[i].next < qs[i].n &&
			    (!best || earlier(&qs[i].ev[qs[i].next], &best->ev[best->next])))
				best = &qs[i];
		all[k] = best->ev[best->next++];
		if (all[k].kind == SK_EXPORT_COMMIT)
			x->commits++;
		else
			x->releases++;
	}
	x->events = all;
	x->nevents = total;
	for (size_t i = 0; i < nq; i++) {
		free(qs[i].ev); /* the events' strings now belong to x->events */
		memset(&qs[i], 0, sizeof(qs[i]));
	}
	return 0;
}

int sk_export_collect(struct sk_export *x, struct sk_err *err)
{
	struct queue *qs = NULL, releases;
	size_t nq = 0, matched = 0;
	memset(&releases, 0, sizeof(releases));
	x->refs = json_array();
	int rc = sk_refs_load_trust(x->repo, &x->policy, err);
	for (size_t i = 0; rc == 0 && i < sizeof(namespaces) / sizeof(namespaces[0]); i++)
		rc = collect_namespace(x, i, &qs, &nq, &releases, &matched, err);
	if (rc == 0 && x->npatterns && matched == 0)
		rc = sk_err_set(err, SK_ENOTFOUND, "skiff show-ref lists the refs",
				"no service or release ref matches %s%s", x->patterns[0],
				x->npatterns > 1 ? " or the other patterns" : "");
	if (rc == 0) {
		if (releases.n > 1)
			qsort(releases.ev, releases.n, sizeof(*releases.ev), cmp_release);
		struct queue *all = realloc(qs, (nq + 1) * sizeof(*all));
		if (!all) {
			rc = sk_err_set(err, SK_ENOMEM, NULL, "out of memory");
		} else {
			qs = all;
			qs[nq++] = releases;
			memset(&releases, 0, sizeof(releases));
			rc = merge(x, qs, nq, err);
		}
	}
	for (size_t i = 0; i < nq; i++)
		queue_clear(&qs[i]);
	queue_clear(&releases);
	free(qs);
	return rc;
}

void sk_export_events_free(struct sk_export *x)
{
	for (size_t i = 0; i < x->nevents; i++)
		event_clear(&x->events[i]);
	free(x->events);
	x->events = NULL;
	x->nevents = 0;
}
