/*
 * Ref names and ref patterns. A name is checked here before it reaches the
 * file system, so every path built from a ref is "<repo>/.skiff/" + name
 * with no way to climb out ("..", "/x"), collide with a lock file
 * ("*.lock"), hide (".x") or read as an option ("-x"). Patterns are the
 * globs of the trust policy: '*' within one component, a component of
 * exactly "**" any number of components, zero included.
 */
#include "refs/refs.h"

#include <stdio.h>
#include <string.h>

/* Copies s into buf for an error message, escaping everything that is not
 * printable ASCII, so a hostile name can neither break a terminal nor make
 * the JSON error document invalid UTF-8. */
static const char *quote_name(const char *s, char *buf, size_t n)
{
	size_t o = 0;
	for (; *s && o + 5 < n; s++) {
		unsigned char c = (unsigned char)*s;
		if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
			buf[o++] = (char)c;
		else
			o += (size_t)snprintf(buf + o, n - o, "\\x%02x", c);
	}
	if (*s && o + 4 <= n) {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o] = '\0';
	return buf;
}

static int name_char_ok(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '_' || c == '-';
}

/* Checks one component [c, c+len); returns a reason or NULL. */
static const char *component_problem(const char *c, size_t len)
{
	if (len == 0)
		return "has an empty component";
	if (c[0] == '.')
		return "has a component starting with '.'";
	if (c[0] == '-')
		return "has a component starting with '-'";
	for (size_t i = 0; i < len; i++)
		if (!name_char_ok(c[i]))
			return "contains a character outside [A-Za-z0-9._-]";
	if (len >= 5 && memcmp(c + len - 5, ".lock", 5) == 0)
		return "has a component ending in .lock";
	return NULL;
}

static const char *name_problem(const char *name)
{
	size_t len = strlen(name);
	if (len > SK_REF_MAX)
		return "is longer than 255 bytes";
	if (strncmp(name, "refs/", 5) != 0)
		return "does not start with refs/";
	if (strstr(name, ".."))
		return "contains ..";
	const char *p = name + 5;
	for (;;) {
		const char *slash = strchr(p, '/');
		size_t clen = slash ? (size_t)(slash - p) : strlen(p);
		const char *why = component_problem(p, clen);
		if (why)
			return why;
		if (!slash)
			return NULL;
		p = slash + 1;
	}
}

int sk_ref_name_check(const char *name, struct sk_err *err)
{
	if (!name)
		return sk_err_set(err, SK_EINVAL, NULL, "missing ref name");
	const char *why = name_problem(name);
	if (!why)
		return 0;
	char q[96];
	return sk_err_set(err, SK_EINVAL,
			  "ref names are refs/ followed by components of [A-Za-z0-9._-], "
			  "for example refs/services/payments-api",
			  "invalid ref name \"%s\": it %s", quote_name(name, q, sizeof(q)), why);
}

/* Glob match of one component: '*' is any run of characters. Iterative
 * with one backtrack point, so the cost stays linear-ish on hostile input. */
static int component_match(const char *p, size_t plen, const char *s, size_t slen)
{
	size_t pi = 0, si = 0, star_p = (size_t)-1, star_s = 0;
	while (si < slen) {
		if (pi < plen && p[pi] == '*') {
			star_p = pi++;
			star_s = si;
		} else if (pi < plen && p[pi] == s[si]) {
			pi++;
			si++;
		} else if (star_p != (size_t)-1) {
			pi = star_p + 1;
			si = ++star_s;
		} else {
			return 0;
		}
	}
	while (pi < plen && p[pi] == '*')
		pi++;
	return pi == plen;
}

static size_t comp_len(const char *s)
{
	const char *slash = strchr(s, '/');
	return slash ? (size_t)(slash - s) : strlen(s);
}

/* Splits s at '/' into at most max components; -1 when there are more.
 * An empty string has no components. */
static int split(const char *s, const char **c, size_t *len, int max)
{
	int n = 0;
	while (*s) {
		if (n == max)
			return -1;
		c[n] = s;
		len[n] = comp_len(s);
		s += len[n];
		n++;
		if (*s == '/')
			s++;
	}
	return n;
}

#define MAX_COMPONENTS 128 /* a ref name has at most 255 bytes */

/* Dynamic programming over (pattern component, name component): linear in
 * the product of their counts, whatever the mix of "**" in the pattern
 * (a backtracking matcher is exponential in the number of "**"). */
int sk_ref_pattern_match(const char *pattern, const char *name)
{
	const char *pc[MAX_COMPONENTS], *nc[MAX_COMPONENTS];
	size_t pl[MAX_COMPONENTS], nl[MAX_COMPONENTS];
	if (!pattern || !name)
		return 0;
	int np = split(pattern, pc, pl, MAX_COMPONENTS), nn = split(name, nc, nl, MAX_COMPONENTS);
	if (np < 0 || nn < 0)
		return 0;
	/* m[i][j]: pattern components i.. match name components j.. */
	static _Thread_local unsigned char m[MAX_COMPONENTS + 1][MAX_COMPONENTS + 1];
	for (int j = 0; j <= nn; j++)
		m[np][j] = j == nn;
	for (int i = np - 1; i >= 0; i--) {
		int globstar = pl[i] == 2 && pc[i][0] == '*' && pc[i][1] == '*';
		for (int j = nn; j >= 0; j--)
			m[i][j] = globstar ? (m[i + 1][j] || (j < nn && m[i][j + 1]))
					   : (j < nn && component_match(pc[i], pl[i], nc[j], nl[j]) &&
					      m[i + 1][j + 1]);
	}
	return m[0][0];
}

const char *sk_refs_record_name(const char *name, char *buf, size_t n)
{
	if (strncmp(name, SK_REFS_REMOTES, strlen(SK_REFS_REMOTES)) != 0)
		return name;
	const char *rest = strchr(name + strlen(SK_REFS_REMOTES), '/');
	if (!rest || !strchr(rest + 1, '/'))
		return name;
	snprintf(buf, n, "refs%s", rest);
	return buf;
}
