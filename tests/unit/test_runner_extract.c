/*
 * The runner's safe tar extraction (runner/extract.c), on archives built
 * here with libarchive's writer: a plain tree extracts (files, modes,
 * inner links); an absolute path, "..", a symbolic link to /etc or out of
 * the tree, a hard link outside, a device node and a fifo each refuse the
 * whole archive (SK_EVERIFY) and nothing is written outside dest; setuid
 * and setgid bits are cleared. Also the path rules on their own.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <cmocka.h>

#include "runner/extract.h"
#include "tests/unit/helpers.h"

struct ent {
	const char *path;
	mode_t type;      /* AE_IFREG, AE_IFDIR, AE_IFLNK, AE_IFCHR, AE_IFIFO */
	mode_t perm;
	const char *data; /* file contents, or link target */
	int hard;         /* data is a hard link target */
};

static void write_tar(const char *file, const struct ent *e, size_t n)
{
	struct archive *a = archive_write_new();
	archive_write_set_format_pax_restricted(a);
	assert_int_equal(archive_write_open_filename(a, file), ARCHIVE_OK);
	for (size_t i = 0; i < n; i++) {
		struct archive_entry *ae = archive_entry_new();
		archive_entry_set_pathname(ae, e[i].path);
		archive_entry_set_filetype(ae, e[i].type);
		archive_entry_set_perm(ae, e[i].perm);
		size_t len = 0;
		if (e[i].hard)
			archive_entry_set_hardlink(ae, e[i].data);
		else if (e[i].type == AE_IFLNK)
			archive_entry_set_symlink(ae, e[i].data);
		else if (e[i].type == AE_IFREG && e[i].data)
			len = strlen(e[i].data);
		if (e[i].type == AE_IFCHR)
			archive_entry_set_rdev(ae, makedev(1, 3));
		archive_entry_set_size(ae, (la_int64_t)len);
		assert_true(archive_write_header(a, ae) >= ARCHIVE_WARN);
		if (len)
			assert_int_equal(archive_write_data(a, e[i].data, len), (la_ssize_t)len);
		archive_entry_free(ae);
	}
	archive_write_close(a);
	archive_write_free(a);
}

struct fix {
	char root[64];
	char tar[128], dest[128], outside[128];
};

static int setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));
	if (!f || th_tmpdir(f->root, sizeof(f->root), "untar") < 0)
		return -1;
	snprintf(f->tar, sizeof(f->tar), "%s/a.tar", f->root);
	snprintf(f->dest, sizeof(f->dest), "%s/a/b/tree", f->root);
	snprintf(f->outside, sizeof(f->outside), "%s/a/x", f->root);
	char mid[128];
	snprintf(mid, sizeof(mid), "%s/a", f->root);
	mkdir(mid, 0755);
	snprintf(mid, sizeof(mid), "%s/a/b", f->root);
	mkdir(mid, 0755);
	mkdir(f->dest, 0755);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fix *f = *state;
	th_rmtree(f->root);
	free(f);
	return 0;
}

static const char *at(const struct fix *f, const char *rel)
{
	static char buf[256];
	snprintf(buf, sizeof(buf), "%s/%s", f->dest, rel);
	return buf;
}

static void test_plain_tree(void **state)
{
	struct fix *f = *state;
	struct sk_err err;
	const struct ent e[] = {
		{ "./", AE_IFDIR, 0755, NULL, 0 },
		{ "bin/", AE_IFDIR, 0755, NULL, 0 },
		{ "bin/app", AE_IFREG, 0755, "#!/bin/sh\n", 0 },
		{ "bin/suid", AE_IFREG, 06755, "x", 0 },
		{ "etc/conf", AE_IFREG, 0644, "port=1\n", 0 },
		{ "bin/link", AE_IFLNK, 0777, "../etc/conf", 0 },
		{ "bin/same", AE_IFLNK, 0777, "./app", 0 },
		{ "bin/hard", AE_IFREG, 0755, "bin/app", 1 },
	};
	write_tar(f->tar, e, sizeof(e) / sizeof(e[0]));
	th_must(sk_runner_untar(f->tar, f->dest, &err), &err);
	struct stat st;
	assert_int_equal(stat(at(f, "bin/app"), &st), 0);
	assert_int_equal(st.st_mode & 07777, 0755);
	assert_int_equal(stat(at(f, "bin/suid"), &st), 0);
	assert_int_equal(st.st_mode & 07000, 0); /* setuid and setgid cleared */
	assert_int_equal(lstat(at(f, "bin/link"), &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	assert_int_equal(stat(at(f, "bin/link"), &st), 0); /* resolves inside */
	assert_int_equal(stat(at(f, "bin/hard"), &st), 0);
	assert_int_equal(st.st_nlink, 2);
}

/* The archive is refused as a whole and nothing appears outside dest. */
static void refused(struct fix *f, const struct ent *e, size_t n, const char *needle)
{
	struct sk_err err;
	memset(&err, 0, sizeof(err));
	write_tar(f->tar, e, n);
	int rc = sk_runner_untar(f->tar, f->dest, &err);
	if (rc != SK_EVERIFY || !strstr(err.message, needle))
		fail_msg("%s: rc %d, message '%s' (wanted '%s')", e[n - 1].path, rc, err.message,
			 needle);
	assert_int_equal(access(f->outside, F_OK), -1);
	sk_runner_rmtree(f->dest);
	assert_int_equal(access(f->dest, F_OK), -1);
	mkdir(f->dest, 0755);
}

static void test_refusals(void **state)
{
	struct fix *f = *state;
	char abs[160];
	snprintf(abs, sizeof(abs), "%s", f->outside);
	const struct ent ok = { "ok", AE_IFREG, 0644, "fine", 0 };
	struct ent e[2] = { ok, { abs, AE_IFREG, 0644, "x", 0 } };
	refused(f, e, 2, "absolute path");
	e[1] = (struct ent){ "../x", AE_IFREG, 0644, "x", 0 };
	refused(f, e, 2, "leaves the tree");
	e[1] = (struct ent){ "d/../../x", AE_IFREG, 0644, "x", 0 };
	refused(f, e, 2, "leaves the tree");
	e[1] = (struct ent){ "etc", AE_IFLNK, 0777, "/etc", 0 };
	refused(f, e, 2, "symbolic link");
	e[1] = (struct ent){ "a", AE_IFLNK, 0777, "../../x", 0 };
	refused(f, e, 2, "symbolic link");
	e[1] = (struct ent){ "d/a", AE_IFLNK, 0777, "sub/../../../x", 0 };
	refused(f, e, 2, "symbolic link");
	e[1] = (struct ent){ "h", AE_IFREG, 0644, "../x", 1 };
	refused(f, e, 2, "hard link");
	e[1] = (struct ent){ "h", AE_IFREG, 0644, "/etc/passwd", 1 };
	refused(f, e, 2, "hard link");
	e[1] = (struct ent){ "null", AE_IFCHR, 0666, NULL, 0 };
	refused(f, e, 2, "device");
	e[1] = (struct ent){ "fifo", AE_IFIFO, 0644, NULL, 0 };
	refused(f, e, 2, "fifo");
}

static void test_not_a_tar(void **state)
{
	struct fix *f = *state;
	struct sk_err err;
	FILE *fp = fopen(f->tar, "w");
	fputs("this is not an archive, just some text that goes on for a while\n", fp);
	fclose(fp);
	assert_int_equal(sk_runner_untar(f->tar, f->dest, &err), SK_EVERIFY);
}

static void test_path_rules(void **state)
{
	(void)state;
	int d = -1;
	assert_int_equal(sk_runner_entry_path_ok("a/b/c", &d), 0);
	assert_int_equal(d, 2);
	assert_int_equal(sk_runner_entry_path_ok("./a", &d), 0);
	assert_int_equal(d, 0);
	assert_int_equal(sk_runner_entry_path_ok("a/../b", &d), -1);
	assert_int_equal(sk_runner_entry_path_ok("/a", &d), -1);
	assert_int_equal(sk_runner_entry_path_ok("", &d), -1);
	assert_int_equal(sk_runner_symlink_ok("a/b/l", "../../x"), 0);
	assert_int_equal(sk_runner_symlink_ok("a/b/l", "../../../x"), -1);
	assert_int_equal(sk_runner_symlink_ok("l", "x/y"), 0);
	assert_int_equal(sk_runner_symlink_ok("l", "x/.."), -1); /* x may be a link */
	assert_int_equal(sk_runner_symlink_ok("l", "/x"), -1);
	assert_int_equal(sk_runner_symlink_ok("l", ""), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_plain_tree, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_a_tar, setup, teardown),
		cmocka_unit_test(test_path_rules),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
