/*
 * Errors. Every fallible function returns 0 or a negative SK_E… code and
 * fills a struct sk_err with a message for people and a hint naming the
 * next safe step. One table (err.c) maps each code to the process exit
 * code and the stable JSON error code, so the CLI contract is written once.
 */
#ifndef SK_ERR_H
#define SK_ERR_H

#include <stdarg.h>

enum sk_code {
	SK_OK = 0,
	SK_EFAIL = -1,       /* generic failure                       exit 1 */
	SK_EUSAGE = -2,      /* bad command line                      exit 2 */
	SK_ECONFLICT = -3,   /* CAS lost, precondition failed         exit 3 */
	SK_EVERIFY = -4,     /* generic verification failure          exit 4 */
	SK_EAPPROVAL = -5,   /* approval required                     exit 5 */
	SK_EPAUSED = -6,     /* paused at a gate                      exit 6 */
	SK_ENOTFOUND = -7,   /* object, ref, key not found            exit 7 */
	SK_EEXISTS = -8,     /* create-only target exists             exit 3 */
	SK_ELOCKED = -9,     /* lock file present                     exit 3 */
	SK_EINVAL = -10,     /* malformed input (JSON, type, name)    exit 1 */
	SK_EIO = -11,        /* I/O error                             exit 1 */
	SK_ENOSPC = -12,     /* disk full                             exit 1 */
	SK_EREADONLY = -13,  /* read-only file system or permission   exit 1 */
	SK_ECORRUPT = -14,   /* stored bytes fail hash/format checks  exit 4 */
	SK_ETOOBIG = -15,    /* size cap hit (decompression bomb)     exit 4 */
	SK_EAMBIGUOUS = -16, /* oid prefix matches several objects    exit 2 */
	SK_ESIGNATURE = -17, /* bad signature                         exit 4 */
	SK_EROLE = -18,      /* signer lacks the role for this ref    exit 4 */
	SK_EROLLBACK = -19,  /* seq below the highest seen            exit 4 */
	SK_EKEYPERM = -20,   /* private key readable by others        exit 1 */
	SK_ENOREPO = -21,    /* no repository found                   exit 1 */
	SK_ENOMEM = -22,     /* out of memory                         exit 1 */
	SK_EIDENTITY = -23,  /* no usable identity                    exit 1 */
	SK_EAUTH = -24,      /* remote refused or lacks credentials   exit 1 */
	SK_EUNREACHABLE = -25, /* remote endpoint cannot be reached   exit 1 */
	SK_ECODE_MIN = -25
};

#define SK_ERR_MSG 512
#define SK_ERR_HINT 512

struct sk_err {
	int code;
	char message[SK_ERR_MSG];
	char hint[SK_ERR_HINT];
};

/* Sets err (when non-NULL) and returns code, so callers can
 * `return sk_err_set(err, SK_EINVAL, "hint", "bad %s", x);`.
 * hint may be NULL. */
int sk_err_set(struct sk_err *err, int code, const char *hint, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Prefixes the existing message with context ("reading ref X: ..."). */
int sk_err_wrap(struct sk_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Maps errno from a failed syscall to a code (ENOSPC, EROFS, EACCES, ENOENT…). */
int sk_err_errno(struct sk_err *err, int errnum, const char *what, const char *path);
void sk_err_clear(struct sk_err *err);

int sk_err_exit_code(int code);         /* process exit status for code */
const char *sk_err_name(int code);      /* stable JSON code, e.g. "cas_conflict" */
int sk_err_retryable(int code);

#endif
