// SPDX-License-Identifier: Apache-2.0
/*
 * reconcile: verify → decode → check → apply → store for policy and
 * desired-state bundles, the start-up path from the store or the seed
 * file, and the desired-workload diff (create/update/remove).
 */
#define LOG_TAG "reconcile"
#include "reconcile.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "store.h"

struct reconcile {
	char partition[POLICY_PARTITION_MAX];
	struct node_id self;
	const struct crypto_pins *pins;
	struct store *st;
	struct reconcile_ops ops;
	uint64_t floor[3]; /* highest version ever accepted, by kind */
	bool has_policy;
	struct policy policy;
	bool has_desired;
	struct desired_state desired;
	uint8_t *raw[3]; /* bytes of the bundle in force, by kind */
	size_t raw_len[3];
	struct reconcile_stats stats;
};

static const char *const reason_names[RECON__COUNT] = {
    [RECON_OK] = "ok",
    [RECON_MALFORMED] = "malformed",
    [RECON_UNSIGNED] = "unsigned",
    [RECON_WRONG_KIND] = "wrong-kind",
    [RECON_UNKNOWN_KEY] = "unknown-key",
    [RECON_BAD_SIGNATURE] = "bad-signature",
    [RECON_BAD_PAYLOAD] = "bad-payload",
    [RECON_STALE] = "stale",
    [RECON_EXPIRED] = "expired",
    [RECON_OTHER_PARTITION] = "other-partition",
    [RECON_OTHER_NODE] = "other-node",
    [RECON_INVALID] = "invalid",
    [RECON_STORE] = "store",
};

static const char SQL_GET[] =
    "SELECT version, bundle FROM policy WHERE kind = ?1";
static const char SQL_PUT[] =
    "INSERT INTO policy(kind, version, bundle, received_ms) "
    "VALUES (?1, ?2, ?3, ?4) ON CONFLICT(kind) DO UPDATE SET "
    "version = excluded.version, bundle = excluded.bundle, "
    "received_ms = excluded.received_ms";

const char *reconcile_reason_name(enum reconcile_reason r)
{
	if ((unsigned)r < RECON__COUNT) {
		return reason_names[r];
	}
	return "unknown";
}

static const char *kind_name(enum bundle_kind k)
{
	return k == BUNDLE_POLICY ? "policy" : "desired";
}

int reconcile_new(const struct reconcile_config *cfg, struct store *st,
		  const struct reconcile_ops *ops, struct reconcile **out)
{
	struct reconcile *r;

	*out = NULL;
	if (cfg == NULL || cfg->partition == NULL ||
	    strlen(cfg->partition) >= POLICY_PARTITION_MAX) {
		return -EINVAL;
	}
	r = calloc(1, sizeof(*r));
	if (r == NULL) {
		return -ENOMEM;
	}
	snprintf(r->partition, sizeof(r->partition), "%s", cfg->partition);
	r->self = cfg->self;
	r->pins = cfg->pins;
	r->st = st;
	if (ops != NULL) {
		r->ops = *ops;
	}
	policy_init(&r->policy);
	desired_state_init(&r->desired);
	*out = r;
	return 0;
}

void reconcile_free(struct reconcile *r)
{
	if (r == NULL) {
		return;
	}
	policy_fini(&r->policy);
	desired_state_fini(&r->desired);
	for (int i = 0; i < 3; i++) {
		free(r->raw[i]);
	}
	free(r);
}

uint64_t reconcile_version(const struct reconcile *r, enum bundle_kind kind)
{
	if (kind == BUNDLE_POLICY) {
		return r->has_policy ? r->policy.version : 0;
	}
	if (kind == BUNDLE_DESIRED) {
		return r->has_desired ? r->desired.version : 0;
	}
	return 0;
}

const struct policy *reconcile_policy(const struct reconcile *r)
{
	return r->has_policy ? &r->policy : NULL;
}

const struct desired_state *reconcile_desired(const struct reconcile *r)
{
	return r->has_desired ? &r->desired : NULL;
}

void reconcile_stats(const struct reconcile *r, struct reconcile_stats *out)
{
	*out = r->stats;
}

/* Find a workload by id in d (may be NULL). */
static const struct workload_spec *find_spec(const struct desired_state *d,
					     const char *id)
{
	if (d == NULL) {
		return NULL;
	}
	for (size_t i = 0; i < d->n_workloads; i++) {
		if (strcmp(d->workloads[i].id, id) == 0) {
			return &d->workloads[i];
		}
	}
	return NULL;
}

/* Every spec valid and ids unique. */
static int desired_validate(const struct desired_state *d, char *why,
			    size_t why_len)
{
	for (size_t i = 0; i < d->n_workloads; i++) {
		char w[160];
		if (workload_spec_validate(&d->workloads[i], w, sizeof(w)) !=
		    0) {
			snprintf(why, why_len, "workload '%s': %s",
				 d->workloads[i].id, w);
			return -EINVAL;
		}
		for (size_t j = 0; j < i; j++) {
			if (strcmp(d->workloads[i].id, d->workloads[j].id) ==
			    0) {
				snprintf(why, why_len,
					 "workload id '%s' appears twice",
					 d->workloads[i].id);
				return -EINVAL;
			}
		}
	}
	return 0;
}

/*
 * Apply the difference between old (NULL = nothing known) and new: put
 * what is new or changed, delete what is gone. Specs decoded by the wire
 * module are zero-filled, so memcmp compares them field by field.
 */
static void apply_desired(struct reconcile *r, const struct desired_state *old,
			  const struct desired_state *d)
{
	char why[160];

	for (size_t i = 0; i < d->n_workloads; i++) {
		const struct workload_spec *w = &d->workloads[i];
		const struct workload_spec *prev = find_spec(old, w->id);
		if (prev != NULL && memcmp(prev, w, sizeof(*w)) == 0) {
			continue;
		}
		if (r->ops.workload_put == NULL) {
			continue;
		}
		why[0] = '\0';
		int rc = r->ops.workload_put(r->ops.ud, w, why, sizeof(why));
		r->stats.workload_puts++;
		if (rc != 0) {
			r->stats.workload_errors++;
			log_warn("desired workload '%s' not applied: %s", w->id,
				 why[0] ? why : strerror(rc < 0 ? -rc : rc));
		} else {
			log_info("desired workload '%s' %s", w->id,
				 prev ? "updated" : "applied");
		}
	}
	if (old == NULL) {
		return;
	}
	for (size_t i = 0; i < old->n_workloads; i++) {
		const char *id = old->workloads[i].id;
		if (find_spec(d, id) != NULL ||
		    r->ops.workload_delete == NULL) {
			continue;
		}
		int rc = r->ops.workload_delete(r->ops.ud, id);
		r->stats.workload_deletes++;
		if (rc != 0 && rc != -ENOENT) {
			r->stats.workload_errors++;
			log_warn("workload '%s' no longer desired but not "
				 "removed: %s",
				 id, strerror(-rc));
		} else {
			log_info("workload '%s' no longer desired: removed",
				 id);
		}
	}
}

static int store_bundle(struct reconcile *r, enum bundle_kind kind,
			uint64_t version, const uint8_t *p, size_t len,
			uint64_t now_ms)
{
	sqlite3_stmt *q;
	int rc;

	if (r->st == NULL) {
		return 0;
	}
	q = store_stmt(r->st, SQL_PUT);
	if (q == NULL) {
		return -EIO;
	}
	sqlite3_bind_text(q, 1, kind_name(kind), -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, (int64_t)version);
	sqlite3_bind_blob(q, 3, p, (int)len, SQLITE_STATIC);
	sqlite3_bind_int64(q, 4, (int64_t)now_ms);
	rc = sqlite3_step(q);
	sqlite3_reset(q);
	if (rc != SQLITE_DONE) {
		log_error("storing the %s bundle: %s", kind_name(kind),
			  store_errmsg(r->st));
		rc = store_errno(rc);
		return rc ? rc : -EIO;
	}
	return 0;
}

/* Decode a bundle that is not a SignedBundle: is it a bare payload? */
static bool is_bare_payload(enum bundle_kind kind, const uint8_t *p, size_t len)
{
	bool bare = false;
	if (kind == BUNDLE_POLICY) {
		struct policy pol;
		if (wire_policy_decode(p, len, &pol) == 0) {
			bare = pol.version != 0;
			policy_fini(&pol);
		}
	} else {
		struct desired_state d;
		if (wire_desired_decode(p, len, &d) == 0) {
			bare = d.version != 0;
			desired_state_fini(&d);
		}
	}
	return bare;
}

/* Signature and kind. RECON_OK with *payload set, or the reason. */
static enum reconcile_reason
open_bundle(struct reconcile *r, enum bundle_kind kind, const uint8_t *p,
	    size_t len, const uint8_t **payload, size_t *payload_len, char *why,
	    size_t why_len)
{
	struct wire_bundle b;
	int rc = wire_bundle_decode(p, len, &b);

	if (rc == -EMSGSIZE) {
		snprintf(why, why_len, "%zu bytes, over the %u-byte limit", len,
			 (unsigned)WIRE_BUNDLE_MAX);
		return RECON_MALFORMED;
	}
	if (rc != 0) {
		if (is_bare_payload(kind, p, len)) {
			snprintf(why, why_len, "a bare %s without a signature",
				 kind_name(kind));
			return RECON_UNSIGNED;
		}
		snprintf(why, why_len, "not a signed bundle (%s)",
			 wire_strerror(rc));
		return RECON_MALFORMED;
	}
	if (b.kind != kind) {
		snprintf(why, why_len, "a %s bundle where a %s was expected",
			 kind_name(b.kind), kind_name(kind));
		return RECON_WRONG_KIND;
	}
	if (r->pins == NULL || r->pins->n == 0) {
		snprintf(why, why_len,
			 "signed by key %s but no hub key is pinned "
			 "([hub] hub_pubkey)",
			 b.key_id);
		return RECON_UNKNOWN_KEY;
	}
	rc = wire_bundle_open(r->pins, p, len, kind, payload, payload_len);
	if (rc == -ENOKEY) {
		snprintf(why, why_len, "signed by key %s, which is not pinned",
			 b.key_id);
		return RECON_UNKNOWN_KEY;
	}
	if (rc != 0) {
		snprintf(why, why_len,
			 "signature by key %s does not verify (%s)", b.key_id,
			 crypto_strerror(rc));
		return RECON_BAD_SIGNATURE;
	}
	return RECON_OK;
}

static enum reconcile_reason check_reason(int rc)
{
	switch (rc) {
	case 0:
		return RECON_OK;
	case -ESTALE:
		return RECON_STALE;
	case -ETIME:
		return RECON_EXPIRED;
	default:
		return RECON_OTHER_PARTITION;
	}
}

static enum reconcile_reason take_policy(struct reconcile *r,
					 const uint8_t *payload, size_t plen,
					 uint64_t floor, uint64_t now_ms,
					 struct policy *pol, char *why,
					 size_t why_len)
{
	int rc = wire_policy_decode(payload, plen, pol);
	enum reconcile_reason reason;

	if (rc != 0) {
		snprintf(why, why_len, "signed payload is not a policy (%s)",
			 wire_strerror(rc));
		return RECON_BAD_PAYLOAD;
	}
	rc = policy_check(pol, r->partition, floor, now_ms, why, why_len);
	reason = check_reason(rc);
	if (reason != RECON_OK) {
		return reason;
	}
	if (r->ops.apply_policy != NULL) {
		why[0] = '\0';
		rc = r->ops.apply_policy(r->ops.ud, pol, why, why_len);
		if (rc != 0) {
			if (why[0] == '\0') {
				snprintf(why, why_len,
					 "refused by the scheduler");
			}
			return RECON_INVALID;
		}
	}
	return RECON_OK;
}

static enum reconcile_reason take_desired(struct reconcile *r,
					  const uint8_t *payload, size_t plen,
					  uint64_t floor, uint64_t now_ms,
					  struct desired_state *d, char *why,
					  size_t why_len)
{
	int rc = wire_desired_decode(payload, plen, d);
	enum reconcile_reason reason;

	if (rc != 0) {
		snprintf(why, why_len,
			 "signed payload is not a desired state (%s)",
			 wire_strerror(rc));
		return RECON_BAD_PAYLOAD;
	}
	rc = desired_state_check(d, r->partition, &r->self, floor, now_ms, why,
				 why_len);
	reason = check_reason(rc);
	if (reason == RECON_OTHER_PARTITION &&
	    strcmp(d->partition, r->partition) == 0) {
		reason = RECON_OTHER_NODE;
	}
	if (reason != RECON_OK) {
		return reason;
	}
	if (desired_validate(d, why, why_len) != 0) {
		return RECON_INVALID;
	}
	return RECON_OK;
}

/*
 * The whole pipeline. floor: versions at or below it are stale. store:
 * write the bundle when accepted (not when it came from the store).
 */
static enum reconcile_reason process(struct reconcile *r, enum bundle_kind kind,
				     const uint8_t *p, size_t len,
				     uint64_t now_ms, const char *source,
				     uint64_t floor, bool store, char *why,
				     size_t why_len)
{
	const uint8_t *payload = NULL;
	size_t plen = 0;
	uint64_t version = 0;
	enum reconcile_reason reason;
	struct policy pol;
	struct desired_state des;

	policy_init(&pol);
	desired_state_init(&des);
	why[0] = '\0';
	reason = open_bundle(r, kind, p, len, &payload, &plen, why, why_len);
	if (reason != RECON_OK) {
		goto out;
	}
	if (kind == BUNDLE_POLICY) {
		reason = take_policy(r, payload, plen, floor, now_ms, &pol, why,
				     why_len);
		version = pol.version;
	} else {
		reason = take_desired(r, payload, plen, floor, now_ms, &des,
				      why, why_len);
		version = des.version;
	}
	if (reason != RECON_OK) {
		goto out;
	}
	if (store && store_bundle(r, kind, version, p, len, now_ms) != 0) {
		/* in force now, but would be lost on restart: say so */
		snprintf(why, why_len, "accepted but could not be stored");
		reason = RECON_STORE;
	}
	if (version > r->floor[kind]) {
		r->floor[kind] = version;
	}
	uint8_t *raw = malloc(len ? len : 1);
	if (raw != NULL) {
		memcpy(raw, p, len);
	}
	free(r->raw[kind]);
	r->raw[kind] = raw;
	r->raw_len[kind] = raw ? len : 0;
	if (kind == BUNDLE_POLICY) {
		policy_fini(&r->policy);
		r->policy = pol;
		policy_init(&pol);
		r->has_policy = true;
	} else {
		apply_desired(r, r->has_desired ? &r->desired : NULL, &des);
		desired_state_fini(&r->desired);
		r->desired = des;
		desired_state_init(&des);
		r->has_desired = true;
	}
out:
	if (reason == RECON_OK || reason == RECON_STORE) {
		r->stats.accepted[kind]++;
		log_info("%s version %" PRIu64 " from %s accepted%s%s",
			 kind_name(kind), version, source,
			 reason == RECON_STORE ? ": " : "", why);
	} else {
		log_warn("%s bundle from %s rejected (%s): %s", kind_name(kind),
			 source, reconcile_reason_name(reason), why);
	}
	if (reason != RECON_OK) {
		r->stats.rejected[reason]++;
	}
	if (r->ops.report != NULL) {
		r->ops.report(r->ops.ud, kind, version, reason, source, why);
	}
	policy_fini(&pol);
	desired_state_fini(&des);
	return reason;
}

enum reconcile_reason reconcile_input(struct reconcile *r,
				      enum bundle_kind kind, const uint8_t *p,
				      size_t len, uint64_t now_ms, char *why,
				      size_t why_len)
{
	char buf[256];
	if (why == NULL || why_len == 0) {
		why = buf;
		why_len = sizeof(buf);
	}
	if (kind != BUNDLE_POLICY && kind != BUNDLE_DESIRED) {
		snprintf(why, why_len, "unknown bundle kind %d", (int)kind);
		r->stats.rejected[RECON_WRONG_KIND]++;
		return RECON_WRONG_KIND;
	}
	if (r->raw[kind] != NULL && r->raw_len[kind] == len &&
	    memcmp(r->raw[kind], p, len) == 0) {
		snprintf(why, why_len, "already in force");
		log_debug("%s version %" PRIu64 " delivered again: unchanged",
			  kind_name(kind), reconcile_version(r, kind));
		r->stats.unchanged++;
		return RECON_OK;
	}
	return process(r, kind, p, len, now_ms, "hub", r->floor[kind], true,
		       why, why_len);
}

/* Load the stored bundle of kind: 1 found, 0 none, -errno. */
static int load_stored(struct reconcile *r, enum bundle_kind kind,
		       uint64_t now_ms)
{
	sqlite3_stmt *q = store_stmt(r->st, SQL_GET);
	uint8_t *copy = NULL;
	uint64_t version;
	char why[256];
	int rc;

	if (q == NULL) {
		return -EIO;
	}
	sqlite3_bind_text(q, 1, kind_name(kind), -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	if (rc == SQLITE_DONE) {
		sqlite3_reset(q);
		return 0;
	}
	if (rc != SQLITE_ROW) {
		log_error("reading the stored %s: %s", kind_name(kind),
			  store_errmsg(r->st));
		sqlite3_reset(q);
		rc = store_errno(rc);
		return rc ? rc : -EIO;
	}
	version = (uint64_t)sqlite3_column_int64(q, 0);
	int n = sqlite3_column_bytes(q, 1);
	const void *blob = sqlite3_column_blob(q, 1);
	if (n > 0 && (size_t)n <= WIRE_BUNDLE_MAX && blob != NULL) {
		copy = malloc((size_t)n);
		if (copy != NULL) {
			memcpy(copy, blob, (size_t)n);
		}
	}
	sqlite3_reset(q);
	if (version > r->floor[kind]) {
		r->floor[kind] = version;
	}
	if (copy == NULL) {
		log_error("stored %s version %" PRIu64 " is unreadable",
			  kind_name(kind), version);
		r->stats.rejected[RECON_MALFORMED]++;
		return 1;
	}
	/* the stored version itself is allowed once more */
	process(r, kind, copy, (size_t)n, now_ms, "store",
		version > 0 ? version - 1 : 0, false, why, sizeof(why));
	free(copy);
	return 1;
}

static int read_file(const char *path, uint8_t **out, size_t *len)
{
	struct stat sb;
	uint8_t *buf = NULL;
	size_t got = 0;
	int rc = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	*out = NULL;
	if (fd < 0) {
		return -errno;
	}
	if (fstat(fd, &sb) != 0) {
		rc = -errno;
		goto out;
	}
	if (sb.st_size <= 0 || (uint64_t)sb.st_size > WIRE_BUNDLE_MAX) {
		rc = sb.st_size <= 0 ? -ENODATA : -EMSGSIZE;
		goto out;
	}
	buf = malloc((size_t)sb.st_size + 1);
	if (buf == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	while (got < (size_t)sb.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)sb.st_size - got);
		if (n < 0) {
			rc = -errno;
			goto out;
		}
		if (n == 0) {
			break;
		}
		got += (size_t)n;
	}
	buf[got] = '\0';
	*out = buf;
	*len = got;
	buf = NULL;
out:
	free(buf);
	close(fd);
	return rc;
}

int reconcile_load(struct reconcile *r, const char *seed_file, uint64_t now_ms)
{
	int have_policy = 0;
	int rc;

	if (r->st != NULL) {
		have_policy = load_stored(r, BUNDLE_POLICY, now_ms);
		if (have_policy < 0) {
			return have_policy;
		}
		rc = load_stored(r, BUNDLE_DESIRED, now_ms);
		if (rc < 0) {
			return rc;
		}
	}
	if (have_policy == 0 && seed_file != NULL && seed_file[0] != '\0') {
		uint8_t *buf = NULL;
		size_t len = 0;
		struct wire_bundle b;
		char why[256];
		rc = read_file(seed_file, &buf, &len);
		if (rc != 0) {
			log_error("seed bundle %s: %s", seed_file,
				  strerror(-rc));
			r->stats.rejected[RECON_MALFORMED]++;
			return 0;
		}
		enum bundle_kind kind = BUNDLE_POLICY;
		if (wire_bundle_decode(buf, len, &b) == 0) {
			kind = b.kind;
		}
		log_info("no stored policy: using the seed bundle %s",
			 seed_file);
		process(r, kind, buf, len, now_ms, "file", r->floor[kind], true,
			why, sizeof(why));
		free(buf);
	}
	return 0;
}

int reconcile_pin_file(struct crypto_pins *pins, const char *path)
{
	static const char begin[] = "-----BEGIN PUBLIC KEY-----";
	static const char end[] = "-----END PUBLIC KEY-----";
	uint8_t *buf = NULL;
	size_t len = 0;
	int n = 0;
	int rc = read_file(path, &buf, &len);

	if (rc != 0) {
		return rc == -ENODATA ? -EBADMSG : rc;
	}
	char *s = (char *)buf;
	while ((s = strstr(s, begin)) != NULL) {
		char *e = strstr(s, end);
		if (e == NULL) {
			rc = -EBADMSG;
			goto out;
		}
		e += sizeof(end) - 1;
		char saved = *e;
		*e = '\0';
		rc = crypto_pins_add(pins, (const uint8_t *)s,
				     (size_t)(e - s) + 1, NULL);
		*e = saved;
		if (rc != 0) {
			goto out;
		}
		n++;
		s = e;
	}
	rc = n > 0 ? n : -EBADMSG;
out:
	free(buf);
	return rc;
}
