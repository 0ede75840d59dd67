/*
 * The S3 client without a server: SigV4 against AWS's published examples
 * (the aws-sig-v4-test-suite with AKIDEXAMPLE, and the S3 guide's
 * examples with AKIAIOSFODNN7EXAMPLE: public test vectors, not
 * credentials), URL parsing, the XML of errors and listings, the retry
 * policy, the status-to-error mapping, and the engine against a closed
 * loopback port. tests/integration/t0100-s3.sh runs it against radosgw.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "helpers.h"
#include "objects/oid.h"
#include "remote-s3/s3.h"
#include "remote-s3/sigv4.h"
#include "remote-s3/xml.h"

/* ---- SigV4 ---------------------------------------------------------- */

#define SUITE_AK "AKIDEXAMPLE"
#define SUITE_SK "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define SUITE_DATE "20150830T123600Z"
#define S3_AK "AKIAIOSFODNN7EXAMPLE"
#define S3_SK "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define S3_DATE "20130524T000000Z"
#define S3_HOST "examplebucket.s3.amazonaws.com"

static const struct sk_sigv4_cred suite_cred = { SUITE_AK, SUITE_SK, "us-east-1", "service" };
static const struct sk_sigv4_cred s3_cred = { S3_AK, S3_SK, "us-east-1", "s3" };

/* The signature part of the Authorization value for req. */
static void signature_of(const struct sk_sigv4_req *req, const struct sk_sigv4_cred *cred,
			 const char *date, char sig[65])
{
	char *auth = NULL;
	struct sk_err err;
	th_must(sk_sigv4_authorization(req, cred, date, &auth, &err), &err);
	const char *s = strstr(auth, "Signature=");
	assert_non_null(s);
	assert_int_equal(strlen(s + 10), 64);
	memcpy(sig, s + 10, 65);
	free(auth);
}

/* A request of the test suite: host example.amazonaws.com, x-amz-date. */
static void suite_sig(const char *method, const char *path, const struct sk_sigv4_pair *q,
		      size_t nq, const struct sk_sigv4_pair *extra, size_t nextra, char sig[65])
{
	struct sk_sigv4_pair h[4] = {
		{ "Host", "example.amazonaws.com" },
		{ "X-Amz-Date", SUITE_DATE },
	};
	size_t nh = 2;
	for (size_t i = 0; i < nextra; i++)
		h[nh++] = extra[i];
	struct sk_sigv4_req r = {
		.method = method, .path = path, .query = q, .nquery = nq,
		.headers = h, .nheaders = nh, .payload_hash = SK_SIGV4_EMPTY_SHA256,
	};
	signature_of(&r, &suite_cred, SUITE_DATE, sig);
}

static void test_sigv4_signing_key(void **state)
{
	(void)state;
	unsigned char key[32];
	char hex[65];
	sk_sigv4_signing_key(SUITE_SK, "20150830", "us-east-1", "iam", key);
	sk_hex(key, 32, hex);
	assert_string_equal(hex, "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9");
}

static void test_sigv4_suite(void **state)
{
	(void)state;
	char sig[65];
	suite_sig("GET", "/", NULL, 0, NULL, 0, sig);
	assert_string_equal(sig, "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
	suite_sig("POST", "/", NULL, 0, NULL, 0, sig);
	assert_string_equal(sig, "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b");
	/* the query is signed sorted, whatever order it comes in */
	struct sk_sigv4_pair q[] = { { "Param2", "value2" }, { "Param1", "value1" } };
	suite_sig("GET", "/", q, 2, NULL, 0, sig);
	assert_string_equal(sig, "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500");
	/* non-ASCII path and query name: UTF-8 bytes percent-encoded once */
	suite_sig("GET", "/\xe1\x88\xb4", NULL, 0, NULL, 0, sig);
	assert_string_equal(sig, "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85");
	struct sk_sigv4_pair uq[] = { { "\xe1\x88\xb4", "bar" } };
	suite_sig("GET", "/", uq, 1, NULL, 0, sig);
	assert_string_equal(sig, "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04");
	suite_sig("GET", "/example space/", NULL, 0, NULL, 0, sig);
	assert_string_equal(sig, "652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741");
	suite_sig("GET", "/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", NULL,
		  0, NULL, 0, sig);
	assert_string_equal(sig, "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f");
	struct sk_sigv4_pair my[] = { { "My-Header1", "value1" } };
	suite_sig("POST", "/", NULL, 0, my, 1, sig);
	assert_string_equal(sig, "c5410059b04c1ee005303aed430f6e6645f61f4dc9e1461ec8f8916fdf18852c");
}

static void test_sigv4_authorization_form(void **state)
{
	(void)state;
	struct sk_sigv4_pair h[] = { { "Host", "example.amazonaws.com" },
				     { "X-Amz-Date", SUITE_DATE } };
	struct sk_sigv4_req r = { .method = "GET", .path = "/", .headers = h, .nheaders = 2,
				  .payload_hash = SK_SIGV4_EMPTY_SHA256 };
	char *auth = NULL;
	struct sk_err err;
	th_must(sk_sigv4_authorization(&r, &suite_cred, SUITE_DATE, &auth, &err), &err);
	assert_string_equal(auth, "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/"
				  "service/aws4_request, SignedHeaders=host;x-amz-date, "
				  "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d"
				  "763fbf31");
	assert_null(strstr(auth, SUITE_SK));
	free(auth);
	assert_int_equal(sk_sigv4_authorization(&r, &suite_cred, "2015-08-30", &auth, &err),
			 SK_EINVAL);
}

static void test_sigv4_s3_get_object(void **state)
{
	(void)state;
	struct sk_sigv4_pair h[] = {
		{ "Host", S3_HOST },
		{ "Range", "bytes=0-9" },
		{ "x-amz-content-sha256", SK_SIGV4_EMPTY_SHA256 },
		{ "x-amz-date", S3_DATE },
	};
	struct sk_sigv4_req r = { .method = "GET", .path = "/test.txt", .headers = h,
				  .nheaders = 4, .payload_hash = SK_SIGV4_EMPTY_SHA256 };
	char *canon = NULL, *names = NULL;
	struct sk_err err;
	th_must(sk_sigv4_canonical(&r, &canon, &names, &err), &err);
	assert_string_equal(canon, "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\n"
				   "range:bytes=0-9\n"
				   "x-amz-content-sha256:" SK_SIGV4_EMPTY_SHA256 "\n"
				   "x-amz-date:20130524T000000Z\n\n"
				   "host;range;x-amz-content-sha256;x-amz-date\n" SK_SIGV4_EMPTY_SHA256);
	assert_string_equal(names, "host;range;x-amz-content-sha256;x-amz-date");
	unsigned char d[32];
	char hex[65];
	sk_sha256(canon, strlen(canon), d);
	sk_hex(d, 32, hex);
	assert_string_equal(hex, "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972");
	free(canon);
	free(names);
	char sig[65];
	signature_of(&r, &s3_cred, S3_DATE, sig);
	assert_string_equal(sig, "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

static void test_sigv4_s3_put_object(void **state)
{
	(void)state;
	const char *body = "Welcome to Amazon S3.";
	unsigned char d[32];
	char hash[65];
	sk_sha256(body, strlen(body), d);
	sk_hex(d, 32, hash);
	assert_string_equal(hash, "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
	struct sk_sigv4_pair h[] = {
		{ "x-amz-storage-class", "REDUCED_REDUNDANCY" },
		{ "Date", "Fri, 24 May 2013 00:00:00 GMT" },
		{ "Host", S3_HOST },
		{ "x-amz-date", S3_DATE },
		{ "x-amz-content-sha256", hash },
	};
	/* '$' in the key is encoded in the path: /test%24file.text */
	struct sk_sigv4_req r = { .method = "PUT", .path = "/test$file.text", .headers = h,
				  .nheaders = 5, .payload_hash = hash };
	char sig[65];
	signature_of(&r, &s3_cred, S3_DATE, sig);
	assert_string_equal(sig, "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
}

static void test_sigv4_s3_bucket_queries(void **state)
{
	(void)state;
	struct sk_sigv4_pair h[] = {
		{ "Host", S3_HOST },
		{ "x-amz-content-sha256", SK_SIGV4_EMPTY_SHA256 },
		{ "x-amz-date", S3_DATE },
	};
	struct sk_sigv4_pair lc[] = { { "lifecycle", "" } };
	struct sk_sigv4_req r = { .method = "GET", .path = "/", .query = lc, .nquery = 1,
				  .headers = h, .nheaders = 3,
				  .payload_hash = SK_SIGV4_EMPTY_SHA256 };
	char sig[65];
	signature_of(&r, &s3_cred, S3_DATE, sig);
	assert_string_equal(sig, "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");
	struct sk_sigv4_pair ls[] = { { "prefix", "J" }, { "max-keys", "2" } };
	r.query = ls;
	r.nquery = 2;
	signature_of(&r, &s3_cred, S3_DATE, sig);
	assert_string_equal(sig, "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
	/* the same query given in canonical form signs the same */
	char *q = NULL;
	struct sk_err err;
	th_must(sk_sigv4_query(ls, 2, &q, &err), &err);
	assert_string_equal(q, "max-keys=2&prefix=J");
	r.query = NULL;
	r.nquery = 0;
	r.canonical_query = q;
	char sig2[65];
	signature_of(&r, &s3_cred, S3_DATE, sig2);
	assert_string_equal(sig, sig2);
	free(q);
}

static void test_sigv4_encoding(void **state)
{
	(void)state;
	char out[64];
	assert_int_equal(sk_sigv4_uri_encode("a b/c+d=\xc3\xa9~", 0, out, sizeof(out)), 23);
	assert_string_equal(out, "a%20b%2Fc%2Bd%3D%C3%A9~");
	sk_sigv4_uri_encode("refs/services/api x", 1, out, sizeof(out));
	assert_string_equal(out, "refs/services/api%20x");
	assert_int_equal(sk_sigv4_uri_encode("\xff\xff", 0, out, 6), (size_t)-1);
	assert_int_equal(sk_sigv4_uri_encode("\xff\xff", 0, out, 7), 6);
	/* header values: trimmed, inner blanks as one space; names lowercased */
	struct sk_sigv4_pair h[] = { { "My-Header", "  a   b \t c  " }, { "HOST", "h" } };
	struct sk_sigv4_req r = { .method = "GET", .path = "", .headers = h, .nheaders = 2,
				  .payload_hash = "x" };
	char *canon = NULL, *names = NULL;
	struct sk_err err;
	th_must(sk_sigv4_canonical(&r, &canon, &names, &err), &err);
	assert_string_equal(canon, "GET\n/\n\nhost:h\nmy-header:a b c\n\nhost;my-header\nx");
	free(canon);
	free(names);
}

/* ---- URLs ----------------------------------------------------------- */

static void url_ok(const char *url, const char *bucket, const char *prefix, const char *endpoint,
		   const char *region, int path_style)
{
	struct sk_s3_url u;
	struct sk_err err;
	th_must(sk_s3_url_parse(url, &u, &err), &err);
	assert_string_equal(u.bucket, bucket);
	assert_string_equal(u.prefix, prefix);
	if (endpoint)
		assert_string_equal(u.endpoint, endpoint);
	else
		assert_null(u.endpoint);
	assert_string_equal(u.region, region);
	assert_int_equal(u.path_style, path_style);
	sk_s3_url_free(&u);
}

static void url_bad(const char *url)
{
	struct sk_s3_url u;
	struct sk_err err;
	int rc = sk_s3_url_parse(url, &u, &err);
	if (rc != SK_EINVAL)
		fail_msg("%s: expected SK_EINVAL, got %d", url, rc);
	assert_true(err.message[0] != '\0');
	assert_true(err.hint[0] != '\0');
	assert_null(u.bucket);
}

static void test_url_parse(void **state)
{
	(void)state;
	unsetenv("AWS_REGION");
	unsetenv("AWS_DEFAULT_REGION");
	url_ok("s3://my-bucket", "my-bucket", "", NULL, "us-east-1", 0);
	url_ok("s3://my-bucket/", "my-bucket", "", NULL, "us-east-1", 0);
	url_ok("s3://my-bucket/team/prod/?endpoint=http://127.0.0.1:7480&region=eu-west-1",
	       "my-bucket", "team/prod", "http://127.0.0.1:7480", "eu-west-1", 1);
	url_ok("s3://bkt?endpoint=http%3A%2F%2F127.0.0.1%3A7480%2F", "bkt", "",
	       "http://127.0.0.1:7480", "us-east-1", 1);
	url_ok("s3://bkt/p?region=ap-south-1&endpoint=https://[::1]:8443", "bkt", "p",
	       "https://[::1]:8443", "ap-south-1", 1);
	url_ok("s3://dotted.bucket/x", "dotted.bucket", "x", NULL, "us-east-1", 1);
	setenv("AWS_DEFAULT_REGION", "eu-central-1", 1);
	url_ok("s3://bkt", "bkt", "", NULL, "eu-central-1", 0);
	setenv("AWS_REGION", "eu-north-1", 1);
	url_ok("s3://bkt", "bkt", "", NULL, "eu-north-1", 0);
	url_ok("s3://bkt?region=us-west-2", "bkt", "", NULL, "us-west-2", 0);
	unsetenv("AWS_REGION");
	unsetenv("AWS_DEFAULT_REGION");
}

static void test_url_refused(void **state)
{
	(void)state;
	const char *bad[] = {
		"http://bucket", "s3://", "s3://ab", "s3://bad!bucket", "s3://bucket//x",
		"s3://bucket/a/../b", "s3://bucket/./b", "s3://bucket?foo=1",
		"s3://bucket?endpoint=ftp://h", "s3://bucket?endpoint=http://h:0",
		"s3://bucket?endpoint=http://h:99999", "s3://bucket?endpoint=http://h/path",
		"s3://bucket?endpoint=http://", "s3://bucket?region=EU",
		"s3://bucket?region=a&region=b", "s3://bucket?endpoint",
		"s3://bucket?endpoint=http%3", "s3://bucket?endpoint=http://h%0a",
		"s3://bucket/a\x01b", "s3://bucket?region=",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		url_bad(bad[i]);
	/* credentials in the URL are refused without being echoed */
	struct sk_s3_url u;
	struct sk_err err;
	assert_int_equal(sk_s3_url_parse("s3://bkt?endpoint=http://AK:s3cr3t@h:1", &u, &err),
			 SK_EINVAL);
	assert_null(strstr(err.message, "s3cr3t"));
	assert_null(strstr(err.hint, "s3cr3t"));
	assert_int_equal(sk_s3_url_parse("s3://bkt?endpoint=http://AK:s3cr3t@h:1&region=X", &u,
					 &err), SK_EINVAL);
	assert_null(strstr(err.message, "s3cr3t"));
}

static void test_credentials(void **state)
{
	(void)state;
	struct sk_s3 *c = NULL;
	struct sk_err err;
	unsetenv("AWS_ACCESS_KEY_ID");
	setenv("AWS_SECRET_ACCESS_KEY", "not-printed-secret", 1);
	assert_int_equal(sk_s3_new(&c, "s3://bkt?endpoint=http://127.0.0.1:1", NULL, &err),
			 SK_EAUTH);
	assert_null(c);
	assert_non_null(strstr(err.hint, "AWS_ACCESS_KEY_ID"));
	assert_null(strstr(err.message, "not-printed-secret"));
	assert_int_equal(sk_err_exit_code(SK_EAUTH), 1);
	assert_string_equal(sk_err_name(SK_EAUTH), "auth_failed");
	setenv("AWS_ACCESS_KEY_ID", "AK", 1);
	unsetenv("AWS_SECRET_ACCESS_KEY");
	assert_int_equal(sk_s3_new(&c, "s3://bkt", NULL, &err), SK_EAUTH);
	setenv("AWS_SECRET_ACCESS_KEY", "not-printed-secret", 1);
	th_must(sk_s3_new(&c, "s3://bkt/p?endpoint=http://127.0.0.1:1", NULL, &err), &err);
	assert_string_equal(sk_s3_url(c)->prefix, "p");
	assert_string_equal(sk_s3_describe(c, "refs/x"), "s3://bkt/p/refs/x");
	assert_int_equal(sk_s3_requests(c), 0);
	sk_s3_free(c);
	assert_int_equal(sk_s3_new(&c, "s3://b", NULL, &err), SK_EINVAL);
}

/* ---- XML ------------------------------------------------------------ */

static void test_xml_error(void **state)
{
	(void)state;
	struct sk_s3_xml_error e;
	const char *doc = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
			  "<Error><Code>NoSuchKey</Code><Message>The specified key does not "
			  "exist.</Message><Key>a&amp;b</Key><RequestId>tx1</RequestId></Error>";
	assert_int_equal(sk_s3_xml_error_parse(doc, strlen(doc), &e), 0);
	assert_string_equal(e.code, "NoSuchKey");
	assert_string_equal(e.message, "The specified key does not exist.");
	/* RGW's form: no Message */
	const char *rgw = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>"
			  "PreconditionFailed</Code><BucketName>b</BucketName></Error>";
	assert_int_equal(sk_s3_xml_error_parse(rgw, strlen(rgw), &e), 0);
	assert_string_equal(e.code, "PreconditionFailed");
	assert_string_equal(e.message, "");
	/* control bytes and non-ASCII come out as '?' */
	const char *ctl = "<Error><Code>X</Code><Message>a&#10;b\xc3\xa9</Message></Error>";
	assert_int_equal(sk_s3_xml_error_parse(ctl, strlen(ctl), &e), 0);
	assert_string_equal(e.message, "a?b??");
	/* a long message is cut to its cap, not refused */
	char big[2048];
	int n = snprintf(big, sizeof(big), "<Error><Code>C</Code><Message>");
	memset(big + n, 'm', 1000);
	snprintf(big + n + 1000, sizeof(big) - (size_t)n - 1000, "</Message></Error>");
	assert_int_equal(sk_s3_xml_error_parse(big, strlen(big), &e), 0);
	assert_int_equal(strlen(e.message), SK_S3_MESSAGE_MAX - 1);
	const char *bad[] = {
		"", "not xml", "<Other><Code>X</Code></Other>", "<Error><Message>m</Message></Error>",
		"<Error><Code>X</Code>", "<Error><Code></Code></Error>",
		"<!DOCTYPE Error [<!ENTITY a \"aaaa\">]><Error><Code>&a;</Code></Error>",
		"<Error><Code>AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
		"</Code></Error>",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(sk_s3_xml_error_parse(bad[i], strlen(bad[i]), &e), -1);
		assert_string_equal(e.code, "");
	}
}

static int list_parse(const char *doc, struct sk_s3_page *pg)
{
	struct sk_err err;
	int rc = sk_s3_xml_list_parse(doc, strlen(doc), pg, &err);
	if (rc)
		assert_non_null(strstr(err.message, "malformed ListObjectsV2"));
	return rc;
}

static void test_xml_list(void **state)
{
	(void)state;
	const char *doc =
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
		"<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
		"<Name>b</Name><Prefix>p/</Prefix><KeyCount>2</KeyCount><MaxKeys>2</MaxKeys>"
		"<IsTruncated>true</IsTruncated>"
		"<Contents><Key>p/a&amp;b</Key><LastModified>2024-01-01T00:00:00.000Z</LastModified>"
		"<ETag>&quot;0cc175b9c0f1b6a831c399e269772661&quot;</ETag><Size>1</Size>"
		"<StorageClass>STANDARD</StorageClass><Owner><ID>x</ID></Owner></Contents>"
		"<Contents><Key>p/\xc3\xa9</Key><Size>18446744073709551615</Size></Contents>"
		"<NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>"
		"<Future><Contents><Key>ignored</Key></Contents></Future>"
		"</ListBucketResult>";
	struct sk_s3_page pg;
	assert_int_equal(list_parse(doc, &pg), 0);
	assert_int_equal(pg.n, 2);
	assert_string_equal(pg.entries[0].key, "p/a&b");
	assert_int_equal(pg.entries[0].size, 1);
	assert_string_equal(pg.entries[0].etag, "0cc175b9c0f1b6a831c399e269772661");
	assert_string_equal(pg.entries[1].key, "p/\xc3\xa9");
	assert_true(pg.entries[1].size == UINT64_MAX);
	assert_string_equal(pg.entries[1].etag, "");
	assert_true(pg.truncated);
	assert_string_equal(pg.next_token, "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=");
	sk_s3_page_free(&pg);
	const char *last = "<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>";
	assert_int_equal(list_parse(last, &pg), 0);
	assert_int_equal(pg.n, 0);
	assert_false(pg.truncated);
	assert_null(pg.next_token);
	sk_s3_page_free(&pg);
}

static void test_xml_list_refused(void **state)
{
	(void)state;
	char longkey[1200 + 80];
	int n = snprintf(longkey, sizeof(longkey), "<ListBucketResult><Contents><Key>");
	memset(longkey + n, 'k', SK_S3_KEY_MAX + 1);
	snprintf(longkey + n + SK_S3_KEY_MAX + 1, 64, "</Key></Contents></ListBucketResult>");
	const char *bad[] = {
		"<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>",
		"<ListBucketResult><IsTruncated>yes</IsTruncated></ListBucketResult>",
		"<ListBucketResult><Contents><Size>1</Size></Contents></ListBucketResult>",
		"<ListBucketResult><Contents><Key>a</Key><Size>-1</Size></Contents></ListBucketResult>",
		"<ListBucketResult><Contents><Key>a</Key><Size>18446744073709551616</Size></Contents>"
		"</ListBucketResult>",
		"<ListBucketResult><Contents><Key>a</Key><Key>b</Key></Contents></ListBucketResult>",
		"<ListBucketResult><Contents><Key>a<b/></Key></Contents></ListBucketResult>",
		"<ListBucketResult><Contents><Key></Key></Contents></ListBucketResult>",
		"<ListAllMyBucketsResult></ListAllMyBucketsResult>",
		"<Error><Code>AccessDenied</Code></Error>",
		"<ListBucketResult><Contents><Key>a</Key></Contents>",
		"<!DOCTYPE l [<!ENTITY a \"x\"><!ENTITY b \"&a;&a;&a;&a;\">]>"
		"<ListBucketResult><Contents><Key>&b;</Key></Contents></ListBucketResult>",
		"<ListBucketResult><NextContinuationToken></NextContinuationToken>"
		"<IsTruncated>true</IsTruncated></ListBucketResult>",
		longkey,
	};
	struct sk_s3_page pg;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (list_parse(bad[i], &pg) != SK_EINVAL)
			fail_msg("accepted: %.80s", bad[i]);
		assert_null(pg.entries);
	}
	/* more entries than a page may hold */
	size_t cap = (SK_S3_PAGE_MAX + 2) * 40 + 64, off = 0;
	char *many = malloc(cap);
	assert_non_null(many);
	off += (size_t)snprintf(many, cap, "<ListBucketResult>");
	for (int i = 0; i <= SK_S3_PAGE_MAX; i++)
		off += (size_t)snprintf(many + off, cap - off, "<Contents><Key>k%d</Key></Contents>", i);
	snprintf(many + off, cap - off, "</ListBucketResult>");
	assert_int_equal(list_parse(many, &pg), SK_EINVAL);
	free(many);
}

static void test_etag_clean(void **state)
{
	(void)state;
	char out[SK_S3_ETAG_MAX];
	assert_int_equal(sk_s3_etag_clean("\"abc\"", 5, out), 0);
	assert_string_equal(out, "abc");
	assert_int_equal(sk_s3_etag_clean(" W/\"d41d8cd9-2\"\r\n", 17, out), 0);
	assert_string_equal(out, "d41d8cd9-2");
	assert_int_equal(sk_s3_etag_clean("abc", 3, out), 0);
	assert_string_equal(out, "abc");
	assert_int_equal(sk_s3_etag_clean("\"\"", 2, out), -1);
	assert_int_equal(sk_s3_etag_clean("a b", 3, out), -1);
	assert_int_equal(sk_s3_etag_clean("a\"b", 3, out), -1);
	assert_int_equal(sk_s3_etag_clean("a,b", 3, out), -1);
	assert_int_equal(sk_s3_etag_clean("a\xc3\xa9", 3, out), -1);
	char big[SK_S3_ETAG_MAX + 1];
	memset(big, 'e', sizeof(big));
	assert_int_equal(sk_s3_etag_clean(big, SK_S3_ETAG_MAX, out), -1);
	assert_int_equal(sk_s3_etag_clean(big, SK_S3_ETAG_MAX - 1, out), 0);
}

/* ---- retries and errors --------------------------------------------- */

static void test_retry_policy(void **state)
{
	(void)state;
	long yes[] = { 500, 502, 503, 504, 429, 599 };
	long no[] = { 200, 204, 301, 400, 401, 403, 404, 409, 412, 413, 501 };
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		assert_int_equal(sk_s3_retryable(0, yes[i]), 1);
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		assert_int_equal(sk_s3_retryable(0, no[i]), 0);
	int cyes[] = { CURLE_COULDNT_CONNECT, CURLE_COULDNT_RESOLVE_HOST, CURLE_OPERATION_TIMEDOUT,
		       CURLE_SEND_ERROR, CURLE_RECV_ERROR, CURLE_GOT_NOTHING, CURLE_PARTIAL_FILE };
	int cno[] = { CURLE_PEER_FAILED_VERIFICATION, CURLE_WRITE_ERROR, CURLE_URL_MALFORMAT,
		      CURLE_OUT_OF_MEMORY, CURLE_ABORTED_BY_CALLBACK };
	for (size_t i = 0; i < sizeof(cyes) / sizeof(cyes[0]); i++)
		assert_int_equal(sk_s3_retryable(cyes[i], 0), 1);
	for (size_t i = 0; i < sizeof(cno) / sizeof(cno[0]); i++)
		assert_int_equal(sk_s3_retryable(cno[i], 0), 0);
}

static void test_backoff(void **state)
{
	(void)state;
	assert_int_equal(sk_s3_backoff_ms(2, 200, 5000, 0.0), 100);
	assert_int_equal(sk_s3_backoff_ms(2, 200, 5000, 0.999), 199);
	assert_int_equal(sk_s3_backoff_ms(3, 200, 5000, 0.0), 200);
	assert_int_equal(sk_s3_backoff_ms(4, 200, 5000, 0.5), 600);
	/* capped: never above max, never below half of it */
	for (unsigned a = 2; a < 64; a++)
		for (double r = 0; r < 1; r += 0.25) {
			unsigned d = sk_s3_backoff_ms(a, 200, 5000, r);
			assert_true(d <= 5000);
			assert_true(d >= (a >= 7 ? 2500u : 100u));
			assert_true(sk_s3_backoff_ms(a + 1, 200, 5000, r) >= d);
		}
	/* out-of-range jitter is clamped */
	assert_int_equal(sk_s3_backoff_ms(2, 200, 5000, -3), 100);
	assert_true(sk_s3_backoff_ms(2, 200, 5000, 7) < 200);
}

static int http_err(long status, const char *body, struct sk_err *err)
{
	return sk_s3_http_error(status, body, body ? strlen(body) : 0, "GET s3://b/k",
				"http://127.0.0.1:7480", err);
}

static void test_http_errors(void **state)
{
	(void)state;
	struct sk_err err;
	assert_int_equal(http_err(404, "<Error><Code>NoSuchKey</Code></Error>", &err), SK_ENOTFOUND);
	assert_non_null(strstr(err.message, "GET s3://b/k"));
	assert_non_null(strstr(err.message, "NoSuchKey"));
	assert_int_equal(http_err(404, NULL, &err), SK_ENOTFOUND);
	assert_int_equal(http_err(404, "<Error><Code>NoSuchBucket</Code></Error>", &err),
			 SK_ENOTFOUND);
	assert_non_null(strstr(err.hint, "bucket"));
	assert_int_equal(http_err(412, "<Error><Code>PreconditionFailed</Code></Error>", &err),
			 SK_ECONFLICT);
	assert_int_equal(sk_err_exit_code(SK_ECONFLICT), 3);
	assert_int_equal(http_err(409, "<Error><Code>ConditionalRequestConflict</Code></Error>",
				  &err), SK_ECONFLICT);
	const char *auth[] = { "SignatureDoesNotMatch", "InvalidAccessKeyId", "AccessDenied",
			       "ExpiredToken" };
	for (size_t i = 0; i < 4; i++) {
		char body[128];
		snprintf(body, sizeof(body), "<Error><Code>%s</Code></Error>", auth[i]);
		assert_int_equal(http_err(403, body, &err), SK_EAUTH);
		assert_non_null(strstr(err.message, auth[i]));
		assert_non_null(strstr(err.hint, "AWS_SECRET_ACCESS_KEY"));
		assert_non_null(strstr(err.hint, "http://127.0.0.1:7480"));
	}
	assert_int_equal(http_err(403, "<html>no</html>", &err), SK_EAUTH);
	assert_int_equal(http_err(403, "<Error><Code>RequestTimeTooSkewed</Code></Error>", &err),
			 SK_EAUTH);
	assert_non_null(strstr(err.hint, "clock"));
	assert_int_equal(http_err(400, "<Error><Code>AuthorizationHeaderMalformed</Code></Error>",
				  &err), SK_EFAIL);
	assert_non_null(strstr(err.hint, "region"));
	assert_int_equal(http_err(503, "<Error><Code>SlowDown</Code></Error>", &err), SK_EIO);
	assert_int_equal(http_err(500, "garbage", &err), SK_EIO);
	assert_non_null(strstr(err.message, "HTTP 500"));
	assert_int_equal(http_err(400, "<Error><Code>InvalidArgument</Code></Error>", &err),
			 SK_EFAIL);
	assert_string_equal(sk_err_name(SK_EUNREACHABLE), "unreachable");
	assert_int_equal(sk_err_exit_code(SK_EUNREACHABLE), 1);
	assert_true(sk_err_retryable(SK_EUNREACHABLE));
}

/* ---- the engine, against a port where nothing listens ---------------- */

static struct sk_s3 *closed_port_client(unsigned attempts, unsigned jobs)
{
	setenv("AWS_ACCESS_KEY_ID", "AKTEST", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "secret-that-never-shows", 1);
	struct sk_s3_opts o = { .max_attempts = attempts, .backoff_ms = 1, .backoff_max_ms = 4,
				.jobs = jobs };
	struct sk_s3 *c = NULL;
	struct sk_err err;
	/* port 1 on loopback: connection refused at once */
	th_must(sk_s3_new(&c, "s3://bkt/pre?endpoint=http://127.0.0.1:1", &o, &err), &err);
	return c;
}

static void test_unreachable(void **state)
{
	(void)state;
	struct sk_s3 *c = closed_port_client(3, 0);
	struct sk_err err;
	unsigned char *data = (unsigned char *)"x";
	size_t len = 1;
	assert_int_equal(sk_s3_get(c, "objects/ab/cd", 0, &data, &len, NULL, &err),
			 SK_EUNREACHABLE);
	assert_null(data);
	assert_int_equal(len, 0);
	assert_int_equal(sk_s3_requests(c), 3);
	assert_non_null(strstr(err.message, "GET s3://bkt/pre/objects/ab/cd"));
	assert_non_null(strstr(err.message, "3 attempts"));
	assert_non_null(strstr(err.hint, "http://127.0.0.1:1"));
	assert_null(strstr(err.message, "secret-that-never-shows"));
	assert_null(strstr(err.hint, "secret-that-never-shows"));
	/* refused before any traffic: bad keys and a quoted If-Match ETag */
	assert_int_equal(sk_s3_head(c, "/abs", NULL, &err), SK_EINVAL);
	assert_int_equal(sk_s3_head(c, "a\nb", NULL, &err), SK_EINVAL);
	assert_int_equal(sk_s3_put(c, "k", "v", 1, SK_S3_IF_MATCH, "\"e\"", NULL, &err), SK_EINVAL);
	assert_int_equal(sk_s3_put(c, "k", "v", 1, SK_S3_IF_MATCH, NULL, NULL, &err), SK_EINVAL);
	assert_int_equal(sk_s3_requests(c), 3);
	sk_s3_free(c);
}

struct stop_ctx {
	int calls;
};

static int stop_first(struct sk_s3_req *req, void *ctx, struct sk_err *err)
{
	struct stop_ctx *s = ctx;
	s->calls++;
	assert_int_equal(req->rc, SK_EUNREACHABLE);
	return sk_err_set(err, SK_ECORRUPT, NULL, "stop here");
}

static void test_batch_stop_and_order(void **state)
{
	(void)state;
	struct sk_s3 *c = closed_port_client(2, 1);
	struct sk_s3_req r[5];
	struct stop_ctx s = { 0 };
	char keys[5][16];
	memset(r, 0, sizeof(r));
	for (int i = 0; i < 5; i++) {
		snprintf(keys[i], sizeof(keys[i]), "k%d", i);
		r[i].method = SK_S3_GET;
		r[i].key = keys[i];
		r[i].done = stop_first;
		r[i].ctx = &s;
	}
	struct sk_err err;
	assert_int_equal(sk_s3_run(c, r, 5, 1, &err), SK_ECORRUPT);
	assert_string_equal(err.message, "stop here");
	assert_int_equal(s.calls, 1);
	for (int i = 1; i < 5; i++)
		assert_int_equal(r[i].rc, SK_ECORRUPT);
	/* without a callback every request runs; the first in order is reported */
	memset(r, 0, sizeof(r));
	for (int i = 0; i < 5; i++) {
		r[i].method = SK_S3_DELETE;
		r[i].key = keys[i];
	}
	r[0].key = "";
	unsigned long before = sk_s3_requests(c);
	assert_int_equal(sk_s3_run(c, r, 5, 3, &err), SK_EINVAL);
	assert_int_equal(r[0].rc, SK_EINVAL);
	for (int i = 1; i < 5; i++) {
		assert_int_equal(r[i].rc, SK_EUNREACHABLE);
		assert_int_equal(r[i].attempts, 2);
	}
	assert_int_equal(sk_s3_requests(c) - before, 8);
	sk_s3_free(c);
}

struct chain_ctx {
	struct sk_s3 *c;
	struct sk_s3_batch *b;
	struct sk_s3_req next[3];
	int added, nested_rc;
};

/* Adds the next request of the chain from inside the callback, and
 * tries a nested request on the same client, which must be refused. */
static int chain(struct sk_s3_req *req, void *ctx, struct sk_err *err)
{
	struct chain_ctx *cc = ctx;
	(void)req;
	struct sk_err e;
	cc->nested_rc = sk_s3_head(cc->c, "nested", NULL, &e);
	if (cc->added == 3)
		return 0;
	struct sk_s3_req *n = &cc->next[cc->added++];
	memset(n, 0, sizeof(*n));
	n->method = SK_S3_HEAD;
	n->key = "chained";
	n->done = chain;
	n->ctx = cc;
	return sk_s3_batch_add(cc->b, n, err);
}

static void test_batch_callback_adds(void **state)
{
	(void)state;
	struct sk_s3 *c = closed_port_client(1, 2);
	struct chain_ctx cc = { .c = c };
	cc.b = sk_s3_batch_new(c, 0);
	assert_non_null(cc.b);
	struct sk_s3_req first = { .method = SK_S3_GET, .key = "first", .done = chain, .ctx = &cc };
	struct sk_err err;
	th_must(sk_s3_batch_add(cc.b, &first, &err), &err);
	assert_int_equal(sk_s3_batch_run(cc.b, &err), SK_EUNREACHABLE);
	sk_s3_batch_free(cc.b);
	assert_int_equal(cc.added, 3);
	assert_int_equal(cc.nested_rc, SK_EFAIL);
	for (int i = 0; i < 3; i++)
		assert_int_equal(cc.next[i].rc, SK_EUNREACHABLE);
	/* four requests, one attempt each; the nested ones never ran */
	assert_int_equal(sk_s3_requests(c), 4);
	/* and the client works again once the batch is over */
	assert_int_equal(sk_s3_head(c, "after", NULL, &err), SK_EUNREACHABLE);
	sk_s3_free(c);
}

int main(void)
{
	th_isolate_env(NULL);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sigv4_signing_key),
		cmocka_unit_test(test_sigv4_suite),
		cmocka_unit_test(test_sigv4_authorization_form),
		cmocka_unit_test(test_sigv4_s3_get_object),
		cmocka_unit_test(test_sigv4_s3_put_object),
		cmocka_unit_test(test_sigv4_s3_bucket_queries),
		cmocka_unit_test(test_sigv4_encoding),
		cmocka_unit_test(test_url_parse),
		cmocka_unit_test(test_url_refused),
		cmocka_unit_test(test_credentials),
		cmocka_unit_test(test_xml_error),
		cmocka_unit_test(test_xml_list),
		cmocka_unit_test(test_xml_list_refused),
		cmocka_unit_test(test_etag_clean),
		cmocka_unit_test(test_retry_policy),
		cmocka_unit_test(test_backoff),
		cmocka_unit_test(test_http_errors),
		cmocka_unit_test(test_unreachable),
		cmocka_unit_test(test_batch_stop_and_order),
		cmocka_unit_test(test_batch_callback_adds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
