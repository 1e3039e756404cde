// SPDX-License-Identifier: Apache-2.0
/*
 * ctl: control-socket server on the agent's libuv loop. One request at a
 * time per connection; replies are written in order. Everything read from
 * the socket is bounded by CTL_FRAME_MAX before it is buffered.
 */
#define LOG_TAG "ctl"
#include "ctl.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"

struct arena_blk {
	struct arena_blk *next;
	max_align_t data[];
};

struct ctl_conn;

struct ctl_call {
	struct ctl_conn *conn; /* NULL once the client is gone */
	Farnode__V1__Request *req;
	Farnode__V1__Reply rep;
	struct arena_blk *arena;
};

struct ctl_conn {
	uv_pipe_t pipe; /* first: handle data points back here */
	struct ctl *ctl;
	struct ctl_conn *next;
	uint8_t *buf;
	size_t len;
	struct ctl_call *active;
	bool closing;
};

struct ctl {
	uv_pipe_t server;
	uv_loop_t *loop;
	struct agent *agent;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct ctl_conn *conns;
	int open_handles;
	bool closing;
	struct log_rl rl_denied;
};

struct write_req {
	uv_write_t req;
	uint8_t data[];
};

static void conn_close(struct ctl_conn *cn);
static void conn_process(struct ctl_conn *cn);

void ctl_frame_put_len(uint8_t out[4], uint32_t len)
{
	out[0] = (uint8_t)(len >> 24);
	out[1] = (uint8_t)(len >> 16);
	out[2] = (uint8_t)(len >> 8);
	out[3] = (uint8_t)len;
}

uint32_t ctl_frame_get_len(const uint8_t in[4])
{
	return (uint32_t)in[0] << 24 | (uint32_t)in[1] << 16 |
	       (uint32_t)in[2] << 8 | (uint32_t)in[3];
}

void *ctl_call_alloc(struct ctl_call *call, size_t n)
{
	struct arena_blk *b = calloc(1, sizeof(*b) + n);
	if (b == NULL) {
		return NULL;
	}
	b->next = call->arena;
	call->arena = b;
	return b->data;
}

char *ctl_call_strdup(struct ctl_call *call, const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = ctl_call_alloc(call, n);
	if (p != NULL) {
		memcpy(p, s, n);
	}
	return p;
}

void ctl_call_error(struct ctl_call *call, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	call->rep.error = ctl_call_strdup(call, msg);
}

bool ctl_call_gone(const struct ctl_call *call)
{
	return call->conn == NULL || call->conn->closing;
}

Farnode__V1__Reply *ctl_call_rep(struct ctl_call *call)
{
	return &call->rep;
}

static void call_free(struct ctl_call *call)
{
	if (call == NULL) {
		return;
	}
	while (call->arena != NULL) {
		struct arena_blk *b = call->arena;
		call->arena = b->next;
		free(b);
	}
	farnode__v1__request__free_unpacked(call->req, NULL);
	free(call);
}

static void on_written(uv_write_t *req, int status)
{
	if (status < 0 && status != UV_ECANCELED) {
		log_debug("write: %s", uv_strerror(status));
	}
	free(req);
}

static void conn_send(struct ctl_conn *cn, const Farnode__V1__Reply *rep)
{
	size_t n = farnode__v1__reply__get_packed_size(rep);
	if (n > CTL_FRAME_MAX) {
		log_error("reply of %zu bytes exceeds the frame limit", n);
		Farnode__V1__Reply err = FARNODE__V1__REPLY__INIT;
		err.code = -EMSGSIZE;
		err.error = (char *)"reply too large";
		conn_send(cn, &err);
		return;
	}
	struct write_req *w = malloc(sizeof(*w) + 4 + n);
	if (w == NULL) {
		conn_close(cn);
		return;
	}
	ctl_frame_put_len(w->data, (uint32_t)n);
	farnode__v1__reply__pack(rep, w->data + 4);
	uv_buf_t b = uv_buf_init((char *)w->data, (unsigned)(4 + n));
	int rc = uv_write(&w->req, (uv_stream_t *)&cn->pipe, &b, 1, on_written);
	if (rc != 0) {
		free(w);
		conn_close(cn);
	}
}

void ctl_call_reply(struct ctl_call *call, Farnode__V1__Reply *rep, bool more)
{
	struct ctl_conn *cn = call->conn;
	rep->more = more;
	if (cn != NULL && !cn->closing) {
		conn_send(cn, rep);
	}
	if (!more) {
		if (cn != NULL) {
			cn->active = NULL;
		}
		call_free(call);
		if (cn != NULL && !cn->closing) {
			conn_process(cn);
		}
	}
}

static void dispatch(struct ctl_conn *cn, const uint8_t *frame, size_t len)
{
	struct ctl_call *call = calloc(1, sizeof(*call));
	if (call == NULL) {
		conn_close(cn);
		return;
	}
	farnode__v1__reply__init(&call->rep);
	call->conn = cn;
	cn->active = call;
	call->req = farnode__v1__request__unpack(NULL, len, frame);
	if (call->req == NULL) {
		call->rep.code = -EBADMSG;
		ctl_call_error(call, "malformed request");
		ctl_call_reply(call, &call->rep, false);
		return;
	}
	ctl_handler_fn fn = ctl__handler_for(call->req->req_case);
	if (fn == NULL) {
		call->rep.code = -ENOTSUP;
		ctl_call_error(call,
			       "request %d not supported by this agent "
			       "(version " FARNODE_VERSION ")",
			       (int)call->req->req_case);
		ctl_call_reply(call, &call->rep, false);
		return;
	}
	int rc = fn(cn->ctl->agent, call->req, &call->rep, call);
	if (rc == CTL_DEFERRED) {
		return;
	}
	if (rc < 0) {
		call->rep.code = rc;
		if (call->rep.error == NULL || call->rep.error[0] == '\0') {
			ctl_call_error(call, "%s", strerror(-rc));
		}
	}
	ctl_call_reply(call, &call->rep, false);
}

/* Handle buffered frames while no call is active. */
static void conn_process(struct ctl_conn *cn)
{
	while (!cn->closing && cn->active == NULL && cn->len >= 4) {
		uint32_t flen = ctl_frame_get_len(cn->buf);
		if (flen > CTL_FRAME_MAX) {
			log_warn("client frame of %u bytes exceeds the limit",
				 flen);
			conn_close(cn);
			return;
		}
		if (cn->len < 4 + (size_t)flen) {
			return;
		}
		/* Copy the frame out: the handler may run deferred. */
		uint8_t *frame = malloc(flen ? flen : 1);
		if (frame == NULL) {
			conn_close(cn);
			return;
		}
		memcpy(frame, cn->buf + 4, flen);
		memmove(cn->buf, cn->buf + 4 + flen, cn->len - 4 - flen);
		cn->len -= 4 + (size_t)flen;
		dispatch(cn, frame, flen);
		free(frame);
	}
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
	struct ctl_conn *cn = h->data;
	size_t cap = CTL_FRAME_MAX + 4;
	(void)suggested;
	if (cn->buf == NULL) {
		cn->buf = malloc(cap);
	}
	if (cn->buf == NULL || cn->len >= cap) {
		*b = uv_buf_init(NULL, 0);
		return;
	}
	*b = uv_buf_init((char *)cn->buf + cn->len, (unsigned)(cap - cn->len));
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
	struct ctl_conn *cn = s->data;
	(void)b;
	if (n < 0) {
		conn_close(cn);
		return;
	}
	if (n == 0) {
		if (b->base == NULL) {
			/* buffer full without a complete frame */
			log_warn("client sent an over-long frame");
			conn_close(cn);
		}
		return;
	}
	cn->len += (size_t)n;
	conn_process(cn);
}

static void on_conn_closed(uv_handle_t *h)
{
	struct ctl_conn *cn = h->data;
	struct ctl *c = cn->ctl;
	struct ctl_conn **pp = &c->conns;
	while (*pp != NULL && *pp != cn) {
		pp = &(*pp)->next;
	}
	if (*pp == cn) {
		*pp = cn->next;
	}
	if (cn->active != NULL) {
		cn->active->conn = NULL; /* the handler replies into the void */
	}
	free(cn->buf);
	free(cn);
	if (--c->open_handles == 0 && c->closing) {
		free(c);
	}
}

static void conn_close(struct ctl_conn *cn)
{
	if (cn->closing) {
		return;
	}
	cn->closing = true;
	uv_close((uv_handle_t *)&cn->pipe, on_conn_closed);
}

static bool peer_allowed(struct ctl *c, uv_pipe_t *p)
{
	uv_os_fd_t fd;
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (uv_fileno((uv_handle_t *)p, &fd) != 0 ||
	    getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
		return false;
	}
	if (cred.uid == 0 || cred.uid == getuid()) {
		return true;
	}
	uint64_t now = uv_now(c->loop);
	if (log_rl_allow(&c->rl_denied, now, 3, 60000, NULL)) {
		log_warn("refused control connection from uid %u pid %d",
			 (unsigned)cred.uid, (int)cred.pid);
	}
	return false;
}

static void on_connection(uv_stream_t *server, int status)
{
	struct ctl *c = server->data;
	if (status < 0 || c->closing) {
		return;
	}
	struct ctl_conn *cn = calloc(1, sizeof(*cn));
	if (cn == NULL) {
		return;
	}
	cn->ctl = c;
	uv_pipe_init(c->loop, &cn->pipe, 0);
	cn->pipe.data = cn;
	c->open_handles++;
	cn->next = c->conns;
	c->conns = cn;
	if (uv_accept(server, (uv_stream_t *)&cn->pipe) != 0 ||
	    !peer_allowed(c, &cn->pipe)) {
		conn_close(cn);
		return;
	}
	if (uv_read_start((uv_stream_t *)&cn->pipe, on_alloc, on_read) != 0) {
		conn_close(cn);
	}
}

int ctl_open(uv_loop_t *loop, struct agent *a, const char *path,
	     struct ctl **out)
{
	struct ctl *c = NULL;
	int rc;

	*out = NULL;
	if (strlen(path) >= sizeof(c->path)) {
		log_error("control socket path too long (max %zu): %s",
			  sizeof(c->path) - 1, path);
		return -ENAMETOOLONG;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		return -ENOMEM;
	}
	c->loop = loop;
	c->agent = a;
	snprintf(c->path, sizeof(c->path), "%s", path);
	rc = uv_pipe_init(loop, &c->server, 0);
	if (rc != 0) {
		free(c);
		return rc;
	}
	c->server.data = c;
	c->open_handles = 1;
	unlink(path); /* stale socket: we hold the data-dir lock */
	mode_t old = umask(0117);
	rc = uv_pipe_bind(&c->server, path);
	umask(old);
	if (rc == 0) {
		rc = uv_listen((uv_stream_t *)&c->server, 16, on_connection);
	}
	if (rc != 0) {
		log_error("control socket %s: %s", path, uv_strerror(rc));
		ctl_close(c);
		return rc;
	}
	chmod(path, 0660);
	*out = c;
	return 0;
}

static void on_server_closed(uv_handle_t *h)
{
	struct ctl *c = h->data;
	if (--c->open_handles == 0) {
		free(c);
	}
}

void ctl_close(struct ctl *c)
{
	if (c == NULL || c->closing) {
		return;
	}
	c->closing = true;
	for (struct ctl_conn *cn = c->conns; cn != NULL; cn = cn->next) {
		conn_close(cn);
	}
	unlink(c->path);
	uv_close((uv_handle_t *)&c->server, on_server_closed);
}
