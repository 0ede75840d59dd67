/*
 * Named remotes of a repository: .skiff/remotes/<NAME> holds the canonical
 * JSON {"url":URL,"v":1}. Names follow the key-name rule (1..64 of
 * [A-Za-z0-9._-], not starting with '.' or '-').
 */
#ifndef SK_REMOTE_CONFIG_H
#define SK_REMOTE_CONFIG_H

#include <jansson.h>

#include "common/err.h"

struct sk_repo;

/* Adds a remote; SK_EEXISTS when the name is taken, SK_EINVAL for a bad
 * name or URL. */
int sk_remote_config_add(struct sk_repo *repo, const char *name, const char *url,
			 struct sk_err *err);
/* Removes a remote and its remote-tracking refs (refs/remotes/NAME/).
 * SK_ENOTFOUND when there is no such remote. */
int sk_remote_config_remove(struct sk_repo *repo, const char *name, struct sk_err *err);
/* --dry-run: every check add (or remove) makes, writing nothing; remove's
 * gives the remote's URL (*url malloc'd). */
int sk_remote_config_add_check(struct sk_repo *repo, const char *name, const char *url,
			       struct sk_err *err);
int sk_remote_config_remove_check(struct sk_repo *repo, const char *name, char **url,
				  struct sk_err *err);
/* [{"name","url"}...] sorted by name (a new reference). */
int sk_remote_config_list(struct sk_repo *repo, json_t **out, struct sk_err *err);
/* Resolves what the user named: a URL (contains "://") is used as is, a
 * name is looked up; NULL picks "origin", or the only remote there is.
 * *url and *name are malloc'd (*name is NULL for a bare URL). repo may be
 * NULL (then only URLs work). */
int sk_remote_config_resolve(struct sk_repo *repo, const char *what, char **url, char **name,
			     struct sk_err *err);

#endif
