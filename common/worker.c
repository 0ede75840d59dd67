/*
 * The single-job worker thread (see worker.h). One job in flight keeps
 * the protocol trivially correct: the caller double-buffers and never
 * writes to a buffer it has handed over until give, wait or stop returns.
 */
#include "common/worker.h"

#include <pthread.h>
#include <stdlib.h>

struct sk_worker {
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	sk_worker_fn fn;
	void *arg;
	const void *p;
	size_t n;
	int busy, quit, threaded;
};

static void *run(void *arg)
{
	struct sk_worker *w = arg;
	pthread_mutex_lock(&w->mu);
	for (;;) {
		while (!w->busy && !w->quit)
			pthread_cond_wait(&w->cv, &w->mu);
		if (!w->busy)
			break;
		const void *p = w->p;
		size_t n = w->n;
		pthread_mutex_unlock(&w->mu);
		w->fn(w->arg, p, n);
		pthread_mutex_lock(&w->mu);
		w->busy = 0;
		pthread_cond_broadcast(&w->cv);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

struct sk_worker *sk_worker_start(sk_worker_fn fn, void *arg)
{
	struct sk_worker *w = calloc(1, sizeof(*w));
	if (!w)
		abort();
	w->fn = fn;
	w->arg = arg;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	w->threaded = pthread_create(&w->th, NULL, run, w) == 0;
	return w;
}

/* Called with mu held. */
static void wait_idle(struct sk_worker *w)
{
	while (w->busy)
		pthread_cond_wait(&w->cv, &w->mu);
}

void sk_worker_wait(struct sk_worker *w)
{
	if (!w->threaded)
		return;
	pthread_mutex_lock(&w->mu);
	wait_idle(w);
	pthread_mutex_unlock(&w->mu);
}

void sk_worker_give(struct sk_worker *w, const void *p, size_t n)
{
	if (!w->threaded) {
		w->fn(w->arg, p, n);
		return;
	}
	pthread_mutex_lock(&w->mu);
	wait_idle(w);
	w->p = p;
	w->n = n;
	w->busy = 1;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

void sk_worker_stop(struct sk_worker *w)
{
	if (!w)
		return;
	if (w->threaded) {
		pthread_mutex_lock(&w->mu);
		wait_idle(w);
		w->quit = 1;
		pthread_cond_broadcast(&w->cv);
		pthread_mutex_unlock(&w->mu);
		pthread_join(w->th, NULL);
	}
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cv);
	free(w);
}
