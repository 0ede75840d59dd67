/*
 * Fixtures shared by the unit tests: fresh temp directories and their
 * removal, an environment free of the caller's SKIFF_* settings, a
 * repository with its owner's key, and assertions on sk_err results.
 * Include after <cmocka.h>; linked into every tests/unit binary.
 */
#ifndef SK_TEST_HELPERS_H
#define SK_TEST_HELPERS_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "objects/oid.h"

struct sk_key;
struct sk_repo;

/* Creates /tmp/skiff-TAG-XXXXXX into buf (size bytes); 0 or -1. */
int th_tmpdir(char *buf, size_t size, const char *tag);
/* Removes dir and everything below it, without following links. */
void th_rmtree(const char *dir);
/* Unsets every SKIFF_* variable, so a test never sees the caller's fault
 * injection, repository or limits; sets XDG_CONFIG_HOME to config_home
 * (where keys live) unless it is NULL. */
void th_isolate_env(const char *config_home);

/* Fails the running test when rc is not 0, with err's message and hint. */
void th_must(int rc, const struct sk_err *err);
/* Stores text as a blob in repo's object store and returns its id. */
struct sk_oid th_blob(struct sk_repo *repo, const char *text);

/* A repository in a fresh temp directory, keys under root/config. */
struct th_repo {
	char root[64];
	char *repo_dir;     /* root/repo */
	char *skiff;        /* repo_dir/.skiff */
	struct sk_key *key; /* the owner: root and operator of the initial policy */
	struct sk_repo *repo;
};

/* Isolates the environment, generates owner's key and inits the
 * repository; 0 or -1 (for a cmocka setup function to return). */
int th_setup_repo(struct th_repo *t, const char *tag, const char *owner);
/* Frees what th_setup_repo made and removes its directory. */
void th_teardown_repo(struct th_repo *t);

/* n deterministic pseudo-random bytes (splitmix64 from seed); free() them. */
unsigned char *th_random_bytes(size_t n, uint64_t seed);

#endif
