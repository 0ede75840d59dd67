/*
 * libgit2 through dlopen; see gitlib.h for why.
 */
#include "common/gitlib.h"

#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

#define SK_STR_(x) #x
#define SK_STR(x) SK_STR_(x)
/* libgit2's soname carries major and minor version: the ABI the headers
 * describe is the one loaded. */
#define SK_GITLIB_SONAME \
	"libgit2.so." SK_STR(LIBGIT2_VER_MAJOR) "." SK_STR(LIBGIT2_VER_MINOR)

int sk_gitlib_open(struct sk_gitlib **out, struct sk_err *err)
{
	*out = NULL;
	struct sk_gitlib *g = calloc(1, sizeof(*g));
	if (!g)
		return sk_err_set(err, SK_ENOMEM, NULL, "out of memory");
	g->handle = dlopen(SK_GITLIB_SONAME, RTLD_NOW | RTLD_LOCAL);
	if (!g->handle) {
		const char *why = dlerror();
		free(g);
		return sk_err_set(err, SK_EFAIL, "install libgit2 " LIBGIT2_VERSION " (make deps)",
				  "cannot load %s: %s", SK_GITLIB_SONAME, why ? why : "unknown error");
	}
	const char *missing = NULL;
	/* dlsym returns void *; POSIX guarantees it converts to a function
	 * pointer, which memcpy says without a cast the compiler frowns on. */
#define SK_GITLIB_LOAD(name)                                          \
	{                                                             \
		void *sym = dlsym(g->handle, "git_" #name);           \
		if (!sym && !missing)                                 \
			missing = "git_" #name;                       \
		memcpy(&g->name, &sym, sizeof(sym));                  \
	}
	SK_GITLIB_FUNCS(SK_GITLIB_LOAD)
#undef SK_GITLIB_LOAD
	if (missing) {
		free(g);
		return sk_err_set(err, SK_EFAIL, "install libgit2 " LIBGIT2_VERSION " (make deps)",
				  "%s lacks %s", SK_GITLIB_SONAME, missing);
	}
	if (g->libgit2_init() < 0) {
		free(g);
		return sk_err_set(err, SK_EFAIL, NULL, "libgit2 failed to initialise");
	}
	*out = g;
	return 0;
}

void sk_gitlib_close(struct sk_gitlib *g)
{
	if (!g)
		return;
	g->libgit2_shutdown();
	free(g);
}

int sk_gitlib_err(const struct sk_gitlib *g, struct sk_err *err, int code, const char *what)
{
	const git_error *e = g->error_last();
	return sk_err_set(err, code, NULL, "%s: %s", what, e && e->message ? e->message : "libgit2 error");
}
