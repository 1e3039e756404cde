// SPDX-License-Identifier: Apache-2.0
// gossip: binds the pure SWIM core to libuv. UDP carries one sealed
// datagram per core message; TCP carries push-pull state as a stream of
// frames `u32 length | sealed(u8 last | chunk)`, reassembled under
// SWIM_PUSHPULL_MAX_BYTES. Members are written to the store's members
// table every few seconds when they changed, and read back at start so a
// restarted node rejoins without seeds.

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <uv.h>

#define LOG_TAG "gossip"
#include "agent.h"
#include "crypto.h"
#include "gossip.h"
#include "gossip_app.h"
#include "log.h"
#include "rng.h"
#include "runtime_svc.h"
#include "store.h"
#include "swim.h"
#include "uplink.h"
#include "wire.h"

#define SEEDS_MAX      32
#define REMEMBERED_MAX 16
#define PP_CHUNK       32768
#define PP_TIMEOUT_MS  10000
#define STATE_EVERY_MS 5000
#define LEAVE_MAX_MS   5000

struct gossip;

struct pp_conn {
	struct gossip *g;
	struct pp_conn *next;
	uv_tcp_t tcp;
	uv_timer_t timer;
	uv_connect_t connect;
	int open_handles;
	bool client;
	bool join;
	bool replied;
	bool app;     /* carries one application message, not state */
	uint8_t *out; /* client app connection: the envelope to send */
	size_t out_len;
	char peer[64];
	uint8_t *in; /* raw stream bytes not yet framed */
	size_t in_len, in_cap;
	uint8_t *msg; /* reassembled plaintext state */
	size_t msg_len, msg_cap;
};

struct gossip {
	struct agent *a;
	struct swim *core;
	uv_udp_t udp;
	uv_tcp_t listener;
	uv_timer_t tick;
	uv_timer_t join_timer;
	uv_timer_t state_timer;
	uv_timer_t leave_timer;
	int open_handles;
	bool stopping;
	bool sealed; /* keyring has a key */
	struct pp_conn *conns;
	struct sockaddr_storage seeds[SEEDS_MAX];
	size_t n_seeds;
	uint64_t join_backoff_ms;
	bool joined;
	bool dirty;
	struct node_state last_state;
	bool have_state;
	void (*leave_done)(void *ud);
	void *leave_ud;
	uint64_t leave_deadline;
	struct log_rl rl_open;
	struct log_rl rl_pp;
	uint64_t rx_rejected;
	uint64_t udp_sent_packets; /* every datagram handed to the socket */
	uint64_t udp_sent_bytes;
	uint64_t app_sent;
	uint64_t app_stream_sent; /* of which over TCP (too big for UDP) */
	uint64_t app_received;
	uint64_t app_dropped;
	uint8_t rxbuf[65536];
	uint8_t pt[65536];
	uint8_t tx[SWIM_DATAGRAM_MAX + 64];
};

/* ---- addresses ---- */

static int to_swim_addr(const struct sockaddr *sa, struct swim_addr *out)
{
	memset(out, 0, sizeof(*out));
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		out->family = 4;
		memcpy(out->ip, &in->sin_addr, 4);
		out->port = ntohs(in->sin_port);
		return 0;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 =
		    (const struct sockaddr_in6 *)sa;
		out->family = 6;
		memcpy(out->ip, &in6->sin6_addr, 16);
		out->port = ntohs(in6->sin6_port);
		return 0;
	}
	return -EAFNOSUPPORT;
}

static void to_sockaddr(const struct swim_addr *a, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (a->family == 6) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
		in6->sin6_family = AF_INET6;
		memcpy(&in6->sin6_addr, a->ip, 16);
		in6->sin6_port = htons(a->port);
	} else {
		struct sockaddr_in *in = (struct sockaddr_in *)ss;
		in->sin_family = AF_INET;
		memcpy(&in->sin_addr, a->ip, 4);
		in->sin_port = htons(a->port);
	}
}

/* Parse numeric "a.b.c.d:port" or "[v6]:port". */
static int parse_hostport(const char *s, struct sockaddr_storage *ss)
{
	char host[64];
	const char *colon = strrchr(s, ':');
	if (colon == NULL || colon == s) {
		return -EINVAL;
	}
	size_t hl = (size_t)(colon - s);
	if (s[0] == '[' && hl >= 2 && s[hl - 1] == ']') {
		s++;
		hl -= 2;
	}
	if (hl >= sizeof(host)) {
		return -EINVAL;
	}
	memcpy(host, s, hl);
	host[hl] = '\0';
	char *end;
	unsigned long port = strtoul(colon + 1, &end, 10);
	if (*end != '\0' || port == 0 || port > 65535) {
		return -EINVAL;
	}
	memset(ss, 0, sizeof(*ss));
	if (uv_ip4_addr(host, (int)port, (struct sockaddr_in *)ss) == 0) {
		return 0;
	}
	if (uv_ip6_addr(host, (int)port, (struct sockaddr_in6 *)ss) == 0) {
		return 0;
	}
	return -EINVAL;
}

static void fmt_sockaddr(const struct sockaddr *sa, char *out, size_t cap)
{
	struct swim_addr a;
	if (to_swim_addr(sa, &a) < 0) {
		snprintf(out, cap, "?");
		return;
	}
	swim_addr_format(&a, out, cap);
}

/* ---- sealing ---- */

static int seal(struct gossip *g, const uint8_t *pt, size_t n, uint8_t *out,
		size_t cap, size_t *out_len)
{
	if (!g->sealed) {
		if (n > cap) {
			return -ENOBUFS;
		}
		memcpy(out, pt, n);
		*out_len = n;
		return 0;
	}
	return crypto_seal(g->a->keyring, pt, n, out, cap, out_len);
}

static int unseal(struct gossip *g, const uint8_t *in, size_t n, uint8_t *pt,
		  size_t cap, size_t *pt_len)
{
	if (!g->sealed) {
		if (n > cap) {
			return -EMSGSIZE;
		}
		memcpy(pt, in, n);
		*pt_len = n;
		return 0;
	}
	return crypto_open(g->a->keyring, in, n, pt, cap, pt_len);
}

/* ---- core plumbing ---- */

static void on_tick(uv_timer_t *t);

static void arm(struct gossip *g)
{
	if (g->stopping) {
		return;
	}
	uint64_t now = uv_now(g->a->loop);
	uint64_t d = swim_next_deadline(g->core);
	uv_timer_start(&g->tick, on_tick, d > now ? d - now : 0, 0);
}

static void on_tick(uv_timer_t *t)
{
	struct gossip *g = t->data;
	swim_tick(g->core, uv_now(g->a->loop));
	arm(g);
}

static void core_send(void *ud, const struct swim_addr *to, const uint8_t *buf,
		      size_t len)
{
	struct gossip *g = ud;
	struct sockaddr_storage ss;
	size_t n;
	if (g->stopping || seal(g, buf, len, g->tx, sizeof(g->tx), &n) < 0) {
		return;
	}
	to_sockaddr(to, &ss);
	uv_buf_t b = uv_buf_init((char *)g->tx, (unsigned)n);
	int rc = uv_udp_try_send(&g->udp, &b, 1, (const struct sockaddr *)&ss);
	if (rc >= 0) {
		g->udp_sent_packets++;
		g->udp_sent_bytes += n;
	}
	if (rc < 0 && rc != UV_EAGAIN) {
		log_debug("send to port %u: %s", (unsigned)to->port,
			  uv_strerror(rc));
	}
}

static void core_event(void *ud, enum swim_event ev,
		       const struct swim_member_info *m)
{
	struct gossip *g = ud;
	char id[NODE_ID_STR_LEN], addr[64];
	g->dirty = true;
	node_id_format(&m->id, id);
	swim_addr_format(&m->addr, addr, sizeof(addr));
	switch (ev) {
	case SWIM_EV_JOIN:
		log_info("member %s (%s) at %s joined", id, m->name, addr);
		break;
	case SWIM_EV_ALIVE:
		log_info("member %s (%s) alive again, incarnation %" PRIu64, id,
			 m->name, m->incarnation);
		break;
	case SWIM_EV_SUSPECT:
		log_debug("member %s (%s) suspect", id, m->name);
		break;
	case SWIM_EV_DEAD:
		log_warn("member %s (%s) at %s is dead", id, m->name, addr);
		break;
	case SWIM_EV_LEFT:
		log_info("member %s (%s) left", id, m->name);
		break;
	default:
		break;
	}
	struct agent *a = g->a;
	int app_ev = -1;
	if (ev == SWIM_EV_JOIN || ev == SWIM_EV_ALIVE) {
		app_ev = GOSSIP_MEMBER_ALIVE;
	} else if (ev == SWIM_EV_DEAD) {
		app_ev = GOSSIP_MEMBER_DEAD;
	} else if (ev == SWIM_EV_LEFT) {
		app_ev = GOSSIP_MEMBER_LEFT;
	}
	if (app_ev >= 0 && !g->stopping) {
		/* uplink statuses: 1 alive, 2 suspect, 3 dead, 4 left */
		static const uint32_t uplink_status[] = {1, 3, 4};
		uplink_note_member(a, &m->id, uplink_status[app_ev],
				   m->incarnation);
		if (a->gossip_member_fn != NULL) {
			a->gossip_member_fn(a->gossip_member_ud, &m->id, app_ev,
					    uv_now(a->loop));
		}
	} else if (ev == SWIM_EV_SUSPECT && !g->stopping) {
		uplink_note_member(a, &m->id, 2, m->incarnation);
	} else if (ev == SWIM_EV_UPDATE && !g->stopping &&
		   a->gossip_member_fn != NULL) {
		a->gossip_member_fn(a->gossip_member_ud, &m->id,
				    GOSSIP_MEMBER_STATE, uv_now(a->loop));
	}
}

static struct pp_conn *pp_start(struct gossip *g,
				const struct sockaddr_storage *to, bool join);

static void core_push_pull(void *ud, const struct swim_addr *to)
{
	struct gossip *g = ud;
	struct sockaddr_storage ss;
	to_sockaddr(to, &ss);
	pp_start(g, &ss, false);
}

static void alloc_rx(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct gossip *g = h->data;
	(void)suggested;
	*buf = uv_buf_init((char *)g->rxbuf, sizeof(g->rxbuf));
}

/*
 * Application envelopes (types 10-13: offload, Q-shares) go to the
 * installed receiver instead of the SWIM core. Returns true when the
 * datagram was one (delivered or dropped).
 */
static bool deliver_app(struct gossip *g, const uint8_t *pt, size_t n,
			uint64_t now, bool stream)
{
	struct wire_envelope h;
	const uint8_t *body = NULL;
	size_t blen = 0;
	int rc = stream ? wire_stream_envelope_decode(pt, n, &h, &body, &blen)
			: wire_envelope_decode(pt, n, &h, &body, &blen);
	if (rc != 0 || h.type < WIRE_OFFLOAD_OFFER || h.type > WIRE_Q_SHARE) {
		return false; /* SWIM's, or the core counts it as malformed */
	}
	struct agent *a = g->a;
	if (node_id_equal(&h.sender, &a->id) || a->gossip_app_fn == NULL) {
		g->app_dropped++;
		return true;
	}
	g->app_received++;
	a->gossip_app_fn(a->gossip_app_ud, &h.sender, (uint32_t)h.type, body,
			 blen, now);
	return true;
}

static void on_udp(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf,
		   const struct sockaddr *addr, unsigned flags)
{
	struct gossip *g = h->data;
	struct swim_addr from;
	size_t n;
	if (nread <= 0 || addr == NULL || g->stopping ||
	    to_swim_addr(addr, &from) < 0) {
		return;
	}
	uint64_t now = uv_now(g->a->loop);
	int rc = (flags & UV_UDP_PARTIAL)
		     ? -EMSGSIZE
		     : unseal(g, (const uint8_t *)buf->base, (size_t)nread,
			      g->pt, sizeof(g->pt), &n);
	if (rc < 0) {
		uint32_t supp = 0;
		g->rx_rejected++;
		if (log_rl_allow(&g->rl_open, now, 5, 10000, &supp)) {
			char a[64];
			swim_addr_format(&from, a, sizeof(a));
			log_warn("dropped datagram from %s: %s (%" PRIu32
				 " more suppressed)",
				 a, g->sealed ? crypto_strerror(rc) : "too big",
				 supp);
		}
		return;
	}
	if (deliver_app(g, g->pt, n, now, false)) {
		return;
	}
	swim_recv(g->core, &from, g->pt, n, now);
	arm(g);
}

/* ---- push-pull over TCP ---- */

static void conn_closed(uv_handle_t *h)
{
	struct pp_conn *c = h->data;
	if (--c->open_handles > 0) {
		return;
	}
	struct gossip *g = c->g;
	for (struct pp_conn **p = &g->conns; *p; p = &(*p)->next) {
		if (*p == c) {
			*p = c->next;
			break;
		}
	}
	free(c->in);
	free(c->msg);
	free(c->out);
	free(c);
	if (--g->open_handles == 0) {
		swim_free(g->core);
		free(g);
	}
}

static void conn_close(struct pp_conn *c)
{
	if (!uv_is_closing((uv_handle_t *)&c->tcp)) {
		uv_close((uv_handle_t *)&c->tcp, conn_closed);
	}
	if (!uv_is_closing((uv_handle_t *)&c->timer)) {
		uv_close((uv_handle_t *)&c->timer, conn_closed);
	}
}

static void conn_fail(struct pp_conn *c, const char *what)
{
	uint32_t supp = 0;
	if (log_rl_allow(&c->g->rl_pp, uv_now(c->g->a->loop), 5, 10000,
			 &supp)) {
		log_info("push-pull with %s: %s", c->peer, what);
	}
	conn_close(c);
}

static void on_conn_timeout(uv_timer_t *t)
{
	conn_fail(t->data, "timed out");
}

struct pp_write {
	uv_write_t req;
	struct pp_conn *c;
	uint8_t *buf;
	bool close_after;
};

static void on_written(uv_write_t *w, int status)
{
	struct pp_write *pw = (struct pp_write *)w;
	if (status < 0 || pw->close_after) {
		conn_close(pw->c);
	}
	free(pw->buf);
	free(pw);
}

/* Frame flags: the first plaintext byte of every frame. */
#define FRAME_LAST 1u /* the message ends with this frame */
#define FRAME_APP  2u /* an application envelope, not push-pull state */

/* Seal data[0..len) into frames (flags on each, FRAME_LAST on the final
 * one) and write them. */
static int send_frames(struct pp_conn *c, const uint8_t *data, size_t len,
		       uint8_t flags, bool close_after)
{
	struct gossip *g = c->g;
	uint8_t *out = NULL;
	size_t off = 0, o = 0;
	int rc;
	size_t frames = len / PP_CHUNK + 1;
	size_t cap = len + frames * (4 + 1 + CRYPTO_SEAL_OVERHEAD);
	uint8_t *chunk = malloc(PP_CHUNK + 1);
	out = malloc(cap);
	struct pp_write *pw = calloc(1, sizeof(*pw));
	if (chunk == NULL || out == NULL || pw == NULL) {
		rc = -ENOMEM;
		goto fail;
	}
	do {
		size_t n = len - off > PP_CHUNK ? PP_CHUNK : len - off;
		chunk[0] = (uint8_t)(flags | (off + n == len ? FRAME_LAST : 0));
		memcpy(chunk + 1, data + off, n);
		size_t sl;
		rc = seal(g, chunk, n + 1, out + o + 4, cap - o - 4, &sl);
		if (rc < 0) {
			goto fail;
		}
		out[o] = (uint8_t)(sl >> 24);
		out[o + 1] = (uint8_t)(sl >> 16);
		out[o + 2] = (uint8_t)(sl >> 8);
		out[o + 3] = (uint8_t)sl;
		o += 4 + sl;
		off += n;
	} while (off < len);
	pw->c = c;
	pw->buf = out;
	pw->close_after = close_after;
	uv_buf_t b = uv_buf_init((char *)out, (unsigned)o);
	rc = uv_write(&pw->req, (uv_stream_t *)&c->tcp, &b, 1, on_written);
	if (rc < 0) {
		goto fail;
	}
	free(chunk);
	return 0;
fail:
	free(chunk);
	free(out);
	free(pw);
	return rc;
}

/* Seal our exported state into frames and write them. */
static int send_state(struct pp_conn *c, bool join, bool close_after)
{
	uint8_t *state = NULL;
	size_t len = 0;
	int rc = swim_pushpull_export(c->g->core, join, &state, &len);
	if (rc < 0) {
		return rc;
	}
	rc = send_frames(c, state, len, 0, close_after);
	free(state);
	return rc;
}

static void alloc_tcp(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct pp_conn *c = h->data;
	(void)suggested;
	if (c->in_cap - c->in_len < 16384) {
		size_t cap = c->in_cap ? c->in_cap * 2 : 65536;
		uint8_t *nb = realloc(c->in, cap);
		if (nb == NULL) {
			*buf = uv_buf_init(NULL, 0);
			return;
		}
		c->in = nb;
		c->in_cap = cap;
	}
	*buf = uv_buf_init((char *)c->in + c->in_len,
			   (unsigned)(c->in_cap - c->in_len));
}

/* Whole state received: merge it, answer if we are the server. */
static void state_done(struct pp_conn *c)
{
	struct gossip *g = c->g;
	bool is_join = false;
	uint64_t now = uv_now(g->a->loop);
	int rc =
	    swim_pushpull_import(g->core, c->msg, c->msg_len, now, &is_join);
	arm(g);
	if (rc < 0) {
		conn_fail(c, "bad state");
		return;
	}
	if (c->client) {
		if (c->join && !g->joined) {
			g->joined = true;
			log_info("joined through %s: %zu members", c->peer,
				 swim_member_count(g->core));
		}
		conn_close(c);
		return;
	}
	c->replied = true;
	if (send_state(c, false, true) < 0) {
		conn_close(c);
	}
}

static void on_tcp_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct pp_conn *c = s->data;
	struct gossip *g = c->g;
	(void)buf;
	if (nread < 0) {
		conn_fail(c, nread == UV_EOF ? "closed early"
					     : uv_strerror((int)nread));
		return;
	}
	c->in_len += (size_t)nread;
	size_t pos = 0;
	while (c->in_len - pos >= 4) {
		const uint8_t *p = c->in + pos;
		size_t fl = (size_t)p[0] << 24 | (size_t)p[1] << 16 |
			    (size_t)p[2] << 8 | p[3];
		if (fl == 0 || fl > CRYPTO_SEALED_MAX) {
			conn_fail(c, "bad frame length");
			return;
		}
		if (c->in_len - pos - 4 < fl) {
			break;
		}
		size_t n;
		int rc = unseal(g, p + 4, fl, g->pt, sizeof(g->pt), &n);
		if (rc < 0 || n < 1) {
			conn_fail(c, g->sealed ? crypto_strerror(rc)
					       : "empty frame");
			return;
		}
		pos += 4 + fl;
		bool app = (g->pt[0] & FRAME_APP) != 0;
		if (c->msg_len == 0 && !c->client) {
			c->app = app; /* the first frame tells */
		}
		if (app != c->app || (app && c->client)) {
			conn_fail(c, "unexpected frame kind");
			return;
		}
		if (c->msg_len + n - 1 > (app ? WIRE_STREAM_ENVELOPE_MAX
					      : SWIM_PUSHPULL_MAX_BYTES)) {
			conn_fail(c, app ? "message too big" : "state too big");
			return;
		}
		if (c->msg_len + n > c->msg_cap) {
			size_t cap = c->msg_len + n + PP_CHUNK;
			uint8_t *nb = realloc(c->msg, cap);
			if (nb == NULL) {
				conn_fail(c, "out of memory");
				return;
			}
			c->msg = nb;
			c->msg_cap = cap;
		}
		memcpy(c->msg + c->msg_len, g->pt + 1, n - 1);
		c->msg_len += n - 1;
		if (g->pt[0] & FRAME_LAST) {
			uv_read_stop(s);
			if (c->app) {
				if (!deliver_app(g, c->msg, c->msg_len,
						 uv_now(g->a->loop), true)) {
					g->app_dropped++;
				}
				conn_close(c);
				return;
			}
			state_done(c);
			return;
		}
	}
	memmove(c->in, c->in + pos, c->in_len - pos);
	c->in_len -= pos;
}

static struct pp_conn *conn_new(struct gossip *g)
{
	struct pp_conn *c = calloc(1, sizeof(*c));
	if (c == NULL) {
		return NULL;
	}
	c->g = g;
	uv_tcp_init(g->a->loop, &c->tcp);
	uv_timer_init(g->a->loop, &c->timer);
	c->tcp.data = c;
	c->timer.data = c;
	c->open_handles = 2;
	c->next = g->conns;
	g->conns = c;
	g->open_handles++;
	uv_timer_start(&c->timer, on_conn_timeout, PP_TIMEOUT_MS, 0);
	return c;
}

static void on_connected(uv_connect_t *req, int status)
{
	struct pp_conn *c = req->data;
	if (status < 0) {
		conn_fail(c, uv_strerror(status));
		return;
	}
	if (c->app) {
		/* one message, then close: nothing comes back */
		if (send_frames(c, c->out, c->out_len, FRAME_APP, true) < 0) {
			conn_fail(c, "cannot send a message");
		}
		return;
	}
	if (send_state(c, c->join, false) < 0) {
		conn_fail(c, "cannot send state");
		return;
	}
	uv_read_start((uv_stream_t *)&c->tcp, alloc_tcp, on_tcp_read);
}

static struct pp_conn *pp_start(struct gossip *g,
				const struct sockaddr_storage *to, bool join)
{
	if (g->stopping) {
		return NULL;
	}
	struct pp_conn *c = conn_new(g);
	if (c == NULL) {
		return NULL;
	}
	c->client = true;
	c->join = join;
	fmt_sockaddr((const struct sockaddr *)to, c->peer, sizeof(c->peer));
	c->connect.data = c;
	int rc = uv_tcp_connect(&c->connect, &c->tcp,
				(const struct sockaddr *)to, on_connected);
	if (rc < 0) {
		conn_fail(c, uv_strerror(rc));
		return NULL;
	}
	return c;
}

static void on_tcp_conn(uv_stream_t *srv, int status)
{
	struct gossip *g = srv->data;
	if (status < 0 || g->stopping) {
		return;
	}
	struct pp_conn *c = conn_new(g);
	if (c == NULL) {
		return;
	}
	if (uv_accept(srv, (uv_stream_t *)&c->tcp) < 0) {
		conn_close(c);
		return;
	}
	struct sockaddr_storage ss;
	int sl = sizeof(ss);
	if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &sl) == 0) {
		fmt_sockaddr((const struct sockaddr *)&ss, c->peer,
			     sizeof(c->peer));
	}
	uv_read_start((uv_stream_t *)&c->tcp, alloc_tcp, on_tcp_read);
}

/* ---- join, persistence, node state ---- */

static void on_join_timer(uv_timer_t *t)
{
	struct gossip *g = t->data;
	if (g->joined || g->stopping || g->n_seeds == 0) {
		return;
	}
	struct swim_member_info me;
	swim_member_find(g->core, swim_self_id(g->core), &me);
	for (size_t i = 0; i < g->n_seeds; i++) {
		struct swim_addr sa;
		if (to_swim_addr((const struct sockaddr *)&g->seeds[i], &sa) ==
			0 &&
		    swim_addr_equal(&sa, &me.addr)) {
			continue; /* a seed list shared by all nodes lists us */
		}
		pp_start(g, &g->seeds[i], true);
	}
	/* exponential backoff with jitter, capped by join_retry_max_s */
	uint64_t cap = (uint64_t)g->a->cfg.gossip.join_retry_max_s * 1000;
	uint64_t next = g->join_backoff_ms / 2 +
			(uint64_t)rand() % (g->join_backoff_ms / 2 + 1);
	g->join_backoff_ms =
	    g->join_backoff_ms * 2 > cap ? cap : g->join_backoff_ms * 2;
	uv_timer_start(&g->join_timer, on_join_timer, next, 0);
}

static void persist_members(struct gossip *g)
{
	struct store *st = g->a->store;
	if (st == NULL || store_begin(st) != 0) {
		return;
	}
	sqlite3_stmt *del = store_stmt(st, "DELETE FROM members");
	if (del == NULL || sqlite3_step(del) != SQLITE_DONE) {
		goto fail;
	}
	uint64_t now = uv_now(g->a->loop);
	for (size_t i = 0; i < swim_member_count(g->core); i++) {
		struct swim_member_info mi;
		char addr[64];
		if (swim_member_at(g->core, i, &mi) < 0) {
			continue;
		}
		swim_addr_format(&mi.addr, addr, sizeof(addr));
		sqlite3_stmt *ins = store_stmt(
		    st, "INSERT INTO members(id, name, addr, incarnation, "
			"state, updated_ms) VALUES(?, ?, ?, ?, ?, ?)");
		if (ins == NULL) {
			goto fail;
		}
		sqlite3_bind_blob(ins, 1, mi.id.b, NODE_ID_LEN, SQLITE_STATIC);
		sqlite3_bind_text(ins, 2, mi.name, -1, SQLITE_STATIC);
		sqlite3_bind_text(ins, 3, addr, -1, SQLITE_STATIC);
		sqlite3_bind_int64(ins, 4, (sqlite3_int64)mi.incarnation);
		sqlite3_bind_int(ins, 5, (int)mi.status);
		sqlite3_bind_int64(ins, 6, (sqlite3_int64)now);
		if (sqlite3_step(ins) != SQLITE_DONE) {
			goto fail;
		}
	}
	if (store_commit(st) == 0) {
		g->dirty = false;
	}
	return;
fail:
	log_warn("cannot save members: %s", store_errmsg(st));
	store_rollback(st);
}

/* Seeds from the members a previous run knew alive (rejoin w/o seeds). */
static void load_remembered(struct gossip *g)
{
	struct store *st = g->a->store;
	if (st == NULL) {
		return;
	}
	sqlite3_stmt *q =
	    store_stmt(st, "SELECT addr FROM members WHERE state IN (0, 1) "
			   "ORDER BY updated_ms DESC LIMIT 16");
	if (q == NULL) {
		return;
	}
	size_t n = 0;
	while (sqlite3_step(q) == SQLITE_ROW && g->n_seeds < SEEDS_MAX &&
	       n < REMEMBERED_MAX) {
		const char *addr = (const char *)sqlite3_column_text(q, 0);
		if (addr != NULL &&
		    parse_hostport(addr, &g->seeds[g->n_seeds]) == 0) {
			g->n_seeds++;
			n++;
		}
	}
	sqlite3_reset(q);
	if (n > 0) {
		log_info("%zu members remembered from the last run", n);
	}
}

static bool state_changed(const struct node_state *a,
			  const struct node_state *b)
{
	/* ignore noise: cpu in 5 % steps, memory in 16 MiB steps */
	return (int)(a->cpu_free * 20) != (int)(b->cpu_free * 20) ||
	       a->cpu_milli_free != b->cpu_milli_free ||
	       (a->mem_free_bytes >> 24) != (b->mem_free_bytes >> 24) ||
	       a->workloads_running != b->workloads_running ||
	       a->uplink_connected != b->uplink_connected ||
	       a->policy_version != b->policy_version ||
	       a->generation != b->generation || a->n_labels != b->n_labels ||
	       a->cpu_cores != b->cpu_cores;
}

static void on_state_timer(uv_timer_t *t)
{
	struct gossip *g = t->data;
	const struct node_state *st = runtime_node_state(g->a);
	if (st != NULL &&
	    (!g->have_state || state_changed(st, &g->last_state))) {
		g->last_state = *st;
		g->have_state = true;
		swim_set_local_state(g->core, st, uv_now(g->a->loop));
		arm(g);
	}
	if (g->dirty) {
		persist_members(g);
	}
}

/* ---- service ---- */

static void handle_closed(uv_handle_t *h)
{
	struct gossip *g = h->data;
	if (--g->open_handles == 0) {
		swim_free(g->core);
		free(g);
	}
}

static int self_address(struct gossip *g, const struct sockaddr_storage *bind,
			struct swim_addr *out)
{
	const struct config_gossip *c = &g->a->cfg.gossip;
	struct sockaddr_storage ss;
	if (c->advertise[0] != '\0') {
		if (parse_hostport(c->advertise, &ss) < 0) {
			return -EINVAL;
		}
		return to_swim_addr((const struct sockaddr *)&ss, out);
	}
	int rc = to_swim_addr((const struct sockaddr *)bind, out);
	if (rc < 0) {
		return rc;
	}
	static const uint8_t any4[4] = {0};
	if (out->family == 4 && memcmp(out->ip, any4, 4) == 0) {
		/* bound to every address: advertise the first non-loopback */
		uv_interface_address_t *ifs;
		int n;
		out->ip[0] = 127;
		out->ip[3] = 1;
		if (uv_interface_addresses(&ifs, &n) == 0) {
			for (int i = 0; i < n; i++) {
				if (!ifs[i].is_internal &&
				    ifs[i].address.address4.sin_family ==
					AF_INET) {
					memcpy(
					    out->ip,
					    &ifs[i].address.address4.sin_addr,
					    4);
					break;
				}
			}
			uv_free_interface_addresses(ifs, n);
		}
	}
	return 0;
}

static void config_from(const struct config_gossip *c, struct swim_config *sc)
{
	if (strcmp(c->profile, "wan") == 0) {
		swim_config_wan(sc);
	} else {
		swim_config_lan(sc);
	}
	if (c->probe_interval_ms > 0) {
		sc->probe_interval_ms = (uint32_t)c->probe_interval_ms;
	}
	if (c->probe_timeout_ms > 0) {
		sc->probe_timeout_ms = (uint32_t)c->probe_timeout_ms;
	}
	if (sc->probe_timeout_ms > sc->probe_interval_ms) {
		sc->probe_timeout_ms = sc->probe_interval_ms;
	}
	if (c->suspicion_mult > 0) {
		sc->suspicion_mult = (uint32_t)c->suspicion_mult;
	}
	if (c->gossip_nodes > 0) {
		sc->gossip_nodes = (uint32_t)c->gossip_nodes;
	}
	if (c->gossip_interval_ms > 0) {
		sc->gossip_interval_ms = (uint32_t)c->gossip_interval_ms;
	}
	if (c->push_pull_interval_s > 0) {
		sc->push_pull_interval_ms =
		    (uint32_t)c->push_pull_interval_s * 1000;
	}
	if (c->reap_after_s > 0) {
		sc->reap_after_ms = (uint32_t)c->reap_after_s * 1000;
	}
}

static struct gossip *G(const struct agent *a)
{
	return a->gossip;
}

int gossip_start(struct agent *a)
{
	const struct config_gossip *c = &a->cfg.gossip;
	struct sockaddr_storage bind;
	struct swim_addr self;
	struct swim_config sc;
	int rc;

	if (!c->enabled) {
		log_info("gossip disabled");
		return 0;
	}
	if (parse_hostport(c->bind, &bind) < 0) {
		log_error("[gossip] bind %s: not a numeric host:port", c->bind);
		return -EINVAL;
	}
	struct gossip *g = calloc(1, sizeof(*g));
	if (g == NULL) {
		return -ENOMEM;
	}
	g->a = a;
	if (self_address(g, &bind, &self) < 0) {
		log_error("[gossip] advertise %s: not a numeric host:port",
			  c->advertise);
		free(g);
		return -EINVAL;
	}
	config_from(c, &sc);
	struct swim_callbacks cbs = {
	    .send = core_send,
	    .event = core_event,
	    .push_pull = core_push_pull,
	    .ud = g,
	};
	g->core = swim_new(&sc, &a->id, &self, a->cfg.node.name, a->generation,
			   rng_os_seed(), &cbs, uv_now(a->loop));
	if (g->core == NULL) {
		free(g);
		return -ENOMEM;
	}
	g->sealed = a->keyring != NULL && crypto_keyring_count(a->keyring) > 0;
	if (!g->sealed) {
		log_warn("no gossip key: datagrams are NOT encrypted");
		agent_note(a, "gossip runs without a key (unencrypted)");
	}
	uv_udp_init(a->loop, &g->udp);
	uv_tcp_init(a->loop, &g->listener);
	uv_timer_init(a->loop, &g->tick);
	uv_timer_init(a->loop, &g->join_timer);
	uv_timer_init(a->loop, &g->state_timer);
	uv_timer_init(a->loop, &g->leave_timer);
	g->udp.data = g->listener.data = g->tick.data = g;
	g->join_timer.data = g->state_timer.data = g->leave_timer.data = g;
	g->open_handles = 6;
	a->gossip = g;

	rc = uv_udp_bind(&g->udp, (const struct sockaddr *)&bind,
			 UV_UDP_REUSEADDR);
	if (rc == 0) {
		rc = uv_udp_recv_start(&g->udp, alloc_rx, on_udp);
	}
	if (rc == 0) {
		rc = uv_tcp_bind(&g->listener, (const struct sockaddr *)&bind,
				 0);
	}
	if (rc == 0) {
		/* a seed takes the join push-pulls of a whole partition
		 * that powers up at once: the kernel's full backlog */
		rc = uv_listen((uv_stream_t *)&g->listener, SOMAXCONN,
			       on_tcp_conn);
	}
	if (rc < 0) {
		log_error("[gossip] bind %s: %s", c->bind, uv_strerror(rc));
		gossip_stop(a);
		return rc;
	}
	/* seeds: configured, then members remembered from the last run */
	char list[CONFIG_STR_MAX];
	snprintf(list, sizeof(list), "%s", c->join);
	for (char *save = NULL, *tok = strtok_r(list, ", ", &save); tok;
	     tok = strtok_r(NULL, ", ", &save)) {
		if (g->n_seeds < SEEDS_MAX &&
		    parse_hostport(tok, &g->seeds[g->n_seeds]) == 0) {
			g->n_seeds++;
		} else {
			log_warn("[gossip] join %s: not a numeric host:port",
				 tok);
		}
	}
	load_remembered(g);
	char addr[64];
	swim_addr_format(&self, addr, sizeof(addr));
	log_info("gossip on %s as %s, incarnation %" PRIu64 ", %zu seeds", addr,
		 a->id_str, a->generation, g->n_seeds);
	g->join_backoff_ms = 1000;
	if (g->n_seeds == 0) {
		g->joined = true;
		log_info("no seeds: starting a partition alone");
	} else {
		uv_timer_start(&g->join_timer, on_join_timer, 0, 0);
	}
	uv_timer_start(&g->state_timer, on_state_timer, 100, STATE_EVERY_MS);
	arm(g);
	return 0;
}

void gossip_stop(struct agent *a)
{
	struct gossip *g = G(a);
	if (g == NULL) {
		return;
	}
	a->gossip = NULL;
	if (g->dirty && !g->stopping) {
		persist_members(g);
	}
	const struct swim_stats *st = swim_get_stats(g->core);
	log_info("totals: %" PRIu64 " datagrams (%" PRIu64
		 " bytes) sent, %" PRIu64 " received; %" PRIu64
		 " probes (%" PRIu64 " indirect, %" PRIu64 " failed); %" PRIu64
		 " suspicions, %" PRIu64 " declared dead, %" PRIu64
		 " refutations; %" PRIu64 " updates sent, %" PRIu64
		 " received; %" PRIu64 " push-pulls",
		 st->tx_datagrams, st->tx_bytes, st->rx_datagrams, st->probes,
		 st->indirect_probes, st->probe_failures,
		 st->suspicions_started, st->declared_dead, st->refutations,
		 st->updates_sent, st->updates_received, st->push_pulls);
	g->stopping = true;
	for (struct pp_conn *c = g->conns; c; c = c->next) {
		conn_close(c);
	}
	uv_close((uv_handle_t *)&g->udp, handle_closed);
	uv_close((uv_handle_t *)&g->listener, handle_closed);
	uv_close((uv_handle_t *)&g->tick, handle_closed);
	uv_close((uv_handle_t *)&g->join_timer, handle_closed);
	uv_close((uv_handle_t *)&g->state_timer, handle_closed);
	uv_close((uv_handle_t *)&g->leave_timer, handle_closed);
}

const struct swim *gossip_core(const struct agent *a)
{
	return G(a) ? G(a)->core : NULL;
}

int gossip_join(struct agent *a, const char *const *addrs, size_t n)
{
	struct gossip *g = G(a);
	int started = 0;
	if (g == NULL) {
		return -ENOTCONN;
	}
	for (size_t i = 0; i < n; i++) {
		struct sockaddr_storage ss;
		if (parse_hostport(addrs[i], &ss) == 0 &&
		    pp_start(g, &ss, true) != NULL) {
			started++;
		}
	}
	return started ? started : -EINVAL;
}

static void on_leave_timer(uv_timer_t *t)
{
	struct gossip *g = t->data;
	if (!swim_leave_done(g->core) &&
	    uv_now(g->a->loop) < g->leave_deadline) {
		return;
	}
	uv_timer_stop(t);
	void (*done)(void *) = g->leave_done;
	g->leave_done = NULL;
	log_info("left the partition");
	if (done != NULL) {
		done(g->leave_ud);
	}
}

int gossip_leave(struct agent *a, void (*done)(void *ud), void *ud)
{
	struct gossip *g = G(a);
	if (g == NULL) {
		return -ENOTCONN;
	}
	g->leave_done = done;
	g->leave_ud = ud;
	g->leave_deadline = uv_now(a->loop) + LEAVE_MAX_MS;
	swim_leave(g->core, uv_now(a->loop));
	g->dirty = true;
	arm(g);
	uv_timer_start(&g->leave_timer, on_leave_timer, 100, 100);
	return 0;
}

/* ---- application messages (gossip_app.h) ---- */

/* An application message too big for a datagram: one TCP connection to
 * the member's gossip port, the envelope in sealed frames, then close.
 * Fire and forget like a datagram (the offload protocol retransmits). */
static int send_app_stream(struct gossip *g, const struct swim_addr *to,
			   const struct wire_envelope *h, const uint8_t *body,
			   size_t len)
{
	size_t cap = len + WIRE_ENVELOPE_OVERHEAD, n = 0;
	uint8_t *env = malloc(cap);
	if (env == NULL) {
		return -ENOMEM;
	}
	int rc = wire_stream_envelope_encode(h, body, len, env, cap, &n);
	if (rc < 0) {
		free(env);
		return rc;
	}
	struct pp_conn *c = conn_new(g);
	if (c == NULL) {
		free(env);
		return -ENOMEM;
	}
	c->client = true;
	c->app = true;
	c->out = env;
	c->out_len = n;
	struct sockaddr_storage ss;
	to_sockaddr(to, &ss);
	fmt_sockaddr((const struct sockaddr *)&ss, c->peer, sizeof(c->peer));
	c->connect.data = c;
	rc = uv_tcp_connect(&c->connect, &c->tcp, (const struct sockaddr *)&ss,
			    on_connected);
	if (rc < 0) {
		conn_fail(c, uv_strerror(rc));
		return rc;
	}
	g->app_sent++;
	g->app_stream_sent++;
	return 0;
}

int gossip_send_app(struct agent *a, const struct node_id *to, uint32_t type,
		    const uint8_t *body, size_t len)
{
	struct gossip *g = G(a);
	struct swim_member_info m;
	uint8_t env[WIRE_DATAGRAM_MAX];
	size_t env_len = 0;
	size_t n = 0;

	if (type < WIRE_OFFLOAD_OFFER || type > WIRE_Q_SHARE ||
	    (body == NULL && len > 0)) {
		return -EINVAL;
	}
	if (g == NULL || g->stopping) {
		return -ENOTCONN;
	}
	if (len > WIRE_STREAM_BODY_MAX) {
		return -EMSGSIZE;
	}
	if (node_id_equal(to, &a->id) ||
	    swim_member_find(g->core, to, &m) != 0 || m.status == SWIM_DEAD ||
	    m.status == SWIM_LEFT) {
		return -EHOSTUNREACH;
	}
	struct wire_envelope h = {
	    .version = WIRE_VERSION,
	    .sender = a->id,
	    .incarnation = swim_incarnation(g->core),
	    .type = (enum wire_type)type,
	};
	if (len > WIRE_BODY_MAX) {
		return send_app_stream(g, &m.addr, &h, body, len);
	}
	int rc =
	    wire_envelope_encode(&h, body, len, env, sizeof(env), &env_len);
	if (rc < 0) {
		return rc;
	}
	rc = seal(g, env, env_len, g->tx, sizeof(g->tx), &n);
	if (rc < 0) {
		return rc;
	}
	struct sockaddr_storage ss;
	to_sockaddr(&m.addr, &ss);
	uv_buf_t b = uv_buf_init((char *)g->tx, (unsigned)n);
	rc = uv_udp_try_send(&g->udp, &b, 1, (const struct sockaddr *)&ss);
	if (rc < 0) {
		return rc == UV_EAGAIN ? -EAGAIN : rc;
	}
	g->app_sent++;
	g->udp_sent_packets++;
	g->udp_sent_bytes += n;
	return 0;
}

void gossip_traffic(const struct agent *a, uint64_t *packets, uint64_t *bytes)
{
	const struct gossip *g = G(a);
	*packets = g != NULL ? g->udp_sent_packets : 0;
	*bytes = g != NULL ? g->udp_sent_bytes : 0;
}

int gossip_set_app_handler(struct agent *a, gossip_app_fn fn, void *ud)
{
	if (!a->cfg.gossip.enabled) {
		return -ENOTCONN;
	}
	a->gossip_app_fn = fn;
	a->gossip_app_ud = fn != NULL ? ud : NULL;
	return 0;
}

int gossip_set_member_handler(struct agent *a, gossip_member_fn fn, void *ud)
{
	if (!a->cfg.gossip.enabled) {
		return -ENOTCONN;
	}
	a->gossip_member_fn =
	    (void (*)(void *, const struct node_id *, int, uint64_t))fn;
	a->gossip_member_ud = fn != NULL ? ud : NULL;
	return 0;
}
