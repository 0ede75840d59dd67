/*
 * A worker: one job in flight on a thread of its own. give() waits until
 * the previous job is done, then hands over the next (fn(arg, p, n));
 * wait() returns once the thread no longer touches the last buffer given;
 * stop() finishes the last job and joins. The buffer stays the caller's
 * and must not change until the next give, wait or stop returns. When no
 * thread can be made, jobs run inline in give, so callers need no second
 * path. Used to hash beside compressing and writing (objects/odb.c,
 * objects/file.c).
 */
#ifndef SK_WORKER_H
#define SK_WORKER_H

#include <stddef.h>

struct sk_worker;
typedef void (*sk_worker_fn)(void *arg, const void *p, size_t n);

/* Aborts on out of memory; never fails otherwise (inline fallback). */
struct sk_worker *sk_worker_start(sk_worker_fn fn, void *arg);
void sk_worker_give(struct sk_worker *w, const void *p, size_t n);
void sk_worker_wait(struct sk_worker *w);
/* Finishes the last job, joins the thread and frees w (NULL is a no-op). */
void sk_worker_stop(struct sk_worker *w);

#endif
