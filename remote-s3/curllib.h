/*
 * libcurl, loaded when a remote is used. Linked in, libcurl brings gnutls,
 * krb5, ldap and a dozen more libraries into every skiff process -- about
 * 3 ms more start-up for every command, most of which never talk to a
 * remote. So the S3 client loads it with dlopen on first use and calls it
 * through this table, whose entries carry <curl/curl.h>'s own prototypes.
 * The client's code keeps calling curl_easy_setopt() and friends: the
 * macros below route those names through the table. Add a function by
 * adding its name, without "curl_", to SK_CURLLIB_FUNCS.
 */
#ifndef SK_CURLLIB_H
#define SK_CURLLIB_H

/* The type-checking wrappers are macros over the same names. */
#define CURL_DISABLE_TYPECHECK 1
#include <curl/curl.h>

#include "common/err.h"

#define SK_CURLLIB_FUNCS(X)                                                               \
	X(global_init) X(easy_init) X(easy_cleanup) X(easy_reset) X(easy_setopt)            \
	X(easy_getinfo) X(easy_strerror) X(slist_append) X(slist_free_all) X(multi_init)    \
	X(multi_cleanup) X(multi_add_handle) X(multi_remove_handle) X(multi_perform)        \
	X(multi_poll) X(multi_info_read) X(multi_setopt)

struct sk_curllib {
	void *handle;
#define SK_CURLLIB_MEMBER(name) __typeof__(curl_##name) *name;
	SK_CURLLIB_FUNCS(SK_CURLLIB_MEMBER)
#undef SK_CURLLIB_MEMBER
};

/* Filled once by sk_curllib_load; read-only afterwards. */
extern struct sk_curllib sk_curl;

/* Loads libcurl (once per process; later calls return the first result).
 * SK_EFAIL naming the library when it cannot be loaded. */
int sk_curllib_load(struct sk_err *err);

/* curl.h defines pass-through macros for the varargs setters. */
#undef curl_easy_setopt
#undef curl_easy_getinfo
#undef curl_multi_setopt
#define curl_global_init (sk_curl.global_init)
#define curl_easy_init (sk_curl.easy_init)
#define curl_easy_cleanup (sk_curl.easy_cleanup)
#define curl_easy_reset (sk_curl.easy_reset)
#define curl_easy_setopt (sk_curl.easy_setopt)
#define curl_easy_getinfo (sk_curl.easy_getinfo)
#define curl_easy_strerror (sk_curl.easy_strerror)
#define curl_slist_append (sk_curl.slist_append)
#define curl_slist_free_all (sk_curl.slist_free_all)
#define curl_multi_init (sk_curl.multi_init)
#define curl_multi_cleanup (sk_curl.multi_cleanup)
#define curl_multi_add_handle (sk_curl.multi_add_handle)
#define curl_multi_remove_handle (sk_curl.multi_remove_handle)
#define curl_multi_perform (sk_curl.multi_perform)
#define curl_multi_poll (sk_curl.multi_poll)
#define curl_multi_info_read (sk_curl.multi_info_read)
#define curl_multi_setopt (sk_curl.multi_setopt)

#endif
