/*
 * Fixtures shared by the unit tests (see helpers.h). Setup helpers return
 * -1 rather than failing, so a cmocka setup function reports them as a
 * setup failure; th_must fails the running test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h> /* environ, with _GNU_SOURCE */

#include "common/fs.h"
#include "objects/odb.h"
#include "refs/keys.h"
#include "refs/refs.h"
#include "tests/unit/helpers.h"

int th_tmpdir(char *buf, size_t size, const char *tag)
{
	int n = snprintf(buf, size, "/tmp/skiff-%s-XXXXXX", tag);
	if (n < 0 || (size_t)n >= size)
		return -1;
	return mkdtemp(buf) ? 0 : -1;
}

static int rm_entry(const char *p, const struct stat *st, int fl, struct FTW *f)
{
	(void)st;
	(void)fl;
	(void)f;
	return remove(p);
}

void th_rmtree(const char *dir)
{
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* The name of the first SKIFF_* variable, or 0 when there is none. */
static int next_skiff_var(char *name, size_t size)
{
	for (char **e = environ; *e; e++) {
		const char *eq = strchr(*e, '=');
		size_t len = eq ? (size_t)(eq - *e) : strlen(*e);
		if (strncmp(*e, "SKIFF_", 6) == 0 && len < size) {
			memcpy(name, *e, len);
			name[len] = '\0';
			return 1;
		}
	}
	return 0;
}

void th_isolate_env(const char *config_home)
{
	char name[256];
	/* unsetenv changes environ, so the scan starts over after each. */
	while (next_skiff_var(name, sizeof(name)))
		unsetenv(name);
	if (config_home)
		setenv("XDG_CONFIG_HOME", config_home, 1);
}

void th_must(int rc, const struct sk_err *err)
{
	if (rc != 0)
		fail_msg("rc %d: %s (%s)", rc, err->message, err->hint);
}

struct sk_oid th_blob(struct sk_repo *repo, const char *text)
{
	struct sk_oid oid;
	struct sk_err err;
	th_must(sk_odb_write(sk_repo_odb(repo), SK_OBJ_BLOB, text, strlen(text), &oid, &err), &err);
	return oid;
}

int th_setup_repo(struct th_repo *t, const char *tag, const char *owner)
{
	memset(t, 0, sizeof(*t));
	if (th_tmpdir(t->root, sizeof(t->root), tag) < 0)
		return -1;
	char *cfg = sk_path_join(t->root, "config");
	th_isolate_env(cfg);
	free(cfg);
	t->repo_dir = sk_path_join(t->root, "repo");
	t->skiff = sk_path_join(t->repo_dir, ".skiff");
	struct sk_err err;
	if (sk_key_generate(&t->key, owner, &err) < 0)
		return -1;
	if (sk_repo_init(&t->repo, t->repo_dir, t->key, &err) < 0) {
		fprintf(stderr, "init: %s\n", err.message);
		return -1;
	}
	return 0;
}

void th_teardown_repo(struct th_repo *t)
{
	sk_repo_free(t->repo);
	sk_key_free(t->key);
	th_rmtree(t->root);
	free(t->repo_dir);
	free(t->skiff);
}

unsigned char *th_random_bytes(size_t n, uint64_t seed)
{
	unsigned char *p = malloc(n ? n : 1);
	assert_non_null(p);
	for (size_t i = 0; i < n; i += 8) {
		uint64_t z = (seed += UINT64_C(0x9e3779b97f4a7c15));
		z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
		z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
		z ^= z >> 31;
		for (size_t k = 0; k < 8 && i + k < n; k++)
			p[i + k] = (unsigned char)(z >> (8 * k));
	}
	return p;
}
