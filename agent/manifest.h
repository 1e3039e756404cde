/* SPDX-License-Identifier: Apache-2.0 */
/*
 * manifest: CodecoApp YAML manifests (libyaml) → workload specs, and the
 * Kubernetes-style quantities shared with the CLI (250m, 64Mi, 200ms, 5M).
 * Pure: no I/O besides what the caller hands in. A manifest is outside
 * input: sizes, depth, node counts and string lengths are bounded before
 * anything is kept, aliases are refused, and every unknown or invalid field
 * fails with "FILE:LINE: what is wrong".
 */
#ifndef FARNODE_MANIFEST_H
#define FARNODE_MANIFEST_H

#include <stddef.h>
#include <stdint.h>

#include "workload.h"

#define MANIFEST_MAX_BYTES    (256 * 1024) /* larger input is refused */
#define MANIFEST_MAX_SERVICES 32	   /* workloads from one file */

/*
 * Parse buf (len bytes; need not be NUL-terminated) holding one or more
 * CodecoApp documents. Fills out[0..*n) (at most max). file names the input
 * in messages. Returns 0, or -EBADMSG (bad YAML, unknown or invalid field,
 * invalid resulting spec, more than max services or another bound
 * exceeded), -EMSGSIZE (input too large), -ENOMEM, with "FILE:LINE: reason"
 * in err. *n is 0 on failure: a manifest applies whole or not at all.
 */
int manifest_parse(const char *buf, size_t len, const char *file,
		   struct workload_spec *out, size_t max, size_t *n, char *err,
		   size_t err_len);

/*
 * A Kubernetes quantity ("250m", "1.5", "64Mi", "5M", "10e-3") as a
 * number. Returns 0 or -EINVAL (empty, malformed, negative, not finite).
 */
int manifest_quantity(const char *s, double *out);

/* cpu: "250m" → 250, "0.5" → 500, "2" → 2000 milli-cores. -EINVAL/-ERANGE
 * (above 1,000,000m or a fraction of a milli-core). */
int manifest_parse_cpu(const char *s, uint32_t *milli);

/* memory: "64Mi", "128M", "1.5Gi", "1048576" → bytes. -EINVAL/-ERANGE. */
int manifest_parse_bytes(const char *s, uint64_t *bytes);

/*
 * A delay: durations "200ms", "2s", "1.5s", "500us", "1m" (minute), or a
 * quantity of seconds as in CodecoApp maxDelay ("1", "10e-3", "100m").
 * Rounded up to whole milliseconds. -EINVAL/-ERANGE (beyond 24 h).
 */
int manifest_parse_delay_ms(const char *s, uint32_t *ms);

/* bandwidth in bit/s: "5M" → 5000000, "100k", "1Gi". -EINVAL/-ERANGE. */
int manifest_parse_bandwidth(const char *s, uint64_t *bps);

/*
 * Split a command line into argv with shell-like quoting ('…', "…",
 * backslash). No expansion. Returns argc or -EINVAL (unbalanced quote,
 * empty) / -E2BIG (too many or too long arguments).
 */
int manifest_split_command(const char *line, char argv[][WORKLOAD_ARG_MAX],
			   int max_args);

#endif
