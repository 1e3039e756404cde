// SPDX-License-Identifier: Apache-2.0
// wire_learning: Q-shares (proto/learning.proto; envelope type 13). Written
// and read directly (not through protobuf-c) so a share can be cut to a
// byte budget entry by entry and a large one decodes without an arena
// proportional to its size; the output is plain protobuf that the
// generated code reads the same (tests check this).

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"
#include "wire_internal.h"

/* Encoded size of one QEntry body (zero fields are omitted, proto3). */
static size_t entry_len(const struct sched_share *e)
{
	size_t n = 0;

	if (e->state != 0) {
		n += 1 + wire__varint_len(e->state);
	}
	if (e->action != 0) {
		n += 1 + wire__varint_len(e->action);
	}
	if (e->q != 0.0) {
		n += 9;
	}
	if (e->visits != 0) {
		n += 1 + wire__varint_len(e->visits);
	}
	return n;
}

static void entry_put(uint8_t *out, size_t *pos, const struct sched_share *e)
{
	if (e->state != 0) {
		wire__put_tag(out, pos, 1, WIRE__WT_VARINT);
		wire__put_varint(out, pos, e->state);
	}
	if (e->action != 0) {
		wire__put_tag(out, pos, 2, WIRE__WT_VARINT);
		wire__put_varint(out, pos, e->action);
	}
	if (e->q != 0.0) {
		wire__put_tag(out, pos, 3, WIRE__WT_I64);
		wire__put_double(out, pos, e->q);
	}
	if (e->visits != 0) {
		wire__put_tag(out, pos, 4, WIRE__WT_VARINT);
		wire__put_varint(out, pos, e->visits);
	}
}

size_t wire__qshare_len(uint32_t fingerprint, uint64_t round,
			const struct sched_share *e, size_t n)
{
	size_t len = 0;

	if (fingerprint != 0) {
		len += 1 + wire__varint_len(fingerprint);
	}
	if (round != 0) {
		len += 1 + wire__varint_len(round);
	}
	for (size_t i = 0; i < n; i++) {
		size_t el = entry_len(&e[i]);

		len += 1 + wire__varint_len(el) + el;
	}
	return len;
}

int wire_qshare_encode(uint32_t fingerprint, uint64_t round,
		       const struct sched_share *e, size_t n, uint8_t *out,
		       size_t cap, size_t *out_len, size_t *n_fit)
{
	size_t head = 0, pos = 0, used, i;

	for (i = 0; i < n; i++) {
		if (!wire__finite(e[i].q)) {
			return -EINVAL;
		}
	}
	if (fingerprint != 0) {
		head += 1 + wire__varint_len(fingerprint);
	}
	if (round != 0) {
		head += 1 + wire__varint_len(round);
	}
	if (head > cap) {
		*out_len = head;
		return -ENOBUFS;
	}
	used = head;
	for (i = 0; i < n; i++) {
		size_t el = entry_len(&e[i]);
		size_t need = 1 + wire__varint_len(el) + el;

		if (need > cap - used) {
			break;
		}
		used += need;
	}
	*n_fit = i;
	if (fingerprint != 0) {
		wire__put_tag(out, &pos, 1, WIRE__WT_VARINT);
		wire__put_varint(out, &pos, fingerprint);
	}
	if (round != 0) {
		wire__put_tag(out, &pos, 2, WIRE__WT_VARINT);
		wire__put_varint(out, &pos, round);
	}
	for (i = 0; i < *n_fit; i++) {
		wire__put_tag(out, &pos, 3, WIRE__WT_LEN);
		wire__put_varint(out, &pos, entry_len(&e[i]));
		entry_put(out, &pos, &e[i]);
	}
	*out_len = pos;
	return 0;
}

static int entry_read(const uint8_t *p, size_t len, struct sched_share *e)
{
	struct wire__field f;
	size_t pos = 0;
	int rc;

	memset(e, 0, sizeof(*e));
	while ((rc = wire__next(p, len, &pos, &f)) > 0) {
		switch (f.num) {
		case 1:
		case 2:
		case 4:
			if (f.wt != WIRE__WT_VARINT) {
				return -EBADMSG;
			}
			if (f.num == 1) {
				e->state = (uint32_t)f.v;
			} else if (f.num == 2) {
				e->action = (uint32_t)f.v;
			} else {
				e->visits = (uint32_t)f.v;
			}
			break;
		case 3:
			if (f.wt != WIRE__WT_I64) {
				return -EBADMSG;
			}
			e->q = wire__get_double(f.p);
			break;
		default:
			break;
		}
	}
	if (rc < 0 || !wire__finite(e->q) || e->visits == 0) {
		return -EBADMSG;
	}
	return 0;
}

int wire__qshare_read(const uint8_t *p, size_t len, uint32_t *fingerprint,
		      uint64_t *round, struct sched_share **out, size_t max,
		      size_t *n)
{
	struct sched_share *arr = NULL;
	struct wire__field f;
	size_t pos = 0, count = 0, i = 0;
	int rc;

	if (len > WIRE_QSHARE_MAX) {
		return -EMSGSIZE;
	}
	*fingerprint = 0;
	*round = 0;
	/* pass 1: structure and scalar fields, count entries */
	while ((rc = wire__next(p, len, &pos, &f)) > 0) {
		if (f.num == 1 || f.num == 2) {
			if (f.wt != WIRE__WT_VARINT) {
				return -EBADMSG;
			}
			if (f.num == 1) {
				*fingerprint = (uint32_t)f.v;
			} else {
				*round = f.v;
			}
		} else if (f.num == 3) {
			if (f.wt != WIRE__WT_LEN) {
				return -EBADMSG;
			}
			count++;
		}
	}
	if (rc < 0 || count > WIRE_QSHARE_ENTRIES_MAX ||
	    (*out != NULL && count > max)) {
		return -EBADMSG;
	}
	if (*out == NULL && count > 0) {
		arr = calloc(count, sizeof(*arr));
		if (arr == NULL) {
			return -ENOMEM;
		}
	} else {
		arr = *out;
	}
	/* pass 2: entries */
	pos = 0;
	while (wire__next(p, len, &pos, &f) > 0) {
		if (f.num != 3) {
			continue;
		}
		rc = entry_read(f.p, f.len, &arr[i++]);
		if (rc < 0) {
			if (arr != *out) {
				free(arr);
			}
			return rc;
		}
	}
	*out = arr;
	*n = count;
	return 0;
}

int wire_qshare_decode(const uint8_t *p, size_t len, uint32_t *fingerprint,
		       uint64_t *round, struct sched_share *out, size_t max,
		       size_t *n)
{
	struct sched_share *arr = out;

	if (out == NULL) {
		return -EINVAL;
	}
	return wire__qshare_read(p, len, fingerprint, round, &arr, max, n);
}
