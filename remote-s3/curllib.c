/*
 * libcurl through dlopen; see curllib.h for why.
 */
#include "remote-s3/curllib.h"

#include <dlfcn.h>
#include <stdio.h>
#include <pthread.h>
#include <string.h>

/* libcurl's soname has been 4 since 7.16; the headers describe that ABI. */
#define SK_CURLLIB_SONAME "libcurl.so.4"

struct sk_curllib sk_curl;

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static char load_error[256];

static void load(void)
{
	void *h = dlopen(SK_CURLLIB_SONAME, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		const char *why = dlerror();
		snprintf(load_error, sizeof(load_error), "cannot load %s: %s", SK_CURLLIB_SONAME,
			 why ? why : "unknown error");
		return;
	}
	struct sk_curllib t = { .handle = h };
	/* dlsym returns void *; POSIX guarantees it converts to a function
	 * pointer, which memcpy says without a cast the compiler frowns on. */
#define SK_CURLLIB_LOAD(name)                                                         \
	{                                                                             \
		void *sym = dlsym(h, "curl_" #name);                                  \
		if (!sym && !load_error[0])                                           \
			snprintf(load_error, sizeof(load_error), "%s lacks curl_%s",  \
				 SK_CURLLIB_SONAME, #name);                           \
		memcpy(&t.name, &sym, sizeof(sym));                                   \
	}
	SK_CURLLIB_FUNCS(SK_CURLLIB_LOAD)
#undef SK_CURLLIB_LOAD
	if (!load_error[0])
		sk_curl = t;
}

int sk_curllib_load(struct sk_err *err)
{
	pthread_once(&load_once, load);
	if (load_error[0])
		return sk_err_set(err, SK_EFAIL, "install libcurl (make deps)", "%s", load_error);
	return 0;
}
