/*
 * The one table from SK_E… codes to exit codes and JSON error names. The
 * exit codes are the CLI contract of skiff(1); change them only with it.
 */
#include "common/err.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

struct code_info {
	int code;
	int exit;
	int retryable;
	const char *name;
};

static const struct code_info codes[] = {
	{ SK_OK, 0, 0, "ok" },
	{ SK_EFAIL, 1, 0, "failure" },
	{ SK_EUSAGE, 2, 0, "usage" },
	{ SK_ECONFLICT, 3, 1, "cas_conflict" },
	{ SK_EVERIFY, 4, 0, "verification_failed" },
	{ SK_EAPPROVAL, 5, 0, "approval_required" },
	{ SK_EPAUSED, 6, 1, "paused" },
	{ SK_ENOTFOUND, 7, 0, "not_found" },
	{ SK_EEXISTS, 3, 0, "already_exists" },
	{ SK_ELOCKED, 3, 1, "locked" },
	{ SK_EINVAL, 1, 0, "invalid_input" },
	{ SK_EIO, 1, 1, "io_error" },
	{ SK_ENOSPC, 1, 1, "no_space" },
	{ SK_EREADONLY, 1, 0, "read_only" },
	{ SK_ECORRUPT, 4, 0, "corrupt_object" },
	{ SK_ETOOBIG, 4, 0, "too_large" },
	{ SK_EAMBIGUOUS, 2, 0, "ambiguous" },
	{ SK_ESIGNATURE, 4, 0, "bad_signature" },
	{ SK_EROLE, 4, 0, "role_denied" },
	{ SK_EROLLBACK, 4, 0, "rollback" },
	{ SK_EKEYPERM, 1, 0, "insecure_key" },
	{ SK_ENOREPO, 1, 0, "no_repository" },
	{ SK_ENOMEM, 1, 1, "out_of_memory" },
	{ SK_EIDENTITY, 1, 0, "no_identity" },
	/* network and authentication failures are plain failures (1): the
	 * data was not judged, so neither 3 nor 4 applies */
	{ SK_EAUTH, 1, 0, "auth_failed" },
	{ SK_EUNREACHABLE, 1, 1, "unreachable" },
};

static const struct code_info *lookup(int code)
{
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		if (codes[i].code == code)
			return &codes[i];
	return &codes[1];
}

int sk_err_exit_code(int code) { return lookup(code)->exit; }
const char *sk_err_name(int code) { return lookup(code)->name; }
int sk_err_retryable(int code) { return lookup(code)->retryable; }

void sk_err_clear(struct sk_err *err)
{
	if (!err)
		return;
	err->code = 0;
	err->message[0] = '\0';
	err->hint[0] = '\0';
}

int sk_err_set(struct sk_err *err, int code, const char *hint, const char *fmt, ...)
{
	if (!err)
		return code;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	snprintf(err->hint, sizeof(err->hint), "%s", hint ? hint : "");
	err->code = code;
	return code;
}

int sk_err_wrap(struct sk_err *err, const char *fmt, ...)
{
	if (!err)
		return SK_EFAIL;
	char prefix[SK_ERR_MSG], joined[2 * SK_ERR_MSG + 2];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	snprintf(joined, sizeof(joined), "%s: %s", prefix, err->message);
	memcpy(err->message, joined, sizeof(err->message) - 1);
	err->message[sizeof(err->message) - 1] = '\0';
	return err->code;
}

int sk_err_errno(struct sk_err *err, int errnum, const char *what, const char *path)
{
	int code;
	const char *hint = NULL;
	switch (errnum) {
	case ENOSPC:
	case EDQUOT:
		code = SK_ENOSPC;
		hint = "free disk space, then retry";
		break;
	case EROFS:
	case EACCES:
	case EPERM:
		code = SK_EREADONLY;
		hint = "the repository is not writable by this user";
		break;
	case ENOENT:
		code = SK_ENOTFOUND;
		break;
	case ENOMEM:
		code = SK_ENOMEM;
		break;
	default:
		code = SK_EIO;
	}
	return sk_err_set(err, code, hint, "%s %s: %s", what, path ? path : "", strerror(errnum));
}
