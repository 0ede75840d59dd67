/*
 * Between remote.c and its two kinds (file.c, s3remote.c) only.
 */
#ifndef SK_REMOTE_INT_H
#define SK_REMOTE_INT_H

#include "remote-s3/remote.h"

struct sk_remote_listed {
	struct sk_oid oid;
	uint64_t size;
};

struct sk_remote_ops {
	int (*ref_get)(struct sk_remote *, const char *, char **, size_t *, char *,
		       struct sk_err *);
	int (*ref_put)(struct sk_remote *, const char *, const void *, size_t, const char *, char *,
		       struct sk_err *);
	int (*ref_list)(struct sk_remote *, char ***, size_t *, struct sk_err *);
	int (*objects_exist)(struct sk_remote *, struct sk_remote_obj *, size_t, struct sk_err *);
	int (*objects_put)(struct sk_remote *, struct sk_remote_obj *, size_t, struct sk_err *);
	int (*objects_get)(struct sk_remote *, struct sk_remote_obj *, size_t, size_t,
			   struct sk_err *);
	unsigned long (*requests)(const struct sk_remote *);
	void (*free)(struct sk_remote *);
	/* may be NULL: every object with its stored size (*out malloc'd) */
	int (*objects_list)(struct sk_remote *, struct sk_remote_listed **, size_t *,
			    struct sk_err *);
};

struct sk_remote {
	const struct sk_remote_ops *ops;
	char *url;
	char key[18];
	unsigned jobs;
	unsigned long requests; /* file remotes count here */
	void *impl;
	struct sk_remote_obj *pre; /* prefetched, sorted by oid; z NULL once served */
	size_t npre;
	int prefetched;
};

int sk_remote_file_open(struct sk_remote *r, const char *path, struct sk_err *err);
int sk_remote_s3_open(struct sk_remote *r, struct sk_err *err);

/* "objects/ab/<62 hex>" into buf (>= 76 bytes). */
void sk_remote_object_key(const struct sk_oid *oid, char *buf);
/* Adds a copy of name to a growing array; SK_ENOMEM. */
int sk_remote_names_add(char ***names, size_t *n, size_t *cap, const char *name,
			struct sk_err *err);
void sk_remote_names_sort(char **names, size_t n);

#endif
