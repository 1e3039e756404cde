// SPDX-License-Identifier: Apache-2.0
/*
 * hub_policy: policy.ini → struct policy for `farnode hub publish-policy`.
 * Unset hyper-parameters and reward weights start from the scheduler's
 * documented defaults, so a file may set only what it changes; the result
 * is checked with sched_params_validate before anything is signed.
 */
#include "hub.h"

#include <errno.h>
#include <ini.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sched.h"

struct parse_ctx {
	struct policy *p;
	const char *file;
	char *err;
	size_t err_len;
	bool failed;
	bool have_version;
	bool have_partition;
	uint64_t now_ms;
};

static int parse_u64(const char *v, uint64_t *out)
{
	char *end = NULL;
	if (v[0] == '-' || v[0] == '\0') {
		return -EINVAL;
	}
	errno = 0;
	unsigned long long x = strtoull(v, &end, 10);
	if (errno != 0 || *end != '\0') {
		return -EINVAL;
	}
	*out = (uint64_t)x;
	return 0;
}

static int parse_dbl(const char *v, double *out)
{
	char *end = NULL;
	double x = strtod(v, &end);
	if (end == v || *end != '\0' || !isfinite(x)) {
		return -EINVAL;
	}
	*out = x;
	return 0;
}

/* "a,b,c" → three doubles. */
static int parse_triple(const char *v, double out[3])
{
	char buf[128];
	char *save = NULL;
	int n = 0;
	snprintf(buf, sizeof(buf), "%s", v);
	for (char *t = strtok_r(buf, ",", &save); t != NULL;
	     t = strtok_r(NULL, ",", &save)) {
		while (*t == ' ') {
			t++;
		}
		if (n == 3 || parse_dbl(t, &out[n]) != 0) {
			return -EINVAL;
		}
		n++;
	}
	return n == 3 ? 0 : -EINVAL;
}

/* "defer,reject" → SCHED_FORBID_* bits; "" or "none" → 0. */
static int parse_forbid(const char *v, uint32_t *bits)
{
	char buf[128];
	char *save = NULL;
	*bits = 0;
	snprintf(buf, sizeof(buf), "%s", v);
	for (char *t = strtok_r(buf, ", ", &save); t != NULL;
	     t = strtok_r(NULL, ", ", &save)) {
		if (strcmp(t, "local") == 0) {
			*bits |= SCHED_FORBID_LOCAL;
		} else if (strcmp(t, "offload") == 0) {
			*bits |= SCHED_FORBID_OFFLOAD;
		} else if (strcmp(t, "defer") == 0) {
			*bits |= SCHED_FORBID_DEFER;
		} else if (strcmp(t, "reject") == 0) {
			*bits |= SCHED_FORBID_REJECT;
		} else if (strcmp(t, "none") != 0) {
			return -EINVAL;
		}
	}
	return 0;
}

static void defaults_from_sched(struct policy *p)
{
	struct sched_params d;
	sched_params_default(&d);
	p->hyper.alpha = d.alpha;
	p->hyper.gamma = d.gamma;
	p->hyper.epsilon = d.epsilon;
	p->hyper.epsilon_min = d.epsilon_min;
	p->hyper.epsilon_decay = d.epsilon_decay;
	p->hyper.q_init = d.q_init;
	p->hyper.neighbours_k = d.neighbours_k;
	p->hyper.hot_temp_c = d.hot_temp_c;
	p->reward.met = d.reward_met;
	p->reward.missed = d.reward_missed;
	p->reward.failed = d.reward_failed;
	p->reward.rejected = d.reward_rejected;
	p->reward.deferred = d.reward_deferred;
	for (int i = 0; i < 3; i++) {
		p->reward.class_weight[i] = d.class_weight[i];
		p->reward.w_latency[i] = d.w_latency[i];
		p->reward.w_energy[i] = d.w_energy[i];
		p->reward.w_failure[i] = d.w_failure[i];
	}
	p->reward.latency_ref_ms = d.latency_ref_ms;
	p->reward.energy_ref_j = d.energy_ref_j;
}

static int on_key(void *user, const char *section, const char *name,
		  const char *value)
{
	struct parse_ctx *c = user;
	struct policy *p = c->p;
	const char *why = NULL;
	double d = 0;
	uint64_t u = 0;

	if (strcmp(section, "policy") == 0) {
		if (strcmp(name, "version") == 0) {
			if (parse_u64(value, &p->version) != 0 ||
			    p->version == 0) {
				why = "expected a positive integer";
			}
			c->have_version = true;
		} else if (strcmp(name, "partition") == 0) {
			if (value[0] == '\0' ||
			    strlen(value) >= sizeof(p->partition) ||
			    strpbrk(value, "/+#") != NULL) {
				why = "expected a partition name (no / + #)";
			} else {
				snprintf(p->partition, sizeof(p->partition),
					 "%s", value);
				c->have_partition = true;
			}
		} else if (strcmp(name, "expires_ms") == 0) {
			if (parse_u64(value, &p->expires_ms) != 0) {
				why = "expected ms since the epoch (0 = never)";
			}
		} else if (strcmp(name, "expires_in_s") == 0) {
			if (parse_u64(value, &u) != 0 || u == 0 ||
			    u > 10ull * 365 * 86400) {
				why = "expected seconds (1 .. 10 years)";
			} else {
				p->expires_ms = c->now_ms + u * 1000u;
			}
		} else {
			why = "unknown key";
		}
	} else if (strcmp(section, "hyper") == 0) {
		p->has_hyper = true;
		struct {
			const char *k;
			double *f;
		} map[] = {
		    {"alpha", &p->hyper.alpha},
		    {"gamma", &p->hyper.gamma},
		    {"epsilon", &p->hyper.epsilon},
		    {"epsilon_min", &p->hyper.epsilon_min},
		    {"epsilon_decay", &p->hyper.epsilon_decay},
		    {"q_init", &p->hyper.q_init},
		    {"hot_temp_c", &p->hyper.hot_temp_c},
		};
		bool found = false;
		for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
			if (strcmp(name, map[i].k) == 0) {
				found = true;
				if (parse_dbl(value, map[i].f) != 0) {
					why = "expected a number";
				}
			}
		}
		if (!found && strcmp(name, "neighbours_k") == 0) {
			found = true;
			if (parse_u64(value, &u) != 0 || u > SCHED_K_MAX) {
				why = "expected 0..8";
			} else {
				p->hyper.neighbours_k = (uint32_t)u;
			}
		}
		if (!found) {
			why = "unknown key";
		}
	} else if (strcmp(section, "mask") == 0) {
		enum qos_class q;
		uint32_t bits = 0;
		if (qos_class_parse(name, &q) != 0) {
			why = "expected gold, silver or besteffort";
		} else if (parse_forbid(value, &bits) != 0) {
			why =
			    "expected a list of local, offload, defer, reject";
		} else {
			uint32_t i;
			for (i = 0; i < p->n_masks; i++) {
				if (p->masks[i].qos == q) {
					break;
				}
			}
			if (i == p->n_masks) {
				p->n_masks++;
			}
			p->masks[i].qos = q;
			p->masks[i].forbid = bits;
		}
	} else if (strcmp(section, "reward") == 0) {
		p->has_reward = true;
		struct {
			const char *k;
			double *f;
		} map[] = {
		    {"met", &p->reward.met},
		    {"missed", &p->reward.missed},
		    {"failed", &p->reward.failed},
		    {"rejected", &p->reward.rejected},
		    {"deferred", &p->reward.deferred},
		    {"latency_ref_ms", &p->reward.latency_ref_ms},
		    {"energy_ref_j", &p->reward.energy_ref_j},
		};
		struct {
			const char *k;
			double *f;
		} tri[] = {
		    {"class_weight", p->reward.class_weight},
		    {"w_latency", p->reward.w_latency},
		    {"w_energy", p->reward.w_energy},
		    {"w_failure", p->reward.w_failure},
		};
		bool found = false;
		for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
			if (strcmp(name, map[i].k) == 0) {
				found = true;
				if (parse_dbl(value, map[i].f) != 0) {
					why = "expected a number";
				}
			}
		}
		for (size_t i = 0; i < sizeof(tri) / sizeof(tri[0]); i++) {
			if (strcmp(name, tri[i].k) == 0) {
				found = true;
				if (parse_triple(value, tri[i].f) != 0) {
					why = "expected three numbers a,b,c";
				}
			}
		}
		if (!found) {
			why = "unknown key";
		}
	} else {
		why = "unknown section (policy, hyper, mask, reward)";
	}
	(void)d;
	if (why != NULL && !c->failed) {
		c->failed = true;
		snprintf(c->err, c->err_len, "%s: [%s] %s = %s: %s", c->file,
			 section, name, value, why);
	}
	return why == NULL;
}

int hub_policy_parse(const char *text, const char *file, uint64_t now_ms,
		     const char *partition, struct policy *p, char *err,
		     size_t err_len)
{
	struct parse_ctx c = {.p = p,
			      .file = file,
			      .err = err,
			      .err_len = err_len,
			      .now_ms = now_ms};
	struct sched_params sp;
	char why[200];
	int line;

	policy_init(p);
	defaults_from_sched(p);
	p->issued_ms = now_ms;
	line = ini_parse_string(text, on_key, &c);
	if (c.failed) {
		goto fail;
	}
	if (line != 0) {
		snprintf(err, err_len, "%s:%d: not INI", file, line);
		goto fail;
	}
	if (!c.have_version) {
		p->version = now_ms;
	}
	if (!c.have_partition) {
		if (partition == NULL || partition[0] == '\0' ||
		    strlen(partition) >= sizeof(p->partition)) {
			snprintf(err, err_len,
				 "%s: no [policy] partition and none given",
				 file);
			goto fail;
		}
		snprintf(p->partition, sizeof(p->partition), "%s", partition);
	}
	sched_params_default(&sp);
	policy_apply(p, &sp);
	if (sched_params_validate(&sp, why, sizeof(why)) != 0) {
		snprintf(err, err_len, "%s: the scheduler would refuse it: %s",
			 file, why);
		goto fail;
	}
	return 0;
fail:
	policy_fini(p);
	return -EINVAL;
}
