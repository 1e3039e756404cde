/* SPDX-License-Identifier: Apache-2.0 */
/*
 * wire_internal: helpers shared by the agent/wire*.c files (never included
 * elsewhere). A bump allocator over a caller-provided buffer lets
 * protobuf-c unpack without touching the heap: the total memory a decode
 * may use is the buffer size, fixed before any input byte is read.
 */
#ifndef FARNODE_WIRE_INTERNAL_H
#define FARNODE_WIRE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

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

/* Map a protobuf-c unpack failure into the wire error (-EBADMSG). */
#define WIRE__UNPACK_FAILED (-EBADMSG)

#endif
