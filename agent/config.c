// SPDX-License-Identifier: Apache-2.0
/*
 * config: table-driven INI parsing with inih. One table row per key: type,
 * field, range, default, whether it can change live (SIGHUP), and its
 * meaning. Defaults are applied by parsing the default text through the
 * same setter, so there is one path for every value.
 */
#include "config.h"

#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "node.h"

enum ktype { K_STR, K_INT, K_DBL, K_BOOL, K_ENUM, K_HOSTPORT, K_HOSTPORTS,
	     K_LABELS, K_LOGLEVEL, K_URL };

struct key {
	const char *section;
	const char *name;
	enum ktype type;
	size_t off;
	size_t size;   /* for strings: buffer size */
	double min;    /* K_INT/K_DBL range */
	double max;
	const char *def;
	const char *choices; /* K_ENUM: "a|b" */
	bool live;           /* applied on SIGHUP without restart */
	const char *help;
};

#define F(sec, fld) offsetof(struct config, sec.fld), sizeof(((struct config *)0)->sec.fld)

static const struct key keys[] = {
	{"node", "name", K_STR, F(node, name), 0, 0, "", NULL, false,
	 "node name shown to peers; empty = host name"},
	{"node", "data_dir", K_STR, F(node, data_dir), 0, 0, "/var/lib/farnode",
	 NULL, false, "directory for the database, lock and control socket"},
	{"node", "labels", K_LABELS, F(node, labels), 0, 0, "", NULL, true,
	 "node labels k=v,k2=v2 (zone, arch, capabilities)"},
	{"node", "log_level", K_LOGLEVEL, F(node, log_level), 0, 0, "info",
	 "error|warn|info|debug", true, "log threshold"},

	{"control", "socket", K_STR, F(control, socket), 0, 0, "", NULL, false,
	 "control socket path; empty = DATA_DIR/farnode.sock"},

	{"gossip", "enabled", K_BOOL, F(gossip, enabled), 0, 0, "true", NULL,
	 false, "join a partition over UDP gossip"},
	{"gossip", "bind", K_HOSTPORT, F(gossip, bind), 0, 0, "0.0.0.0:7946",
	 NULL, false, "UDP and TCP listen address"},
	{"gossip", "advertise", K_HOSTPORT, F(gossip, advertise), 0, 0, "", NULL,
	 false, "address peers use to reach us; empty = bind address"},
	{"gossip", "join", K_HOSTPORTS, F(gossip, join), 0, 0, "", NULL, true,
	 "seed members host:port,...; empty = start alone"},
	{"gossip", "key", K_STR, F(gossip, key), 0, 0, "", NULL, false,
	 "initial gossip key (base64, 32 bytes); empty = keyring from store"},
	{"gossip", "profile", K_ENUM, F(gossip, profile), 0, 0, "lan", "lan|wan",
	 false, "timing profile (memberlist LAN or WAN defaults)"},
	{"gossip", "probe_interval_ms", K_INT, F(gossip, probe_interval_ms), 0,
	 600000, "0", NULL, false, "failure-detector probe period; 0 = profile"},
	{"gossip", "probe_timeout_ms", K_INT, F(gossip, probe_timeout_ms), 0,
	 600000, "0", NULL, false, "direct probe timeout; 0 = profile"},
	{"gossip", "suspicion_mult", K_INT, F(gossip, suspicion_mult), 0, 100,
	 "0", NULL, false, "suspicion timeout multiplier; 0 = profile"},
	{"gossip", "gossip_nodes", K_INT, F(gossip, gossip_nodes), 0, 64, "0",
	 NULL, false, "peers per gossip round; 0 = profile"},
	{"gossip", "gossip_interval_ms", K_INT, F(gossip, gossip_interval_ms), 0,
	 600000, "0", NULL, false, "gossip round period; 0 = profile"},
	{"gossip", "push_pull_interval_s", K_INT, F(gossip, push_pull_interval_s),
	 0, 86400, "0", NULL, false, "TCP anti-entropy period; 0 = profile"},
	{"gossip", "reap_after_s", K_INT, F(gossip, reap_after_s), 1, 604800,
	 "86400", NULL, false, "forget dead or left members after this long"},
	{"gossip", "join_retry_max_s", K_INT, F(gossip, join_retry_max_s), 1,
	 3600, "60", NULL, false, "cap of the join retry backoff"},

	{"runtime", "cgroup_root", K_STR, F(runtime, cgroup_root), 0, 0, "",
	 NULL, false, "delegated cgroup v2 directory; empty = detect"},
	{"runtime", "max_workloads", K_INT, F(runtime, max_workloads), 1, 4096,
	 "64", NULL, true, "workloads this node accepts"},
	{"runtime", "log_max_bytes", K_INT, F(runtime, log_max_bytes), 4096,
	 1073741824, "1048576", NULL, true,
	 "per-workload log size before rotation"},
	{"runtime", "restart_backoff_max_s", K_INT,
	 F(runtime, restart_backoff_max_s), 1, 86400, "300", NULL, true,
	 "cap of the on-failure restart backoff"},

	{"metrics", "sample_interval_s", K_INT, F(metrics, sample_interval_s), 1,
	 3600, "5", NULL, true, "metrics sampling period"},
	{"metrics", "idle_watts", K_DBL, F(metrics, idle_watts), 0, 10000, "2.0",
	 NULL, true, "power model: watts when idle (no sensor)"},
	{"metrics", "watts_per_core", K_DBL, F(metrics, watts_per_core), 0, 1000,
	 "1.5", NULL, true, "power model: extra watts per busy core"},

	{"sched", "alpha", K_DBL, F(sched, alpha), 0.001, 1, "0.1", NULL, true,
	 "Q-learning rate"},
	{"sched", "gamma", K_DBL, F(sched, gamma), 0, 0.999, "0.2", NULL, true,
	 "discount factor"},
	{"sched", "epsilon", K_DBL, F(sched, epsilon), 0, 1, "0.2", NULL, true,
	 "initial exploration rate"},
	{"sched", "epsilon_min", K_DBL, F(sched, epsilon_min), 0, 1, "0.02",
	 NULL, true, "exploration floor"},
	{"sched", "epsilon_decay", K_DBL, F(sched, epsilon_decay), 0.001, 1,
	 "0.999",
	 NULL, true, "multiplied into epsilon after each decision"},
	{"sched", "neighbours_k", K_INT, F(sched, neighbours_k), 0, 8, "3", NULL,
	 false, "offload candidates ranked per decision"},
	{"sched", "tick_ms", K_INT, F(sched, tick_ms), 10, 600000, "1000", NULL,
	 true, "write-behind period of the Q-table"},
	{"sched", "decisions_max", K_INT, F(sched, decisions_max), 10, 10000000,
	 "10000", NULL, true, "decision log rows kept"},

	{"hub", "url", K_URL, F(hub, url), 0, 0, "", NULL, false,
	 "hub broker mqtts://host:port; empty = offline autonomous"},
	{"hub", "ca", K_STR, F(hub, ca), 0, 0, "", NULL, true,
	 "CA certificate file (PEM) for the broker"},
	{"hub", "cert", K_STR, F(hub, cert), 0, 0, "", NULL, true,
	 "client certificate file (PEM)"},
	{"hub", "key", K_STR, F(hub, key), 0, 0, "", NULL, true,
	 "client private key file (PEM)"},
	{"hub", "hub_pubkey", K_STR, F(hub, hub_pubkey), 0, 0, "", NULL, true,
	 "pinned hub signing public key(s) (PEM file)"},
	{"hub", "partition", K_STR, F(hub, partition), 0, 0, "default", NULL,
	 false, "partition name used in topics"},
	{"hub", "topic_prefix", K_STR, F(hub, topic_prefix), 0, 0, "farnode/v1",
	 NULL, false, "MQTT topic prefix"},
	{"hub", "policy_file", K_STR, F(hub, policy_file), 0, 0, "", NULL, true,
	 "pre-seeded signed policy bundle for first boot offline"},
	{"hub", "keepalive_s", K_INT, F(hub, keepalive_s), 5, 3600, "60", NULL,
	 false, "MQTT keepalive"},
	{"hub", "backoff_min_s", K_INT, F(hub, backoff_min_s), 1, 3600, "1", NULL,
	 true, "reconnect backoff start"},
	{"hub", "backoff_max_s", K_INT, F(hub, backoff_max_s), 1, 86400, "300",
	 NULL, true, "reconnect backoff cap"},
	{"hub", "outbox_max_bytes", K_INT, F(hub, outbox_max_bytes), 65536,
	 1073741824, "8388608", NULL, true,
	 "store-and-forward queue bound; oldest low-priority dropped"},
	{"hub", "outbox_rate", K_DBL, F(hub, outbox_rate), 1, 100000, "500",
	 NULL, true, "events per second flushed to the hub after a reconnect"},
	{"hub", "learning_interval_s", K_INT, F(hub, learning_interval_s), 0,
	 86400, "600", NULL, true,
	 "Q-table summary to the hub when it changed; 0 = never"},
};

#define NKEYS (sizeof(keys) / sizeof(keys[0]))

static const struct key *find_key(const char *section, const char *name)
{
	for (size_t i = 0; i < NKEYS; i++) {
		if (strcmp(keys[i].section, section) == 0 &&
		    strcmp(keys[i].name, name) == 0) {
			return &keys[i];
		}
	}
	return NULL;
}

static bool section_known(const char *section)
{
	for (size_t i = 0; i < NKEYS; i++) {
		if (strcmp(keys[i].section, section) == 0) {
			return true;
		}
	}
	return false;
}

static const char *trim_inplace(char *s)
{
	while (*s == ' ' || *s == '\t') {
		s++;
	}
	size_t n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t')) {
		s[--n] = '\0';
	}
	return s;
}

/* Validate host:port (host may be [v6]). */
static bool valid_hostport(const char *s)
{
	const char *colon = strrchr(s, ':');
	if (colon == NULL || colon == s || colon[1] == '\0') {
		return false;
	}
	if (s[0] == '[' && colon[-1] != ']') {
		return false;
	}
	char *end;
	errno = 0;
	long port = strtol(colon + 1, &end, 10);
	if (errno != 0 || *end != '\0' || port < 1 || port > 65535) {
		return false;
	}
	for (const char *p = s; p < colon; p++) {
		if (*p == ' ' || *p == ',') {
			return false;
		}
	}
	return true;
}

static void allowed_text(const struct key *k, char *out, size_t len)
{
	switch (k->type) {
	case K_INT:
		snprintf(out, len, "%.0f..%.0f", k->min, k->max);
		break;
	case K_DBL:
		snprintf(out, len, "%g..%g", k->min, k->max);
		break;
	case K_BOOL:
		snprintf(out, len, "true|false");
		break;
	case K_ENUM:
		snprintf(out, len, "%s", k->choices);
		break;
	case K_LOGLEVEL:
		snprintf(out, len, "error|warn|info|debug");
		break;
	case K_HOSTPORT:
		snprintf(out, len, "host:port");
		break;
	case K_HOSTPORTS:
		snprintf(out, len, "host:port,host:port,...");
		break;
	case K_LABELS:
		snprintf(out, len, "k=v,k2=v2 (at most %d)", NODE_LABELS_MAX);
		break;
	case K_URL:
		snprintf(out, len, "mqtts://host:port or mqtt://host:port");
		break;
	case K_STR:
	default:
		snprintf(out, len, "text up to %zu bytes", k->size - 1);
		break;
	}
}

/* Set one value; on error writes "what is wrong" into why. */
static int set_value(struct config *cfg, const struct key *k,
		     const char *value, char *why, size_t why_len)
{
	char *field = (char *)cfg + k->off;
	char *end;

	switch (k->type) {
	case K_STR:
	case K_HOSTPORT:
	case K_HOSTPORTS:
	case K_LABELS:
	case K_ENUM:
	case K_LOGLEVEL:
	case K_URL:
		if (strlen(value) >= k->size) {
			snprintf(why, why_len, "value is longer than %zu bytes",
				 k->size - 1);
			return -EINVAL;
		}
		break;
	default:
		break;
	}

	switch (k->type) {
	case K_STR:
		break;
	case K_HOSTPORT:
		if (value[0] != '\0' && !valid_hostport(value)) {
			snprintf(why, why_len, "'%s' is not host:port", value);
			return -EINVAL;
		}
		break;
	case K_HOSTPORTS: {
		char tmp[CONFIG_STR_MAX];
		snprintf(tmp, sizeof(tmp), "%s", value);
		char *save = NULL;
		for (char *t = strtok_r(tmp, ",", &save); t != NULL;
		     t = strtok_r(NULL, ",", &save)) {
			const char *item = trim_inplace(t);
			if (!valid_hostport(item)) {
				snprintf(why, why_len, "'%s' is not host:port",
					 item);
				return -EINVAL;
			}
		}
		break;
	}
	case K_LABELS: {
		struct node_label labels[NODE_LABELS_MAX];
		int n = node_labels_parse(value, labels, NODE_LABELS_MAX);
		if (n < 0) {
			snprintf(why, why_len, "'%s' is not a label list", value);
			return -EINVAL;
		}
		break;
	}
	case K_ENUM: {
		bool ok = false;
		const char *c = k->choices;
		size_t vlen = strlen(value);
		while (*c != '\0') {
			const char *bar = strchr(c, '|');
			size_t clen = bar ? (size_t)(bar - c) : strlen(c);
			if (clen == vlen && strncmp(c, value, clen) == 0) {
				ok = true;
				break;
			}
			c += clen + (bar ? 1 : 0);
		}
		if (!ok) {
			snprintf(why, why_len, "'%s' is not one of the choices",
				 value);
			return -EINVAL;
		}
		break;
	}
	case K_LOGLEVEL: {
		int lvl;
		if (log_level_parse(value, &lvl) != 0) {
			snprintf(why, why_len, "'%s' is not a log level", value);
			return -EINVAL;
		}
		break;
	}
	case K_URL:
		if (value[0] != '\0') {
			const char *hp = NULL;
			if (strncmp(value, "mqtts://", 8) == 0) {
				hp = value + 8;
			} else if (strncmp(value, "mqtt://", 7) == 0) {
				hp = value + 7;
			}
			if (hp == NULL || !valid_hostport(hp)) {
				snprintf(why, why_len, "'%s' is not a broker URL",
					 value);
				return -EINVAL;
			}
		}
		break;
	case K_INT: {
		errno = 0;
		long long v = strtoll(value, &end, 10);
		if (value[0] == '\0' || *end != '\0' || errno != 0) {
			snprintf(why, why_len, "'%s' is not an integer", value);
			return -EINVAL;
		}
		if ((double)v < k->min || (double)v > k->max) {
			snprintf(why, why_len, "%lld is out of range", v);
			return -ERANGE;
		}
		*(int64_t *)(void *)field = (int64_t)v;
		return 0;
	}
	case K_DBL: {
		errno = 0;
		double v = strtod(value, &end);
		if (value[0] == '\0' || *end != '\0' || errno != 0 ||
		    !isfinite(v)) {
			snprintf(why, why_len, "'%s' is not a number", value);
			return -EINVAL;
		}
		if (v < k->min || v > k->max) {
			snprintf(why, why_len, "%g is out of range", v);
			return -ERANGE;
		}
		*(double *)(void *)field = v;
		return 0;
	}
	case K_BOOL:
		if (strcasecmp(value, "true") == 0 ||
		    strcasecmp(value, "yes") == 0 || strcmp(value, "1") == 0 ||
		    strcasecmp(value, "on") == 0) {
			*(bool *)(void *)field = true;
		} else if (strcasecmp(value, "false") == 0 ||
			   strcasecmp(value, "no") == 0 ||
			   strcmp(value, "0") == 0 ||
			   strcasecmp(value, "off") == 0) {
			*(bool *)(void *)field = false;
		} else {
			snprintf(why, why_len, "'%s' is not a boolean", value);
			return -EINVAL;
		}
		return 0;
	}
	/* string-like: copy */
	memcpy(field, value, strlen(value) + 1);
	return 0;
}

void config_defaults(struct config *cfg)
{
	char why[128];
	memset(cfg, 0, sizeof(*cfg));
	for (size_t i = 0; i < NKEYS; i++) {
		int rc = set_value(cfg, &keys[i], keys[i].def, why, sizeof(why));
		(void)rc;
	}
}

struct parse_ctx {
	struct config *cfg;
	const char *name;
	int line;
	bool long_line;
	int err_line;
	char *err;
	size_t err_len;
	int rc;
	/* reader state */
	FILE *f;
	const char *text;
};

static void ctx_error(struct parse_ctx *c, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void ctx_error(struct parse_ctx *c, int rc, const char *fmt, ...)
{
	if (c->rc != 0) {
		return; /* keep the first error */
	}
	char msg[CONFIG_ERR_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(c->err, c->err_len, "%s:%d: %s", c->name, c->line, msg);
	c->rc = rc;
}

static int handler(void *user, const char *section, const char *name,
		   const char *value)
{
	struct parse_ctx *c = user;

	if (!section_known(section)) {
		ctx_error(c, -EINVAL, "[%s]: unknown section (allowed: node, "
			  "control, gossip, runtime, metrics, sched, hub)",
			  section);
		return 0;
	}
	const struct key *k = find_key(section, name);
	if (k == NULL) {
		char allowed[768];
		size_t o = 0;
		allowed[0] = '\0';
		for (size_t i = 0; i < NKEYS && o < sizeof(allowed); i++) {
			if (strcmp(keys[i].section, section) == 0) {
				int w = snprintf(allowed + o, sizeof(allowed) - o,
						 "%s%s", o ? ", " : "",
						 keys[i].name);
				if (w > 0) {
					o += (size_t)w;
				}
			}
		}
		ctx_error(c, -EINVAL, "%s: unknown key in [%s] (allowed: %s)",
			  name, section, allowed);
		return 0;
	}
	char why[256];
	int rc = set_value(c->cfg, k, value, why, sizeof(why));
	if (rc != 0) {
		char allowed[128];
		allowed_text(k, allowed, sizeof(allowed));
		ctx_error(c, rc, "%s: %s (allowed: %s)", name, why, allowed);
		return 0;
	}
	return 1;
}

/* inih reader wrapper: counts lines and detects over-long ones. */
static char *reader(char *str, int num, void *stream)
{
	struct parse_ctx *c = stream;
	char *r = NULL;

	if (c->f != NULL) {
		r = fgets(str, num, c->f);
	} else if (c->text != NULL && *c->text != '\0') {
		const char *nl = strchr(c->text, '\n');
		size_t len = nl ? (size_t)(nl - c->text) + 1 : strlen(c->text);
		if (len > (size_t)num - 1) {
			len = (size_t)num - 1;
		}
		memcpy(str, c->text, len);
		str[len] = '\0';
		c->text += len;
		r = str;
	}
	if (r == NULL) {
		return NULL;
	}
	size_t n = strlen(str);
	bool complete = n > 0 && str[n - 1] == '\n';
	if (!c->long_line) {
		c->line++;
	}
	if (!complete && (int)n == num - 1) {
		/* more of this line follows */
		if (!c->long_line) {
			ctx_error(c, -EINVAL, "line longer than %d characters",
				  num - 2);
		}
		c->long_line = true;
		str[0] = '\0';
		return str;
	}
	if (c->long_line) {
		c->long_line = false;
		str[0] = '\0';
	}
	if (n > 0 && memchr(str, '\0', n) != NULL) {
		ctx_error(c, -EINVAL, "binary data in configuration");
	}
	return r;
}

static int parse(struct config *cfg, struct parse_ctx *c)
{
	struct config tmp = *cfg;
	c->cfg = &tmp;
	int r = ini_parse_stream(reader, c, handler, c);
	if (c->rc == 0 && r > 0) {
		c->line = r;
		ctx_error(c, -EINVAL, "syntax error (expected [section] or "
			  "key = value)");
	} else if (c->rc == 0 && r < 0) {
		ctx_error(c, -ENOMEM, "cannot parse (out of memory)");
	}
	if (c->rc == 0) {
		*cfg = tmp;
	}
	return c->rc;
}

int config_load(struct config *cfg, const char *path, char *err,
		size_t err_len)
{
	struct parse_ctx c = {.name = path, .err = err, .err_len = err_len};
	c.f = fopen(path, "r");
	if (c.f == NULL) {
		int e = errno;
		snprintf(err, err_len, "%s: cannot open: %s", path, strerror(e));
		return -e;
	}
	int rc = parse(cfg, &c);
	if (rc == 0 && ferror(c.f)) {
		snprintf(err, err_len, "%s: read error", path);
		rc = -EIO;
	}
	fclose(c.f);
	return rc;
}

int config_load_string(struct config *cfg, const char *name, const char *text,
		       char *err, size_t err_len)
{
	struct parse_ctx c = {.name = name, .err = err, .err_len = err_len,
			      .text = text};
	return parse(cfg, &c);
}

int config_set(struct config *cfg, const char *section, const char *key,
	       const char *value, char *err, size_t err_len)
{
	const struct key *k = find_key(section, key);
	if (k == NULL) {
		snprintf(err, err_len, "%s.%s: unknown key", section, key);
		return -EINVAL;
	}
	char why[256];
	int rc = set_value(cfg, k, value, why, sizeof(why));
	if (rc != 0) {
		char allowed[128];
		allowed_text(k, allowed, sizeof(allowed));
		snprintf(err, err_len, "%s.%s: %s (allowed: %s)", section, key,
			 why, allowed);
	}
	return rc;
}

static bool key_differs(const struct key *k, const struct config *a,
			const struct config *b)
{
	const char *pa = (const char *)a + k->off;
	const char *pb = (const char *)b + k->off;
	switch (k->type) {
	case K_INT:
	case K_DBL:
	case K_BOOL:
		return memcmp(pa, pb, k->size) != 0;
	default:
		return strcmp(pa, pb) != 0;
	}
}

int config_merge_live(struct config *cur, const struct config *next,
		      config_diff_fn fn, void *ud)
{
	int kept = 0;
	for (size_t i = 0; i < NKEYS; i++) {
		const struct key *k = &keys[i];
		if (!key_differs(k, cur, next)) {
			continue;
		}
		char name[96];
		snprintf(name, sizeof(name), "%s.%s", k->section, k->name);
		if (k->live) {
			memcpy((char *)cur + k->off, (const char *)next + k->off,
			       k->size);
		} else {
			kept++;
		}
		if (fn != NULL) {
			fn(name, k->live, ud);
		}
	}
	return kept;
}

int config_diff(const struct config *a, const struct config *b,
		config_diff_fn fn, void *ud)
{
	int n = 0;
	for (size_t i = 0; i < NKEYS; i++) {
		const struct key *k = &keys[i];
		if (key_differs(k, a, b)) {
			char name[96];
			snprintf(name, sizeof(name), "%s.%s", k->section, k->name);
			if (fn != NULL) {
				fn(name, k->live, ud);
			}
			n++;
		}
	}
	return n;
}

void config_write_sample(FILE *f)
{
	const char *section = "";
	fprintf(f, "# farnode configuration. Every key is optional; the value "
		   "shown is the default.\n"
		   "# Generated by 'farnode config --sample'. "
		   "Keys marked (live) change on SIGHUP;\n"
		   "# the others need a restart.\n");
	for (size_t i = 0; i < NKEYS; i++) {
		const struct key *k = &keys[i];
		char allowed[128];
		if (strcmp(section, k->section) != 0) {
			section = k->section;
			fprintf(f, "\n[%s]\n", section);
		}
		allowed_text(k, allowed, sizeof(allowed));
		fprintf(f, "# %s%s. Allowed: %s.\n", k->help,
			k->live ? " (live)" : "", allowed);
		fprintf(f, "#%s = %s\n", k->name, k->def);
	}
}

void config_write_markdown(FILE *f)
{
	fprintf(f, "| key | default | allowed | live | meaning |\n"
		   "|---|---|---|---|---|\n");
	for (size_t i = 0; i < NKEYS; i++) {
		const struct key *k = &keys[i];
		char allowed[128];
		allowed_text(k, allowed, sizeof(allowed));
		fprintf(f, "| `%s.%s` | `%s` | %s | %s | %s |\n", k->section,
			k->name, k->def[0] ? k->def : "\"\"", allowed,
			k->live ? "yes" : "no", k->help);
	}
}
