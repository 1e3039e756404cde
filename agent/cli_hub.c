// SPDX-License-Identifier: Apache-2.0
/*
 * cli_hub: `farnode hub keygen | publish-policy | publish-desired |
 * publish-bundle | watch` — the operator side of the uplink. Bundles are
 * signed locally with the hub signing key and published retained (QoS 1)
 * with the same MQTT codec and TLS client the agent uses.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "config.h"
#include "crypto.h"
#include "hub.h"
#include "log.h"
#include "manifest.h"
#include "uplink_events.h"
#include "wire.h"

enum {
	O_URL = CLI_OPT_FIRST_FREE,
	O_CA,
	O_CERT,
	O_KEY,
	O_PARTITION,
	O_PREFIX,
	O_SIGNING_KEY,
	O_OUT,
	O_NODE,
	O_VERSION,
	O_EXPIRES_IN,
	O_UNSIGNED,
	O_NONE,
	O_KIND,
	O_COUNT,
	O_TIMEOUT,
	O_CLIENT_ID,
	O_DURABLE,
	O_DIR,
	O_ISSUED,
};

struct hub_opts {
	struct cli_common common;
	struct config cfg; /* [hub] from -c, then overrides */
	const char *file;
	const char *signing_key;
	const char *out;
	const char *node;
	const char *kind;
	const char *dir;
	const char *client_id;
	uint64_t version;
	uint64_t expires_in_s;
	bool unsigned_;
	bool none;
	bool durable;
	uint32_t count;
	uint32_t timeout_s;
	bool partition_set;
};

static const struct option longopts[] = {
    CLI_COMMON_LONGOPTS,
    {"url", required_argument, NULL, O_URL},
    {"ca", required_argument, NULL, O_CA},
    {"cert", required_argument, NULL, O_CERT},
    {"key", required_argument, NULL, O_KEY},
    {"partition", required_argument, NULL, O_PARTITION},
    {"prefix", required_argument, NULL, O_PREFIX},
    {"signing-key", required_argument, NULL, O_SIGNING_KEY},
    {"out", required_argument, NULL, O_OUT},
    {"node", required_argument, NULL, O_NODE},
    {"version", required_argument, NULL, O_VERSION},
    {"expires-in", required_argument, NULL, O_EXPIRES_IN},
    {"unsigned", no_argument, NULL, O_UNSIGNED},
    {"none", no_argument, NULL, O_NONE},
    {"kind", required_argument, NULL, O_KIND},
    {"count", required_argument, NULL, O_COUNT},
    {"timeout", required_argument, NULL, O_TIMEOUT},
    {"client-id", required_argument, NULL, O_CLIENT_ID},
    {"durable", no_argument, NULL, O_DURABLE},
    {"dir", required_argument, NULL, O_DIR},
    {"file", required_argument, NULL, 'f'},
    {0, 0, 0, 0},
};

static void usage(FILE *f)
{
	fprintf(
	    f, "Usage: farnode hub COMMAND [OPTIONS]\n\n"
	       "Drive a fleet through the hub broker: sign and publish "
	       "policy and desired\n"
	       "state, watch node births, deaths and events.\n\n"
	       "Commands:\n"
	       "  keygen [--dir DIR]           make the hub signing key "
	       "(signing.key/.pub)\n"
	       "  publish-policy -f POLICY.ini sign and publish the partition "
	       "policy\n"
	       "  publish-desired --node ID -f APP.yaml | --none\n"
	       "                               sign and publish a node's "
	       "desired workloads\n"
	       "  publish-bundle -f FILE [--kind policy|desired] [--node ID]\n"
	       "                               publish an already signed "
	       "bundle as is\n"
	       "  watch [--partition P] [--count N] [--timeout S]\n"
	       "                               print births, deaths and "
	       "events\n"
	       "  status [--data-dir DIR] [--json]\n"
	       "                               this agent's uplink: state, "
	       "outbox, versions\n\n"
	       "Connection (else from [hub] in -c FILE):\n"
	       "  -c, --config FILE     INI file with a [hub] section (url, "
	       "ca, cert, key,\n"
	       "                        partition, topic_prefix)\n"
	       "      --url URL         mqtts://host:port\n"
	       "      --ca FILE --cert FILE --key FILE   TLS client identity\n"
	       "      --partition P     partition (topics)\n"
	       "      --prefix PREFIX   topic prefix (default farnode/v1)\n"
	       "      --timeout S       give up after S seconds (watch: stop)\n"
	       "Signing:\n"
	       "      --signing-key FILE  hub signing key (default "
	       "./signing.key)\n"
	       "      --version N       bundle version (default: now in ms)\n"
	       "      --expires-in S    bundle expires S seconds from now\n"
	       "      --out FILE        also write the signed bundle (e.g. for "
	       "[hub] policy_file);\n"
	       "                        without a url nothing is published\n"
	       "      --unsigned        publish the bare payload (to test "
	       "agents' refusal)\n"
	       "Watch:\n"
	       "      --count N         exit after N messages\n"
	       "      --client-id ID --durable   keep a session so nothing is "
	       "missed between runs\n");
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int parse_u64_arg(const char *s, uint64_t *out)
{
	char *end = NULL;
	if (s[0] == '-' || s[0] == '\0') {
		return -1;
	}
	unsigned long long v = strtoull(s, &end, 10);
	if (*end != '\0') {
		return -1;
	}
	*out = (uint64_t)v;
	return 0;
}

static int set_hub(struct hub_opts *o, const char *key, const char *v)
{
	char err[CONFIG_ERR_MAX];
	if (config_set(&o->cfg, "hub", key, v, err, sizeof(err)) != 0) {
		fprintf(stderr, "farnode hub: %s\n", err);
		return -1;
	}
	return 0;
}

/* Parse options after the subcommand. Returns 0, or an exit code + 1. */
static int parse(int argc, char **argv, struct hub_opts *o)
{
	char err[CONFIG_ERR_MAX];
	const char *url = NULL, *ca = NULL, *cert = NULL, *key = NULL;
	const char *part = NULL, *prefix = NULL;
	uint64_t v;
	int opt;

	config_defaults(&o->cfg);
	optind = 1;
	while ((opt = getopt_long(argc, argv, CLI_COMMON_SHORTOPTS "f:",
				  longopts, NULL)) != -1) {
		switch (opt) {
		case 'h':
			usage(stdout);
			return 1;
		case 'f':
			o->file = optarg;
			break;
		case O_URL:
			url = optarg;
			break;
		case O_CA:
			ca = optarg;
			break;
		case O_CERT:
			cert = optarg;
			break;
		case O_KEY:
			key = optarg;
			break;
		case O_PARTITION:
			part = optarg;
			break;
		case O_PREFIX:
			prefix = optarg;
			break;
		case O_SIGNING_KEY:
			o->signing_key = optarg;
			break;
		case O_OUT:
			o->out = optarg;
			break;
		case O_NODE:
			o->node = optarg;
			break;
		case O_KIND:
			o->kind = optarg;
			break;
		case O_DIR:
			o->dir = optarg;
			break;
		case O_CLIENT_ID:
			o->client_id = optarg;
			break;
		case O_DURABLE:
			o->durable = true;
			break;
		case O_UNSIGNED:
			o->unsigned_ = true;
			break;
		case O_NONE:
			o->none = true;
			break;
		case O_VERSION:
			if (parse_u64_arg(optarg, &o->version) != 0 ||
			    o->version == 0) {
				return 1 + cli_usage_error(
					       "hub", "--version: expected "
						      "a positive integer");
			}
			break;
		case O_EXPIRES_IN:
			if (parse_u64_arg(optarg, &o->expires_in_s) != 0) {
				return 1 + cli_usage_error("hub",
							   "--expires-in: "
							   "expected seconds");
			}
			break;
		case O_COUNT:
			if (parse_u64_arg(optarg, &v) != 0 || v > UINT32_MAX) {
				return 1 + cli_usage_error("hub",
							   "--count: expected "
							   "a number");
			}
			o->count = (uint32_t)v;
			break;
		case O_TIMEOUT:
			if (parse_u64_arg(optarg, &v) != 0 || v > 86400 * 365) {
				return 1 + cli_usage_error("hub",
							   "--timeout: "
							   "expected seconds");
			}
			o->timeout_s = (uint32_t)v;
			break;
		default:
			if (opt == '?' ||
			    !cli_common_opt(&o->common, opt, optarg)) {
				return 1 +
				       cli_usage_error("hub", "invalid option");
			}
		}
	}
	if (optind < argc) {
		return 1 + cli_usage_error("hub", "unexpected argument '%s'",
					   argv[optind]);
	}
	if (o->common.config != NULL &&
	    config_load(&o->cfg, o->common.config, err, sizeof(err)) != 0) {
		fprintf(stderr, "farnode hub: %s\n", err);
		return 1 + 2;
	}
	if ((url && set_hub(o, "url", url)) || (ca && set_hub(o, "ca", ca)) ||
	    (cert && set_hub(o, "cert", cert)) ||
	    (key && set_hub(o, "key", key)) ||
	    (part && set_hub(o, "partition", part)) ||
	    (prefix && set_hub(o, "topic_prefix", prefix))) {
		return 1 + 2;
	}
	o->partition_set = part != NULL;
	if (o->common.verbose > 0) {
		log_set_level(LOG_LVL_INFO + o->common.verbose);
	} else {
		log_set_level(LOG_LVL_WARN);
	}
	return 0;
}

static struct hub_conn_opts conn_opts(const struct hub_opts *o)
{
	struct hub_conn_opts c = {
	    .url = o->cfg.hub.url,
	    .ca = o->cfg.hub.ca,
	    .cert = o->cfg.hub.cert,
	    .key = o->cfg.hub.key,
	    .client_id = o->client_id,
	    .durable = o->durable,
	    .timeout_ms = o->timeout_s * 1000u,
	};
	return c;
}

static int read_file(const char *path, size_t max, uint8_t **out, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	size_t n;
	if (f == NULL) {
		fprintf(stderr, "farnode hub: %s: %s\n", path, strerror(errno));
		return -1;
	}
	buf = malloc(max + 1);
	if (buf == NULL) {
		fclose(f);
		return -1;
	}
	n = fread(buf, 1, max + 1, f);
	fclose(f);
	if (n > max) {
		fprintf(stderr, "farnode hub: %s: larger than %zu bytes\n",
			path, max);
		free(buf);
		return -1;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
}

static int write_file(const char *path, const uint8_t *p, size_t len)
{
	FILE *f = fopen(path, "wb");
	if (f == NULL || fwrite(p, 1, len, f) != len || fclose(f) != 0) {
		fprintf(stderr, "farnode hub: %s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * Sign payload as kind (unless --unsigned), write --out, publish to topic
 * when a url is configured. Returns the exit code.
 */
static int sign_and_publish(const struct hub_opts *o, enum bundle_kind kind,
			    const uint8_t *payload, size_t plen,
			    const char *topic, const char *what)
{
	const char *keyfile = o->signing_key ? o->signing_key : "signing.key";
	size_t cap = plen + 512;
	uint8_t *bundle = NULL;
	size_t blen = 0;
	char key_id[CRYPTO_SIGN_KEY_ID_LEN] = "none";
	int code = 1;

	if (o->unsigned_) {
		bundle = malloc(plen ? plen : 1);
		if (bundle == NULL) {
			return 1;
		}
		memcpy(bundle, payload, plen);
		blen = plen;
	} else {
		int err = 0;
		struct crypto_signer *s = crypto_signer_load(keyfile, &err);
		if (s == NULL) {
			fprintf(stderr,
				"farnode hub: %s: cannot load the signing key: "
				"%s\n",
				keyfile, strerror(-err));
			return 1;
		}
		bundle = malloc(cap);
		int rc = bundle ? wire_bundle_sign(s, kind, payload, plen,
						   bundle, cap, &blen)
				: -ENOMEM;
		snprintf(key_id, sizeof(key_id), "%s", crypto_signer_key_id(s));
		crypto_signer_free(s);
		if (rc != 0) {
			fprintf(stderr, "farnode hub: signing failed: %s\n",
				strerror(-rc));
			goto out;
		}
	}
	if (o->out != NULL && write_file(o->out, bundle, blen) != 0) {
		goto out;
	}
	if (o->cfg.hub.url[0] == '\0') {
		if (o->out == NULL) {
			fprintf(stderr, "farnode hub: no --url (or [hub] url) "
					"and no --out: nothing to do\n");
			code = 2;
			goto out;
		}
		printf("%s signed by key %s written to %s (%zu bytes)\n", what,
		       key_id, o->out, blen);
		code = 0;
		goto out;
	}
	struct hub_conn_opts c = conn_opts(o);
	if (hub_publish(&c, topic, bundle, blen, true) != 0) {
		goto out;
	}
	printf("%s signed by key %s published to %s (%zu bytes)\n", what,
	       key_id, topic, blen);
	code = 0;
out:
	free(bundle);
	return code;
}

static int topic_ok(const char *s)
{
	return s[0] != '\0' && strpbrk(s, "/+#") == NULL;
}

static int cmd_publish_policy(struct hub_opts *o)
{
	uint8_t *text = NULL;
	size_t len = 0;
	struct policy p;
	char err[512];
	char topic[512];
	char what[160];
	uint8_t *payload = NULL;
	size_t plen = 0;
	int code = 1;

	if (o->file == NULL) {
		return cli_usage_error("hub publish-policy", "-f FILE needed");
	}
	if (read_file(o->file, 256 * 1024, &text, &len) != 0) {
		return 1;
	}
	if (hub_policy_parse((const char *)text, o->file, now_ms(),
			     o->cfg.hub.partition, &p, err, sizeof(err)) != 0) {
		fprintf(stderr, "farnode hub: %s\n", err);
		free(text);
		return 2;
	}
	free(text);
	if (o->version != 0) {
		p.version = o->version;
	}
	if (o->expires_in_s != 0) {
		p.expires_ms = now_ms() + o->expires_in_s * 1000u;
	}
	if (o->partition_set &&
	    strcmp(p.partition, o->cfg.hub.partition) != 0) {
		fprintf(stderr,
			"farnode hub: the file names partition '%s' "
			"but --partition says '%s'\n",
			p.partition, o->cfg.hub.partition);
		goto out;
	}
	payload = malloc(65536);
	if (payload == NULL ||
	    wire_policy_encode(&p, payload, 65536, &plen) != 0) {
		fprintf(stderr, "farnode hub: cannot encode the policy\n");
		goto out;
	}
	snprintf(topic, sizeof(topic), "%s/%s/policy", o->cfg.hub.topic_prefix,
		 p.partition);
	snprintf(what, sizeof(what),
		 "policy version %" PRIu64 " for partition %s", p.version,
		 p.partition);
	code = sign_and_publish(o, BUNDLE_POLICY, payload, plen, topic, what);
out:
	free(payload);
	policy_fini(&p);
	return code;
}

static int cmd_publish_desired(struct hub_opts *o)
{
	struct desired_state d;
	uint8_t *text = NULL;
	size_t len = 0;
	size_t n = 0;
	char err[512];
	char topic[512];
	char what[200];
	uint8_t *payload = NULL;
	size_t plen = 0;
	size_t cap = 0;
	int code = 1;

	desired_state_init(&d);
	if (o->node == NULL || node_id_parse(o->node, &d.node) != 0) {
		return cli_usage_error("hub publish-desired",
				       "--node ID (a node UUID) needed");
	}
	if ((o->file == NULL) == !o->none) {
		return cli_usage_error("hub publish-desired",
				       "-f APP.yaml or --none needed");
	}
	if (!topic_ok(o->cfg.hub.partition)) {
		return cli_usage_error("hub publish-desired",
				       "bad partition '%s'",
				       o->cfg.hub.partition);
	}
	d.workloads = calloc(MANIFEST_MAX_SERVICES, sizeof(*d.workloads));
	if (d.workloads == NULL) {
		goto out;
	}
	if (o->file != NULL) {
		if (read_file(o->file, MANIFEST_MAX_BYTES, &text, &len) != 0) {
			goto out;
		}
		if (manifest_parse((const char *)text, len, o->file,
				   d.workloads, MANIFEST_MAX_SERVICES, &n, err,
				   sizeof(err)) != 0) {
			fprintf(stderr, "farnode hub: %s\n", err);
			code = 2;
			goto out;
		}
	}
	d.n_workloads = n;
	d.version = o->version ? o->version : now_ms();
	snprintf(d.partition, sizeof(d.partition), "%s", o->cfg.hub.partition);
	d.issued_ms = now_ms();
	if (o->expires_in_s != 0) {
		d.expires_ms = d.issued_ms + o->expires_in_s * 1000u;
	}
	cap = 4096 + n * (WIRE_WORKLOAD_SPEC_MAX + 16);
	payload = malloc(cap);
	if (payload == NULL ||
	    wire_desired_encode(&d, payload, cap, &plen) != 0) {
		fprintf(stderr,
			"farnode hub: cannot encode the desired state\n");
		goto out;
	}
	snprintf(topic, sizeof(topic), "%s/%s/%s/desired",
		 o->cfg.hub.topic_prefix, d.partition, o->node);
	snprintf(what, sizeof(what),
		 "desired state version %" PRIu64
		 " (%zu workloads) for node %s",
		 d.version, n, o->node);
	code = sign_and_publish(o, BUNDLE_DESIRED, payload, plen, topic, what);
out:
	free(text);
	free(payload);
	desired_state_fini(&d);
	return code;
}

static int cmd_publish_bundle(struct hub_opts *o)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	struct wire_bundle b;
	enum bundle_kind kind;
	char topic[512];
	int code = 1;

	if (o->file == NULL) {
		return cli_usage_error("hub publish-bundle", "-f FILE needed");
	}
	if (read_file(o->file, WIRE_BUNDLE_MAX, &buf, &len) != 0) {
		return 1;
	}
	if (o->kind != NULL) {
		if (strcmp(o->kind, "policy") == 0) {
			kind = BUNDLE_POLICY;
		} else if (strcmp(o->kind, "desired") == 0) {
			kind = BUNDLE_DESIRED;
		} else {
			free(buf);
			return cli_usage_error("hub publish-bundle",
					       "--kind policy|desired");
		}
	} else if (wire_bundle_decode(buf, len, &b) == 0) {
		kind = b.kind;
	} else {
		free(buf);
		return cli_usage_error("hub publish-bundle",
				       "not a signed bundle: give --kind");
	}
	if (kind == BUNDLE_DESIRED) {
		struct node_id id;
		if (o->node == NULL || node_id_parse(o->node, &id) != 0) {
			free(buf);
			return cli_usage_error("hub publish-bundle",
					       "--node ID needed for desired");
		}
		snprintf(topic, sizeof(topic), "%s/%s/%s/desired",
			 o->cfg.hub.topic_prefix, o->cfg.hub.partition,
			 o->node);
	} else {
		snprintf(topic, sizeof(topic), "%s/%s/policy",
			 o->cfg.hub.topic_prefix, o->cfg.hub.partition);
	}
	struct hub_conn_opts c = conn_opts(o);
	if (hub_publish(&c, topic, buf, len, true) == 0) {
		printf("%zu bytes published to %s\n", len, topic);
		code = 0;
	}
	free(buf);
	return code;
}

struct watch_ctx {
	uint32_t count;
	uint32_t seen;
};

/* Split ".../<partition>/<node>/<leaf>" into its last three levels. */
static int split_topic(const char *t, size_t len, char *part, char *node,
		       char *leaf, size_t cap)
{
	const char *lv[3] = {0};
	size_t ll[3] = {0};
	size_t end = len;
	for (int i = 2; i >= 0; i--) {
		size_t s = end;
		while (s > 0 && t[s - 1] != '/') {
			s--;
		}
		if (end - s >= cap || (i > 0 && s == 0)) {
			return -1;
		}
		lv[i] = t + s;
		ll[i] = end - s;
		if (s == 0) {
			break;
		}
		end = s - 1;
	}
	if (lv[0] == NULL) {
		return -1;
	}
	snprintf(part, cap, "%.*s", (int)ll[0], lv[0]);
	snprintf(node, cap, "%.*s", (int)ll[1], lv[1]);
	snprintf(leaf, cap, "%.*s", (int)ll[2], lv[2]);
	return 0;
}

static int on_watch_msg(void *ud, const char *topic, size_t tlen,
			const uint8_t *p, size_t len, bool retained)
{
	struct watch_ctx *w = ud;
	char part[128], node[128], leaf[128];
	char text[512];

	if (split_topic(topic, tlen, part, node, leaf, sizeof(part)) != 0) {
		return 0;
	}
	if (strcmp(leaf, "state") == 0) {
		struct uplink_birth b;
		char id[NODE_ID_STR_LEN];
		if (len == 0) {
			return 0;
		}
		if (wire_birth_decode(p, len, &b) != 0) {
			printf("state partition=%s node=%s undecodable (%zu "
			       "bytes)\n",
			       part, node, len);
		} else {
			node_id_format(&b.node, id);
			printf("%s partition=%s node=%s generation=%" PRIu64
			       " policy=%" PRIu64 " desired=%" PRIu64
			       " version=%s time=%" PRIu64 "%s\n",
			       b.online ? "birth" : "death", part, id,
			       b.generation, b.policy_version,
			       b.desired_version, b.version, b.time_ms,
			       retained ? " (retained)" : "");
		}
	} else if (strcmp(leaf, "events") == 0 ||
		   strcmp(leaf, "learning") == 0) {
		struct uplink_event e;
		char id[NODE_ID_STR_LEN];
		if (wire_uplink_event_decode(p, len, &e) != 0) {
			printf("event partition=%s node=%s undecodable (%zu "
			       "bytes)\n",
			       part, node, len);
		} else {
			node_id_format(&e.node, id);
			uplink_event_describe(e.kind, e.payload, e.payload_len,
					      text, sizeof(text));
			printf(
			    "event partition=%s node=%s id=%" PRIu64
			    " kind=%s priority=%u historical=%d time=%" PRIu64
			    ": %s\n",
			    part, id, e.event_id,
			    uplink_event_kind_name(e.kind), e.priority,
			    e.historical ? 1 : 0, e.time_ms, text);
		}
	} else {
		return 0;
	}
	fflush(stdout);
	w->seen++;
	return w->count > 0 && w->seen >= w->count;
}

static int cmd_watch(struct hub_opts *o)
{
	char f[3][512];
	const char *filters[3] = {f[0], f[1], f[2]};
	const char *part = o->partition_set ? o->cfg.hub.partition : "+";
	struct watch_ctx w = {.count = o->count};

	if (o->partition_set && !topic_ok(part)) {
		return cli_usage_error("hub watch", "bad partition '%s'", part);
	}
	snprintf(f[0], sizeof(f[0]), "%s/%s/+/state", o->cfg.hub.topic_prefix,
		 part);
	snprintf(f[1], sizeof(f[1]), "%s/%s/+/events", o->cfg.hub.topic_prefix,
		 part);
	snprintf(f[2], sizeof(f[2]), "%s/%s/+/learning",
		 o->cfg.hub.topic_prefix, part);
	struct hub_conn_opts c = conn_opts(o);
	c.timeout_ms = 0;
	setvbuf(stdout, NULL, _IOLBF, 0);
	return hub_watch(&c, filters, 3, o->timeout_s, on_watch_msg, &w) == 0
		   ? 0
		   : 1;
}

static int cmd_hub_status(struct hub_opts *o)
{
	Farnode__V1__Request req = FARNODE__V1__REQUEST__INIT;
	Farnode__V1__HubStatusRequest hs =
	    FARNODE__V1__HUB_STATUS_REQUEST__INIT;
	Farnode__V1__Reply *rep = NULL;
	req.req_case = FARNODE__V1__REQUEST__REQ_HUB_STATUS;
	req.hub_status = &hs;
	if (cli_call(&o->common, &req, &rep) != 0) {
		return 1;
	}
	if (rep->code != 0 ||
	    rep->rep_case != FARNODE__V1__REPLY__REP_HUB_STATUS) {
		int code = cli_reply_error("hub status", rep);
		farnode__v1__reply__free_unpacked(rep, NULL);
		return code;
	}
	const Farnode__V1__HubStatusReply *r = rep->hub_status;
	if (o->common.json) {
		printf("{\"state\":");
		cli_json_str(stdout, r->state);
		printf(",\"enabled\":%s,\"connected\":%s,\"connects\":%" PRIu64
		       ",\"failures\":%" PRIu64 ",\"bytes_tx\":%" PRIu64
		       ",\"bytes_rx\":%" PRIu64 ",\"events_sent\":%" PRIu64
		       ",\"events_acked\":%" PRIu64
		       ",\"outbox_queued\":%" PRIu64
		       ",\"outbox_dropped\":%" PRIu64
		       ",\"policy_version\":%" PRIu64
		       ",\"desired_version\":%" PRIu64
		       ",\"bundles_rejected\":%" PRIu64
		       ",\"broker_malformed\":%" PRIu64 ",\"last_error\":",
		       r->enabled ? "true" : "false",
		       r->connected ? "true" : "false", r->connects,
		       r->failures, r->bytes_tx, r->bytes_rx, r->events_sent,
		       r->events_acked, r->outbox_queued, r->outbox_dropped,
		       r->policy_version, r->desired_version,
		       r->bundles_rejected, r->broker_malformed);
		cli_json_str(stdout, r->last_error);
		printf("}\n");
	} else {
		printf("hub:          %s\n"
		       "policy:       version %" PRIu64 "\n"
		       "desired:      version %" PRIu64 "\n"
		       "outbox:       %" PRIu64 " queued, %" PRIu64 " dropped\n"
		       "events:       %" PRIu64 " sent, %" PRIu64
		       " acknowledged\n"
		       "connections:  %" PRIu64 " made, %" PRIu64 " failed\n"
		       "traffic:      %" PRIu64 " bytes out, %" PRIu64
		       " bytes in\n"
		       "rejected:     %" PRIu64 " bundles, %" PRIu64
		       " broker packets\n",
		       r->state, r->policy_version, r->desired_version,
		       r->outbox_queued, r->outbox_dropped, r->events_sent,
		       r->events_acked, r->connects, r->failures, r->bytes_tx,
		       r->bytes_rx, r->bundles_rejected, r->broker_malformed);
		if (r->last_error[0] != '\0') {
			printf("last error:   %s\n", r->last_error);
		}
	}
	farnode__v1__reply__free_unpacked(rep, NULL);
	return 0;
}

static int cmd_hub_keygen(struct hub_opts *o)
{
	char key_id[CRYPTO_SIGN_KEY_ID_LEN];
	const char *dir = o->dir ? o->dir : ".";
	int rc = crypto_keygen_signing(dir, key_id);
	if (rc == -EEXIST) {
		fprintf(stderr,
			"farnode hub keygen: %s/signing.key or "
			"signing.pub exists; not overwriting\n",
			dir);
		return 1;
	}
	if (rc != 0) {
		fprintf(stderr, "farnode hub keygen: %s: %s\n", dir,
			strerror(-rc));
		return 1;
	}
	printf("hub signing key %s\n"
	       "  private: %s/signing.key (keep it on the hub side)\n"
	       "  public:  %s/signing.pub (pin it on every node: [hub] "
	       "hub_pubkey)\n",
	       key_id, dir, dir);
	return 0;
}

int cmd_hub(int argc, char **argv)
{
	struct hub_opts o;
	int rc;
	if (argc < 2 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "--help") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	const char *sub = argv[1];
	memset(&o, 0, sizeof(o));
	rc = parse(argc - 1, argv + 1, &o);
	if (rc != 0) {
		return rc - 1;
	}
	if (strcmp(sub, "keygen") == 0) {
		return cmd_hub_keygen(&o);
	}
	if (strcmp(sub, "publish-policy") == 0) {
		return cmd_publish_policy(&o);
	}
	if (strcmp(sub, "publish-desired") == 0) {
		return cmd_publish_desired(&o);
	}
	if (strcmp(sub, "publish-bundle") == 0) {
		return cmd_publish_bundle(&o);
	}
	if (strcmp(sub, "watch") == 0) {
		return cmd_watch(&o);
	}
	if (strcmp(sub, "status") == 0) {
		return cmd_hub_status(&o);
	}
	fprintf(stderr, "farnode hub: unknown command '%s'\n\n", sub);
	usage(stderr);
	return 2;
}
