// SPDX-License-Identifier: Apache-2.0
/*
 * Tests for the TLS client. Without environment they run offline: credential
 * loading errors, verification reasons, and connection failures against
 * small TCP servers on the same loop (refused, silent, closing, garbage).
 * With FARNODE_TLS_TEST_DIR and FARNODE_TLS_TEST_PORT (set by
 * tests/integration/test_tls_mqtt.py, which starts a real Mosquitto) they run
 * MQTT over TLS against that broker: round trip, QoS 1 redelivery after a
 * lost connection, wrong CA, expired and not
 * yet valid server certificates (FARNODE_TLS_TEST_PORT_EXPIRED/_FUTURE),
 * expired and foreign client certificates, name mismatch, reload.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <mbedtls/x509.h>
#include <uv.h>

#define LOG_TAG "test"
#include "log.h"
#include "mqtt.h"
#include "mqtt_session.h"
#include "tls.h"

/* Test-only credentials: an EC P-256 CA valid until 2126, a client
 * certificate it signed with its key, and an unrelated key. */
static const char fixture_ca_pem[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBlDCCATugAwIBAgIUf3vZJj4vGa5HgUbkcxptj0+bOwAwCgYIKoZIzj0EAwIw\n"
    "HzEdMBsGA1UEAwwUZmFybm9kZSB1bml0IHRlc3QgQ0EwIBcNMjYxMjA0MTUzNzMw\n"
    "WhgPMjEyNjExMTAxNTM3MzBaMB8xHTAbBgNVBAMMFGZhcm5vZGUgdW5pdCB0ZXN0\n"
    "IENBMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEb1wI6yxCJtOrIvZBLzGw2sEW\n"
    "qbPrKKMRt3kTlI/YklXh8d0YqbnSX9GLpzOs9zOz6oOqAZzPW1H03v0orXN2jKNT\n"
    "MFEwHQYDVR0OBBYEFPooU89whtj0AvGzLMmMBz5YkU1LMB8GA1UdIwQYMBaAFPoo\n"
    "U89whtj0AvGzLMmMBz5YkU1LMA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZIzj0EAwID\n"
    "RwAwRAIgeEgZVdCoV3PMYfWBJww8d5rtAsHvOv7dFbusloaAWKgCIAqbzY00t+st\n"
    "ASVW0aI6Uqysnxpla8Grzmj9n3g6+bkR\n"
    "-----END CERTIFICATE-----\n";

static const char fixture_client_pem[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBlzCCAT+gAwIBAgIUMGPnZf8p5yEKYGW3zZmWNIE708QwCgYIKoZIzj0EAwIw\n"
    "HzEdMBsGA1UEAwwUZmFybm9kZSB1bml0IHRlc3QgQ0EwIBcNMjYxMjA0MTUzNzMx\n"
    "WhgPMjEyNjExMTAxNTM3MzFaMBQxEjAQBgNVBAMMCXVuaXQtbm9kZTBZMBMGByqG\n"
    "SM49AgEGCCqGSM49AwEHA0IABJCn0MSDd5g/hU3ssC7l8WEeJiB+aYBhBKNaFlkm\n"
    "uONFzFMh6gSXYnkqeR2/IQDf4CAdnO2a3Gqz9Qcuq+nFYt6jYjBgMAkGA1UdEwQC\n"
    "MAAwEwYDVR0lBAwwCgYIKwYBBQUHAwIwHQYDVR0OBBYEFHCq/K22KSY5noDmk/Ti\n"
    "fd/3/rs2MB8GA1UdIwQYMBaAFPooU89whtj0AvGzLMmMBz5YkU1LMAoGCCqGSM49\n"
    "BAMCA0YAMEMCHypAMIfzhCAcd2DuouLlVi28TB1qiLXejKRY2csKPCYCIBCJji0K\n"
    "vS5CKtrGlxd5IXO1fVY6P2s4LQec70RPqteq\n"
    "-----END CERTIFICATE-----\n";

static const char fixture_client_key[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgBU8C2lkYU/UYt9wP\n"
    "4yMxenu2rHmEoXGS/8HVpnRLKoWhRANCAASQp9DEg3eYP4VN7LAu5fFhHiYgfmmA\n"
    "YQSjWhZZJrjjRcxTIeoEl2J5KnkdvyEA3+AgHZztmtxqs/UHLqvpxWLe\n"
    "-----END PRIVATE KEY-----\n";

static const char fixture_other_key[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgmW9B64EZwmR4w6at\n"
    "5n6V4faL5pVPRr15HIZd6A+Z07mhRANCAATS5v+wL/msHTzq/4TbZlVpTQ/mqa6s\n"
    "tqNZuK6RzdJw2pe/XtvgcNadyKwU++t+n8nZ8KvSk7mhmlRrFXrtWZ5C\n"
    "-----END PRIVATE KEY-----\n";

/* ---- shared helpers ---------------------------------------------------- */

static char log_text[32768];
static size_t log_len;

static void capture(int level, const char *line, void *ud)
{
	size_t n = strlen(line);

	(void)level;
	(void)ud;
	if (getenv("FARNODE_TEST_VERBOSE")) {
		fprintf(stderr, "%s\n", line);
	}
	if (log_len + n + 2 < sizeof(log_text)) {
		memcpy(log_text + log_len, line, n);
		log_len += n;
		log_text[log_len++] = '\n';
		log_text[log_len] = '\0';
	}
}

static void log_reset(void)
{
	log_len = 0;
	log_text[0] = '\0';
}

static void assert_logged(const char *needle)
{
	if (!strstr(log_text, needle)) {
		fail_msg("log lacks '%s'; log was:\n%s", needle, log_text);
	}
}

static char tmpdir[64];

static void path_in(char *out, size_t cap, const char *dir, const char *name)
{
	snprintf(out, cap, "%s/%s", dir, name);
}

static void write_file(const char *name, const char *text)
{
	char path[256];
	FILE *f;

	path_in(path, sizeof(path), tmpdir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

struct probe {
	uv_loop_t *loop;
	struct tls_client *tls;
	bool connect_done;
	int connect_status;
	int connects;
	int reconnects_left;
	const char *host;
	uint16_t port;
	bool closed;
	int disconnects;
	int disconnect_status;
	bool disconnected;
	uint8_t rx[65536];
	size_t rx_len;
	/* MQTT side */
	struct mqtt_session *mqtt;
	int mqtt_err;
	bool connack;
	uint8_t connack_code;
	bool suback;
	uint8_t suback_code;
	bool puback;
	bool got_msg;
	char msg_topic[128];
	char msg[256];
	size_t msg_len;
	uint8_t msg_qos;
};

static void on_timeout(uv_timer_t *t)
{
	*(bool *)t->data = true;
}

static void timer_closed(uv_handle_t *h)
{
	(void)h;
}

/* Run the loop until *flag or timeout_ms; returns *flag. */
static bool run_until(uv_loop_t *loop, const bool *flag, uint64_t timeout_ms)
{
	uv_timer_t timer;
	bool expired = false;

	uv_timer_init(loop, &timer);
	timer.data = &expired;
	uv_timer_start(&timer, on_timeout, timeout_ms, 0);
	while (!*flag && !expired) {
		uv_run(loop, UV_RUN_ONCE);
	}
	uv_close((uv_handle_t *)&timer, timer_closed);
	uv_run(loop, UV_RUN_NOWAIT);
	return *flag;
}

static void on_connect(struct tls_client *c, int status, void *ud)
{
	struct probe *p = ud;

	p->connects++;
	if (status < 0 && p->reconnects_left > 0) {
		p->reconnects_left--;
		assert_int_equal(tls_connect(c, p->host, p->port, on_connect),
				 0);
		return;
	}
	p->connect_status = status;
	p->connect_done = true;
}

static void on_close(struct tls_client *c, void *ud)
{
	struct probe *p = ud;

	(void)c;
	p->closed = true;
}

static void on_disconnect(struct tls_client *c, int status, void *ud)
{
	struct probe *p = ud;

	(void)c;
	p->disconnects++;
	p->disconnect_status = status;
	p->disconnected = true;
}

static void handle_packet(struct probe *p, const struct mqtt_packet *pkt)
{
	switch (pkt->type) {
	case MQTT_CONNACK:
		p->connack = true;
		p->connack_code = pkt->u.connack.return_code;
		break;
	case MQTT_SUBACK:
		p->suback = true;
		p->suback_code = pkt->u.suback.codes[0];
		break;
	case MQTT_PUBACK:
		p->puback = true;
		break;
	case MQTT_PUBLISH: {
		const struct mqtt_publish *m = &pkt->u.publish;

		snprintf(p->msg_topic, sizeof(p->msg_topic), "%.*s",
			 (int)m->topic.len, m->topic.s);
		p->msg_len = m->payload_len < sizeof(p->msg) ? m->payload_len
							     : sizeof(p->msg);
		memcpy(p->msg, m->payload, p->msg_len);
		p->msg_qos = m->qos;
		p->got_msg = true;
		if (m->qos == 1) {
			p->mqtt_err = mqtt_session_puback(p->mqtt, m->packet_id,
							  uv_now(p->loop));
		}
		break;
	}
	default:
		break;
	}
}

/* Plaintext from TLS: split into MQTT packets and feed the session. */
static void on_read(struct tls_client *c, const uint8_t *data, size_t len,
		    void *ud)
{
	struct probe *p = ud;
	size_t off = 0;

	(void)c;
	assert_true(p->rx_len + len <= sizeof(p->rx));
	memcpy(p->rx + p->rx_len, data, len);
	p->rx_len += len;
	if (!p->mqtt) {
		return;
	}
	for (;;) {
		struct mqtt_packet pkt;
		size_t plen = 0;
		int rc = mqtt_frame(p->rx + off, p->rx_len - off, 65536, &plen);

		if (rc == -EAGAIN) {
			break;
		}
		if (rc < 0) {
			p->mqtt_err = rc;
			break;
		}
		rc = mqtt_session_input(p->mqtt, p->rx + off, plen,
					uv_now(p->loop), &pkt);
		if (rc < 0) {
			p->mqtt_err = rc;
		} else {
			handle_packet(p, &pkt);
		}
		off += plen;
	}
	memmove(p->rx, p->rx + off, p->rx_len - off);
	p->rx_len -= off;
}

static int mqtt_send(void *ud, const uint8_t *buf, size_t len)
{
	struct probe *p = ud;

	return tls_write(p->tls, buf, len);
}

static void probe_init(struct probe *p, uv_loop_t *loop)
{
	memset(p, 0, sizeof(*p));
	p->loop = loop;
}

/* Free the client and let its handles close. */
static void probe_free(struct probe *p)
{
	tls_client_free(p->tls);
	p->tls = NULL;
	mqtt_session_free(p->mqtt);
	p->mqtt = NULL;
	uv_run(p->loop, UV_RUN_DEFAULT);
}

/* ---- offline tests ----------------------------------------------------- */

static int setup_files(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/farnode-tls.XXXXXX");
	if (!mkdtemp(tmpdir)) {
		return -1;
	}
	write_file("ca.pem", fixture_ca_pem);
	write_file("client.pem", fixture_client_pem);
	write_file("client.key", fixture_client_key);
	write_file("other.key", fixture_other_key);
	write_file("garbage.pem", "-----BEGIN CERTIFICATE-----\nnope\n"
				  "-----END CERTIFICATE-----\n");
	log_set_sink(capture, NULL);
	return 0;
}

static int teardown_files(void **state)
{
	static const char *const names[] = {
	    "ca.pem", "client.pem", "client.key", "other.key", "garbage.pem"};
	char path[256];
	size_t i;

	(void)state;
	log_set_sink(NULL, NULL);
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		path_in(path, sizeof(path), tmpdir, names[i]);
		unlink(path);
	}
	rmdir(tmpdir);
	return 0;
}

struct paths {
	char ca[256], cert[256], key[256], other_key[256], garbage[256],
	    missing[256];
};

static void get_paths(struct paths *ps)
{
	path_in(ps->ca, sizeof(ps->ca), tmpdir, "ca.pem");
	path_in(ps->cert, sizeof(ps->cert), tmpdir, "client.pem");
	path_in(ps->key, sizeof(ps->key), tmpdir, "client.key");
	path_in(ps->other_key, sizeof(ps->other_key), tmpdir, "other.key");
	path_in(ps->garbage, sizeof(ps->garbage), tmpdir, "garbage.pem");
	path_in(ps->missing, sizeof(ps->missing), tmpdir, "missing.pem");
}

static void test_config_errors(void **state)
{
	uv_loop_t loop;
	struct tls_client *c = NULL;
	struct tls_config cfg;
	struct paths ps;

	(void)state;
	get_paths(&ps);
	uv_loop_init(&loop);
	memset(&cfg, 0, sizeof(cfg));

	log_reset();
	cfg.ca_file = ps.missing;
	cfg.cert_file = ps.cert;
	cfg.key_file = ps.key;
	assert_int_equal(tls_client_new(&loop, &cfg, NULL, NULL, NULL, &c),
			 -ENOENT);
	assert_null(c);
	assert_logged("CA file");
	assert_logged("missing.pem");

	log_reset();
	cfg.ca_file = ps.garbage;
	assert_int_equal(tls_client_new(&loop, &cfg, NULL, NULL, NULL, &c),
			 -EINVAL);
	assert_logged("garbage.pem");

	log_reset();
	cfg.ca_file = ps.ca;
	cfg.cert_file = NULL;
	cfg.key_file = NULL;
	assert_int_equal(tls_client_new(&loop, &cfg, NULL, NULL, NULL, &c),
			 -EINVAL);
	assert_logged("required");

	log_reset();
	cfg.cert_file = ps.cert;
	cfg.key_file = ps.other_key;
	assert_int_equal(tls_client_new(&loop, &cfg, NULL, NULL, NULL, &c),
			 -EINVAL);
	assert_logged("does not belong");

	cfg.key_file = ps.missing;
	assert_int_equal(tls_client_new(&loop, &cfg, NULL, NULL, NULL, &c),
			 -ENOENT);

	/* good: required pair, or none when optional */
	cfg.key_file = ps.key;
	assert_int_equal(tls_client_new(&loop, &cfg, NULL, NULL, NULL, &c), 0);
	assert_non_null(c);
	assert_false(tls_is_connected(c));
	assert_string_equal(tls_last_error(c), "");
	/* reload keeps the old set on failure */
	write_file("client.key", fixture_other_key);
	log_reset();
	assert_int_equal(tls_config_reload(c), -EINVAL);
	assert_logged("keeping the current credentials");
	write_file("client.key", fixture_client_key);
	assert_int_equal(tls_config_reload(c), 0);
	tls_client_free(c);
	c = NULL;

	cfg.cert_file = NULL;
	cfg.key_file = NULL;
	cfg.client_cert_optional = true;
	assert_int_equal(tls_client_new(&loop, &cfg, NULL, NULL, NULL, &c), 0);
	tls_client_free(c);
	tls_client_free(NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_verify_reason(void **state)
{
	(void)state;
	assert_string_equal(tls_verify_reason(MBEDTLS_X509_BADCERT_EXPIRED),
			    "certificate expired");
	assert_string_equal(tls_verify_reason(MBEDTLS_X509_BADCERT_FUTURE),
			    "certificate not yet valid");
	assert_non_null(strstr(
	    tls_verify_reason(MBEDTLS_X509_BADCERT_NOT_TRUSTED), "trusted CA"));
	assert_string_equal(tls_verify_reason(MBEDTLS_X509_BADCERT_CN_MISMATCH),
			    "name mismatch");
	/* expiry is named before the name when both apply */
	assert_string_equal(tls_verify_reason(MBEDTLS_X509_BADCERT_EXPIRED |
					      MBEDTLS_X509_BADCERT_CN_MISMATCH),
			    "certificate expired");
	assert_string_equal(tls_verify_reason(0), "verified");
}

/* A TCP server on 127.0.0.1 that misbehaves in one of a few ways. */
enum server_mode { SERVER_SILENT, SERVER_CLOSE, SERVER_GARBAGE };

struct server {
	uv_tcp_t listener;
	uv_tcp_t conn;
	bool conn_open;
	enum server_mode mode;
	uint16_t port;
	uv_write_t wreq;
};

static void server_conn_closed(uv_handle_t *h)
{
	(void)h;
}

static void server_on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
	(void)s;
	(void)n;
	free(b->base);
}

static void server_alloc(uv_handle_t *h, size_t sz, uv_buf_t *b)
{
	(void)h;
	b->base = malloc(sz);
	b->len = sz;
}

static void server_on_conn(uv_stream_t *l, int status)
{
	static char garbage[] = "HTTP/1.1 400 Bad Request\r\n\r\n";
	struct server *sv = l->data;
	uv_buf_t b = uv_buf_init(garbage, sizeof(garbage) - 1);

	assert_int_equal(status, 0);
	assert_false(sv->conn_open);
	uv_tcp_init(l->loop, &sv->conn);
	sv->conn_open = true;
	assert_int_equal(uv_accept(l, (uv_stream_t *)&sv->conn), 0);
	switch (sv->mode) {
	case SERVER_CLOSE:
		uv_close((uv_handle_t *)&sv->conn, server_conn_closed);
		break;
	case SERVER_GARBAGE:
		uv_write(&sv->wreq, (uv_stream_t *)&sv->conn, &b, 1, NULL);
		uv_read_start((uv_stream_t *)&sv->conn, server_alloc,
			      server_on_read);
		break;
	case SERVER_SILENT:
		uv_read_start((uv_stream_t *)&sv->conn, server_alloc,
			      server_on_read);
		break;
	}
}

static void server_start(struct server *sv, uv_loop_t *loop,
			 enum server_mode mode)
{
	struct sockaddr_in addr;
	struct sockaddr_storage bound;
	int len = sizeof(bound);

	memset(sv, 0, sizeof(*sv));
	sv->mode = mode;
	uv_ip4_addr("127.0.0.1", 0, &addr);
	uv_tcp_init(loop, &sv->listener);
	sv->listener.data = sv;
	assert_int_equal(
	    uv_tcp_bind(&sv->listener, (const struct sockaddr *)&addr, 0), 0);
	assert_int_equal(
	    uv_listen((uv_stream_t *)&sv->listener, 4, server_on_conn), 0);
	uv_tcp_getsockname(&sv->listener, (struct sockaddr *)&bound, &len);
	sv->port = ntohs(((struct sockaddr_in *)&bound)->sin_port);
}

static void server_stop(struct server *sv)
{
	uv_close((uv_handle_t *)&sv->listener, server_conn_closed);
	if (sv->conn_open && !uv_is_closing((uv_handle_t *)&sv->conn)) {
		uv_close((uv_handle_t *)&sv->conn, server_conn_closed);
	}
}

static struct tls_client *offline_client(uv_loop_t *loop, struct probe *p,
					 uint32_t timeout_ms)
{
	struct tls_config cfg;
	struct paths ps;
	struct tls_client *c = NULL;

	get_paths(&ps);
	memset(&cfg, 0, sizeof(cfg));
	cfg.ca_file = ps.ca;
	cfg.cert_file = ps.cert;
	cfg.key_file = ps.key;
	cfg.handshake_timeout_ms = timeout_ms;
	assert_int_equal(
	    tls_client_new(loop, &cfg, on_read, on_disconnect, p, &c), 0);
	p->tls = c;
	return c;
}

static void test_connect_refused_and_reconnect(void **state)
{
	uv_loop_t loop;
	struct probe p;
	struct server sv;
	uint16_t port;

	(void)state;
	uv_loop_init(&loop);
	probe_init(&p, &loop);
	/* a port that was just free: bind, note, close */
	server_start(&sv, &loop, SERVER_SILENT);
	port = sv.port;
	server_stop(&sv);
	uv_run(&loop, UV_RUN_NOWAIT);

	offline_client(&loop, &p, 2000);
	p.host = "127.0.0.1";
	p.port = port;
	p.reconnects_left = 2; /* reconnect from inside the callback */
	assert_int_equal(tls_connect(p.tls, "127.0.0.1", port, on_connect), 0);
	assert_int_equal(tls_connect(p.tls, "127.0.0.1", port, on_connect),
			 -EBUSY);
	assert_int_equal(tls_write(p.tls, (const uint8_t *)"x", 1), -ENOTCONN);
	assert_true(run_until(&loop, &p.connect_done, 5000));
	assert_int_equal(p.connect_status, -ECONNREFUSED);
	assert_int_equal(p.connects, 3);
	assert_non_null(strstr(tls_last_error(p.tls), "connect failed"));
	probe_free(&p);
	assert_int_equal(uv_loop_close(&loop), 0);
}

static void one_bad_server(enum server_mode mode, uint32_t timeout_ms,
			   int want_status, const char *want_error)
{
	uv_loop_t loop;
	struct probe p;
	struct server sv;

	uv_loop_init(&loop);
	probe_init(&p, &loop);
	server_start(&sv, &loop, mode);
	offline_client(&loop, &p, timeout_ms);
	log_reset();
	assert_int_equal(tls_connect(p.tls, "127.0.0.1", sv.port, on_connect),
			 0);
	assert_true(run_until(&loop, &p.connect_done, 10000));
	assert_int_equal(p.connect_status, want_status);
	if (!strstr(tls_last_error(p.tls), want_error)) {
		fail_msg("last error '%s' lacks '%s'", tls_last_error(p.tls),
			 want_error);
	}
	assert_logged(want_error);
	assert_int_equal(p.disconnects, 0);
	server_stop(&sv);
	probe_free(&p);
	assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_handshake_timeout(void **state)
{
	(void)state;
	one_bad_server(SERVER_SILENT, 300, -ETIMEDOUT, "no TLS session within");
}

static void test_server_closes(void **state)
{
	(void)state;
	one_bad_server(SERVER_CLOSE, 8000, -ECONNRESET,
		       "closed the connection");
}

static void test_server_garbage(void **state)
{
	(void)state;
	one_bad_server(SERVER_GARBAGE, 8000, -EPROTO, "handshake failed");
}

static void test_free_and_close_paths(void **state)
{
	uv_loop_t loop;
	struct probe p;
	struct server sv;

	(void)state;
	uv_loop_init(&loop);
	probe_init(&p, &loop);
	server_start(&sv, &loop, SERVER_SILENT);
	offline_client(&loop, &p, 5000);
	/* close while idle: the callback comes from the loop, not inline */
	tls_close(p.tls, on_close);
	assert_false(p.closed);
	assert_true(run_until(&loop, &p.closed, 1000));
	/* close mid-handshake: close callback only */
	p.closed = false;
	assert_int_equal(tls_connect(p.tls, "127.0.0.1", sv.port, on_connect),
			 0);
	run_until(&loop, &sv.conn_open, 1000);
	assert_true(sv.conn_open);
	tls_close(p.tls, on_close);
	assert_true(run_until(&loop, &p.closed, 1000));
	assert_false(p.connect_done);
	/* free while connecting: no callback at all, handles released */
	assert_int_equal(tls_connect(p.tls, "127.0.0.1", sv.port, on_connect),
			 0);
	server_stop(&sv);
	probe_free(&p);
	assert_false(p.connect_done);
	assert_int_equal(uv_loop_close(&loop), 0);
}

/* ---- against a real broker --------------------------------------------- */

static const char *broker_dir;
static uint16_t broker_port;	     /* valid server certificate */
static uint16_t broker_port_expired; /* expired server certificate */
static uint16_t broker_port_future;  /* not yet valid server certificate */

static void broker_client(struct probe *p, uv_loop_t *loop, const char *ca,
			  const char *cert, const char *key,
			  const char *server_name, int want_rc)
{
	char pca[256], pcert[256], pkey[256];
	struct tls_config cfg;

	probe_init(p, loop);
	path_in(pca, sizeof(pca), broker_dir, ca);
	path_in(pcert, sizeof(pcert), broker_dir, cert);
	path_in(pkey, sizeof(pkey), broker_dir, key);
	memset(&cfg, 0, sizeof(cfg));
	cfg.ca_file = pca;
	cfg.cert_file = pcert;
	cfg.key_file = pkey;
	cfg.server_name = server_name;
	cfg.handshake_timeout_ms = 20000;
	assert_int_equal(
	    tls_client_new(loop, &cfg, on_read, on_disconnect, p, &p->tls),
	    want_rc);
}

static int tls_connect_port_wait(struct probe *p, const char *host,
				 uint16_t port)
{
	p->connect_done = false;
	assert_int_equal(tls_connect(p->tls, host, port, on_connect), 0);
	assert_true(run_until(p->loop, &p->connect_done, 25000));
	return p->connect_status;
}

static int tls_connect_wait(struct probe *p, const char *host)
{
	return tls_connect_port_wait(p, host, broker_port);
}

/* MQTT CONNECT over the TLS session; returns the CONNACK code. */
static int mqtt_connect_session_wait(struct probe *p, const char *client_id,
				     bool clean_session)
{
	struct mqtt_session_config scfg = {
	    .keepalive_s = 30, .inflight_max = 8, .max_packet_size = 65536};
	struct mqtt_connect c;

	if (!p->mqtt) {
		p->mqtt = mqtt_session_new(&scfg, mqtt_send, p);
		assert_non_null(p->mqtt);
	}
	memset(&c, 0, sizeof(c));
	c.client_id.s = client_id;
	c.client_id.len = (uint16_t)strlen(client_id);
	c.clean_session = clean_session;
	p->connack = false;
	assert_int_equal(mqtt_session_connect(p->mqtt, &c, uv_now(p->loop)), 0);
	assert_true(run_until(p->loop, &p->connack, 5000));
	assert_int_equal(p->mqtt_err, 0);
	return p->connack_code;
}

static int mqtt_connect_wait(struct probe *p, const char *client_id)
{
	return mqtt_connect_session_wait(p, client_id, true);
}

static void close_wait(struct probe *p)
{
	p->closed = false;
	tls_close(p->tls, on_close);
	assert_true(run_until(p->loop, &p->closed, 5000));
}

static void test_broker_round_trip(void **state)
{
	struct mqtt_sub_topic sub;
	struct mqtt_publish pub;
	char topic[64], want[64];
	uv_loop_t loop;
	struct probe p;
	uint16_t id = 0;

	(void)state;
	uv_loop_init(&loop);
	broker_client(&p, &loop, "ca.pem", "client.pem", "client.key", NULL, 0);
	log_reset();
	assert_int_equal(tls_connect_wait(&p, "localhost"), 0);
	assert_true(tls_is_connected(p.tls));
	assert_int_equal(tls_verify_flags(p.tls), 0);
	assert_logged("TLSv1.2");
	assert_int_equal(mqtt_connect_wait(&p, "probe-round-trip"), 0);
	assert_int_equal(mqtt_session_state(p.mqtt), MQTT_SESSION_CONNECTED);

	snprintf(topic, sizeof(topic), "farnode/test/%d/echo", (int)getpid());
	sub.filter.s = topic;
	sub.filter.len = (uint16_t)strlen(topic);
	sub.qos = 1;
	assert_int_equal(
	    mqtt_session_subscribe(p.mqtt, &sub, 1, uv_now(&loop), &id), 0);
	assert_true(run_until(&loop, &p.suback, 5000));
	assert_int_equal(p.suback_code, 1);

	snprintf(want, sizeof(want), "hello over tls %d", (int)getpid());
	memset(&pub, 0, sizeof(pub));
	pub.topic = sub.filter;
	pub.payload = (const uint8_t *)want;
	pub.payload_len = strlen(want);
	pub.qos = 1;
	assert_int_equal(mqtt_session_publish(p.mqtt, &pub, uv_now(&loop), &id),
			 0);
	assert_int_equal(mqtt_session_inflight(p.mqtt), 1);
	assert_true(run_until(&loop, &p.puback, 5000));
	assert_int_equal(mqtt_session_inflight(p.mqtt), 0);
	assert_true(run_until(&loop, &p.got_msg, 5000));
	assert_string_equal(p.msg_topic, topic);
	assert_int_equal(p.msg_len, strlen(want));
	assert_memory_equal(p.msg, want, p.msg_len);
	assert_int_equal(p.msg_qos, 1);
	assert_int_equal(p.mqtt_err, 0);

	assert_int_equal(mqtt_session_disconnect(p.mqtt, uv_now(&loop)), 0);
	close_wait(&p);
	assert_false(tls_is_connected(p.tls));
	assert_int_equal(p.disconnects, 0);
	probe_free(&p);
	assert_int_equal(uv_loop_close(&loop), 0);
}

/*
 * QoS 1 across a lost connection: publish, drop the connection before the
 * PUBACK can arrive, reconnect with the same persistent session. The
 * session re-sends the message with DUP after CONNACK, the broker
 * acknowledges it, and the subscription (kept by the broker) delivers it.
 */
static void test_broker_redelivery_after_reconnect(void **state)
{
	struct mqtt_sub_topic sub;
	struct mqtt_publish pub;
	char topic[64], want[64], id[32];
	uv_loop_t loop;
	struct probe p;

	(void)state;
	uv_loop_init(&loop);
	broker_client(&p, &loop, "ca.pem", "client.pem", "client.key", NULL, 0);
	snprintf(id, sizeof(id), "probe-redeliver-%d", (int)getpid());
	assert_int_equal(tls_connect_wait(&p, "localhost"), 0);
	assert_int_equal(mqtt_connect_session_wait(&p, id, false), 0);
	snprintf(topic, sizeof(topic), "farnode/test/%d/redeliver",
		 (int)getpid());
	sub.filter.s = topic;
	sub.filter.len = (uint16_t)strlen(topic);
	sub.qos = 1;
	assert_int_equal(
	    mqtt_session_subscribe(p.mqtt, &sub, 1, uv_now(&loop), NULL), 0);
	assert_true(run_until(&loop, &p.suback, 5000));

	snprintf(want, sizeof(want), "event that must arrive %d",
		 (int)getpid());
	memset(&pub, 0, sizeof(pub));
	pub.topic = sub.filter;
	pub.payload = (const uint8_t *)want;
	pub.payload_len = strlen(want);
	pub.qos = 1;
	assert_int_equal(
	    mqtt_session_publish(p.mqtt, &pub, uv_now(&loop), NULL), 0);
	/* the link drops before anything is read back */
	close_wait(&p);
	mqtt_session_lost(p.mqtt);
	assert_int_equal(mqtt_session_inflight(p.mqtt), 1);
	assert_false(p.puback);

	p.got_msg = false;
	assert_int_equal(tls_connect_wait(&p, "localhost"), 0);
	assert_int_equal(mqtt_connect_session_wait(&p, id, false), 0);
	assert_int_equal(mqtt_session_stats(p.mqtt)->retransmits, 1);
	assert_true(run_until(&loop, &p.puback, 5000));
	assert_int_equal(mqtt_session_inflight(p.mqtt), 0);
	assert_true(run_until(&loop, &p.got_msg, 5000));
	assert_string_equal(p.msg_topic, topic);
	assert_int_equal(p.msg_len, strlen(want));
	assert_memory_equal(p.msg, want, p.msg_len);
	assert_int_equal(p.mqtt_err, 0);
	assert_int_equal(mqtt_session_disconnect(p.mqtt, uv_now(&loop)), 0);
	close_wait(&p);
	probe_free(&p);
	assert_int_equal(uv_loop_close(&loop), 0);
}

static void expect_refusal_at(uint16_t port, const char *ca, const char *cert,
			      const char *key, const char *server_name,
			      int want_status, const char *want_error,
			      uint32_t want_flag)
{
	uv_loop_t loop;
	struct probe p;

	uv_loop_init(&loop);
	broker_client(&p, &loop, ca, cert, key, server_name, 0);
	log_reset();
	assert_int_equal(tls_connect_port_wait(&p, "localhost", port),
			 want_status);
	if (!strstr(tls_last_error(p.tls), want_error)) {
		fail_msg("last error '%s' lacks '%s'", tls_last_error(p.tls),
			 want_error);
	}
	assert_logged(want_error);
	if (want_flag) {
		assert_true(tls_verify_flags(p.tls) & want_flag);
	}
	assert_false(tls_is_connected(p.tls));
	probe_free(&p);
	assert_int_equal(uv_loop_close(&loop), 0);
}

static void expect_refusal(const char *ca, const char *cert, const char *key,
			   const char *server_name, int want_status,
			   const char *want_error, uint32_t want_flag)
{
	expect_refusal_at(broker_port, ca, cert, key, server_name, want_status,
			  want_error, want_flag);
}

static void test_broker_expired_server_cert(void **state)
{
	(void)state;
	expect_refusal_at(broker_port_expired, "ca.pem", "client.pem",
			  "client.key", NULL, -EACCES,
			  "server certificate rejected: certificate expired",
			  MBEDTLS_X509_BADCERT_EXPIRED);
}

static void test_broker_future_server_cert(void **state)
{
	(void)state;
	expect_refusal_at(broker_port_future, "ca.pem", "client.pem",
			  "client.key", NULL, -EACCES,
			  "server certificate rejected: certificate not yet "
			  "valid",
			  MBEDTLS_X509_BADCERT_FUTURE);
}

static void test_broker_wrong_ca(void **state)
{
	(void)state;
	expect_refusal("other-ca.pem", "client.pem", "client.key", NULL,
		       -EACCES, "not signed by a trusted CA",
		       MBEDTLS_X509_BADCERT_NOT_TRUSTED);
}

static void test_broker_name_mismatch(void **state)
{
	(void)state;
	expect_refusal("ca.pem", "client.pem", "client.key",
		       "broker.wrong.example", -EACCES,
		       "name mismatch (certificate is not for "
		       "'broker.wrong.example')",
		       MBEDTLS_X509_BADCERT_CN_MISMATCH);
}

static void test_broker_expired_client_cert(void **state)
{
	(void)state;
	log_reset();
	expect_refusal("ca.pem", "client-expired.pem", "client-expired.key",
		       NULL, -ECONNABORTED, "certificate_expired", 0);
	assert_logged("our client certificate has expired");
}

static void test_broker_foreign_client_cert(void **state)
{
	(void)state;
	expect_refusal("ca.pem", "other-client.pem", "other-client.key", NULL,
		       -ECONNABORTED, "unknown_ca", 0);
}

static void test_broker_expired_warned_at_load(void **state)
{
	uv_loop_t loop;
	struct probe p;

	(void)state;
	uv_loop_init(&loop);
	log_reset();
	broker_client(&p, &loop, "ca.pem", "client-expired.pem",
		      "client-expired.key", NULL, 0);
	assert_logged("client certificate");
	assert_logged("client-expired.pem expired on 2020-");
	probe_free(&p);
	assert_int_equal(uv_loop_close(&loop), 0);
}

static void copy_file(const char *from_name, const char *to_path)
{
	char from[256], buf[8192];
	FILE *in, *out;
	size_t n;

	path_in(from, sizeof(from), broker_dir, from_name);
	in = fopen(from, "rb");
	out = fopen(to_path, "wb");
	assert_non_null(in);
	assert_non_null(out);
	n = fread(buf, 1, sizeof(buf), in);
	assert_int_equal(fwrite(buf, 1, n, out), n);
	fclose(in);
	assert_int_equal(fclose(out), 0);
}

static void test_broker_reload(void **state)
{
	char dir[] = "/tmp/farnode-tls-reload.XXXXXX";
	char ca[256], cert[256], key[256];
	struct tls_config cfg;
	uv_loop_t loop;
	struct probe p;

	(void)state;
	assert_non_null(mkdtemp(dir));
	path_in(ca, sizeof(ca), dir, "ca.pem");
	path_in(cert, sizeof(cert), dir, "cert.pem");
	path_in(key, sizeof(key), dir, "key.pem");
	copy_file("ca.pem", ca);
	copy_file("client-expired.pem", cert);
	copy_file("client-expired.key", key);

	uv_loop_init(&loop);
	probe_init(&p, &loop);
	memset(&cfg, 0, sizeof(cfg));
	cfg.ca_file = ca;
	cfg.cert_file = cert;
	cfg.key_file = key;
	assert_int_equal(
	    tls_client_new(&loop, &cfg, on_read, on_disconnect, &p, &p.tls), 0);
	assert_int_equal(tls_connect_wait(&p, "localhost"), -ECONNABORTED);

	/* the operator renews the certificate and sends SIGHUP */
	copy_file("client.pem", cert);
	copy_file("client.key", key);
	assert_int_equal(tls_config_reload(p.tls), 0);
	assert_int_equal(tls_connect_wait(&p, "localhost"), 0);
	assert_int_equal(mqtt_connect_wait(&p, "probe-reload"), 0);
	assert_int_equal(mqtt_session_disconnect(p.mqtt, uv_now(&loop)), 0);
	close_wait(&p);
	probe_free(&p);
	assert_int_equal(uv_loop_close(&loop), 0);
	unlink(ca);
	unlink(cert);
	unlink(key);
	rmdir(dir);
}

static void test_broker_by_ip_and_dropped(void **state)
{
	uv_loop_t loop;
	struct probe p;

	(void)state;
	uv_loop_init(&loop);
	broker_client(&p, &loop, "ca.pem", "client.pem", "client.key", NULL, 0);
	/* mbedTLS 2.28 checks DNS names only, not IP SANs: by address the
	 * check fails unless server_name is configured */
	assert_int_equal(tls_connect_wait(&p, "127.0.0.1"), -EACCES);
	assert_true(tls_verify_flags(p.tls) & MBEDTLS_X509_BADCERT_CN_MISMATCH);
	tls_client_free(p.tls);
	uv_run(&loop, UV_RUN_DEFAULT);
	broker_client(&p, &loop, "ca.pem", "client.pem", "client.key",
		      "localhost", 0);
	assert_int_equal(tls_connect_wait(&p, "127.0.0.1"), 0);
	/* a second CONNECT on one connection is a protocol violation: the
	 * broker closes it and we see a disconnect, not a hang */
	assert_int_equal(mqtt_connect_wait(&p, "probe-drop"), 0);
	static const uint8_t again[] = {0x10, 0x0d, 0x00, 0x04, 'M',
					'Q',  'T',  'T',  0x04, 0x02,
					0x00, 0x00, 0x00, 0x01, 'x'};
	assert_int_equal(tls_write(p.tls, again, sizeof(again)), 0);
	assert_true(run_until(&loop, &p.disconnected, 5000));
	assert_int_equal(p.disconnects, 1);
	assert_true(p.disconnect_status == -ECONNRESET ||
		    p.disconnect_status == 0);
	assert_false(tls_is_connected(p.tls));
	probe_free(&p);
	assert_int_equal(uv_loop_close(&loop), 0);
}

static const char *getenv_or(const char *name)
{
	const char *v = getenv(name);

	return v ? v : "0";
}

int main(void)
{
	const struct CMUnitTest offline[] = {
	    cmocka_unit_test(test_config_errors),
	    cmocka_unit_test(test_verify_reason),
	    cmocka_unit_test(test_connect_refused_and_reconnect),
	    cmocka_unit_test(test_handshake_timeout),
	    cmocka_unit_test(test_server_closes),
	    cmocka_unit_test(test_server_garbage),
	    cmocka_unit_test(test_free_and_close_paths),
	};
	const struct CMUnitTest broker[] = {
	    cmocka_unit_test(test_broker_round_trip),
	    cmocka_unit_test(test_broker_redelivery_after_reconnect),
	    cmocka_unit_test(test_broker_wrong_ca),
	    cmocka_unit_test(test_broker_expired_server_cert),
	    cmocka_unit_test(test_broker_future_server_cert),
	    cmocka_unit_test(test_broker_name_mismatch),
	    cmocka_unit_test(test_broker_expired_client_cert),
	    cmocka_unit_test(test_broker_foreign_client_cert),
	    cmocka_unit_test(test_broker_expired_warned_at_load),
	    cmocka_unit_test(test_broker_reload),
	    cmocka_unit_test(test_broker_by_ip_and_dropped),
	};
	const char *port = getenv("FARNODE_TLS_TEST_PORT");

	/* as in the agent: a write to a reset connection is an error code */
	signal(SIGPIPE, SIG_IGN);
	broker_dir = getenv("FARNODE_TLS_TEST_DIR");
	if (broker_dir && port) {
		broker_port = (uint16_t)atoi(port);
		broker_port_expired =
		    (uint16_t)atoi(getenv_or("FARNODE_TLS_TEST_PORT_EXPIRED"));
		broker_port_future =
		    (uint16_t)atoi(getenv_or("FARNODE_TLS_TEST_PORT_FUTURE"));
		log_set_sink(capture, NULL);
		return cmocka_run_group_tests_name("tls_broker", broker, NULL,
						   NULL);
	}
	return cmocka_run_group_tests_name("tls_offline", offline, setup_files,
					   teardown_files);
}
