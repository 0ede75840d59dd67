/*
 * Hashing on a second thread. Storing a large blob reads, hashes,
 * compresses and writes every byte; SHA-256 alone is about as costly as
 * the rest together, so it runs beside them: the writer hands a buffer to
 * this thread, compresses and writes the same (read-only) buffer, and
 * hands over the next one only after the thread is done with the last.
 * One buffer in flight at a time keeps the protocol trivially correct:
 * the caller double-buffers and never writes to a buffer it has handed
 * over until sk_hash_thread_feed or _stop returns again.
 */
#include <pthread.h>
#include <stdlib.h>

#include "objects/oid.h"

struct sk_hash_thread {
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct sk_hasher *h;
	const void *p;
	size_t n;
	int busy, quit;
};

static void *run(void *arg)
{
	struct sk_hash_thread *t = arg;
	pthread_mutex_lock(&t->mu);
	for (;;) {
		while (!t->busy && !t->quit)
			pthread_cond_wait(&t->cv, &t->mu);
		if (!t->busy && t->quit)
			break;
		const void *p = t->p;
		size_t n = t->n;
		pthread_mutex_unlock(&t->mu);
		sk_hasher_update(t->h, p, n);
		pthread_mutex_lock(&t->mu);
		t->busy = 0;
		pthread_cond_broadcast(&t->cv);
	}
	pthread_mutex_unlock(&t->mu);
	return NULL;
}

struct sk_hash_thread *sk_hash_thread_start(struct sk_hasher *h)
{
	struct sk_hash_thread *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->h = h;
	pthread_mutex_init(&t->mu, NULL);
	pthread_cond_init(&t->cv, NULL);
	if (pthread_create(&t->th, NULL, run, t) != 0) {
		pthread_mutex_destroy(&t->mu);
		pthread_cond_destroy(&t->cv);
		free(t);
		return NULL;
	}
	return t;
}

static void wait_idle(struct sk_hash_thread *t)
{
	while (t->busy)
		pthread_cond_wait(&t->cv, &t->mu);
}

void sk_hash_thread_feed(struct sk_hash_thread *t, const void *p, size_t n)
{
	pthread_mutex_lock(&t->mu);
	wait_idle(t);
	t->p = p;
	t->n = n;
	t->busy = 1;
	pthread_cond_broadcast(&t->cv);
	pthread_mutex_unlock(&t->mu);
}

void sk_hash_thread_stop(struct sk_hash_thread *t)
{
	if (!t)
		return;
	pthread_mutex_lock(&t->mu);
	wait_idle(t);
	t->quit = 1;
	pthread_cond_broadcast(&t->cv);
	pthread_mutex_unlock(&t->mu);
	pthread_join(t->th, NULL);
	pthread_mutex_destroy(&t->mu);
	pthread_cond_destroy(&t->cv);
	free(t);
}
