/*
 * libgit2, loaded when a command needs it. Linking libgit2 puts it and its
 * dependencies (libcrypto, krb5, libssh2, mbedtls) into every process:
 * about 3 ms more start-up for each skiff invocation, measured with an
 * empty program, for the one or two commands that use git. So the
 * commands that do open it here with dlopen by the soname of the headers
 * they were compiled against, and call it through a table whose entries
 * carry the prototypes of <git2.h> (no cast, no second declaration to
 * drift). Add a function by adding its name, without "git_", to
 * SK_GITLIB_FUNCS.
 */
#ifndef SK_GITLIB_H
#define SK_GITLIB_H

#include <git2.h>
#include <git2/sys/mempack.h>

#include "common/err.h"

#define SK_GITLIB_FUNCS(X)                                                                      \
	X(libgit2_init) X(libgit2_shutdown) X(error_last)                                       \
	X(repository_open_ext) X(repository_init_options_init) X(repository_init_ext)           \
	X(repository_free) X(repository_path) X(repository_is_bare)                              \
	X(repository_odb) X(odb_add_backend) X(odb_write_pack) X(odb_free)                      \
	X(mempack_new) X(mempack_dump) X(buf_dispose)                                           \
	X(blob_create_from_buffer) X(tree_lookup) X(tree_free) X(tree_entry_byname)             \
	X(tree_entry_id) X(tree_entry_type) X(treebuilder_new) X(treebuilder_insert)            \
	X(treebuilder_write) X(treebuilder_free)                                                \
	X(commit_lookup) X(commit_free) X(commit_tree_id) X(commit_message) X(commit_parentcount) \
	X(commit_parent_id) X(commit_create) X(signature_new) X(signature_free)                 \
	X(reference_name_to_id) X(reference_lookup) X(reference_symbolic_target)               \
	X(reference_create) X(reference_create_matching) X(reference_symbolic_create)          \
	X(reference_free) X(checkout_options_init) X(checkout_tree)                             \
	X(message_trailers) X(message_trailer_array_free) X(oid_tostr_s)                        \
	X(repository_head_unborn) X(reference_list) X(strarray_dispose)                         \
	X(diff_options_init) X(patch_from_buffers) X(patch_num_hunks) X(patch_get_hunk)         \
	X(patch_get_line_in_hunk) X(patch_free)

struct sk_gitlib {
	void *handle;
#define SK_GITLIB_MEMBER(name) __typeof__(git_##name) *name;
	SK_GITLIB_FUNCS(SK_GITLIB_MEMBER)
#undef SK_GITLIB_MEMBER
};

/* Loads libgit2 and initialises it. SK_EFAIL naming the library (and
 * how to install it) when it cannot be loaded. */
int sk_gitlib_open(struct sk_gitlib **out, struct sk_err *err);
/* Shuts libgit2 down (the library stays mapped: it may have registered
 * thread-exit handlers). NULL is fine. */
void sk_gitlib_close(struct sk_gitlib *g);
/* Sets err from libgit2's last error: "what: <libgit2 message>". */
int sk_gitlib_err(const struct sk_gitlib *g, struct sk_err *err, int code, const char *what);

#endif
