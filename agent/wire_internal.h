/* SPDX-License-Identifier: Apache-2.0 */
/*
 * wire_internal: helpers shared by the agent/wire*.c files (never included
 * elsewhere). A bump allocator over a caller-provided buffer lets
 * protobuf-c unpack without touching the heap: the total memory a decode
 * may use is the buffer size, fixed before any input byte is read.
 */
#ifndef FARNODE_WIRE_INTERNAL_H
#define FARNODE_WIRE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "node.h"
#include "node.pb-c.h"
#include "sched.h"

struct wire__arena {
	ProtobufCAllocator alloc; /* pass &arena.alloc to *__unpack */
	uint8_t *buf;
	size_t cap;
	size_t used;
};

/* Arena over buf[0..cap) (borrowed). Allocations past cap fail, which
 * makes protobuf-c's unpack fail cleanly. */
void wire__arena_init(struct wire__arena *a, void *buf, size_t cap);

/*
 * Copy a decoded protobuf string into a fixed array of dst_cap bytes
 * (NUL-terminated). NULL src gives "". -EBADMSG if it does not fit or
 * contains a NUL byte.
 */
int wire__str_in(char *dst, size_t dst_cap, const char *src);

/*
 * Heap arena for decoding len input bytes: 32 x len + 16 KiB, at most max.
 * Well-formed messages need a few times their size; inputs built to
 * inflate (thousands of empty submessages) run out and fail as malformed.
 * 0 or -ENOMEM. Release with wire__arena_free.
 */
int wire__arena_new(struct wire__arena *a, size_t len, size_t max);
void wire__arena_free(struct wire__arena *a);

/* Map a protobuf-c unpack failure into the wire error (-EBADMSG). */
#define WIRE__UNPACK_FAILED (-EBADMSG)

/* Wire types of the protobuf encoding. */
enum {
	WIRE__WT_VARINT = 0,
	WIRE__WT_I64 = 1,
	WIRE__WT_LEN = 2,
	WIRE__WT_I32 = 5,
};

/* One field read by wire__next: varints in v, the rest as p/len. */
struct wire__field {
	uint32_t num;
	unsigned wt;
	uint64_t v;
	const uint8_t *p;
	size_t len;
};

/*
 * Read the field at *pos of p[0..len) and advance. Returns 1 (a field),
 * 0 (end of input) or -EBADMSG (bad varint, field 0, groups, overrun).
 * Used where decoding must not copy (envelope, bundles, uplink events).
 */
int wire__next(const uint8_t *p, size_t len, size_t *pos,
	       struct wire__field *f);

/* Bytes a varint of v takes (1..10). */
size_t wire__varint_len(uint64_t v);
/* Append a varint / a tag at out[*pos]; the caller checked the room. */
void wire__put_varint(uint8_t *out, size_t *pos, uint64_t v);
void wire__put_tag(uint8_t *out, size_t *pos, uint32_t num, unsigned wt);
/* Little-endian IEEE double of an I64 field (f->len == 8). */
double wire__get_double(const uint8_t *p);
void wire__put_double(uint8_t *out, size_t *pos, double v);

/*
 * Q-share body reader shared with the policy prior: counts entries first,
 * then (if out is NULL) allocates exactly that many (*out, caller frees)
 * or fills the caller's array of max. -EBADMSG as wire_qshare_decode.
 */
int wire__qshare_read(const uint8_t *p, size_t len, uint32_t *fingerprint,
		      uint64_t *round, struct sched_share **out, size_t max,
		      size_t *n);

/* Exact encoded size of a Q-share with all n entries. */
size_t wire__qshare_len(uint32_t fingerprint, uint64_t round,
			const struct sched_share *e, size_t n);

/* If need > cap: *out_len = need, -ENOBUFS; else 0. */
int wire__room(size_t need, size_t cap, size_t *out_len);

/* Borrow a NUL-terminated string from a fixed array of cap bytes for
 * packing; NULL if it is not terminated inside the array. */
char *wire__str_out(const char *s, size_t cap);

bool wire__finite(double v);

/*
 * Labels between the agent and protobuf. _in copies up to max labels
 * (-EBADMSG if more, or a key/value too long); _out fills the caller's
 * storage (n <= max; -EINVAL for unterminated strings).
 */
int wire__labels_in(Farnode__V1__Label *const *in, size_t n,
		    struct node_label *out, size_t max, uint32_t *n_out);
int wire__labels_out(const struct node_label *in, size_t n,
		     Farnode__V1__Label *store, Farnode__V1__Label **ptrs);

#endif
