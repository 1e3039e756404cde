// SPDX-License-Identifier: Apache-2.0
/*
 * sched_share: what a scheduler tells others about its Q-table — top-N
 * Q-shares for federated learning, the visit-weighted bounded merge, and
 * the export/import file (a prior for hot start). The decoder trusts
 * nothing: a file is fully validated before a single cell changes.
 *
 * File layout (little endian): "FNQT" | u16 version | u16 flags (0) |
 * u32 fingerprint | u8 dims[6] | u8 n_actions | u8 0 | u32 count |
 * count x { u32 state | u16 action | u16 0 | u32 visits | f64 q } |
 * u32 crc32 (IEEE) of everything before it.
 */
#include "sched.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const double *sched__q(const struct sched *s);
const uint32_t *sched__visits(const struct sched *s);
struct sched_stats *sched__stats(struct sched *s);

#define HDR_LEN 24u
#define ENTRY_LEN 20u
#define TRAILER_LEN 4u
#define Q_ABS_MAX 1e6 /* |q| beyond this cannot come from our rewards */

struct state_rank {
	uint32_t state;
	uint64_t visits;
};

static int rank_cmp(const void *a, const void *b)
{
	const struct state_rank *x = a, *y = b;
	if (x->visits != y->visits) {
		return x->visits > y->visits ? -1 : 1;
	}
	return x->state < y->state ? -1 : (x->state > y->state);
}

size_t sched_share_top(const struct sched *s, uint32_t top_n,
		       struct sched_share *out, size_t max)
{
	uint32_t ns = sched_n_states(s), na = sched_n_actions(s);
	const double *q = sched__q(s);
	const uint32_t *v = sched__visits(s);
	struct state_rank *r = malloc(sizeof(*r) * ns);
	if (!r) {
		return 0;
	}
	uint32_t nr = 0;
	for (uint32_t st = 0; st < ns; st++) {
		uint64_t sum = 0;
		for (uint32_t a = 0; a < na; a++) {
			sum += v[(size_t)st * na + a];
		}
		if (sum > 0) {
			r[nr].state = st;
			r[nr].visits = sum;
			nr++;
		}
	}
	qsort(r, nr, sizeof(*r), rank_cmp);
	if (top_n > 0 && top_n < nr) {
		nr = top_n;
	}
	size_t n = 0;
	for (uint32_t i = 0; i < nr; i++) {
		for (uint32_t a = 0; a < na; a++) {
			size_t cell = (size_t)r[i].state * na + a;
			if (v[cell] == 0) {
				continue;
			}
			if (n == max) {
				goto out;
			}
			out[n].state = r[i].state;
			out[n].action = a;
			out[n].q = q[cell];
			out[n].visits = v[cell];
			n++;
		}
	}
out:
	free(r);
	return n;
}

int sched_merge(struct sched *s, const struct sched_share *e, size_t n,
		double max_influence, struct sched_merge_result *res)
{
	struct sched_merge_result tmp = {0, 0};
	if (!(max_influence > 0.0 && max_influence <= 1.0)) {
		return -EINVAL;
	}
	struct sched_stats *st = sched__stats(s);
	uint32_t ns = sched_n_states(s), na = sched_n_actions(s);
	const double *q = sched__q(s);
	const uint32_t *v = sched__visits(s);
	for (size_t i = 0; i < n; i++) {
		if (e[i].state >= ns || e[i].action >= na ||
		    !isfinite(e[i].q) || fabs(e[i].q) > Q_ABS_MAX ||
		    e[i].visits == 0) {
			tmp.refused++;
			continue;
		}
		size_t cell = (size_t)e[i].state * na + e[i].action;
		double nl = v[cell], nr = e[i].visits;
		double w = nr / (nl + nr);
		if (w > max_influence) {
			w = max_influence;
		}
		double nq = q[cell] + w * (e[i].q - q[cell]);
		sched_q_set(s, e[i].state, e[i].action, nq, v[cell], true);
		tmp.merged++;
	}
	st->merged += tmp.merged;
	st->merge_rejected += tmp.refused;
	if (res) {
		*res = tmp;
	}
	return 0;
}

/* --- file codec --- */

static uint32_t crc32_ieee(const uint8_t *p, size_t n)
{
	uint32_t c = 0xffffffffu;
	for (size_t i = 0; i < n; i++) {
		c ^= p[i];
		for (int k = 0; k < 8; k++) {
			c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
		}
	}
	return ~c;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++) {
		p[i] = (uint8_t)(v >> (8 * i));
	}
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++) {
		p[i] = (uint8_t)(v >> (8 * i));
	}
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) |
	       ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)get32(p) | ((uint64_t)get32(p + 4) << 32);
}

size_t sched_file_size(size_t n)
{
	return HDR_LEN + n * ENTRY_LEN + TRAILER_LEN;
}

static void put_header(const struct sched *s, uint8_t *p, uint32_t count)
{
	uint32_t dims[6];
	sched_dims(s, dims);
	memcpy(p, SCHED_FILE_MAGIC, 4);
	put16(p + 4, SCHED_FILE_VERSION);
	put16(p + 6, 0);
	put32(p + 8, sched_fingerprint(s));
	for (int i = 0; i < 6; i++) {
		p[12 + i] = (uint8_t)dims[i];
	}
	p[18] = (uint8_t)sched_n_actions(s);
	p[19] = 0;
	put32(p + 20, count);
}

int sched_export_encode(const struct sched *s, uint32_t top_n, uint8_t **buf,
			size_t *len)
{
	size_t cells = (size_t)sched_n_states(s) * sched_n_actions(s);
	struct sched_share *e = malloc(sizeof(*e) * cells);
	if (!e) {
		return -ENOMEM;
	}
	size_t n = sched_share_top(s, top_n, e, cells);
	size_t sz = sched_file_size(n);
	uint8_t *p = malloc(sz);
	if (!p) {
		free(e);
		return -ENOMEM;
	}
	put_header(s, p, (uint32_t)n);
	uint8_t *q = p + HDR_LEN;
	for (size_t i = 0; i < n; i++, q += ENTRY_LEN) {
		uint64_t bits;
		memcpy(&bits, &e[i].q, sizeof(bits));
		put32(q, e[i].state);
		put16(q + 4, (uint16_t)e[i].action);
		put16(q + 6, 0);
		put32(q + 8, e[i].visits);
		put64(q + 12, bits);
	}
	put32(q, crc32_ieee(p, sz - TRAILER_LEN));
	free(e);
	*buf = p;
	*len = sz;
	return 0;
}

static int bad(char *why, size_t len, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int bad(char *why, size_t len, int rc, const char *fmt, ...)
{
	if (why && len) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(why, len, fmt, ap);
		va_end(ap);
	}
	return rc;
}

int sched_import_decode(const struct sched *s, const uint8_t *p, size_t len,
			struct sched_share **out, size_t *n_out, char *why,
			size_t why_len)
{
	*out = NULL;
	*n_out = 0;
	uint32_t ns = sched_n_states(s), na = sched_n_actions(s);
	size_t cells = (size_t)ns * na;
	if (len < HDR_LEN + TRAILER_LEN) {
		return bad(why, why_len, -EBADMSG,
			   "truncated: %zu bytes, a Q-table file has at "
			   "least %u",
			   len, HDR_LEN + TRAILER_LEN);
	}
	if (memcmp(p, SCHED_FILE_MAGIC, 4) != 0) {
		return bad(why, why_len, -EBADMSG,
			   "not a farnode Q-table file (bad magic)");
	}
	uint16_t version = get16(p + 4);
	if (version != SCHED_FILE_VERSION) {
		return bad(why, why_len, -EPROTO,
			   "unsupported Q-table file version %u (expected %u)",
			   (unsigned)version, SCHED_FILE_VERSION);
	}
	uint32_t count = get32(p + 20);
	if (count > cells) {
		return bad(why, why_len, -EBADMSG,
			   "entry count %u exceeds the table size %zu",
			   (unsigned)count, cells);
	}
	if (len != sched_file_size(count)) {
		return bad(why, why_len, -EBADMSG,
			   "length %zu does not match %u entries (%zu bytes)",
			   len, (unsigned)count, sched_file_size(count));
	}
	uint32_t crc = get32(p + len - TRAILER_LEN);
	if (crc != crc32_ieee(p, len - TRAILER_LEN)) {
		return bad(why, why_len, -EBADMSG, "checksum mismatch");
	}
	if (get16(p + 6) != 0 || p[19] != 0) {
		return bad(why, why_len, -EBADMSG, "reserved header bits set");
	}
	uint8_t hdr[HDR_LEN];
	put_header(s, hdr, count);
	if (memcmp(hdr + 8, p + 8, 11) != 0) {
		return bad(why, why_len, -EPROTO,
			   "foreign table: shape %u/%ux%ux%ux%ux%ux%u/%u "
			   "actions, this node has %u/%ux%ux%ux%ux%ux%u/%u",
			   (unsigned)get32(p + 8), p[12], p[13], p[14], p[15],
			   p[16], p[17], p[18], (unsigned)get32(hdr + 8),
			   hdr[12], hdr[13], hdr[14], hdr[15], hdr[16],
			   hdr[17], hdr[18]);
	}
	int rc = -ENOMEM;
	struct sched_share *e = NULL;
	uint8_t *seen = calloc(cells ? cells : 1, 1);
	if (count > 0) {
		e = malloc(sizeof(*e) * count);
	}
	if (!seen || (count > 0 && !e)) {
		goto fail;
	}
	const uint8_t *q = p + HDR_LEN;
	for (uint32_t i = 0; i < count; i++, q += ENTRY_LEN) {
		uint64_t bits = get64(q + 12);
		e[i].state = get32(q);
		e[i].action = get16(q + 4);
		e[i].visits = get32(q + 8);
		memcpy(&e[i].q, &bits, sizeof(bits));
		if (get16(q + 6) != 0) {
			rc = bad(why, why_len, -EBADMSG,
				 "entry %u: reserved bits set", (unsigned)i);
			goto fail;
		}
		if (e[i].state >= ns || e[i].action >= na) {
			rc = bad(why, why_len, -EBADMSG,
				 "entry %u: cell (%u, %u) out of range",
				 (unsigned)i, (unsigned)e[i].state,
				 (unsigned)e[i].action);
			goto fail;
		}
		if (!isfinite(e[i].q) || fabs(e[i].q) > Q_ABS_MAX) {
			rc = bad(why, why_len, -EBADMSG,
				 "entry %u: q is not a finite value in range",
				 (unsigned)i);
			goto fail;
		}
		size_t cell = (size_t)e[i].state * na + e[i].action;
		if (seen[cell]) {
			rc = bad(why, why_len, -EBADMSG,
				 "entry %u: duplicate cell (%u, %u)",
				 (unsigned)i, (unsigned)e[i].state,
				 (unsigned)e[i].action);
			goto fail;
		}
		seen[cell] = 1;
	}
	free(seen);
	*out = e;
	*n_out = count;
	return 0;
fail:
	free(seen);
	free(e);
	return rc;
}

void sched_import_apply(struct sched *s, const struct sched_share *e, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		sched_q_set(s, e[i].state, e[i].action, e[i].q, e[i].visits,
			    true);
	}
}

int sched_export_file(const struct sched *s, const char *path, uint32_t top_n,
		      char *why, size_t why_len)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	char tmp[4096];
	int fd = -1;
	int rc = sched_export_encode(s, top_n, &buf, &len);
	if (rc < 0) {
		return bad(why, why_len, rc, "out of memory");
	}
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >=
	    sizeof(tmp)) {
		rc = bad(why, why_len, -ENAMETOOLONG, "%s: path too long",
			 path);
		goto out;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		rc = -errno;
		bad(why, why_len, rc, "%s: %s", tmp, strerror(-rc));
		goto out;
	}
	size_t off = 0;
	while (off < len) {
		ssize_t w = write(fd, buf + off, len - off);
		if (w < 0) {
			if (errno == EINTR) {
				continue;
			}
			rc = -errno;
			bad(why, why_len, rc, "%s: %s", tmp, strerror(-rc));
			goto out_unlink;
		}
		off += (size_t)w;
	}
	if (fsync(fd) < 0 || close(fd) < 0) {
		fd = -1;
		rc = -errno;
		bad(why, why_len, rc, "%s: %s", tmp, strerror(-rc));
		goto out_unlink;
	}
	fd = -1;
	if (rename(tmp, path) < 0) {
		rc = -errno;
		bad(why, why_len, rc, "%s: %s", path, strerror(-rc));
		goto out_unlink;
	}
	rc = (int)((len - HDR_LEN - TRAILER_LEN) / ENTRY_LEN);
	goto out;
out_unlink:
	if (fd >= 0) {
		close(fd);
		fd = -1;
	}
	unlink(tmp);
out:
	if (fd >= 0) {
		close(fd);
	}
	free(buf);
	return rc;
}

int sched_import_file(struct sched *s, const char *path, char *why,
		      size_t why_len)
{
	size_t cells = (size_t)sched_n_states(s) * sched_n_actions(s);
	size_t max = sched_file_size(cells);
	uint8_t *buf = NULL;
	struct sched_share *e = NULL;
	size_t n = 0, len = 0;
	int rc;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		return bad(why, why_len, rc, "%s: %s", path, strerror(-rc));
	}
	struct stat stt;
	if (fstat(fd, &stt) < 0) {
		rc = -errno;
		bad(why, why_len, rc, "%s: %s", path, strerror(-rc));
		goto out;
	}
	if (!S_ISREG(stt.st_mode) || (uint64_t)stt.st_size > max) {
		rc = bad(why, why_len, -EFBIG,
			 "%s: not a regular file of at most %zu bytes", path,
			 max);
		goto out;
	}
	buf = malloc(max + 1);
	if (!buf) {
		rc = bad(why, why_len, -ENOMEM, "out of memory");
		goto out;
	}
	for (;;) {
		ssize_t r = read(fd, buf + len, max + 1 - len);
		if (r < 0 && errno == EINTR) {
			continue;
		}
		if (r < 0) {
			rc = -errno;
			bad(why, why_len, rc, "%s: %s", path, strerror(-rc));
			goto out;
		}
		if (r == 0) {
			break;
		}
		len += (size_t)r;
		if (len > max) {
			rc = bad(why, why_len, -EFBIG, "%s: file grew past %zu "
				 "bytes", path, max);
			goto out;
		}
	}
	char inner[200];
	rc = sched_import_decode(s, buf, len, &e, &n, inner, sizeof(inner));
	if (rc < 0) {
		bad(why, why_len, rc, "%s: %s", path, inner);
		goto out;
	}
	sched_import_apply(s, e, n);
	rc = (int)n;
out:
	close(fd);
	free(buf);
	free(e);
	return rc;
}
