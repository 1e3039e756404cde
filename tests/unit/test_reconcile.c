// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests for reconcile: a good policy is applied and stored; every
 * rejection (malformed, unsigned, wrong kind, unknown key, tampered,
 * bad payload, stale/replayed, expired, other partition, other node,
 * invalid content) is refused with its own reason and counter and changes
 * nothing; the stored bundles are used after a restart (and keep the
 * version floor); the seed file works on first boot; desired workloads
 * are created, updated and removed by difference; a rotated key pinned
 * next to the old one is accepted.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "crypto.h"
#include "log.h"
#include "reconcile.h"
#include "store.h"
#include "wire.h"

#define NOW_MS 1800000000000ull

static char dir[64];
static char db_path[128];
static char key1_dir[128];
static char key2_dir[128];
static struct crypto_signer *signer1;
static struct crypto_signer *signer2;
static struct crypto_pins pins;
static struct node_id self = {
    {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}};

/* What the seam saw. */
struct seen {
	int policies;
	uint64_t policy_version;
	bool refuse_policy;
	int puts;
	int deletes;
	char put_ids[16][WORKLOAD_ID_MAX];
	char del_ids[16][WORKLOAD_ID_MAX];
	int reports;
	enum reconcile_reason last_reason;
	char last_source[16];
};

static int op_apply(void *ud, const struct policy *p, char *why, size_t why_len)
{
	struct seen *s = ud;
	if (s->refuse_policy) {
		snprintf(why, why_len, "alpha out of range");
		return -EINVAL;
	}
	s->policies++;
	s->policy_version = p->version;
	return 0;
}

static int op_put(void *ud, const struct workload_spec *w, char *why,
		  size_t why_len)
{
	struct seen *s = ud;
	(void)why;
	(void)why_len;
	if (s->puts < 16) {
		snprintf(s->put_ids[s->puts], WORKLOAD_ID_MAX, "%s", w->id);
	}
	s->puts++;
	return 0;
}

static int op_delete(void *ud, const char *id)
{
	struct seen *s = ud;
	if (s->deletes < 16) {
		snprintf(s->del_ids[s->deletes], WORKLOAD_ID_MAX, "%s", id);
	}
	s->deletes++;
	return 0;
}

static void op_report(void *ud, enum bundle_kind kind, uint64_t version,
		      enum reconcile_reason reason, const char *source,
		      const char *text)
{
	struct seen *s = ud;
	(void)kind;
	(void)version;
	(void)text;
	s->reports++;
	s->last_reason = reason;
	snprintf(s->last_source, sizeof(s->last_source), "%s", source);
}

static int group_setup(void **state)
{
	char cmd[400];
	char pub[200];
	int err = 0;
	(void)state;
	log_set_level(LOG_LVL_ERROR);
	snprintf(dir, sizeof(dir), "/tmp/test_reconcile.XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(key1_dir, sizeof(key1_dir), "%s/k1", dir);
	snprintf(key2_dir, sizeof(key2_dir), "%s/k2", dir);
	snprintf(cmd, sizeof(cmd), "mkdir -p %s %s", key1_dir, key2_dir);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(crypto_keygen_signing(key1_dir, NULL), 0);
	assert_int_equal(crypto_keygen_signing(key2_dir, NULL), 0);
	snprintf(pub, sizeof(pub), "%s/signing.key", key1_dir);
	signer1 = crypto_signer_load(pub, &err);
	assert_non_null(signer1);
	snprintf(pub, sizeof(pub), "%s/signing.key", key2_dir);
	signer2 = crypto_signer_load(pub, &err);
	assert_non_null(signer2);
	crypto_pins_init(&pins);
	snprintf(pub, sizeof(pub), "%s/signing.pub", key1_dir);
	assert_int_equal(reconcile_pin_file(&pins, pub), 1);
	return 0;
}

static int group_teardown(void **state)
{
	char cmd[160];
	(void)state;
	crypto_signer_free(signer1);
	crypto_signer_free(signer2);
	crypto_pins_fini(&pins);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static int setup(void **state)
{
	(void)state;
	static int n;
	snprintf(db_path, sizeof(db_path), "%s/db%d", dir, n++);
	return 0;
}

static struct store *open_store(void)
{
	struct store *st = NULL;
	char err[256];
	assert_int_equal(store_open(db_path, &st, err, sizeof(err)), 0);
	return st;
}

static struct reconcile *new_rec(struct store *st, struct seen *s)
{
	struct reconcile_config cfg = {
	    .partition = "plant-a", .self = self, .pins = &pins};
	struct reconcile_ops ops = {.ud = s,
				    .apply_policy = op_apply,
				    .workload_put = op_put,
				    .workload_delete = op_delete,
				    .report = op_report};
	struct reconcile *r = NULL;
	assert_int_equal(reconcile_new(&cfg, st, &ops, &r), 0);
	return r;
}

/* A signed policy bundle into buf. */
static size_t make_policy(struct crypto_signer *sg, uint64_t version,
			  const char *partition, uint64_t expires_ms,
			  uint8_t *buf, size_t cap)
{
	struct policy p;
	uint8_t payload[1024];
	size_t plen = 0;
	size_t len = 0;
	policy_init(&p);
	p.version = version;
	snprintf(p.partition, sizeof(p.partition), "%s", partition);
	p.issued_ms = NOW_MS - 1000;
	p.expires_ms = expires_ms;
	p.has_hyper = true;
	p.hyper.alpha = 0.2;
	p.hyper.gamma = 0.8;
	p.hyper.epsilon = 0.1;
	p.hyper.epsilon_min = 0.01;
	p.hyper.epsilon_decay = 0.999;
	p.hyper.neighbours_k = 2;
	p.hyper.hot_temp_c = 80;
	assert_int_equal(
	    wire_policy_encode(&p, payload, sizeof(payload), &plen), 0);
	if (sg == NULL) { /* bare, unsigned */
		memcpy(buf, payload, plen);
		return plen;
	}
	assert_int_equal(
	    wire_bundle_sign(sg, BUNDLE_POLICY, payload, plen, buf, cap, &len),
	    0);
	return len;
}

static void set_wl(struct workload_spec *w, const char *id, const char *arg)
{
	memset(w, 0, sizeof(*w));
	snprintf(w->id, sizeof(w->id), "%s", id);
	snprintf(w->name, sizeof(w->name), "%s", id);
	w->argc = 2;
	snprintf(w->argv[0], WORKLOAD_ARG_MAX, "/bin/sleep");
	snprintf(w->argv[1], WORKLOAD_ARG_MAX, "%s", arg);
	w->cpu_milli = 100;
	w->mem_bytes = 1 << 20;
}

/* A signed desired-state bundle with workloads "id:arg" in ids. */
static size_t make_desired(uint64_t version, const struct node_id *node,
			   const char *const *ids, size_t n, uint8_t *buf,
			   size_t cap)
{
	struct desired_state d;
	uint8_t payload[16384];
	size_t plen = 0;
	size_t len = 0;
	struct workload_spec *w = calloc(n ? n : 1, sizeof(*w));
	assert_non_null(w);
	desired_state_init(&d);
	d.version = version;
	snprintf(d.partition, sizeof(d.partition), "plant-a");
	d.node = *node;
	d.issued_ms = NOW_MS;
	for (size_t i = 0; i < n; i++) {
		char id[32];
		const char *colon = strchr(ids[i], ':');
		snprintf(id, sizeof(id), "%.*s", (int)(colon - ids[i]), ids[i]);
		set_wl(&w[i], id, colon + 1);
	}
	d.workloads = w;
	d.n_workloads = n;
	assert_int_equal(
	    wire_desired_encode(&d, payload, sizeof(payload), &plen), 0);
	desired_state_fini(&d);
	assert_int_equal(wire_bundle_sign(signer1, BUNDLE_DESIRED, payload,
					  plen, buf, cap, &len),
			 0);
	return len;
}

static void test_accept_and_store(void **state)
{
	(void)state;
	struct seen s = {0};
	struct store *st = open_store();
	struct reconcile *r = new_rec(st, &s);
	uint8_t b[2048];
	size_t n = make_policy(signer1, 3, "plant-a", 0, b, sizeof(b));

	assert_int_equal(reconcile_load(r, NULL, NOW_MS), 0);
	assert_null(reconcile_policy(r));
	assert_int_equal(
	    reconcile_input(r, BUNDLE_POLICY, b, n, NOW_MS, NULL, 0), RECON_OK);
	assert_int_equal(s.policies, 1);
	assert_int_equal(s.policy_version, 3);
	assert_int_equal(reconcile_version(r, BUNDLE_POLICY), 3);
	assert_non_null(reconcile_policy(r));
	assert_true(reconcile_policy(r)->hyper.alpha == 0.2);
	assert_int_equal(s.last_reason, RECON_OK);
	reconcile_free(r);
	store_close(st);

	/* restart: the stored bundle is applied again, offline */
	memset(&s, 0, sizeof(s));
	st = open_store();
	r = new_rec(st, &s);
	assert_int_equal(reconcile_load(r, NULL, NOW_MS + 1000), 0);
	assert_int_equal(s.policies, 1);
	assert_int_equal(s.policy_version, 3);
	assert_string_equal(s.last_source, "store");
	/* the same bundle again (retained redelivery) changes nothing */
	struct reconcile_stats rs;
	assert_int_equal(
	    reconcile_input(r, BUNDLE_POLICY, b, n, NOW_MS, NULL, 0), RECON_OK);
	assert_int_equal(s.policies, 1);
	reconcile_stats(r, &rs);
	assert_int_equal(rs.unchanged, 1);
	/* another bundle with the same version is stale */
	n = make_policy(signer1, 3, "plant-a", NOW_MS + 99999, b, sizeof(b));
	assert_int_equal(
	    reconcile_input(r, BUNDLE_POLICY, b, n, NOW_MS, NULL, 0),
	    RECON_STALE);
	reconcile_stats(r, &rs);
	assert_int_equal(rs.rejected[RECON_STALE], 1);
	reconcile_free(r);
	store_close(st);
}

/* Feed one bad bundle and check reason, counter and that nothing moved. */
static void expect_reject(struct reconcile *r, struct seen *s,
			  enum bundle_kind kind, const uint8_t *b, size_t n,
			  uint64_t now, enum reconcile_reason want)
{
	struct reconcile_stats before, after;
	char why[256] = "";
	int pol = s->policies;
	int puts = s->puts;
	uint64_t v = reconcile_version(r, kind);

	reconcile_stats(r, &before);
	assert_int_equal(reconcile_input(r, kind, b, n, now, why, sizeof(why)),
			 want);
	reconcile_stats(r, &after);
	assert_true(why[0] != '\0');
	assert_int_equal(after.rejected[want], before.rejected[want] + 1);
	assert_int_equal(s->policies, pol);
	assert_int_equal(s->puts, puts);
	assert_int_equal(reconcile_version(r, kind), v);
	assert_int_equal(s->last_reason, want);
}

static void test_rejections(void **state)
{
	(void)state;
	struct seen s = {0};
	struct store *st = open_store();
	struct reconcile *r = new_rec(st, &s);
	uint8_t b[16384];
	size_t n;
	const char *const one[] = {"a:1"};

	n = make_policy(signer1, 10, "plant-a", 0, b, sizeof(b));
	assert_int_equal(
	    reconcile_input(r, BUNDLE_POLICY, b, n, NOW_MS, NULL, 0), RECON_OK);

	/* tampered: flip a byte inside the payload */
	n = make_policy(signer1, 11, "plant-a", 0, b, sizeof(b));
	b[25] ^= 0x01;
	expect_reject(r, &s, BUNDLE_POLICY, b, n, NOW_MS, RECON_BAD_SIGNATURE);
	/* unsigned: a bare policy */
	n = make_policy(NULL, 12, "plant-a", 0, b, sizeof(b));
	expect_reject(r, &s, BUNDLE_POLICY, b, n, NOW_MS, RECON_UNSIGNED);
	/* garbage */
	memset(b, 0xff, 64);
	expect_reject(r, &s, BUNDLE_POLICY, b, 64, NOW_MS, RECON_MALFORMED);
	/* signed by a key that is not pinned */
	n = make_policy(signer2, 13, "plant-a", 0, b, sizeof(b));
	expect_reject(r, &s, BUNDLE_POLICY, b, n, NOW_MS, RECON_UNKNOWN_KEY);
	/* replayed older and equal versions */
	n = make_policy(signer1, 9, "plant-a", 0, b, sizeof(b));
	expect_reject(r, &s, BUNDLE_POLICY, b, n, NOW_MS, RECON_STALE);
	n = make_policy(signer1, 10, "plant-a", NOW_MS + 5000, b, sizeof(b));
	expect_reject(r, &s, BUNDLE_POLICY, b, n, NOW_MS, RECON_STALE);
	/* expired */
	n = make_policy(signer1, 14, "plant-a", NOW_MS - 1, b, sizeof(b));
	expect_reject(r, &s, BUNDLE_POLICY, b, n, NOW_MS, RECON_EXPIRED);
	/* another partition */
	n = make_policy(signer1, 15, "plant-b", 0, b, sizeof(b));
	expect_reject(r, &s, BUNDLE_POLICY, b, n, NOW_MS,
		      RECON_OTHER_PARTITION);
	/* a desired bundle on the policy topic */
	n = make_desired(1, &self, one, 1, b, sizeof(b));
	expect_reject(r, &s, BUNDLE_POLICY, b, n, NOW_MS, RECON_WRONG_KIND);
	/* a signed payload that is not a policy */
	{
		uint8_t junk[8] = {0xff, 0xff, 0xff, 0xff,
				   0xff, 0xff, 0xff, 0xff};
		assert_int_equal(wire_bundle_sign(signer1, BUNDLE_POLICY, junk,
						  sizeof(junk), b, sizeof(b),
						  &n),
				 0);
		expect_reject(r, &s, BUNDLE_POLICY, b, n, NOW_MS,
			      RECON_BAD_PAYLOAD);
	}
	/* refused by the scheduler: not stored, not in force */
	s.refuse_policy = true;
	n = make_policy(signer1, 16, "plant-a", 0, b, sizeof(b));
	expect_reject(r, &s, BUNDLE_POLICY, b, n, NOW_MS, RECON_INVALID);
	s.refuse_policy = false;
	/* desired for another node */
	struct node_id other = self;
	other.b[0] ^= 0xff;
	n = make_desired(1, &other, one, 1, b, sizeof(b));
	expect_reject(r, &s, BUNDLE_DESIRED, b, n, NOW_MS, RECON_OTHER_NODE);
	/* duplicate workload ids */
	const char *const dup[] = {"a:1", "a:2"};
	n = make_desired(2, &self, dup, 2, b, sizeof(b));
	expect_reject(r, &s, BUNDLE_DESIRED, b, n, NOW_MS, RECON_INVALID);

	/* after all that, version 10 is still the one in force and stored */
	assert_int_equal(reconcile_version(r, BUNDLE_POLICY), 10);
	reconcile_free(r);
	store_close(st);
	memset(&s, 0, sizeof(s));
	st = open_store();
	r = new_rec(st, &s);
	assert_int_equal(reconcile_load(r, NULL, NOW_MS), 0);
	assert_int_equal(s.policy_version, 10);
	reconcile_free(r);
	store_close(st);
}

static void test_desired_diff(void **state)
{
	(void)state;
	struct seen s = {0};
	struct store *st = open_store();
	struct reconcile *r = new_rec(st, &s);
	uint8_t b[16384];
	size_t n;
	const char *const v1[] = {"a:1", "b:1"};
	const char *const v2[] = {"a:2", "c:1", "b:1"};
	const char *const v3[] = {"c:1"};

	n = make_desired(1, &self, v1, 2, b, sizeof(b));
	assert_int_equal(
	    reconcile_input(r, BUNDLE_DESIRED, b, n, NOW_MS, NULL, 0),
	    RECON_OK);
	assert_int_equal(s.puts, 2);
	assert_int_equal(s.deletes, 0);
	/* a changed, c new, b unchanged */
	n = make_desired(2, &self, v2, 3, b, sizeof(b));
	assert_int_equal(
	    reconcile_input(r, BUNDLE_DESIRED, b, n, NOW_MS, NULL, 0),
	    RECON_OK);
	assert_int_equal(s.puts, 4);
	assert_string_equal(s.put_ids[2], "a");
	assert_string_equal(s.put_ids[3], "c");
	assert_int_equal(s.deletes, 0);
	/* a and b gone */
	n = make_desired(3, &self, v3, 1, b, sizeof(b));
	assert_int_equal(
	    reconcile_input(r, BUNDLE_DESIRED, b, n, NOW_MS, NULL, 0),
	    RECON_OK);
	assert_int_equal(s.puts, 4);
	assert_int_equal(s.deletes, 2);
	assert_string_equal(s.del_ids[0], "a");
	assert_string_equal(s.del_ids[1], "b");
	assert_int_equal(reconcile_version(r, BUNDLE_DESIRED), 3);
	assert_int_equal(reconcile_desired(r)->n_workloads, 1);
	reconcile_free(r);
	store_close(st);
	/* restart: what is desired is put again (idempotent at the seam) */
	memset(&s, 0, sizeof(s));
	st = open_store();
	r = new_rec(st, &s);
	assert_int_equal(reconcile_load(r, NULL, NOW_MS), 0);
	assert_int_equal(s.puts, 1);
	assert_string_equal(s.put_ids[0], "c");
	reconcile_free(r);
	store_close(st);
}

static void test_seed_file(void **state)
{
	(void)state;
	struct seen s = {0};
	char seed[160];
	uint8_t b[2048];
	size_t n = make_policy(signer1, 7, "plant-a", 0, b, sizeof(b));
	snprintf(seed, sizeof(seed), "%s/seed.bundle", dir);
	FILE *f = fopen(seed, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(b, 1, n, f), n);
	fclose(f);

	struct store *st = open_store();
	struct reconcile *r = new_rec(st, &s);
	assert_int_equal(reconcile_load(r, seed, NOW_MS), 0);
	assert_int_equal(s.policy_version, 7);
	assert_string_equal(s.last_source, "file");
	reconcile_free(r);
	store_close(st);
	/* next boot: the stored copy wins; the file is not read again */
	unlink(seed);
	memset(&s, 0, sizeof(s));
	st = open_store();
	r = new_rec(st, &s);
	assert_int_equal(reconcile_load(r, seed, NOW_MS), 0);
	assert_int_equal(s.policy_version, 7);
	assert_string_equal(s.last_source, "store");
	reconcile_free(r);
	store_close(st);
	/* a missing seed file on first boot is counted, not fatal */
	snprintf(db_path, sizeof(db_path), "%s/db-seed-missing", dir);
	memset(&s, 0, sizeof(s));
	st = open_store();
	r = new_rec(st, &s);
	assert_int_equal(reconcile_load(r, seed, NOW_MS), 0);
	assert_null(reconcile_policy(r));
	struct reconcile_stats rs;
	reconcile_stats(r, &rs);
	assert_int_equal(rs.rejected[RECON_MALFORMED], 1);
	reconcile_free(r);
	store_close(st);
}

static void test_expired_in_store(void **state)
{
	(void)state;
	struct seen s = {0};
	uint8_t b[2048];
	size_t n =
	    make_policy(signer1, 5, "plant-a", NOW_MS + 5000, b, sizeof(b));
	struct store *st = open_store();
	struct reconcile *r = new_rec(st, &s);
	assert_int_equal(
	    reconcile_input(r, BUNDLE_POLICY, b, n, NOW_MS, NULL, 0), RECON_OK);
	reconcile_free(r);
	store_close(st);
	/* restarted after it expired: not used, but 5 stays the floor */
	memset(&s, 0, sizeof(s));
	st = open_store();
	r = new_rec(st, &s);
	assert_int_equal(reconcile_load(r, NULL, NOW_MS + 10000), 0);
	assert_int_equal(s.policies, 0);
	assert_int_equal(s.last_reason, RECON_EXPIRED);
	assert_null(reconcile_policy(r));
	n = make_policy(signer1, 4, "plant-a", 0, b, sizeof(b));
	assert_int_equal(
	    reconcile_input(r, BUNDLE_POLICY, b, n, NOW_MS + 10000, NULL, 0),
	    RECON_STALE);
	reconcile_free(r);
	store_close(st);
}

static void test_key_rotation(void **state)
{
	(void)state;
	struct crypto_pins two;
	char path[160];
	char cmd[512];
	struct seen s = {0};
	uint8_t b[2048];

	snprintf(path, sizeof(path), "%s/both.pub", dir);
	snprintf(cmd, sizeof(cmd), "cat %s/signing.pub %s/signing.pub > %s",
		 key1_dir, key2_dir, path);
	assert_int_equal(system(cmd), 0);
	crypto_pins_init(&two);
	assert_int_equal(reconcile_pin_file(&two, path), 2);
	struct reconcile_config cfg = {
	    .partition = "plant-a", .self = self, .pins = &two};
	struct reconcile_ops ops = {.ud = &s, .apply_policy = op_apply};
	struct reconcile *r = NULL;
	assert_int_equal(reconcile_new(&cfg, NULL, &ops, &r), 0);
	size_t n = make_policy(signer1, 1, "plant-a", 0, b, sizeof(b));
	assert_int_equal(
	    reconcile_input(r, BUNDLE_POLICY, b, n, NOW_MS, NULL, 0), RECON_OK);
	n = make_policy(signer2, 2, "plant-a", 0, b, sizeof(b));
	assert_int_equal(
	    reconcile_input(r, BUNDLE_POLICY, b, n, NOW_MS, NULL, 0), RECON_OK);
	assert_int_equal(s.policy_version, 2);
	reconcile_free(r);
	crypto_pins_fini(&two);
	/* a file without a key is refused */
	snprintf(cmd, sizeof(cmd), "echo nothing > %s", path);
	assert_int_equal(system(cmd), 0);
	crypto_pins_init(&two);
	assert_int_equal(reconcile_pin_file(&two, path), -EBADMSG);
	crypto_pins_fini(&two);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(test_accept_and_store, setup),
	    cmocka_unit_test_setup(test_rejections, setup),
	    cmocka_unit_test_setup(test_desired_diff, setup),
	    cmocka_unit_test_setup(test_seed_file, setup),
	    cmocka_unit_test_setup(test_expired_in_store, setup),
	    cmocka_unit_test_setup(test_key_rotation, setup),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
