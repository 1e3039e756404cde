// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests for the control socket: framing, a status round trip through
 * the real server and client, malformed and oversized frames, unsupported
 * requests, and several requests on one connection.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include "agent.h"
#include "cli.h"
#include "ctl.h"

static char dir[64];
static char sock[96];
static uv_loop_t loop;
static uv_async_t done;
static struct agent agent;
static struct ctl *server;

typedef void (*client_fn)(void);

static void on_done(uv_async_t *a)
{
	ctl_close(server);
	server = NULL;
	uv_close((uv_handle_t *)a, NULL);
}

static void *client_thread(void *arg)
{
	client_fn fn = (client_fn)arg;
	fn();
	uv_async_send(&done);
	return NULL;
}

/* Run the server loop while fn talks to it from a thread. */
static void run_with_client(client_fn fn)
{
	snprintf(dir, sizeof(dir), "/tmp/farnode-ctl-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(sock, sizeof(sock), "%s/farnode.sock", dir);
	uv_loop_init(&loop);
	memset(&agent, 0, sizeof(agent));
	agent.loop = &loop;
	config_defaults(&agent.cfg);
	snprintf(agent.id_str, sizeof(agent.id_str),
		 "00000000-0000-4000-8000-000000000001");
	agent.generation = 7;
	snprintf(agent.data_dir, sizeof(agent.data_dir), "%s", dir);
	assert_int_equal(ctl_open(&loop, &agent, sock, &server), 0);
	uv_async_init(&loop, &done, on_done);
	pthread_t th;
	pthread_create(&th, NULL, client_thread, (void *)fn);
	uv_run(&loop, UV_RUN_DEFAULT);
	pthread_join(th, NULL);
	assert_int_equal(uv_loop_close(&loop), 0);
	assert_int_not_equal(access(sock, F_OK), 0); /* unlinked on close */
	rmdir(dir);
}

static int raw_connect(void)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static Farnode__V1__Reply *raw_reply(int fd)
{
	uint8_t hdr[4];
	if (recv(fd, hdr, 4, MSG_WAITALL) != 4) {
		return NULL;
	}
	uint32_t n = ctl_frame_get_len(hdr);
	uint8_t *b = malloc(n + 1);
	if (recv(fd, b, n, MSG_WAITALL) != (ssize_t)n) {
		free(b);
		return NULL;
	}
	Farnode__V1__Reply *r = farnode__v1__reply__unpack(NULL, n, b);
	free(b);
	return r;
}

static void test_frame_len(void **state)
{
	(void)state;
	uint8_t b[4];
	ctl_frame_put_len(b, 0x01020304u);
	assert_int_equal(b[0], 1);
	assert_int_equal(b[3], 4);
	assert_int_equal(ctl_frame_get_len(b), 0x01020304u);
}

static int status_ok;

static void client_status(void)
{
	struct cli_common c = {.socket = sock};
	Farnode__V1__Request req = FARNODE__V1__REQUEST__INIT;
	Farnode__V1__StatusRequest sr = FARNODE__V1__STATUS_REQUEST__INIT;
	req.req_case = FARNODE__V1__REQUEST__REQ_STATUS;
	req.status = &sr;
	Farnode__V1__Reply *rep = NULL;
	status_ok = 0;
	if (cli_call(&c, &req, &rep) == 0 && rep->code == 0 &&
	    rep->rep_case == FARNODE__V1__REPLY__REP_STATUS &&
	    strcmp(rep->status->node_id,
		   "00000000-0000-4000-8000-000000000001") == 0 &&
	    rep->status->generation == 7 &&
	    strcmp(rep->status->hub_state, "disabled") == 0) {
		status_ok = 1;
	}
	farnode__v1__reply__free_unpacked(rep, NULL);
}

static void test_status_round_trip(void **state)
{
	(void)state;
	run_with_client(client_status);
	assert_int_equal(status_ok, 1);
}

static int malformed_code;
static int unsupported_code;
static int second_ok;

static void client_bad_then_good(void)
{
	int fd = raw_connect();
	/* a frame whose body is not a Request (field 1, wire type 7) */
	uint8_t bad[] = {0, 0, 0, 3, 0x0f, 0xff, 0xff};
	assert_int_equal(write(fd, bad, sizeof(bad)), (ssize_t)sizeof(bad));
	Farnode__V1__Reply *r = raw_reply(fd);
	malformed_code = r ? r->code : 1;
	farnode__v1__reply__free_unpacked(r, NULL);
	/* an empty Request: no oneof set → unsupported */
	uint8_t empty[] = {0, 0, 0, 0};
	assert_int_equal(write(fd, empty, 4), 4);
	r = raw_reply(fd);
	unsupported_code = r ? r->code : 1;
	farnode__v1__reply__free_unpacked(r, NULL);
	/* the same connection still serves a valid request */
	Farnode__V1__Request req = FARNODE__V1__REQUEST__INIT;
	Farnode__V1__StatusRequest sr = FARNODE__V1__STATUS_REQUEST__INIT;
	req.req_case = FARNODE__V1__REQUEST__REQ_STATUS;
	req.status = &sr;
	uint8_t buf[64];
	size_t n = farnode__v1__request__pack(&req, buf + 4);
	ctl_frame_put_len(buf, (uint32_t)n);
	assert_int_equal(write(fd, buf, 4 + n), (ssize_t)(4 + n));
	r = raw_reply(fd);
	second_ok = r != NULL && r->code == 0 &&
		    r->rep_case == FARNODE__V1__REPLY__REP_STATUS;
	farnode__v1__reply__free_unpacked(r, NULL);
	close(fd);
}

static void test_malformed_and_unsupported(void **state)
{
	(void)state;
	run_with_client(client_bad_then_good);
	assert_int_equal(malformed_code, -EBADMSG);
	assert_int_equal(unsupported_code, -ENOTSUP);
	assert_true(second_ok);
}

static int oversized_closed;

static void client_oversized(void)
{
	int fd = raw_connect();
	uint8_t hdr[4];
	ctl_frame_put_len(hdr, CTL_FRAME_MAX + 1);
	assert_int_equal(write(fd, hdr, 4), 4);
	uint8_t b;
	/* the server closes without allocating: read sees EOF */
	oversized_closed = recv(fd, &b, 1, 0) == 0;
	close(fd);
}

static void test_oversized_frame(void **state)
{
	(void)state;
	run_with_client(client_oversized);
	assert_true(oversized_closed);
}

static int noagent_rc;

static void test_no_agent(void **state)
{
	(void)state;
	struct cli_common c = {.socket = "/tmp/farnode-no-such.sock"};
	Farnode__V1__Request req = FARNODE__V1__REQUEST__INIT;
	Farnode__V1__Reply *rep = NULL;
	noagent_rc = cli_call(&c, &req, &rep);
	assert_int_equal(noagent_rc, 1);
	assert_null(rep);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_frame_len),
		cmocka_unit_test(test_status_round_trip),
		cmocka_unit_test(test_malformed_and_unsupported),
		cmocka_unit_test(test_oversized_frame),
		cmocka_unit_test(test_no_agent),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
