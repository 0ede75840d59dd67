/*
 * cloud/haproxy.c without a running haproxy: the parsers of what the
 * admin socket says (show stat, get weight) on real haproxy 2.6 output
 * and on everything they must refuse, and the config writer's checks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cloud/haproxy.h"
#include "helpers.h"

/* Captured from Debian's haproxy 2.6.12: `show stat -1 4 -1` with two
 * servers, after 20 requests (the rows keep haproxy's trailing comma). */
#define HEADER \
	"# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr," \
	"wredis,status,weight,act,bck,chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,sid,throttl" \
	"e,lbtot,tracked,type,rate,rate_lim,rate_max,check_status,check_code,check_duration,hrsp_" \
	"1xx,hrsp_2xx,hrsp_3xx,hrsp_4xx,hrsp_5xx,hrsp_other,hanafail,req_rate,req_rate_max,req_to" \
	"t,cli_abrt,srv_abrt,comp_in,comp_out,comp_byp,comp_rsp,lastsess,last_chk,last_agt,qtime," \
	"ctime,rtime,ttime,agent_status,agent_code,agent_duration,check_desc,agent_desc,check_ris" \
	"e,check_fall,check_health,agent_rise,agent_fall,agent_health,addr,cookie,mode,algo,conn_" \
	"rate,conn_rate_max,conn_tot,intercepted,dcon,dses,wrew,connect,reuse,cache_lookups,cache" \
	"_hits,srv_icur,src_ilim,qtime_max,ctime_max,rtime_max,ttime_max,eint,idle_conn_cur,safe_" \
	"conn_cur,used_conn_cur,need_conn_est,uweight,agg_server_status,agg_server_check_status,a" \
	"gg_check_status,-,ssl_sess,ssl_reused_sess,ssl_failed_handshake,h2_headers_rcvd,h2_data_" \
	"rcvd,h2_settings_rcvd,h2_rst_stream_rcvd,h2_goaway_rcvd,h2_detected_conn_protocol_errors" \
	",h2_detected_strm_protocol_errors,h2_rst_stream_resp,h2_goaway_resp,h2_open_connections," \
	"h2_backend_open_streams,h2_total_connections,h2_backend_total_streams,h1_open_connection" \
	"s,h1_open_streams,h1_total_connections,h1_total_streams,h1_bytes_in,h1_bytes_out,h1_spli" \
	"ced_bytes_in,h1_spliced_bytes_out,\n"
#define ROW_A \
	"hello,a,0,0,0,1,,20,1640,2060,,0,,0,0,0,0,UP,256,1,0,0,0,2,0,,1,3,1,,20,,2,20,,20,L7OK,2" \
	"00,0,0,20,0,0,0,0,,,,20,0,0,,,,,0,,,0,0,0,0,,,,Layer7 check passed,,2,3,4,,,,127.0.0.1:1" \
	"8321,,http,,,,,,,,0,20,0,,,2,,0,0,0,0,0,2,0,0,1,256,,,,-,0,0,0,,,,,,,,,,,,,,,,,,,,,,\n"
#define ROW_B \
	"hello,b,0,0,0,0,,0,0,0,,0,,0,0,0,0,UP,0,1,0,0,0,2,0,,1,3,2,,0,,2,0,,0,L7OK,200,0,0,0,0,0" \
	",0,0,,,,0,0,0,,,,,-1,,,0,0,0,0,,,,Layer7 check passed,,2,3,4,,,,127.0.0.1:18322,,http,,," \
	",,,,,0,0,0,,,0,,0,0,0,0,0,0,0,0,1,0,,,,-,0,0,0,,,,,,,,,,,,,,,,,,,,,,\n"
static const char sample[] = HEADER ROW_A ROW_B "\n";

/* sample with the first occurrence of from replaced by to (malloc'd). */
static char *edit(const char *from, const char *to)
{
	const char *p = strstr(sample, from);
	if (!p)
		fail_msg("the sample lacks \"%s\"", from);
	size_t n = strlen(sample) - strlen(from) + strlen(to) + 1;
	char *s = malloc(n);
	assert_non_null(s);
	snprintf(s, n, "%.*s%s%s", (int)(p - sample), sample, to, p + strlen(from));
	return s;
}

static int parse(const char *buf, size_t len, json_t **out, struct sk_err *err)
{
	sk_err_clear(err);
	return sk_haproxy_parse_stat(buf, len, out, err);
}

static void test_real_sample(void **state)
{
	(void)state;
	json_t *out;
	struct sk_err err;
	th_must(parse(sample, strlen(sample), &out, &err), &err);
	json_t *a = json_object_get(json_object_get(out, "hello"), "a");
	json_t *b = json_object_get(json_object_get(out, "hello"), "b");
	assert_non_null(a);
	assert_non_null(b);
	assert_int_equal(json_object_size(json_object_get(out, "hello")), 2);
	assert_int_equal(json_integer_value(json_object_get(a, "requests")), 20);
	assert_int_equal(json_integer_value(json_object_get(a, "hrsp_2xx")), 20);
	assert_int_equal(json_integer_value(json_object_get(a, "hrsp_5xx")), 0);
	assert_int_equal(json_integer_value(json_object_get(a, "weight")), 256);
	assert_int_equal(json_integer_value(json_object_get(a, "rtime_ms")), 0);
	assert_string_equal(json_string_value(json_object_get(a, "status")), "UP");
	assert_string_equal(json_string_value(json_object_get(a, "check_status")), "L7OK");
	assert_string_equal(json_string_value(json_object_get(a, "addr")), "127.0.0.1:18321");
	assert_int_equal(json_integer_value(json_object_get(b, "weight")), 0);
	assert_int_equal(json_integer_value(json_object_get(b, "requests")), 0);
	assert_int_equal(json_integer_value(json_object_get(a, "sessions")), 0);
	assert_false(json_is_true(json_object_get(a, "backup")));
	json_decref(out);
}

/* What a drain waits for (scur, the connections open now) and a standby
 * server (bck) come through; a bck that is not 0 or 1 does not. */
static void test_sessions_and_backup(void **state)
{
	(void)state;
	json_t *out;
	struct sk_err err;
	char *s = edit("hello,b,0,0,0,0,,0,0,0,,0,,0,0,0,0,UP,0,1,0,",
		       "hello,b,0,0,3,0,,0,0,0,,0,,0,0,0,0,UP,0,0,1,");
	th_must(parse(s, strlen(s), &out, &err), &err);
	json_t *b = json_object_get(json_object_get(out, "hello"), "b");
	assert_int_equal(json_integer_value(json_object_get(b, "sessions")), 3);
	assert_true(json_is_true(json_object_get(b, "backup")));
	json_decref(out);
	free(s);
	s = edit("hello,b,0,0,0,0,,0,0,0,,0,,0,0,0,0,UP,0,1,0,",
		 "hello,b,0,0,0,0,,0,0,0,,0,,0,0,0,0,UP,0,1,2,");
	assert_int_equal(parse(s, strlen(s), &out, &err), SK_EINVAL);
	assert_non_null(strstr(err.message, "bck"));
	free(s);
}

static void test_no_servers(void **state)
{
	(void)state;
	static const char s[] = HEADER "\n";
	json_t *out;
	struct sk_err err;
	th_must(parse(s, strlen(s), &out, &err), &err);
	assert_int_equal(json_object_size(out), 0);
	json_decref(out);
}

static void refuse_edit(const char *from, const char *to, int code, const char *why)
{
	char *s = edit(from, to);
	json_t *out = (json_t *)1;
	struct sk_err err;
	int rc = parse(s, strlen(s), &out, &err);
	if (rc != code)
		fail_msg("%s: rc %d (want %d): %s", why, rc, code, err.message);
	assert_null(out);
	assert_true(strlen(err.message) > 0);
	free(s);
}

static void test_refusals(void **state)
{
	(void)state;
	/* a column the parser relies on is missing or named twice */
	refuse_edit(",hrsp_5xx,", ",hrsp_5xy,", SK_EINVAL, "missing hrsp_5xx");
	refuse_edit("# pxname,svname,", "# pxname,svnamex,", SK_EINVAL, "missing svname");
	refuse_edit(",rtime,", ",stot,", SK_EINVAL, "stot twice, no rtime");
	refuse_edit("# pxname", "pxname", SK_EINVAL, "header without #");
	refuse_edit("# pxname,", "# pxName,", SK_EINVAL, "upper-case field name");
	/* numbers: non-numeric, negative, empty, too long, weight over 256 */
	refuse_edit("hello,a,0,0,0,1,,20,", "hello,a,0,0,0,1,,2x,", SK_EINVAL, "stot 2x");
	refuse_edit("hello,a,0,0,0,1,,20,", "hello,a,0,0,0,1,,-20,", SK_EINVAL, "stot -20");
	refuse_edit("hello,a,0,0,0,1,,20,", "hello,a,0,0,0,1,,,", SK_EINVAL, "stot empty");
	refuse_edit("hello,a,0,0,0,1,,20,", "hello,a,0,0,0,1,,1234567890123456789,", SK_EINVAL,
		    "stot 19 digits");
	refuse_edit(",UP,256,", ",UP,257,", SK_EINVAL, "weight 257");
	refuse_edit(",UP,256,", ",UP, 256,", SK_EINVAL, "weight with a space");
	/* rows: other types, field counts, names, duplicates */
	refuse_edit(",1,,20,,2,20,", ",1,,20,,1,20,", SK_EINVAL, "a backend row (type 1)");
	refuse_edit("hello,a,0,0,0,1,", "hello,a,0,0,0,1,,", SK_EINVAL, "one field too many");
	refuse_edit("hello,a,0,0,0,1,,", "hello,a,0,0,0,", SK_EINVAL, "one field too few");
	refuse_edit("hello,b,", "hello,a,", SK_EINVAL, "server a twice");
	refuse_edit("hello,a,", "hel lo,a,", SK_EINVAL, "space in a name");
	refuse_edit("hello,a,", ",a,", SK_EINVAL, "empty proxy name");
	refuse_edit(",UP,", ",,", SK_EINVAL, "empty status");
	/* bytes and lines */
	refuse_edit("Layer7 check passed", "Layer7\tcheck passed", SK_EINVAL, "a tab");
	refuse_edit("Layer7 check passed", "Layer7 check passed\r", SK_EINVAL, "a CR");
	refuse_edit("Layer7 check passed", "Layer7 ch\xc3\xa9" "ck passed", SK_EINVAL, "non-ASCII");
	refuse_edit("hello,b,", "\nhello,b,", SK_EINVAL, "blank line inside");
	refuse_edit(",\n\n", ",\n\nhello\n\n", SK_EINVAL, "text after the end");
}

static void test_truncated(void **state)
{
	(void)state;
	size_t n = strlen(sample);
	/* every cut short of the whole answer is refused: the blank line
	 * that ends it is missing, or a row is incomplete */
	for (size_t cut = 0; cut < n; cut++) {
		json_t *out = (json_t *)1;
		struct sk_err err;
		int rc = parse(sample, cut, &out, &err);
		if (rc == 0)
			fail_msg("accepted %zu of %zu bytes", cut, n);
		assert_int_equal(rc, SK_EINVAL);
		assert_null(out);
	}
}

static void test_huge(void **state)
{
	(void)state;
	size_t n = (size_t)SK_HAPROXY_REPLY_MAX + 1;
	char *big = malloc(n);
	assert_non_null(big);
	memset(big, 'a', n);
	json_t *out = (json_t *)1;
	struct sk_err err;
	assert_int_equal(parse(big, n, &out, &err), SK_ETOOBIG);
	assert_null(out);
	free(big);
}

static void test_weight(void **state)
{
	(void)state;
	static const char *const good[] = { "128 (initial 0)\n\n", "0 (initial 256)\n\n",
					    "256 (initial 256)\n\n" };
	static const int want[] = { 128, 0, 256 };
	for (size_t i = 0; i < 3; i++) {
		int w = -1;
		struct sk_err err;
		th_must(sk_haproxy_parse_weight(good[i], strlen(good[i]), &w, &err), &err);
		assert_int_equal(w, want[i]);
	}
	static const char *const bad[] = { "", "\n", "No such server.\n\n", "257 (initial 0)\n\n",
					   "-1 (initial 0)\n\n", "12 (initial 0)\n", "12 (initial 0)",
					   "12 (initial 0)\n\nx", "x12 (initial 0)\n\n",
					   "12 (final 0)\n\n", "1234 (initial 0)\n\n" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int w = -1;
		struct sk_err err;
		if (sk_haproxy_parse_weight(bad[i], strlen(bad[i]), &w, &err) != SK_EINVAL)
			fail_msg("accepted get weight answer %zu", i);
	}
}

static json_t *model(const char *listen, const char *name, const char *addr, int weight)
{
	return json_pack("{s:{s:s, s:s, s:i, s:{s:{s:s, s:i}}}}", "web", "listen", listen,
			 "health_path", "/health", "check_ms", 1000, "servers", name, "addr", addr,
			 "weight", weight);
}

static void test_config(void **state)
{
	(void)state;
	json_t *m = model("127.0.0.1:9000", "t1", "127.0.0.1:9001", 42);
	char *text;
	struct sk_err err;
	th_must(sk_haproxy_config("/tmp/x", m, 1, &text, &err), &err);
	assert_non_null(strstr(text, "stats socket /tmp/x/admin.sock mode 600 level admin\n"));
	assert_non_null(strstr(text, "frontend fe_web\n    bind 127.0.0.1:9000\n"));
	assert_non_null(strstr(text, "backend web\n    balance roundrobin\n    option allbackups\n"
				     "    option httpchk GET /health\n"));
	assert_non_null(strstr(text, "    server t1 127.0.0.1:9001 weight 42 check inter 1000\n"));
	free(text);
	/* a standby server is a backup server: structure, not a weight */
	json_t *srv = json_object_get(json_object_get(json_object_get(m, "web"), "servers"), "t1");
	json_object_set_new(srv, "backup", json_true());
	th_must(sk_haproxy_config("/tmp/x", m, 1, &text, &err), &err);
	assert_non_null(strstr(text, "    server t1 127.0.0.1:9001 weight 42 backup check inter 1000\n"));
	free(text);
	char sb[65], sn[65];
	th_must(sk_haproxy_structure("/tmp/x", m, sb, &err), &err);
	json_object_set_new(srv, "backup", json_false());
	th_must(sk_haproxy_structure("/tmp/x", m, sn, &err), &err);
	assert_string_not_equal(sb, sn);
	/* the structure leaves weights out: a weight change needs no reload */
	char s1[65], s2[65], s3[65];
	th_must(sk_haproxy_structure("/tmp/x", m, s1, &err), &err);
	json_decref(m);
	m = model("127.0.0.1:9000", "t1", "127.0.0.1:9001", 7);
	th_must(sk_haproxy_structure("/tmp/x", m, s2, &err), &err);
	json_decref(m);
	m = model("127.0.0.1:9000", "t1", "127.0.0.1:9002", 7);
	th_must(sk_haproxy_structure("/tmp/x", m, s3, &err), &err);
	json_decref(m);
	assert_string_equal(s1, s2);
	assert_string_not_equal(s1, s3);
	/* nothing that could inject config lines or words gets through */
	static const char *const bad[][3] = {
		{ "127.0.0.1:9000", "t1", "127.0.0.1:9001\n    server x 1.2.3.4:5" },
		{ "127.0.0.1:9000 ssl", "t1", "127.0.0.1:9001" },
		{ "127.0.0.1:9000", "t 1", "127.0.0.1:9001" },
		{ "127.0.0.1:9000", "t1", "127.0.0.1:9001#" },
		{ "127.0.0.1:9000", "", "127.0.0.1:9001" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		m = model(bad[i][0], bad[i][1], bad[i][2], 1);
		text = NULL;
		if (sk_haproxy_config("/tmp/x", m, 1, &text, &err) != SK_EINVAL)
			fail_msg("accepted bad model %zu", i);
		assert_null(text);
		json_decref(m);
	}
	m = model("127.0.0.1:9000", "t1", "127.0.0.1:9001", 257);
	assert_int_equal(sk_haproxy_config("/tmp/x", m, 1, &text, &err), SK_EINVAL);
	json_decref(m);
}

static void test_not_started(void **state)
{
	(void)state;
	char dir[64];
	assert_int_equal(th_tmpdir(dir, sizeof(dir), "haproxy"), 0);
	long pid;
	char *r;
	size_t n;
	struct sk_err err;
	assert_int_equal(sk_haproxy_pid(dir, &pid, &err), SK_ENOTFOUND);
	assert_int_equal(sk_haproxy_cmd(dir, "show info", &r, &n, &err), SK_ENOTFOUND);
	/* a pid file whose process is gone: unreachable, never a signal */
	char path[128];
	snprintf(path, sizeof(path), "%s/haproxy.pid", dir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "999999999\n");
	fclose(f);
	assert_int_equal(sk_haproxy_pid(dir, &pid, &err), SK_EUNREACHABLE);
	assert_int_equal(sk_haproxy_cmd(dir, "show info", &r, &n, &err), SK_EUNREACHABLE);
	int was = 1;
	th_must(sk_haproxy_stop(dir, &was, &err), &err);
	assert_int_equal(was, 0);
	th_rmtree(dir);
}

int main(void)
{
	th_isolate_env(NULL);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_real_sample),
		cmocka_unit_test(test_sessions_and_backup), cmocka_unit_test(test_no_servers),
		cmocka_unit_test(test_refusals),    cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_huge),        cmocka_unit_test(test_weight),
		cmocka_unit_test(test_config),      cmocka_unit_test(test_not_started),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
