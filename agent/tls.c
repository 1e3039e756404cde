// SPDX-License-Identifier: Apache-2.0
/*
 * tls: TLS 1.2 client over a libuv TCP stream with mbedTLS (see tls.h).
 *
 * One connection at a time moves through RESOLVING -> CONNECTING ->
 * HANDSHAKE -> CONNECTED and always ends in CLOSING -> IDLE: every failure
 * closes the TCP handle first and reports from its close callback, so the
 * owner may reconnect from inside any callback. Ciphertext from uv_read goes
 * to a receive buffer that the BIO drains completely on every read; outgoing
 * records become one uv_write each. Credentials live in a separate struct so
 * a reload can be parsed fully before it replaces the current set.
 */
#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/pk.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

#define LOG_TAG "tls"
#include "log.h"
#include "tls.h"

#define RX_CAP			     (16u * 1024u + 512u)
#define PLAIN_CAP		     (16u * 1024u)
#define DEFAULT_HANDSHAKE_TIMEOUT_MS 15000u
#define DEFAULT_MAX_WRITE_QUEUE	     (4u * 1024u * 1024u)
#define CLOSE_LINGER_MS		     2000u

enum tls_state {
	ST_IDLE = 0,
	ST_RESOLVING,
	ST_CONNECTING,
	ST_HANDSHAKE,
	ST_CONNECTED,
	ST_CLOSING,
};

/* What to report once the TCP handle is closed. */
enum tls_after {
	AFTER_NONE = 0,
	AFTER_CONNECT_FAIL,
	AFTER_DISCONNECT,
	AFTER_CLOSE,
};

enum tls_timer {
	TIMER_NONE = 0,
	TIMER_HANDSHAKE,
	TIMER_LINGER,
	TIMER_CLOSE_CB,
};

struct tls_creds {
	mbedtls_x509_crt ca;
	mbedtls_x509_crt cert;
	mbedtls_pk_context key;
	bool has_cert;
};

struct tls_client {
	uv_loop_t *loop;
	uv_tcp_t tcp;
	uv_timer_t timer;
	uv_getaddrinfo_t gai;
	uv_connect_t connect_req;
	uv_shutdown_t shutdown_req;
	bool tcp_open;	  /* initialised, close callback not yet run */
	bool tcp_closing; /* uv_close called */
	bool gai_pending;
	bool timer_open;
	bool freeing;
	enum tls_state state;
	enum tls_timer timer_use;

	char *ca_file, *cert_file, *key_file, *server_name;
	bool cert_optional;
	uint32_t handshake_timeout_ms;
	size_t max_write_queue;

	struct tls_creds *creds;
	struct tls_creds *pending_creds; /* from a reload, used on connect */
	mbedtls_entropy_context entropy;
	mbedtls_ctr_drbg_context drbg;
	mbedtls_ssl_config conf;
	bool conf_ready;
	mbedtls_ssl_context ssl;
	bool ssl_ready;

	uint8_t rx[RX_CAP];
	size_t rx_off, rx_len;
	bool eof;
	uint8_t plain[PLAIN_CAP];
	size_t write_queue;

	char host[256];
	uint16_t port;
	tls_connect_cb connect_cb;
	tls_read_cb on_read;
	tls_disconnect_cb on_disconnect;
	tls_close_cb close_cb;
	void *ud;
	enum tls_after after;
	int after_status;

	uint32_t verify_flags;
	char last_error[320];
};

struct write_req {
	uv_write_t req;
	struct tls_client *c;
	size_t len;
	uint8_t data[];
};

static void on_tcp_closed(uv_handle_t *h);
static void drive(struct tls_client *c);

/* ---- credentials ------------------------------------------------------ */

static void creds_free(struct tls_creds *k)
{
	if (!k) {
		return;
	}
	mbedtls_x509_crt_free(&k->ca);
	mbedtls_x509_crt_free(&k->cert);
	mbedtls_pk_free(&k->key); /* zeroizes the key material */
	free(k);
}

static const char *mbed_err(int ret, char *buf, size_t len)
{
	mbedtls_strerror(ret, buf, len);
	return buf;
}

static int check_readable(const char *what, const char *path)
{
	if (access(path, R_OK) != 0) {
		int err = errno;

		log_error("%s %s: %s", what, path, strerror(err));
		return -err;
	}
	return 0;
}

static void warn_validity(const char *what, const char *path,
			  const mbedtls_x509_crt *crt)
{
	const mbedtls_x509_time *to = &crt->valid_to;
	const mbedtls_x509_time *from = &crt->valid_from;

	if (mbedtls_x509_time_is_past(to)) {
		log_warn("%s %s expired on %04d-%02d-%02d; peers will refuse "
			 "it",
			 what, path, to->year, to->mon, to->day);
	} else if (mbedtls_x509_time_is_future(from)) {
		log_warn("%s %s is not valid before %04d-%02d-%02d; peers will "
			 "refuse it",
			 what, path, from->year, from->mon, from->day);
	}
}

static int load_creds(const struct tls_client *c, struct tls_creds **out)
{
	struct tls_creds *k = calloc(1, sizeof(*k));
	char err[128];
	int ret, rc = 0;

	if (!k) {
		return -ENOMEM;
	}
	mbedtls_x509_crt_init(&k->ca);
	mbedtls_x509_crt_init(&k->cert);
	mbedtls_pk_init(&k->key);
	if (!c->ca_file) {
		log_error("no CA file configured: the server cannot be "
			  "verified");
		rc = -EINVAL;
		goto fail;
	}
	if ((rc = check_readable("CA file", c->ca_file)) < 0) {
		goto fail;
	}
	ret = mbedtls_x509_crt_parse_file(&k->ca, c->ca_file);
	if (ret < 0) {
		log_error("CA file %s: %s", c->ca_file,
			  mbed_err(ret, err, sizeof(err)));
		rc = -EINVAL;
		goto fail;
	}
	if (ret > 0) {
		log_warn("CA file %s: %d certificates could not be parsed",
			 c->ca_file, ret);
	}
	warn_validity("CA certificate", c->ca_file, &k->ca);
	if (!c->cert_file || !c->key_file) {
		if (c->cert_optional && !c->cert_file && !c->key_file) {
			*out = k;
			return 0;
		}
		log_error("a client certificate and key are both required");
		rc = -EINVAL;
		goto fail;
	}
	if ((rc = check_readable("certificate", c->cert_file)) < 0 ||
	    (rc = check_readable("key", c->key_file)) < 0) {
		goto fail;
	}
	ret = mbedtls_x509_crt_parse_file(&k->cert, c->cert_file);
	if (ret != 0) {
		log_error("certificate %s: %s", c->cert_file,
			  ret < 0 ? mbed_err(ret, err, sizeof(err))
				  : "unparsable certificates in the file");
		rc = -EINVAL;
		goto fail;
	}
	ret = mbedtls_pk_parse_keyfile(&k->key, c->key_file, NULL);
	if (ret != 0) {
		log_error("key %s: %s", c->key_file,
			  mbed_err(ret, err, sizeof(err)));
		rc = -EINVAL;
		goto fail;
	}
	ret = mbedtls_pk_check_pair(&k->cert.pk, &k->key);
	if (ret != 0) {
		log_error("key %s does not belong to certificate %s",
			  c->key_file, c->cert_file);
		rc = -EINVAL;
		goto fail;
	}
	warn_validity("client certificate", c->cert_file, &k->cert);
	k->has_cert = true;
	*out = k;
	return 0;
fail:
	creds_free(k);
	return rc;
}

static void conf_free(struct tls_client *c)
{
	if (c->conf_ready) {
		mbedtls_ssl_config_free(&c->conf);
		c->conf_ready = false;
	}
}

static int conf_build(struct tls_client *c)
{
	char err[128];
	int ret;

	if (c->conf_ready) {
		return 0;
	}
	mbedtls_ssl_config_init(&c->conf);
	ret = mbedtls_ssl_config_defaults(&c->conf, MBEDTLS_SSL_IS_CLIENT,
					  MBEDTLS_SSL_TRANSPORT_STREAM,
					  MBEDTLS_SSL_PRESET_DEFAULT);
	if (ret != 0) {
		goto fail;
	}
	mbedtls_ssl_conf_authmode(&c->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
	mbedtls_ssl_conf_ca_chain(&c->conf, &c->creds->ca, NULL);
	if (c->creds->has_cert) {
		ret = mbedtls_ssl_conf_own_cert(&c->conf, &c->creds->cert,
						&c->creds->key);
		if (ret != 0) {
			goto fail;
		}
	}
	mbedtls_ssl_conf_rng(&c->conf, mbedtls_ctr_drbg_random, &c->drbg);
	mbedtls_ssl_conf_min_version(&c->conf, MBEDTLS_SSL_MAJOR_VERSION_3,
				     MBEDTLS_SSL_MINOR_VERSION_3);
	c->conf_ready = true;
	return 0;
fail:
	log_error("TLS configuration: %s", mbed_err(ret, err, sizeof(err)));
	mbedtls_ssl_config_free(&c->conf);
	return -EINVAL;
}

/* ---- lifetime --------------------------------------------------------- */

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

static void client_destroy(struct tls_client *c)
{
	conf_free(c);
	creds_free(c->creds);
	creds_free(c->pending_creds);
	mbedtls_ctr_drbg_free(&c->drbg);
	mbedtls_entropy_free(&c->entropy);
	mbedtls_platform_zeroize(c->plain, sizeof(c->plain));
	free(c->ca_file);
	free(c->cert_file);
	free(c->key_file);
	free(c->server_name);
	free(c);
}

static void maybe_free(struct tls_client *c)
{
	if (c->freeing && !c->tcp_open && !c->timer_open && !c->gai_pending) {
		client_destroy(c);
	}
}

static void on_timer_closed(uv_handle_t *h)
{
	struct tls_client *c = h->data;

	c->timer_open = false;
	maybe_free(c);
}

int tls_client_new(uv_loop_t *loop, const struct tls_config *cfg,
		   tls_read_cb on_read, tls_disconnect_cb on_disconnect,
		   void *ud, struct tls_client **out)
{
	static const char pers[] = "farnode-tls";
	struct tls_client *c;
	int rc;

	*out = NULL;
	c = calloc(1, sizeof(*c));
	if (!c) {
		return -ENOMEM;
	}
	c->loop = loop;
	c->on_read = on_read;
	c->on_disconnect = on_disconnect;
	c->ud = ud;
	c->cert_optional = cfg->client_cert_optional;
	c->handshake_timeout_ms = cfg->handshake_timeout_ms
				      ? cfg->handshake_timeout_ms
				      : DEFAULT_HANDSHAKE_TIMEOUT_MS;
	c->max_write_queue = cfg->max_write_queue ? cfg->max_write_queue
						  : DEFAULT_MAX_WRITE_QUEUE;
	mbedtls_entropy_init(&c->entropy);
	mbedtls_ctr_drbg_init(&c->drbg);
	c->ca_file = dup_or_null(cfg->ca_file);
	c->cert_file = dup_or_null(cfg->cert_file);
	c->key_file = dup_or_null(cfg->key_file);
	c->server_name = dup_or_null(cfg->server_name);
	if ((cfg->ca_file && !c->ca_file) ||
	    (cfg->cert_file && !c->cert_file) ||
	    (cfg->key_file && !c->key_file) ||
	    (cfg->server_name && !c->server_name)) {
		rc = -ENOMEM;
		goto fail;
	}
	if (mbedtls_ctr_drbg_seed(&c->drbg, mbedtls_entropy_func, &c->entropy,
				  (const unsigned char *)pers,
				  sizeof(pers) - 1) != 0) {
		log_error("cannot seed the random generator");
		rc = -EIO;
		goto fail;
	}
	if ((rc = load_creds(c, &c->creds)) < 0) {
		goto fail;
	}
	rc = uv_timer_init(loop, &c->timer);
	if (rc < 0) {
		goto fail;
	}
	c->timer.data = c;
	c->timer_open = true;
	*out = c;
	return 0;
fail:
	client_destroy(c);
	return rc;
}

int tls_config_reload(struct tls_client *c)
{
	struct tls_creds *k = NULL;
	int rc = load_creds(c, &k);

	if (rc < 0) {
		log_error("reload failed; keeping the current credentials");
		return rc;
	}
	/*
	 * The live connection's config points at the current credentials,
	 * so the new set waits and replaces them at the next tls_connect().
	 */
	creds_free(c->pending_creds);
	c->pending_creds = k;
	log_info("reloaded CA %s%s%s", c->ca_file,
		 k->has_cert ? ", certificate " : "",
		 k->has_cert ? c->cert_file : "");
	return 0;
}

void tls_client_free(struct tls_client *c)
{
	if (!c || c->freeing) {
		return;
	}
	c->freeing = true;
	c->state = ST_CLOSING;
	c->connect_cb = NULL;
	c->on_read = NULL;
	c->on_disconnect = NULL;
	c->close_cb = NULL;
	if (c->gai_pending) {
		uv_cancel((uv_req_t *)&c->gai);
	}
	if (c->tcp_open && !c->tcp_closing) {
		c->tcp_closing = true;
		uv_close((uv_handle_t *)&c->tcp, on_tcp_closed);
	}
	if (c->timer_open && !uv_is_closing((uv_handle_t *)&c->timer)) {
		uv_close((uv_handle_t *)&c->timer, on_timer_closed);
	}
}

/* ---- BIO ---------------------------------------------------------------- */

static void on_write_done(uv_write_t *req, int status)
{
	struct write_req *w = (struct write_req *)req;
	struct tls_client *c = w->c;

	c->write_queue -= w->len;
	free(w);
	if (status < 0 && status != UV_ECANCELED && !c->tcp_closing) {
		log_debug("write to %s:%u failed: %s", c->host, c->port,
			  uv_strerror(status));
	}
}

static int bio_send(void *ctx, const unsigned char *buf, size_t len)
{
	struct tls_client *c = ctx;
	struct write_req *w;
	uv_buf_t b;
	int rc;

	if (!c->tcp_open || c->tcp_closing) {
		return MBEDTLS_ERR_NET_SEND_FAILED;
	}
	w = malloc(sizeof(*w) + len);
	if (!w) {
		return MBEDTLS_ERR_NET_SEND_FAILED;
	}
	w->c = c;
	w->len = len;
	memcpy(w->data, buf, len);
	b = uv_buf_init((char *)w->data, (unsigned)len);
	rc = uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_write_done);
	if (rc < 0) {
		free(w);
		return MBEDTLS_ERR_NET_SEND_FAILED;
	}
	c->write_queue += len;
	return (int)len;
}

static int bio_recv(void *ctx, unsigned char *buf, size_t len)
{
	struct tls_client *c = ctx;
	size_t avail = c->rx_len - c->rx_off;

	if (avail == 0) {
		return c->eof ? 0 : MBEDTLS_ERR_SSL_WANT_READ;
	}
	if (len > avail) {
		len = avail;
	}
	memcpy(buf, c->rx + c->rx_off, len);
	c->rx_off += len;
	if (c->rx_off == c->rx_len) {
		c->rx_off = c->rx_len = 0;
	}
	return (int)len;
}

/* ---- closing ------------------------------------------------------------ */

static void ssl_free(struct tls_client *c)
{
	if (c->ssl_ready) {
		mbedtls_ssl_free(&c->ssl);
		c->ssl_ready = false;
	}
	c->rx_off = c->rx_len = 0;
	c->eof = false;
}

static void on_tcp_closed(uv_handle_t *h)
{
	struct tls_client *c = h->data;
	enum tls_after after = c->after;
	int status = c->after_status;

	c->tcp_open = false;
	c->tcp_closing = false;
	ssl_free(c);
	if (c->gai_pending) {
		return; /* the resolver callback finishes the close */
	}
	c->state = ST_IDLE;
	c->after = AFTER_NONE;
	if (c->freeing) {
		maybe_free(c);
		return;
	}
	if (c->timer_use == TIMER_LINGER || c->timer_use == TIMER_HANDSHAKE) {
		uv_timer_stop(&c->timer);
		c->timer_use = TIMER_NONE;
	}
	switch (after) {
	case AFTER_CONNECT_FAIL:
		if (c->connect_cb) {
			c->connect_cb(c, status, c->ud);
		}
		break;
	case AFTER_DISCONNECT:
		if (c->on_disconnect) {
			c->on_disconnect(c, status, c->ud);
		}
		break;
	case AFTER_CLOSE:
		if (c->close_cb) {
			tls_close_cb cb = c->close_cb;

			c->close_cb = NULL;
			cb(c, c->ud);
		}
		break;
	default:
		break;
	}
}

static void close_tcp(struct tls_client *c)
{
	if (c->tcp_open && !c->tcp_closing) {
		c->tcp_closing = true;
		uv_close((uv_handle_t *)&c->tcp, on_tcp_closed);
	}
}

/* End the connection with an error; reported after the handle closes. */
static void fail(struct tls_client *c, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void fail(struct tls_client *c, int status, const char *fmt, ...)
{
	va_list ap;

	if (c->state == ST_CLOSING || c->state == ST_IDLE) {
		return;
	}
	va_start(ap, fmt);
	vsnprintf(c->last_error, sizeof(c->last_error), fmt, ap);
	va_end(ap);
	log_error("%s:%u: %s", c->host, c->port, c->last_error);
	c->after =
	    c->state == ST_CONNECTED ? AFTER_DISCONNECT : AFTER_CONNECT_FAIL;
	c->after_status = status;
	c->state = ST_CLOSING;
	if (c->gai_pending) {
		uv_cancel((uv_req_t *)&c->gai);
	}
	close_tcp(c);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
	struct tls_client *c = req->data;

	(void)status;
	close_tcp(c);
}

static void on_timer(uv_timer_t *t)
{
	struct tls_client *c = t->data;
	enum tls_timer use = c->timer_use;

	c->timer_use = TIMER_NONE;
	switch (use) {
	case TIMER_HANDSHAKE:
		fail(c, -ETIMEDOUT, "no TLS session within %u ms",
		     (unsigned)c->handshake_timeout_ms);
		break;
	case TIMER_LINGER:
		close_tcp(c);
		break;
	case TIMER_CLOSE_CB:
		if (c->close_cb) {
			tls_close_cb cb = c->close_cb;

			c->close_cb = NULL;
			cb(c, c->ud);
		}
		break;
	default:
		break;
	}
}

static void timer_start(struct tls_client *c, enum tls_timer use, uint64_t ms)
{
	c->timer_use = use;
	uv_timer_start(&c->timer, on_timer, ms, 0);
}

void tls_close(struct tls_client *c, tls_close_cb cb)
{
	enum tls_state prev = c->state;

	c->connect_cb = NULL;
	c->close_cb = cb;
	if (prev == ST_IDLE) {
		timer_start(c, TIMER_CLOSE_CB, 0);
		return;
	}
	c->after = AFTER_CLOSE;
	if (prev == ST_CLOSING) {
		return; /* the close already under way reports to cb */
	}
	c->state = ST_CLOSING;
	if (c->gai_pending) {
		uv_cancel((uv_req_t *)&c->gai);
	}
	if (prev == ST_CONNECTED) {
		/* close_notify, then shut down once the writes are out */
		mbedtls_ssl_close_notify(&c->ssl);
		c->shutdown_req.data = c;
		if (uv_shutdown(&c->shutdown_req, (uv_stream_t *)&c->tcp,
				on_shutdown) == 0) {
			timer_start(c, TIMER_LINGER, CLOSE_LINGER_MS);
			return;
		}
	}
	close_tcp(c);
}

/* ---- handshake and records --------------------------------------------- */

static const char *alert_name(unsigned char alert)
{
	switch (alert) {
	case 0:
		return "close_notify";
	case 10:
		return "unexpected_message";
	case 20:
		return "bad_record_mac";
	case 40:
		return "handshake_failure";
	case 42:
		return "bad_certificate";
	case 43:
		return "unsupported_certificate";
	case 44:
		return "certificate_revoked";
	case 45:
		return "certificate_expired";
	case 46:
		return "certificate_unknown";
	case 47:
		return "illegal_parameter";
	case 48:
		return "unknown_ca";
	case 49:
		return "access_denied";
	case 50:
		return "decode_error";
	case 51:
		return "decrypt_error";
	case 70:
		return "protocol_version";
	case 71:
		return "insufficient_security";
	case 80:
		return "internal_error";
	case 112:
		return "unrecognized_name";
	case 116:
		return "certificate_required";
	default:
		return "unknown alert";
	}
}

static const char *alert_hint(unsigned char alert)
{
	switch (alert) {
	case 45:
		return ": our client certificate has expired";
	case 48:
		return ": our client certificate is not from a CA the server "
		       "trusts";
	case 44:
		return ": our client certificate is revoked";
	case 40:
	case 42:
	case 46:
	case 116:
		return ": the server did not accept our client certificate";
	case 70:
		return ": no common TLS version (TLS 1.2 required)";
	default:
		return "";
	}
}

const char *tls_verify_reason(uint32_t flags)
{
	if (flags & MBEDTLS_X509_BADCERT_EXPIRED) {
		return "certificate expired";
	}
	if (flags & MBEDTLS_X509_BADCERT_FUTURE) {
		return "certificate not yet valid";
	}
	if (flags & MBEDTLS_X509_BADCERT_NOT_TRUSTED) {
		return "not signed by a trusted CA (wrong CA?)";
	}
	if (flags & MBEDTLS_X509_BADCERT_CN_MISMATCH) {
		return "name mismatch";
	}
	if (flags & MBEDTLS_X509_BADCERT_REVOKED) {
		return "certificate revoked";
	}
	if (flags & MBEDTLS_X509_BADCERT_MISSING) {
		return "no certificate presented";
	}
	if (flags & (MBEDTLS_X509_BADCERT_KEY_USAGE |
		     MBEDTLS_X509_BADCERT_EXT_KEY_USAGE |
		     MBEDTLS_X509_BADCERT_NS_CERT_TYPE)) {
		return "certificate not meant for a TLS server";
	}
	if (flags & (MBEDTLS_X509_BADCERT_BAD_MD | MBEDTLS_X509_BADCERT_BAD_PK |
		     MBEDTLS_X509_BADCERT_BAD_KEY)) {
		return "unacceptable signature algorithm or key";
	}
	return flags ? "verification failed" : "verified";
}

static void handshake_failed(struct tls_client *c, int ret)
{
	const char *name = c->server_name ? c->server_name : c->host;
	char err[128];

	if (ret == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED) {
		uint32_t flags = mbedtls_ssl_get_verify_result(&c->ssl);

		c->verify_flags = flags;
		if (flags & MBEDTLS_X509_BADCERT_CN_MISMATCH &&
		    !(flags & ~MBEDTLS_X509_BADCERT_CN_MISMATCH)) {
			fail(c, -EACCES,
			     "server certificate rejected: name mismatch "
			     "(certificate is not for '%s')",
			     name);
		} else {
			fail(c, -EACCES,
			     "server certificate rejected: %s (flags 0x%x)",
			     tls_verify_reason(flags), (unsigned)flags);
		}
	} else if (ret == MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE) {
		unsigned char alert = c->ssl.in_msg ? c->ssl.in_msg[1] : 255;

		fail(c, -ECONNABORTED,
		     "server refused the handshake with alert %s (%u)%s",
		     alert_name(alert), (unsigned)alert, alert_hint(alert));
	} else if (ret == MBEDTLS_ERR_SSL_CONN_EOF || c->eof) {
		fail(c, -ECONNRESET,
		     "server closed the connection during the handshake");
	} else {
		fail(c, -EPROTO, "handshake failed: %s",
		     mbed_err(ret, err, sizeof(err)));
	}
}

static void read_records(struct tls_client *c)
{
	char err[128];

	while (c->state == ST_CONNECTED) {
		int n = mbedtls_ssl_read(&c->ssl, c->plain, sizeof(c->plain));

		if (n > 0) {
			if (c->on_read) {
				c->on_read(c, c->plain, (size_t)n, c->ud);
			}
			mbedtls_platform_zeroize(c->plain, (size_t)n);
			continue;
		}
		if (n == MBEDTLS_ERR_SSL_WANT_READ ||
		    n == MBEDTLS_ERR_SSL_WANT_WRITE) {
			if (c->eof) {
				fail(c, -ECONNRESET,
				     "connection closed by the server");
			}
			return;
		}
		if (n == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY) {
			snprintf(c->last_error, sizeof(c->last_error),
				 "server closed the session");
			log_info("%s:%u: %s", c->host, c->port, c->last_error);
			c->after = AFTER_DISCONNECT;
			c->after_status = 0;
			c->state = ST_CLOSING;
			close_tcp(c);
			return;
		}
		if (n == 0 || n == MBEDTLS_ERR_SSL_CONN_EOF) {
			fail(c, -ECONNRESET, "connection closed by the server");
			return;
		}
		fail(c, -EPROTO, "TLS read failed: %s",
		     mbed_err(n, err, sizeof(err)));
		return;
	}
}

static void drive(struct tls_client *c)
{
	if (c->state == ST_HANDSHAKE) {
		int ret = mbedtls_ssl_handshake(&c->ssl);

		if (ret == MBEDTLS_ERR_SSL_WANT_READ ||
		    ret == MBEDTLS_ERR_SSL_WANT_WRITE) {
			if (c->eof) {
				handshake_failed(c, MBEDTLS_ERR_SSL_CONN_EOF);
			}
			return;
		}
		if (ret != 0) {
			handshake_failed(c, ret);
			return;
		}
		uv_timer_stop(&c->timer);
		c->timer_use = TIMER_NONE;
		c->verify_flags = mbedtls_ssl_get_verify_result(&c->ssl);
		c->last_error[0] = '\0';
		c->state = ST_CONNECTED;
		log_info("%s:%u: TLS session up (%s, %s)", c->host, c->port,
			 mbedtls_ssl_get_version(&c->ssl),
			 mbedtls_ssl_get_ciphersuite(&c->ssl));
		if (c->connect_cb) {
			tls_connect_cb cb = c->connect_cb;

			c->connect_cb = NULL;
			cb(c, 0, c->ud);
		}
	}
	if (c->state == ST_CONNECTED) {
		read_records(c);
	}
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct tls_client *c = h->data;

	(void)suggested;
	buf->base = (char *)c->rx + c->rx_len;
	buf->len = RX_CAP - c->rx_len;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct tls_client *c = s->data;

	(void)buf;
	if (c->state != ST_HANDSHAKE && c->state != ST_CONNECTED) {
		return;
	}
	if (nread == UV_EOF) {
		c->eof = true;
	} else if (nread < 0) {
		fail(c, (int)nread, "read failed: %s", uv_strerror((int)nread));
		return;
	} else {
		c->rx_len += (size_t)nread;
	}
	drive(c);
}

static void on_connected(uv_connect_t *req, int status)
{
	struct tls_client *c = req->data;
	char err[128];
	int ret;

	if (c->state != ST_CONNECTING) {
		return;
	}
	if (status < 0) {
		fail(c, status, "connect failed: %s", uv_strerror(status));
		return;
	}
	uv_tcp_nodelay(&c->tcp, 1);
	mbedtls_ssl_init(&c->ssl);
	c->ssl_ready = true;
	ret = mbedtls_ssl_setup(&c->ssl, &c->conf);
	if (ret == 0) {
		ret = mbedtls_ssl_set_hostname(
		    &c->ssl, c->server_name ? c->server_name : c->host);
	}
	if (ret != 0) {
		fail(c, -EPROTO, "TLS setup: %s",
		     mbed_err(ret, err, sizeof(err)));
		return;
	}
	mbedtls_ssl_set_bio(&c->ssl, c, bio_send, bio_recv, NULL);
	ret = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
	if (ret < 0) {
		fail(c, ret, "read start: %s", uv_strerror(ret));
		return;
	}
	c->state = ST_HANDSHAKE;
	drive(c);
}

/* Prefer an IPv4 address: brokers in tests and on gateways listen there. */
static const struct addrinfo *pick_addr(const struct addrinfo *ai)
{
	const struct addrinfo *p;

	for (p = ai; p; p = p->ai_next) {
		if (p->ai_family == AF_INET) {
			return p;
		}
	}
	return ai;
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
	struct tls_client *c = req->data;
	const struct addrinfo *ai;
	int rc;

	c->gai_pending = false;
	if (c->state != ST_RESOLVING || c->freeing) {
		/* cancelled by a close: finish it if the handle is gone */
		uv_freeaddrinfo(res);
		if (!c->tcp_open) {
			c->tcp_closing = true; /* reuse the report path */
			on_tcp_closed((uv_handle_t *)&c->tcp);
		}
		return;
	}
	if (status < 0 || !res) {
		uv_freeaddrinfo(res);
		fail(c, -EHOSTUNREACH, "cannot resolve: %s",
		     uv_strerror(status));
		return;
	}
	ai = pick_addr(res);
	c->connect_req.data = c;
	rc =
	    uv_tcp_connect(&c->connect_req, &c->tcp, ai->ai_addr, on_connected);
	uv_freeaddrinfo(res);
	if (rc < 0) {
		fail(c, rc, "connect failed: %s", uv_strerror(rc));
		return;
	}
	c->state = ST_CONNECTING;
}

int tls_connect(struct tls_client *c, const char *host, uint16_t port,
		tls_connect_cb cb)
{
	struct addrinfo hints;
	char port_str[8];
	int rc;

	if (c->freeing || c->state != ST_IDLE || c->tcp_open ||
	    c->gai_pending || c->timer_use == TIMER_CLOSE_CB) {
		return -EBUSY;
	}
	if (strlen(host) >= sizeof(c->host)) {
		return -EINVAL;
	}
	if (c->pending_creds) {
		conf_free(c);
		creds_free(c->creds);
		c->creds = c->pending_creds;
		c->pending_creds = NULL;
	}
	if ((rc = conf_build(c)) < 0) {
		return rc;
	}
	snprintf(c->host, sizeof(c->host), "%s", host);
	c->port = port;
	c->connect_cb = cb;
	c->close_cb = NULL;
	c->after = AFTER_NONE;
	c->verify_flags = 0;
	c->last_error[0] = '\0';
	rc = uv_tcp_init(c->loop, &c->tcp);
	if (rc < 0) {
		return rc;
	}
	c->tcp.data = c;
	c->tcp_open = true;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	snprintf(port_str, sizeof(port_str), "%u", (unsigned)port);
	c->gai.data = c;
	rc = uv_getaddrinfo(c->loop, &c->gai, on_resolved, host, port_str,
			    &hints);
	if (rc < 0) {
		c->tcp_closing = true;
		uv_close((uv_handle_t *)&c->tcp, on_tcp_closed);
		return rc;
	}
	c->gai_pending = true;
	c->state = ST_RESOLVING;
	timer_start(c, TIMER_HANDSHAKE, c->handshake_timeout_ms);
	return 0;
}

int tls_write(struct tls_client *c, const uint8_t *buf, size_t len)
{
	char err[128];
	size_t off = 0;

	if (c->state != ST_CONNECTED) {
		return -ENOTCONN;
	}
	if (c->write_queue > c->max_write_queue) {
		return -ENOBUFS;
	}
	while (off < len) {
		int n = mbedtls_ssl_write(&c->ssl, buf + off, len - off);

		if (n < 0) {
			fail(c, -EPROTO, "TLS write failed: %s",
			     mbed_err(n, err, sizeof(err)));
			return -EPROTO;
		}
		off += (size_t)n;
	}
	return 0;
}

bool tls_is_connected(const struct tls_client *c)
{
	return c->state == ST_CONNECTED;
}

size_t tls_write_queue_size(const struct tls_client *c)
{
	return c->write_queue;
}

const char *tls_last_error(const struct tls_client *c)
{
	return c->last_error;
}

uint32_t tls_verify_flags(const struct tls_client *c)
{
	return c->verify_flags;
}
