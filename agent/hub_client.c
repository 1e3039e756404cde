// SPDX-License-Identifier: Apache-2.0
/*
 * hub_client: one-shot MQTT-over-TLS sessions for the operator commands,
 * on a private libuv loop with the agent's uplink_conn (same codec, same
 * TLS client). Publish waits for the PUBACK; watch runs until a count,
 * a timeout, or the callback says stop.
 */
#define LOG_TAG "hub"
#include "hub.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "crypto.h"
#include "log.h"
#include "uplink_conn.h"

struct hub_run {
	uv_loop_t loop;
	uv_timer_t deadline;
	struct uplink_conn *conn;
	int result;
	bool done;
	/* publish */
	const char *topic;
	const uint8_t *payload;
	size_t len;
	bool retain;
	uint16_t pid;
	/* watch */
	const char *const *filters;
	size_t n_filters;
	hub_msg_fn fn;
	void *ud;
	bool timeout_ok;
};

static void finish(struct hub_run *r, int result)
{
	if (r->done) {
		return;
	}
	r->done = true;
	r->result = result;
	uv_timer_stop(&r->deadline);
	if (r->conn != NULL) {
		uplink_conn_shutdown(r->conn);
		r->conn = NULL;
	}
	uv_close((uv_handle_t *)&r->deadline, NULL);
}

static void on_deadline(uv_timer_t *t)
{
	struct hub_run *r = t->data;
	if (!r->timeout_ok) {
		fprintf(stderr,
			"farnode hub: timed out waiting for the broker\n");
	}
	finish(r, r->timeout_ok ? 0 : -ETIMEDOUT);
}

static void on_down(void *ud, int err, const char *why)
{
	struct hub_run *r = ud;
	fprintf(stderr, "farnode hub: %s\n", why);
	finish(r, err < 0 ? err : -ECONNRESET);
}

static void pub_on_up(void *ud, bool session_present)
{
	struct hub_run *r = ud;
	(void)session_present;
	int rc = uplink_conn_publish(r->conn, r->topic, r->payload, r->len, 1,
				     r->retain, &r->pid);
	if (rc != 0) {
		fprintf(stderr, "farnode hub: cannot publish: %s\n",
			strerror(-rc));
		finish(r, rc);
	}
}

static void pub_on_puback(void *ud, uint16_t pid)
{
	struct hub_run *r = ud;
	if (pid == r->pid) {
		finish(r, 0);
	}
}

static int run(struct hub_run *r, const struct hub_conn_opts *o,
	       const struct uplink_conn_cbs *cbs, uint64_t timeout_ms)
{
	char host[256];
	char cid[64];
	uint16_t port = 0;
	uint8_t rnd[6];
	struct uplink_conn_config cc = {0};
	struct uplink_conn *conn = NULL;
	int rc =
	    uplink_parse_url(o->url ? o->url : "", host, sizeof(host), &port);
	if (rc != 0) {
		fprintf(stderr,
			"farnode hub: url '%s': expected "
			"mqtts://host:port\n",
			o->url ? o->url : "");
		return rc;
	}
	if (o->client_id != NULL) {
		snprintf(cid, sizeof(cid), "%s", o->client_id);
	} else {
		crypto_random(rnd, sizeof(rnd));
		snprintf(cid, sizeof(cid),
			 "farnode-hub-%02x%02x%02x%02x%02x%02x", rnd[0], rnd[1],
			 rnd[2], rnd[3], rnd[4], rnd[5]);
	}
	signal(SIGPIPE, SIG_IGN); /* a broker closing on us is an error */
	cc.host = host;
	cc.port = port;
	cc.tls.ca_file = o->ca;
	cc.tls.cert_file = o->cert;
	cc.tls.key_file = o->key;
	cc.mqtt.keepalive_s = 30;
	cc.client_id = cid;
	cc.clean_session = !o->durable;
	uv_loop_init(&r->loop);
	uv_timer_init(&r->loop, &r->deadline);
	r->deadline.data = r;
	rc = uplink_conn_new(&r->loop, &cc, cbs, r, &conn);
	if (rc != 0) {
		fprintf(stderr,
			"farnode hub: TLS credentials: %s (see above)\n",
			strerror(-rc));
		uv_close((uv_handle_t *)&r->deadline, NULL);
		uv_run(&r->loop, UV_RUN_DEFAULT);
		uv_loop_close(&r->loop);
		return rc;
	}
	r->conn = conn;
	rc = uplink_conn_start(conn);
	if (rc != 0) {
		fprintf(stderr, "farnode hub: cannot connect: %s\n",
			strerror(-rc));
		finish(r, rc);
	} else if (timeout_ms > 0) {
		uv_timer_start(&r->deadline, on_deadline, timeout_ms, 0);
	}
	uv_run(&r->loop, UV_RUN_DEFAULT);
	if (uv_loop_close(&r->loop) != 0) {
		log_debug("hub loop closed with handles open");
	}
	return r->result;
}

int hub_publish(const struct hub_conn_opts *o, const char *topic,
		const uint8_t *payload, size_t len, bool retain)
{
	struct hub_run r = {0};
	struct uplink_conn_cbs cbs = {
	    .on_up = pub_on_up,
	    .on_down = on_down,
	    .on_puback = pub_on_puback,
	};
	r.topic = topic;
	r.payload = payload;
	r.len = len;
	r.retain = retain;
	return run(&r, o, &cbs, o->timeout_ms ? o->timeout_ms : 15000);
}

static void watch_on_up(void *ud, bool session_present)
{
	struct hub_run *r = ud;
	(void)session_present;
	int rc =
	    uplink_conn_subscribe(r->conn, r->filters, r->n_filters, 1, NULL);
	if (rc != 0) {
		fprintf(stderr, "farnode hub: cannot subscribe: %s\n",
			strerror(-rc));
		finish(r, rc);
	}
}

static void watch_on_suback(void *ud, uint16_t pid, const uint8_t *codes,
			    size_t n)
{
	struct hub_run *r = ud;
	(void)pid;
	for (size_t i = 0; i < n; i++) {
		if (codes[i] == MQTT_SUBACK_FAILURE) {
			fprintf(stderr,
				"farnode hub: the broker refused the "
				"subscription to %s\n",
				i < r->n_filters ? r->filters[i] : "?");
			finish(r, -EACCES);
			return;
		}
	}
	/* tell a waiting script that the subscription is in place */
	fprintf(stderr, "farnode hub: watching\n");
}

static void watch_on_publish(void *ud, const struct mqtt_publish *p)
{
	struct hub_run *r = ud;
	if (r->done) {
		return;
	}
	if (r->fn(r->ud, p->topic.s, p->topic.len, p->payload, p->payload_len,
		  p->retain) != 0) {
		/* finish from the loop, after this message was acknowledged */
		r->timeout_ok = true;
		uv_timer_start(&r->deadline, on_deadline, 0, 0);
	}
}

int hub_watch(const struct hub_conn_opts *o, const char *const *filters,
	      size_t n, uint32_t timeout_s, hub_msg_fn fn, void *ud)
{
	struct hub_run r = {0};
	struct uplink_conn_cbs cbs = {
	    .on_up = watch_on_up,
	    .on_down = on_down,
	    .on_publish = watch_on_publish,
	    .on_suback = watch_on_suback,
	};
	r.filters = filters;
	r.n_filters = n;
	r.fn = fn;
	r.ud = ud;
	r.timeout_ok = true;
	return run(&r, o, &cbs, (uint64_t)timeout_s * 1000u);
}
