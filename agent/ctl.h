/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ctl: the control socket. A Unix stream socket in the data directory
 * (mode 0660) carrying length-prefixed protobuf Request/Reply frames
 * (proto/control.proto). Peers are checked with SO_PEERCRED: root or the
 * agent's own uid. Handlers are listed in ctl_dispatch.c; they may reply at
 * once, fail with an errno and message, or defer and reply later (possibly
 * several times, for streams).
 *
 * The ctl and cli files are, with the wire module, the only code that
 * includes generated *.pb-c.h: the control socket is a wire edge too.
 */
#ifndef FARNODE_CTL_H
#define FARNODE_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "control.pb-c.h"

#define CTL_FRAME_MAX (1u << 20) /* bytes of one protobuf frame */
#define CTL_DEFERRED 1           /* handler return: reply comes later */

struct agent;
struct ctl;
struct ctl_call;

typedef int (*ctl_handler_fn)(struct agent *a, const Farnode__V1__Request *req,
			      Farnode__V1__Reply *rep, struct ctl_call *call);

/*
 * Listen on path (an existing socket file is replaced: the caller holds the
 * data-dir lock). Returns 0 or -errno; *out owned by the caller, freed by
 * ctl_close().
 */
int ctl_open(uv_loop_t *loop, struct agent *a, const char *path,
	     struct ctl **out);

/* Stop listening, drop connections, unlink the socket. The struct is freed
 * in the last close callback. NULL-safe. */
void ctl_close(struct ctl *c);

/* Zeroed memory that lives until the call's final reply is sent. NULL on
 * allocation failure. */
void *ctl_call_alloc(struct ctl_call *call, size_t n);
char *ctl_call_strdup(struct ctl_call *call, const char *s);

/* Set the error text sent with a negative return code. */
void ctl_call_error(struct ctl_call *call, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * For deferred calls: send rep (code/error/more are taken from rep). When
 * more is false the call ends and its memory is freed. Safe after the client
 * went away (the reply is dropped).
 */
void ctl_call_reply(struct ctl_call *call, Farnode__V1__Reply *rep, bool more);

/* True once the client connection has closed (stop streaming). */
bool ctl_call_gone(const struct ctl_call *call);

/* The reply struct of the call, for deferred handlers that fill it later. */
Farnode__V1__Reply *ctl_call_rep(struct ctl_call *call);

/* Dispatch table lookup (ctl_dispatch.c). NULL if unsupported. */
ctl_handler_fn ctl__handler_for(Farnode__V1__Request__ReqCase c);

/* Frame helpers shared with the client: 4-byte big-endian length. */
void ctl_frame_put_len(uint8_t out[4], uint32_t len);
uint32_t ctl_frame_get_len(const uint8_t in[4]);

#endif
