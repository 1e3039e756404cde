/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tls: a TLS 1.2 client over a libuv TCP stream, using mbedTLS.
 *
 * The mbedTLS BIO never blocks: its send callback queues ciphertext as
 * uv_write requests, its receive callback drains what uv_read delivered and
 * says WANT_READ otherwise; the handshake and record reads advance whenever
 * the loop brings bytes. The server certificate is verified against the
 * configured CA and host name; a client certificate and key are required by
 * default. Verification failures are logged with their reason (expired, not
 * yet valid, untrusted CA, name mismatch, or the broker's alert).
 */
#ifndef FARNODE_TLS_H
#define FARNODE_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

struct tls_client;

struct tls_config {
	const char *ca_file;   /* PEM CA bundle the server must chain to */
	const char *cert_file; /* PEM client certificate (chain) */
	const char *key_file;  /* PEM private key for cert_file, unencrypted */
	/* Allow connecting without cert_file/key_file (default: required). */
	bool client_cert_optional;
	/*
	 * Name the server certificate must carry (CN or DNS SAN). NULL: the
	 * host passed to tls_connect(). mbedTLS 2.28 compares names as text,
	 * so a broker reached by IP address needs its name here or the
	 * address as a DNS SAN in its certificate.
	 */
	const char *server_name;
	/* TCP connect plus handshake deadline; 0 = 15 s. */
	uint32_t handshake_timeout_ms;
	/* Queued ciphertext above which tls_write() says -ENOBUFS; 0 = 4 MiB.
	 */
	size_t max_write_queue;
};

/*
 * Connection finished: status 0 (handshake done, tls_write() may be used)
 * or a negative errno; on failure the TCP handle is already closed and
 * tls_connect() may be called again from inside the callback:
 *   -EACCES        server certificate rejected (see tls_last_error())
 *   -ECONNABORTED  the server refused us with a TLS alert (e.g. our
 *                  certificate is expired or from an unknown CA)
 *   -ECONNRESET    the server closed the connection during the handshake
 *   -ETIMEDOUT     handshake_timeout_ms passed
 *   -EHOSTUNREACH  name resolution failed
 *   -EPROTO        other TLS failure; libuv's codes for TCP errors
 */
typedef void (*tls_connect_cb)(struct tls_client *c, int status, void *ud);
/* Decrypted application data; data is borrowed for the call. */
typedef void (*tls_read_cb)(struct tls_client *c, const uint8_t *data,
			    size_t len, void *ud);
/*
 * An established connection ended without tls_close(): 0 after the
 * server's close_notify, else a negative errno (-ECONNRESET on EOF).
 * The handle is closed; tls_connect() may be called again.
 */
typedef void (*tls_disconnect_cb)(struct tls_client *c, int status, void *ud);
/* tls_close() finished; the client may connect again. */
typedef void (*tls_close_cb)(struct tls_client *c, void *ud);

/*
 * Create a client on loop and load CA, certificate and key from cfg (the
 * paths are copied). Returns 0 and *out, or -ENOENT/-EACCES for unreadable
 * files, -EINVAL for unparsable ones or a key that does not match the
 * certificate, -ENOMEM; the reason is logged. ud is passed to callbacks.
 */
int tls_client_new(uv_loop_t *loop, const struct tls_config *cfg,
		   tls_read_cb on_read, tls_disconnect_cb on_disconnect,
		   void *ud, struct tls_client **out);

/*
 * Close any connection and free the client in the last close callback
 * (never synchronously: safe to call from any callback of this client).
 * No callback runs afterwards. NULL-safe.
 */
void tls_client_free(struct tls_client *c);

/*
 * Re-read CA, certificate and key from the configured paths (SIGHUP). On
 * success the new credentials are used from the next tls_connect(); the
 * current connection is not touched. On failure the old ones stay and the
 * error is returned (as tls_client_new()).
 */
int tls_config_reload(struct tls_client *c);

/*
 * Resolve host, connect TCP to port and run the handshake; cb reports the
 * outcome. -EBUSY if a connection exists or is closing.
 */
int tls_connect(struct tls_client *c, const char *host, uint16_t port,
		tls_connect_cb cb);

/*
 * Encrypt and queue len bytes. 0, -ENOTCONN unless connected, -ENOBUFS when
 * the write queue is over max_write_queue (the caller retries later).
 */
int tls_write(struct tls_client *c, const uint8_t *buf, size_t len);

/*
 * Send close_notify and close the connection; cb (may be NULL) runs when
 * the handle is closed. If no connection exists cb still runs (from the
 * loop). No connect/read/disconnect callback runs after this call.
 */
void tls_close(struct tls_client *c, tls_close_cb cb);

/* True after a successful handshake until the connection ends. */
bool tls_is_connected(const struct tls_client *c);
/* Bytes handed to uv_write and not yet completed. */
size_t tls_write_queue_size(const struct tls_client *c);
/* Text of the last connect or connection failure ("" if none). */
const char *tls_last_error(const struct tls_client *c);
/* mbedTLS verification flags of the last handshake (0 = verified). */
uint32_t tls_verify_flags(const struct tls_client *c);

/*
 * Human reason for mbedTLS X.509 verification flags, most important first
 * ("certificate expired", "not signed by a trusted CA", ...). Static text.
 */
const char *tls_verify_reason(uint32_t flags);

#endif
