/*
 * Identities: ed25519 keys on disk and domain-separated signatures.
 *
 * Invariants: a private key file is created exclusively with mode 0600 and
 * never overwritten; one readable by group or others is refused on load
 * (as ssh does), because a key someone else could read no longer
 * identifies its owner. The 32-byte seed and the expanded secret key live
 * only inside struct sk_key and are wiped on free. Every signature covers
 * DOMAIN "\0" MESSAGE, so a signature made for one kind of document can
 * never be replayed as another.
 */
#include "objects/trust.h"
#include "refs/keys.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fs.h"

#define SECRET_PREFIX "skiff-secret-key-v1 "
#define PUBLIC_PREFIX "skiff-ed25519 "

struct sk_key {
	char name[SK_KEY_NAME_MAX + 1];
	char id[SK_KEYID_HEXSZ + 1];
	char *path;
	unsigned char pub[crypto_sign_PUBLICKEYBYTES];
	unsigned char secret[crypto_sign_SECRETKEYBYTES];
};

static int sodium_ready(void)
{
	/* sodium_init is idempotent; 1 means already initialised. */
	return sodium_init() < 0 ? -1 : 0;
}

int sk_key_name_check(const char *name, struct sk_err *err)
{
	static const char *const hint = "key names are 1-64 characters of [A-Za-z0-9._-], "
					"not starting with '.' or '-'";
	size_t len = name ? strlen(name) : 0;
	if (len == 0 || len > SK_KEY_NAME_MAX)
		return sk_err_set(err, SK_EINVAL, hint, "invalid key name: must be 1-64 characters");
	if (name[0] == '.' || name[0] == '-')
		return sk_err_set(err, SK_EINVAL, hint, "invalid key name: starts with '%c'", name[0]);
	for (size_t i = 0; i < len; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return sk_err_set(err, SK_EINVAL, hint,
					  "invalid key name: contains a character outside [A-Za-z0-9._-]");
	}
	return 0;
}

char *sk_key_dir(void)
{
	const char *xdg = getenv("XDG_CONFIG_HOME");
	if (xdg && xdg[0] == '/')
		return sk_path_join(xdg, "skiff/keys");
	const char *home = getenv("HOME");
	if (!home || !*home) {
		struct passwd *pw = getpwuid(getuid());
		home = pw && pw->pw_dir ? pw->pw_dir : "/";
	}
	return sk_path_join(home, ".config/skiff/keys");
}

void sk_key_id_of(const unsigned char pub[32], char out[SK_KEYID_HEXSZ + 1])
{
	sk_trust_key_id(pub, out);
}

/* Exactly 64 lowercase hex digits into 32 bytes. */
static int hex32(const char *hex, size_t len, unsigned char out[32])
{
	if (len != 64)
		return -1;
	for (size_t i = 0; i < len; i++)
		if (!((hex[i] >= '0' && hex[i] <= '9') || (hex[i] >= 'a' && hex[i] <= 'f')))
			return -1;
	size_t bin_len = 0;
	if (sodium_hex2bin(out, 32, hex, len, NULL, &bin_len, NULL) != 0 || bin_len != 32)
		return -1;
	return 0;
}

static struct sk_key *key_from_seed(const char *name, const unsigned char seed[32],
				    const char *path)
{
	struct sk_key *k = calloc(1, sizeof(*k));
	if (!k)
		abort();
	snprintf(k->name, sizeof(k->name), "%s", name);
	crypto_sign_seed_keypair(k->pub, k->secret, seed);
	sk_key_id_of(k->pub, k->id);
	k->path = strdup(path);
	if (!k->path)
		abort();
	return k;
}

void sk_key_free(struct sk_key *k)
{
	if (!k)
		return;
	free(k->path);
	sodium_memzero(k, sizeof(*k));
	free(k);
}

const char *sk_key_name(const struct sk_key *k) { return k->name; }
const char *sk_key_id(const struct sk_key *k) { return k->id; }
const unsigned char *sk_key_public(const struct sk_key *k) { return k->pub; }

char *sk_key_path(const struct sk_key *k)
{
	char *p = strdup(k->path);
	if (!p)
		abort();
	return p;
}

static char *public_string(const unsigned char pub[32])
{
	size_t n = sizeof(PUBLIC_PREFIX) + 64 + 1; /* room for a newline */
	char *s = malloc(n);
	if (!s)
		abort();
	memcpy(s, PUBLIC_PREFIX, sizeof(PUBLIC_PREFIX) - 1);
	sodium_bin2hex(s + sizeof(PUBLIC_PREFIX) - 1, 65, pub, 32);
	return s;
}

char *sk_key_public_string(const struct sk_key *k) { return public_string(k->pub); }

/* "<dir>/<name><ext>", malloc'd. */
static char *key_file(const char *dir, const char *name, const char *ext)
{
	size_t n = strlen(dir) + strlen(name) + strlen(ext) + 2;
	char *p = malloc(n);
	if (!p)
		abort();
	snprintf(p, n, "%s/%s%s", dir, name, ext);
	return p;
}

static int write_key_files(const char *dir, const struct sk_key *k, const unsigned char seed[32],
			   struct sk_err *err)
{
	char line[sizeof(SECRET_PREFIX) + 66];
	memcpy(line, SECRET_PREFIX, sizeof(SECRET_PREFIX) - 1);
	sodium_bin2hex(line + sizeof(SECRET_PREFIX) - 1, 65, seed, 32);
	strcat(line, "\n");
	int rc = sk_fs_write_new(k->path, line, strlen(line), 0600, err);
	sodium_memzero(line, sizeof(line));
	if (rc == SK_EEXISTS)
		return sk_err_set(err, SK_EEXISTS,
				  "choose another name, or use the existing key with --identity; "
				  "keys are never overwritten",
				  "key %s already exists at %s", k->name, k->path);
	if (rc < 0)
		return rc;
	/* The .pub file is derived from the key, so replacing a stale one
	 * is always right. */
	char *pub = public_string(k->pub);
	char *pub_path = key_file(dir, k->name, ".pub");
	strcat(pub, "\n");
	rc = sk_fs_write_atomic(pub_path, pub, strlen(pub), 0644, err);
	free(pub);
	free(pub_path);
	return rc;
}

int sk_key_generate(struct sk_key **out, const char *name, struct sk_err *err)
{
	*out = NULL;
	int rc = sk_key_name_check(name, err);
	if (rc < 0)
		return rc;
	if (sodium_ready() < 0)
		return sk_err_set(err, SK_EFAIL, NULL, "libsodium failed to initialise");
	char *dir = sk_key_dir();
	rc = sk_fs_mkdirs(dir, 1, err);
	if (rc == 0) {
		unsigned char seed[32];
		randombytes_buf(seed, sizeof(seed));
		char *path = key_file(dir, name, ".key");
		struct sk_key *k = key_from_seed(name, seed, path);
		free(path);
		rc = write_key_files(dir, k, seed, err);
		sodium_memzero(seed, sizeof(seed));
		if (rc < 0)
			sk_key_free(k);
		else
			*out = k;
	}
	free(dir);
	return rc;
}

/* Reads a private key file through one descriptor, so the permission check
 * and the read see the same file. */
static int read_secret_file(const char *path, char *buf, size_t cap, size_t *len,
			    struct sk_err *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return sk_err_set(err, SK_ENOTFOUND,
					  "create one with `skiff keygen NAME`, or pass --identity NAME|PATH",
					  "no private key at %s", path);
		return sk_err_errno(err, errno, "cannot open key", path);
	}
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return sk_err_set(err, SK_EINVAL, NULL, "%s is not a regular file", path);
	}
	if (st.st_mode & 077) {
		close(fd);
		char hint[SK_ERR_HINT];
		snprintf(hint, sizeof(hint), "chmod 600 %s", path);
		return sk_err_set(err, SK_EKEYPERM, hint,
				  "private key %s is accessible by group or others (mode %04o); refusing to use it",
				  path, (unsigned)(st.st_mode & 07777));
	}
	ssize_t n = read(fd, buf, cap);
	int e = errno;
	close(fd);
	if (n < 0)
		return sk_err_errno(err, e, "cannot read key", path);
	*len = (size_t)n;
	return 0;
}

static int parse_secret(const char *buf, size_t len, unsigned char seed[32])
{
	size_t plen = sizeof(SECRET_PREFIX) - 1;
	if (len > 0 && buf[len - 1] == '\n')
		len--;
	if (len != plen + 64 || memcmp(buf, SECRET_PREFIX, plen) != 0)
		return -1;
	return hex32(buf + plen, 64, seed);
}

/* Name of a key loaded by path: its file name without ".key". */
static void name_from_path(const char *path, char out[SK_KEY_NAME_MAX + 1])
{
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	size_t n = strlen(base);
	if (n > 4 && strcmp(base + n - 4, ".key") == 0)
		n -= 4;
	if (n > SK_KEY_NAME_MAX)
		n = SK_KEY_NAME_MAX;
	memcpy(out, base, n);
	out[n] = '\0';
}

static int is_path(const char *s)
{
	size_t n = strlen(s);
	return strchr(s, '/') || (n > 4 && strcmp(s + n - 4, ".key") == 0);
}

int sk_key_load(struct sk_key **out, const char *name_or_path, struct sk_err *err)
{
	*out = NULL;
	if (!name_or_path || !*name_or_path)
		return sk_err_set(err, SK_EIDENTITY, "pass --identity NAME|PATH or set SKIFF_IDENTITY",
				  "no identity given");
	char *path, name[SK_KEY_NAME_MAX + 1];
	if (is_path(name_or_path)) {
		path = strdup(name_or_path);
		if (!path)
			abort();
		name_from_path(path, name);
	} else {
		int rc = sk_key_name_check(name_or_path, err);
		if (rc < 0)
			return rc;
		char *dir = sk_key_dir();
		path = key_file(dir, name_or_path, ".key");
		free(dir);
		snprintf(name, sizeof(name), "%s", name_or_path);
	}
	if (sodium_ready() < 0) {
		free(path);
		return sk_err_set(err, SK_EFAIL, NULL, "libsodium failed to initialise");
	}
	char buf[256];
	size_t len = 0;
	unsigned char seed[32];
	int rc = read_secret_file(path, buf, sizeof(buf), &len, err);
	if (rc == 0 && parse_secret(buf, len, seed) < 0)
		rc = sk_err_set(err, SK_EINVAL, NULL,
				"%s is not a skiff private key (expected \"%s<64 hex>\")", path,
				SECRET_PREFIX);
	if (rc == 0)
		*out = key_from_seed(name, seed, path);
	sodium_memzero(buf, sizeof(buf));
	sodium_memzero(seed, sizeof(seed));
	free(path);
	return rc;
}

int sk_key_parse_public(const char *s, unsigned char pub[32], struct sk_err *err)
{
	if (!s)
		return sk_err_set(err, SK_EINVAL, NULL, "missing public key");
	size_t plen = sizeof(PUBLIC_PREFIX) - 1;
	if (strncmp(s, PUBLIC_PREFIX, plen) == 0)
		s += plen;
	size_t n = strlen(s);
	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == ' ' || s[n - 1] == '\r'))
		n--;
	if (hex32(s, n, pub) == 0)
		return 0;
	if (!strchr(s, '/') && !(strlen(s) > 4 && strcmp(s + strlen(s) - 4, ".pub") == 0))
		return sk_err_set(err, SK_EINVAL,
				  "give \"skiff-ed25519 <64 hex>\", 64 hex digits, or the path of a .pub file",
				  "not a public key");
	char *data = NULL;
	int rc = sk_fs_read_file(s, 4096, &data, NULL, err);
	if (rc < 0)
		return rc;
	const char *p = data;
	if (strncmp(p, PUBLIC_PREFIX, plen) == 0)
		p += plen;
	n = strlen(p);
	while (n > 0 && (p[n - 1] == '\n' || p[n - 1] == ' ' || p[n - 1] == '\r'))
		n--;
	rc = hex32(p, n, pub) == 0 ? 0
		: sk_err_set(err, SK_EINVAL, NULL, "%s does not hold a skiff public key", s);
	free(data);
	return rc;
}

/* NAME for a NAME.key entry with a valid key name, else NULL. */
static char *key_name_of(const char *entry)
{
	size_t len = strlen(entry);
	if (len <= 4 || strcmp(entry + len - 4, ".key") != 0)
		return NULL;
	char *nm = strndup(entry, len - 4);
	if (!nm)
		abort();
	if (sk_key_name_check(nm, NULL) < 0) {
		free(nm);
		return NULL;
	}
	return nm;
}

/* Public half of key NAME: from NAME.pub, else (if permitted) NAME.key. */
static int public_of(const char *dir, const char *name, unsigned char pub[32])
{
	char *pub_path = key_file(dir, name, ".pub");
	int rc = sk_key_parse_public(pub_path, pub, NULL);
	free(pub_path);
	if (rc == 0)
		return 0;
	char *key_path = key_file(dir, name, ".key");
	struct sk_key *k = NULL;
	rc = sk_key_load(&k, key_path, NULL);
	free(key_path);
	if (rc < 0)
		return rc;
	memcpy(pub, k->pub, 32);
	sk_key_free(k);
	return 0;
}

int sk_key_list(json_t **out, struct sk_err *err)
{
	*out = NULL;
	char *dir = sk_key_dir();
	char **names;
	size_t n;
	int rc = sk_fs_list_names(dir, key_name_of, &names, &n, err);
	if (rc < 0) {
		free(dir);
		return rc;
	}
	json_t *arr = json_array();
	for (size_t i = 0; i < n; i++) {
		unsigned char pub[32];
		if (public_of(dir, names[i], pub) == 0) {
			char id[SK_KEYID_HEXSZ + 1];
			sk_key_id_of(pub, id);
			char *ps = public_string(pub);
			char *path = key_file(dir, names[i], ".key");
			json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:s}", "name", names[i],
							     "id", id, "public", ps, "path", path));
			free(ps);
			free(path);
		}
		free(names[i]);
	}
	free(names);
	free(dir);
	*out = arr;
	return 0;
}

/* The signed message, DOMAIN "\0" MESSAGE (malloc'd, *n bytes), or NULL
 * when out of memory. */
int sk_key_sign(const struct sk_key *k, const char *domain, const void *msg, size_t len,
		unsigned char sig[64])
{
	if (sodium_ready() < 0)
		return SK_EFAIL;
	size_t n;
	unsigned char *buf = sk_sig_message(domain, msg, len, &n);
	if (!buf)
		return SK_ENOMEM;
	crypto_sign_detached(sig, NULL, buf, n, k->secret);
	free(buf);
	return 0;
}
