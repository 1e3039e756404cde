// SPDX-License-Identifier: Apache-2.0
/*
 * manifest: CodecoApp YAML → workload specs.
 *
 * Two passes. libyaml's event parser builds a small bounded tree (maps,
 * sequences, scalars with their line numbers; no aliases, limited depth,
 * node count and scalar length). Then a schema walk maps each
 * `codecoapp-msspec` entry to one workload, checking every key against the
 * fields it knows, so a typo fails with the file, line and field path
 * instead of being ignored. Mapping (README "Manifests"):
 *   spec.appName + serviceName → id "APP-SERVICE", name SERVICE
 *   spec.qosClass, performanceProfile, appEnergyLimit (watts here),
 *   appFailureTolerance → qos, profile, energy limit, failure tolerance
 *   container resources limits (else requests) cpu/memory → cpu, memory
 *   serviceChannels[].advancedChannelSettings maxDelay (tightest) and
 *   minBandwidth (largest) → deadline, min bandwidth
 *   podspec.nodeSelector → data-locality labels; restartPolicy → restart
 *   annotations farnode.io/command[.SERVICE] or container command+args →
 *   argv; farnode.io/runtime, farnode.io/bundle[.SERVICE] → oci bundles.
 */
#include "manifest.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define Y_MAX_NODES  4096
#define Y_MAX_DEPTH  24
#define Y_MAX_SCALAR 4096

enum ytype { Y_SCALAR, Y_MAP, Y_SEQ };

struct ynode {
	enum ytype type;
	unsigned line;
	char *s;  /* scalar text (NUL-terminated) */
	size_t n; /* children: map = 2 × pairs (key, value) */
	struct ynode **kids;
	struct ynode *next_alloc;
};

struct ctx {
	const char *file;
	char *err;
	size_t err_len;
	unsigned nodes;
	struct ynode *allocs;
	yaml_parser_t parser;
	/* schema walk */
	char path[256];
	const struct ynode *annotations;
	size_t n_services;
};

static int fail(struct ctx *c, unsigned line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(struct ctx *c, unsigned line, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(c->err, c->err_len, "%s:%u: ", c->file, line);
	if (n < 0 || (size_t)n >= c->err_len) {
		return -EBADMSG;
	}
	va_start(ap, fmt);
	vsnprintf(c->err + n, c->err_len - (size_t)n, fmt, ap);
	va_end(ap);
	return -EBADMSG;
}

static struct ynode *node_new(struct ctx *c, enum ytype t, unsigned line)
{
	if (c->nodes >= Y_MAX_NODES) {
		return NULL;
	}
	struct ynode *n = calloc(1, sizeof(*n));
	if (n == NULL) {
		return NULL;
	}
	c->nodes++;
	n->type = t;
	n->line = line;
	n->next_alloc = c->allocs;
	c->allocs = n;
	return n;
}

static void free_all(struct ctx *c)
{
	struct ynode *n = c->allocs;
	while (n != NULL) {
		struct ynode *next = n->next_alloc;
		free(n->s);
		free(n->kids);
		free(n);
		n = next;
	}
	c->allocs = NULL;
}

static int add_kid(struct ctx *c, struct ynode *parent, struct ynode *kid)
{
	(void)c;
	if ((parent->n & (parent->n - 1)) == 0) { /* 0, 1, 2, 4, 8 … */
		size_t cap = parent->n == 0 ? 4 : parent->n * 2;
		struct ynode **k = realloc(parent->kids, cap * sizeof(*k));
		if (k == NULL) {
			return -ENOMEM;
		}
		parent->kids = k;
	}
	parent->kids[parent->n++] = kid;
	return 0;
}

static int yaml_fail(struct ctx *c)
{
	yaml_parser_t *p = &c->parser;
	unsigned line = (unsigned)p->problem_mark.line + 1;
	return fail(c, line, "YAML: %s%s%s",
		    p->problem != NULL ? p->problem : "malformed",
		    p->context != NULL ? " " : "",
		    p->context != NULL ? p->context : "");
}

static int parse_node(struct ctx *c, yaml_event_t *ev, int depth,
		      struct ynode **out);

/* Parse children until end_type; ev is the start event (consumed). */
static int parse_children(struct ctx *c, struct ynode *n,
			  yaml_event_type_t end_type, int depth)
{
	bool is_map = n->type == Y_MAP;
	for (;;) {
		yaml_event_t ev;
		if (!yaml_parser_parse(&c->parser, &ev)) {
			return yaml_fail(c);
		}
		if (ev.type == end_type) {
			yaml_event_delete(&ev);
			return 0;
		}
		unsigned line = (unsigned)ev.start_mark.line + 1;
		if (is_map && (n->n % 2) == 0 && ev.type != YAML_SCALAR_EVENT) {
			yaml_event_delete(&ev);
			return fail(c, line,
				    "mapping keys must be plain "
				    "strings");
		}
		struct ynode *kid = NULL;
		int rc = parse_node(c, &ev, depth + 1, &kid);
		yaml_event_delete(&ev);
		if (rc != 0) {
			return rc;
		}
		if (is_map && (n->n % 2) == 0) {
			for (size_t i = 0; i < n->n; i += 2) {
				if (strcmp(n->kids[i]->s, kid->s) == 0) {
					return fail(c, line,
						    "duplicate key '%.60s'",
						    kid->s);
				}
			}
		}
		if (add_kid(c, n, kid) != 0) {
			return fail(c, line, "out of memory");
		}
	}
}

static int parse_node(struct ctx *c, yaml_event_t *ev, int depth,
		      struct ynode **out)
{
	unsigned line = (unsigned)ev->start_mark.line + 1;
	struct ynode *n;

	if (depth > Y_MAX_DEPTH) {
		return fail(c, line, "nesting deeper than %d levels",
			    Y_MAX_DEPTH);
	}
	switch (ev->type) {
	case YAML_ALIAS_EVENT:
		return fail(c, line, "YAML aliases are not supported");
	case YAML_SCALAR_EVENT:
		if (ev->data.scalar.length > Y_MAX_SCALAR) {
			return fail(c, line, "value longer than %d bytes",
				    Y_MAX_SCALAR);
		}
		if (memchr(ev->data.scalar.value, '\0',
			   ev->data.scalar.length) != NULL) {
			return fail(c, line, "NUL byte in a value");
		}
		n = node_new(c, Y_SCALAR, line);
		if (n == NULL) {
			return fail(c, line, "more than %d YAML nodes",
				    Y_MAX_NODES);
		}
		n->s = malloc(ev->data.scalar.length + 1);
		if (n->s == NULL) {
			return fail(c, line, "out of memory");
		}
		memcpy(n->s, ev->data.scalar.value, ev->data.scalar.length);
		n->s[ev->data.scalar.length] = '\0';
		*out = n;
		return 0;
	case YAML_SEQUENCE_START_EVENT:
	case YAML_MAPPING_START_EVENT: {
		bool map = ev->type == YAML_MAPPING_START_EVENT;
		n = node_new(c, map ? Y_MAP : Y_SEQ, line);
		if (n == NULL) {
			return fail(c, line, "more than %d YAML nodes",
				    Y_MAX_NODES);
		}
		*out = n;
		return parse_children(c, n,
				      map ? YAML_MAPPING_END_EVENT
					  : YAML_SEQUENCE_END_EVENT,
				      depth);
	}
	default:
		return fail(c, line, "unexpected YAML event");
	}
}

/* ---- schema walk ---- */

static const char *type_name(enum ytype t)
{
	return t == Y_MAP ? "a mapping" : t == Y_SEQ ? "a list" : "a value";
}

static int want(struct ctx *c, const struct ynode *n, enum ytype t,
		const char *field)
{
	if (n->type != t) {
		return fail(c, n->line, "%s%s: expected %s, found %s", c->path,
			    field, type_name(t), type_name(n->type));
	}
	return 0;
}

/* Append ".key" or "[i]" to the path for the duration of a walk. */
static size_t path_push(struct ctx *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static size_t path_push(struct ctx *c, const char *fmt, ...)
{
	size_t old = strlen(c->path);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->path + old, sizeof(c->path) - old, fmt, ap);
	va_end(ap);
	return old;
}

static void path_pop(struct ctx *c, size_t old)
{
	c->path[old] = '\0';
}

static int copy_str(struct ctx *c, const struct ynode *v, const char *field,
		    char *out, size_t cap)
{
	int rc = want(c, v, Y_SCALAR, field);
	if (rc != 0) {
		return rc;
	}
	if (strlen(v->s) >= cap) {
		return fail(c, v->line, "%s%s: longer than %zu bytes", c->path,
			    field, cap - 1);
	}
	memcpy(out, v->s, strlen(v->s) + 1);
	return 0;
}

static int unknown(struct ctx *c, const struct ynode *k)
{
	return fail(c, k->line, "%s: unknown field '%.60s'",
		    c->path[0] ? c->path : "(top)", k->s);
}

static const struct ynode *map_get(const struct ynode *m, const char *key)
{
	if (m == NULL || m->type != Y_MAP) {
		return NULL;
	}
	for (size_t i = 0; i + 1 < m->n; i += 2) {
		if (strcmp(m->kids[i]->s, key) == 0) {
			return m->kids[i + 1];
		}
	}
	return NULL;
}

/* Per-service values collected before they become a spec. */
struct svc {
	struct workload_spec *s;
	bool have_cmd;
	bool have_restart;
	unsigned line;
};

static int walk_resources(struct ctx *c, const struct ynode *res,
			  struct svc *sv, bool limits)
{
	int rc = want(c, res, Y_MAP, "");
	if (rc != 0) {
		return rc;
	}
	for (size_t i = 0; i + 1 < res->n; i += 2) {
		const struct ynode *k = res->kids[i];
		const struct ynode *v = res->kids[i + 1];
		if ((rc = want(c, v, Y_SCALAR, "")) != 0) {
			return rc;
		}
		if (strcmp(k->s, "cpu") == 0) {
			uint32_t m;
			rc = manifest_parse_cpu(v->s, &m);
			if (rc != 0) {
				return fail(c, v->line,
					    "%s.cpu: '%.40s' is not a cpu "
					    "quantity (e.g. 250m, 0.5, 2)",
					    c->path, v->s);
			}
			if (limits || sv->s->cpu_milli == 0) {
				sv->s->cpu_milli = m;
			}
		} else if (strcmp(k->s, "memory") == 0) {
			uint64_t b;
			rc = manifest_parse_bytes(v->s, &b);
			if (rc != 0) {
				return fail(c, v->line,
					    "%s.memory: '%.40s' is not a "
					    "memory quantity (e.g. 64Mi, 1Gi)",
					    c->path, v->s);
			}
			if (limits || sv->s->mem_bytes == 0) {
				sv->s->mem_bytes = b;
			}
		} else if (strcmp(k->s, "ephemeral-storage") == 0) {
			/* accepted, not enforced */
		} else {
			return unknown(c, k);
		}
	}
	return 0;
}

static int walk_string_list(struct ctx *c, const struct ynode *seq,
			    struct workload_spec *s)
{
	int rc = want(c, seq, Y_SEQ, "");
	if (rc != 0) {
		return rc;
	}
	for (size_t i = 0; i < seq->n; i++) {
		if (s->argc >= WORKLOAD_ARGV_MAX) {
			return fail(c, seq->kids[i]->line,
				    "%s: more than %d command words", c->path,
				    WORKLOAD_ARGV_MAX);
		}
		rc = copy_str(c, seq->kids[i], "", s->argv[s->argc],
			      WORKLOAD_ARG_MAX);
		if (rc != 0) {
			return rc;
		}
		s->argc++;
	}
	return 0;
}

static int walk_env(struct ctx *c, const struct ynode *seq,
		    struct workload_spec *s)
{
	int rc = want(c, seq, Y_SEQ, "");
	if (rc != 0) {
		return rc;
	}
	for (size_t i = 0; i < seq->n; i++) {
		const struct ynode *e = seq->kids[i];
		size_t old = path_push(c, "[%zu]", i);
		if ((rc = want(c, e, Y_MAP, "")) != 0) {
			return rc;
		}
		const char *name = NULL;
		const char *value = "";
		for (size_t k = 0; k + 1 < e->n; k += 2) {
			const struct ynode *key = e->kids[k];
			const struct ynode *v = e->kids[k + 1];
			if ((rc = want(c, v, Y_SCALAR, "")) != 0) {
				return rc;
			}
			if (strcmp(key->s, "name") == 0) {
				name = v->s;
			} else if (strcmp(key->s, "value") == 0) {
				value = v->s;
			} else {
				return unknown(c, key);
			}
		}
		if (name == NULL || name[0] == '\0' ||
		    strchr(name, '=') != NULL) {
			return fail(c, e->line, "%s: needs a name without '='",
				    c->path);
		}
		if (s->envc >= WORKLOAD_ENV_MAX) {
			return fail(c, e->line, "%s: more than %d variables",
				    c->path, WORKLOAD_ENV_MAX);
		}
		int n = snprintf(s->env[s->envc], WORKLOAD_ARG_MAX, "%s=%s",
				 name, value);
		if (n < 0 || n >= WORKLOAD_ARG_MAX) {
			return fail(c, e->line, "%s: longer than %d bytes",
				    c->path, WORKLOAD_ARG_MAX - 1);
		}
		s->envc++;
		path_pop(c, old);
	}
	return 0;
}

static int walk_container(struct ctx *c, const struct ynode *ct, struct svc *sv)
{
	struct workload_spec *s = sv->s;
	int rc = want(c, ct, Y_MAP, "");
	const struct ynode *command = NULL;
	const struct ynode *args = NULL;
	if (rc != 0) {
		return rc;
	}
	for (size_t i = 0; i + 1 < ct->n; i += 2) {
		const struct ynode *k = ct->kids[i];
		const struct ynode *v = ct->kids[i + 1];
		size_t old = path_push(c, ".%s", k->s);
		if (strcmp(k->s, "name") == 0 || strcmp(k->s, "image") == 0 ||
		    strcmp(k->s, "imagePullPolicy") == 0) {
			rc = want(c, v, Y_SCALAR, "");
		} else if (strcmp(k->s, "ports") == 0) {
			rc = want(c, v, Y_SEQ, ""); /* informational */
		} else if (strcmp(k->s, "command") == 0) {
			command = v;
			rc = want(c, v, Y_SEQ, "");
		} else if (strcmp(k->s, "args") == 0) {
			args = v;
			rc = want(c, v, Y_SEQ, "");
		} else if (strcmp(k->s, "env") == 0) {
			rc = walk_env(c, v, s);
		} else if (strcmp(k->s, "workingDir") == 0) {
			rc = copy_str(c, v, "", s->cwd, sizeof(s->cwd));
		} else if (strcmp(k->s, "resources") == 0) {
			rc = want(c, v, Y_MAP, "");
			for (size_t j = 0; rc == 0 && j + 1 < v->n; j += 2) {
				const struct ynode *rk = v->kids[j];
				size_t o2 = path_push(c, ".%s", rk->s);
				if (strcmp(rk->s, "limits") == 0 ||
				    strcmp(rk->s, "requests") == 0) {
					rc = walk_resources(
					    c, v->kids[j + 1], sv,
					    strcmp(rk->s, "limits") == 0);
				} else {
					path_pop(c, o2);
					rc = unknown(c, rk);
				}
				path_pop(c, o2);
			}
		} else {
			path_pop(c, old);
			return unknown(c, k);
		}
		if (rc != 0) {
			return rc;
		}
		path_pop(c, old);
	}
	if (!sv->have_cmd && command != NULL) {
		size_t old = path_push(c, ".command");
		rc = walk_string_list(c, command, s);
		path_pop(c, old);
		if (rc == 0 && args != NULL) {
			old = path_push(c, ".args");
			rc = walk_string_list(c, args, s);
			path_pop(c, old);
		}
		if (rc != 0) {
			return rc;
		}
		sv->have_cmd = s->argc > 0;
	}
	return 0;
}

static int walk_podspec(struct ctx *c, const struct ynode *ps, struct svc *sv)
{
	struct workload_spec *s = sv->s;
	int rc = want(c, ps, Y_MAP, "");
	if (rc != 0) {
		return rc;
	}
	for (size_t i = 0; i + 1 < ps->n; i += 2) {
		const struct ynode *k = ps->kids[i];
		const struct ynode *v = ps->kids[i + 1];
		size_t old = path_push(c, ".%s", k->s);
		if (strcmp(k->s, "containers") == 0) {
			rc = want(c, v, Y_SEQ, "");
			if (rc == 0 && v->n != 1) {
				rc = fail(c, v->line,
					  "%s: farnode runs one container per "
					  "service (found %zu)",
					  c->path, v->n);
			}
			if (rc == 0) {
				size_t o2 = path_push(c, "[0]");
				rc = walk_container(c, v->kids[0], sv);
				path_pop(c, o2);
			}
		} else if (strcmp(k->s, "restartPolicy") == 0) {
			rc = want(c, v, Y_SCALAR, "");
			if (rc == 0 && !sv->have_restart) {
				if (strcmp(v->s, "Always") == 0) {
					s->restart = RESTART_ALWAYS;
				} else if (strcmp(v->s, "OnFailure") == 0) {
					s->restart = RESTART_ON_FAILURE;
				} else if (strcmp(v->s, "Never") == 0) {
					s->restart = RESTART_NEVER;
				} else {
					rc = fail(c, v->line,
						  "%s: '%.40s' (allowed: "
						  "Always, OnFailure, Never)",
						  c->path, v->s);
				}
			}
		} else if (strcmp(k->s, "nodeSelector") == 0) {
			rc = want(c, v, Y_MAP, "");
			for (size_t j = 0; rc == 0 && j + 1 < v->n; j += 2) {
				const struct ynode *lk = v->kids[j];
				const struct ynode *lv = v->kids[j + 1];
				if (s->n_locality >= 4) {
					rc = fail(c, lk->line,
						  "%s: at most 4 labels",
						  c->path);
					break;
				}
				struct node_label *l =
				    &s->locality[s->n_locality];
				if (strlen(lk->s) >= sizeof(l->key) ||
				    lk->s[0] == '\0') {
					rc = fail(c, lk->line,
						  "%s: label key empty or "
						  "longer than %zu bytes",
						  c->path, sizeof(l->key) - 1);
					break;
				}
				rc = copy_str(c, lv, "", l->value,
					      sizeof(l->value));
				if (rc == 0) {
					memcpy(l->key, lk->s,
					       strlen(lk->s) + 1);
					s->n_locality++;
				}
			}
		} else if (strcmp(k->s, "schedulerName") == 0 ||
			   strcmp(k->s, "terminationGracePeriodSeconds") == 0) {
			rc = want(c, v, Y_SCALAR, ""); /* accepted, unused */
		} else {
			path_pop(c, old);
			return unknown(c, k);
		}
		if (rc != 0) {
			return rc;
		}
		path_pop(c, old);
	}
	return 0;
}

static int walk_channel_settings(struct ctx *c, const struct ynode *m,
				 struct workload_spec *s)
{
	int rc = want(c, m, Y_MAP, "");
	if (rc != 0) {
		return rc;
	}
	for (size_t i = 0; i + 1 < m->n; i += 2) {
		const struct ynode *k = m->kids[i];
		const struct ynode *v = m->kids[i + 1];
		if ((rc = want(c, v, Y_SCALAR, "")) != 0) {
			return rc;
		}
		if (strcmp(k->s, "maxDelay") == 0) {
			uint32_t ms;
			if (manifest_parse_delay_ms(v->s, &ms) != 0) {
				return fail(c, v->line,
					    "%s.maxDelay: '%.40s' is not a "
					    "delay (seconds, e.g. 0.2, 10e-3, "
					    "200ms; at most 24 h)",
					    c->path, v->s);
			}
			if (ms != 0 &&
			    (s->max_delay_ms == 0 || ms < s->max_delay_ms)) {
				s->max_delay_ms = ms; /* tightest channel */
			}
		} else if (strcmp(k->s, "minBandwidth") == 0 ||
			   strcmp(k->s, "bandwidth") == 0) {
			uint64_t bps;
			if (manifest_parse_bandwidth(v->s, &bps) != 0) {
				return fail(c, v->line,
					    "%s.%s: '%.40s' is not a bandwidth "
					    "in bit/s (e.g. 5M, 100k)",
					    c->path, k->s, v->s);
			}
			if (bps > s->min_bandwidth_bps) {
				s->min_bandwidth_bps = bps;
			}
		} else if (strcmp(k->s, "frameSize") == 0 ||
			   strcmp(k->s, "sendInterval") == 0) {
			double q;
			if (manifest_quantity(v->s, &q) != 0) {
				return fail(c, v->line,
					    "%s.%s: '%.40s' is not a quantity",
					    c->path, k->s, v->s);
			}
		} else {
			return unknown(c, k);
		}
	}
	return 0;
}

static int walk_channels(struct ctx *c, const struct ynode *seq,
			 struct workload_spec *s)
{
	int rc = want(c, seq, Y_SEQ, "");
	if (rc != 0) {
		return rc;
	}
	for (size_t i = 0; i < seq->n; i++) {
		const struct ynode *ch = seq->kids[i];
		size_t old = path_push(c, "[%zu]", i);
		if ((rc = want(c, ch, Y_MAP, "")) != 0) {
			return rc;
		}
		for (size_t k = 0; k + 1 < ch->n; k += 2) {
			const struct ynode *key = ch->kids[k];
			const struct ynode *v = ch->kids[k + 1];
			size_t o2 = path_push(c, ".%s", key->s);
			if (strcmp(key->s, "channelName") == 0) {
				rc = want(c, v, Y_SCALAR, "");
			} else if (strcmp(key->s, "serviceClass") == 0) {
				rc = want(c, v, Y_SCALAR, "");
				if (rc == 0 &&
				    strcmp(v->s, "BESTEFFORT") != 0 &&
				    strcmp(v->s, "ASSURED") != 0) {
					rc = fail(c, v->line,
						  "%s: '%.40s' (allowed: "
						  "BESTEFFORT, ASSURED)",
						  c->path, v->s);
				}
			} else if (strcmp(key->s, "otherService") == 0) {
				rc = want(c, v, Y_MAP, "");
				for (size_t j = 0; rc == 0 && j + 1 < v->n;
				     j += 2) {
					const struct ynode *ok = v->kids[j];
					if (strcmp(ok->s, "appName") != 0 &&
					    strcmp(ok->s, "serviceName") != 0 &&
					    strcmp(ok->s, "port") != 0) {
						rc = unknown(c, ok);
					} else {
						rc = want(c, v->kids[j + 1],
							  Y_SCALAR, "");
					}
				}
			} else if (strcmp(key->s, "advancedChannelSettings") ==
				   0) {
				rc = walk_channel_settings(c, v, s);
			} else {
				path_pop(c, o2);
				return unknown(c, key);
			}
			if (rc != 0) {
				return rc;
			}
			path_pop(c, o2);
		}
		path_pop(c, old);
	}
	return 0;
}

/* farnode.io/KEY.SERVICE, else farnode.io/KEY (single-service apps or
 * keys meant for all services). */
static const struct ynode *annotation(struct ctx *c, const char *key,
				      const char *service)
{
	char full[160];
	snprintf(full, sizeof(full), "farnode.io/%s.%s", key, service);
	const struct ynode *v = map_get(c->annotations, full);
	if (v != NULL) {
		return v;
	}
	snprintf(full, sizeof(full), "farnode.io/%s", key);
	return map_get(c->annotations, full);
}

static int check_annotations(struct ctx *c, const struct ynode *ann)
{
	static const char *const keys[] = {"command", "runtime", "bundle",
					   "restart"};
	int rc = want(c, ann, Y_MAP, "");
	if (rc != 0) {
		return rc;
	}
	for (size_t i = 0; i + 1 < ann->n; i += 2) {
		const struct ynode *k = ann->kids[i];
		if ((rc = want(c, ann->kids[i + 1], Y_SCALAR, "")) != 0) {
			return rc;
		}
		if (strncmp(k->s, "farnode.io/", 11) != 0) {
			continue; /* other tools' annotations */
		}
		const char *rest = k->s + 11;
		bool ok = false;
		for (size_t j = 0; j < 4; j++) {
			size_t kl = strlen(keys[j]);
			if (strncmp(rest, keys[j], kl) == 0 &&
			    (rest[kl] == '\0' || rest[kl] == '.')) {
				ok = true;
			}
		}
		if (!ok) {
			return fail(c, k->line,
				    "%s: unknown annotation '%.60s' (known: "
				    "farnode.io/command, runtime, bundle, "
				    "restart, each optionally .SERVICE)",
				    c->path, k->s);
		}
	}
	return 0;
}

static int walk_service(struct ctx *c, const struct ynode *ms, const char *app,
			const struct workload_spec *app_spec,
			struct workload_spec *out)
{
	struct svc sv = {.s = out, .line = ms->line};
	const struct ynode *name = NULL;
	int rc = want(c, ms, Y_MAP, "");
	if (rc != 0) {
		return rc;
	}
	*out = *app_spec;
	name = map_get(ms, "serviceName");
	if (name == NULL) {
		return fail(c, ms->line, "%s: serviceName is required",
			    c->path);
	}
	if ((rc = copy_str(c, name, ".serviceName", out->name,
			   sizeof(out->name))) != 0) {
		return rc;
	}
	int n = snprintf(out->id, sizeof(out->id), "%s-%s", app, out->name);
	if (n < 0 || (size_t)n >= sizeof(out->id)) {
		return fail(c, name->line,
			    "%s: appName-serviceName longer than %zu bytes",
			    c->path, sizeof(out->id) - 1);
	}
	for (const char *p = out->id; *p != '\0'; p++) {
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' ||
		      *p == '.')) {
			return fail(c, name->line,
				    "%s: '%s' may only use letters, digits, "
				    "'-', '_' and '.'",
				    c->path, out->id);
		}
	}

	/* annotations first: they take precedence over the podspec */
	const struct ynode *a;
	if ((a = annotation(c, "restart", out->name)) != NULL) {
		if (restart_policy_parse(a->s, &out->restart) != 0) {
			return fail(c, a->line,
				    "restart '%.40s' (allowed: never, "
				    "on-failure, always)",
				    a->s);
		}
		sv.have_restart = true;
	}
	if ((a = annotation(c, "runtime", out->name)) != NULL) {
		if (workload_runtime_parse(a->s, &out->runtime) != 0) {
			return fail(c, a->line,
				    "runtime '%.40s' (allowed: proc, oci)",
				    a->s);
		}
	}
	if ((a = annotation(c, "bundle", out->name)) != NULL) {
		if (strlen(a->s) >= sizeof(out->bundle)) {
			return fail(c, a->line, "bundle path too long");
		}
		memcpy(out->bundle, a->s, strlen(a->s) + 1);
	}
	char cmdkey[160];
	snprintf(cmdkey, sizeof(cmdkey), "farnode.io/command.%s", out->name);
	a = map_get(c->annotations, cmdkey);
	if (a == NULL && c->n_services == 1) {
		a = map_get(c->annotations, "farnode.io/command");
	}
	if (a != NULL) {
		int argc =
		    manifest_split_command(a->s, out->argv, WORKLOAD_ARGV_MAX);
		if (argc < 0) {
			return fail(c, a->line, "%s: %s", cmdkey,
				    argc == -E2BIG
					? "too many or too long words"
					: "empty or unbalanced quotes");
		}
		out->argc = (uint32_t)argc;
		sv.have_cmd = true;
	}

	for (size_t i = 0; i + 1 < ms->n; i += 2) {
		const struct ynode *k = ms->kids[i];
		const struct ynode *v = ms->kids[i + 1];
		size_t old = path_push(c, ".%s", k->s);
		if (strcmp(k->s, "serviceName") == 0) {
			rc = 0;
		} else if (strcmp(k->s, "podspec") == 0) {
			rc = walk_podspec(c, v, &sv);
		} else if (strcmp(k->s, "serviceChannels") == 0) {
			rc = walk_channels(c, v, out);
		} else if (strcmp(k->s, "nwbandwidth") == 0 ||
			   strcmp(k->s, "nwlatency") == 0) {
			/* legacy per-service hints: Mbit/s and ms */
			double q;
			rc = want(c, v, Y_SCALAR, "");
			if (rc == 0 && manifest_quantity(v->s, &q) != 0) {
				rc = fail(c, v->line,
					  "%s: '%.40s' is not a number",
					  c->path, v->s);
			}
			if (rc == 0 && k->s[2] == 'b' &&
			    out->min_bandwidth_bps == 0 && q < 1e9) {
				out->min_bandwidth_bps = (uint64_t)(q * 1e6);
			} else if (rc == 0 && k->s[2] == 'l' &&
				   out->max_delay_ms == 0 && q < 86400000) {
				out->max_delay_ms = (uint32_t)q;
			}
		} else {
			path_pop(c, old);
			return unknown(c, k);
		}
		if (rc != 0) {
			return rc;
		}
		path_pop(c, old);
	}
	if (out->runtime == RUNTIME_PROC && !sv.have_cmd) {
		return fail(c, ms->line,
			    "%s: service '%s' has no command (set annotation "
			    "farnode.io/command.%s or the container's "
			    "command)",
			    c->path, out->name, out->name);
	}
	if (out->runtime == RUNTIME_OCI && out->bundle[0] == '\0') {
		return fail(c, ms->line,
			    "%s: oci service '%s' needs annotation "
			    "farnode.io/bundle.%s",
			    c->path, out->name, out->name);
	}
	char why[128];
	if (workload_spec_validate(out, why, sizeof(why)) != 0) {
		return fail(c, ms->line, "%s: %s", c->path, why);
	}
	return 0;
}

static int walk_doc(struct ctx *c, const struct ynode *doc,
		    struct workload_spec *out, size_t max, size_t *n)
{
	const struct ynode *spec = NULL;
	const struct ynode *meta = NULL;
	const char *app = NULL;
	int rc;
	struct workload_spec app_spec;

	c->path[0] = '\0';
	if ((rc = want(c, doc, Y_MAP, "document")) != 0) {
		return rc;
	}
	const struct ynode *api = map_get(doc, "apiVersion");
	const struct ynode *kind = map_get(doc, "kind");
	if (api == NULL || api->type != Y_SCALAR ||
	    strncmp(api->s, "codeco.he-codeco.eu/", 20) != 0) {
		return fail(c, api != NULL ? api->line : doc->line,
			    "apiVersion must be codeco.he-codeco.eu/…");
	}
	if (kind == NULL || kind->type != Y_SCALAR ||
	    strcmp(kind->s, "CodecoApp") != 0) {
		return fail(c, kind != NULL ? kind->line : doc->line,
			    "kind must be CodecoApp");
	}
	for (size_t i = 0; i + 1 < doc->n; i += 2) {
		const struct ynode *k = doc->kids[i];
		if (strcmp(k->s, "apiVersion") == 0 ||
		    strcmp(k->s, "kind") == 0 || strcmp(k->s, "status") == 0) {
			continue;
		}
		if (strcmp(k->s, "metadata") == 0) {
			meta = doc->kids[i + 1];
		} else if (strcmp(k->s, "spec") == 0) {
			spec = doc->kids[i + 1];
		} else {
			return unknown(c, k);
		}
	}
	if (spec == NULL) {
		return fail(c, doc->line, "spec is required");
	}
	c->annotations = NULL;
	if (meta != NULL) {
		snprintf(c->path, sizeof(c->path), "metadata");
		if ((rc = want(c, meta, Y_MAP, "")) != 0) {
			return rc;
		}
		static const char *const known[] = {
		    "name",	  "namespace",
		    "labels",	  "annotations",
		    "uid",	  "resourceVersion",
		    "generation", "creationTimestamp"};
		for (size_t i = 0; i + 1 < meta->n; i += 2) {
			const struct ynode *k = meta->kids[i];
			bool ok = false;
			for (size_t j = 0; j < sizeof(known) / sizeof(*known);
			     j++) {
				ok = ok || strcmp(k->s, known[j]) == 0;
			}
			if (!ok) {
				return unknown(c, k);
			}
		}
		const struct ynode *nm = map_get(meta, "name");
		if (nm != NULL && nm->type == Y_SCALAR) {
			app = nm->s;
		}
		const struct ynode *ann = map_get(meta, "annotations");
		if (ann != NULL) {
			snprintf(c->path, sizeof(c->path),
				 "metadata.annotations");
			if ((rc = check_annotations(c, ann)) != 0) {
				return rc;
			}
			c->annotations = ann;
		}
	}

	snprintf(c->path, sizeof(c->path), "spec");
	if ((rc = want(c, spec, Y_MAP, "")) != 0) {
		return rc;
	}
	memset(&app_spec, 0, sizeof(app_spec));
	app_spec.restart = RESTART_ALWAYS; /* a pod's default */
	const struct ynode *services = NULL;
	for (size_t i = 0; i + 1 < spec->n; i += 2) {
		const struct ynode *k = spec->kids[i];
		const struct ynode *v = spec->kids[i + 1];
		size_t old = path_push(c, ".%s", k->s);
		if (strcmp(k->s, "codecoapp-msspec") == 0) {
			services = v;
			rc = want(c, v, Y_SEQ, "");
		} else if ((rc = want(c, v, Y_SCALAR, "")) != 0) {
			return rc;
		} else if (strcmp(k->s, "appName") == 0) {
			if (v->s[0] != '\0') {
				app = v->s;
			}
		} else if (strcmp(k->s, "qosClass") == 0) {
			if (qos_class_parse(v->s, &app_spec.qos) != 0) {
				rc = fail(c, v->line,
					  "%s: '%.40s' (allowed: Gold, Silver, "
					  "BestEffort)",
					  c->path, v->s);
			}
		} else if (strcmp(k->s, "performanceProfile") == 0) {
			if (perf_profile_parse(v->s, &app_spec.profile) != 0) {
				rc = fail(c, v->line,
					  "%s: '%.40s' (allowed: Latency, "
					  "Greenness, Resilience)",
					  c->path, v->s);
			}
		} else if (strcmp(k->s, "appEnergyLimit") == 0) {
			double w = 0.0;
			if (v->s[0] != '\0' &&
			    (manifest_quantity(v->s, &w) != 0 || w > 1e6)) {
				rc = fail(c, v->line,
					  "%s: '%.40s' is not a power in watts",
					  c->path, v->s);
			}
			app_spec.energy_limit_watts = w;
		} else if (strcmp(k->s, "appFailureTolerance") == 0) {
			if (v->s[0] == '\0' || strcmp(v->s, "Low") == 0) {
				app_spec.failure_tolerance = FAILTOL_LOW;
			} else if (strcmp(v->s, "Medium") == 0) {
				app_spec.failure_tolerance = FAILTOL_MEDIUM;
			} else if (strcmp(v->s, "High") == 0) {
				app_spec.failure_tolerance = FAILTOL_HIGH;
			} else {
				rc = fail(c, v->line,
					  "%s: '%.40s' (allowed: High, Medium, "
					  "Low)",
					  c->path, v->s);
			}
		} else if (strcmp(k->s, "securityClass") == 0 ||
			   strcmp(k->s, "complianceClass") == 0) {
			rc = 0; /* cluster-level classes; not used here */
		} else {
			path_pop(c, old);
			return unknown(c, k);
		}
		if (rc != 0) {
			return rc;
		}
		path_pop(c, old);
	}
	if (app == NULL) {
		return fail(c, spec->line,
			    "spec.appName (or metadata.name) is required");
	}
	if (services == NULL || services->n == 0) {
		return fail(c, spec->line,
			    "spec.codecoapp-msspec needs at least one service");
	}
	c->n_services = services->n;
	for (size_t i = 0; i < services->n; i++) {
		if (*n >= max) {
			return fail(c, services->kids[i]->line,
				    "more than %zu services in one manifest",
				    max);
		}
		snprintf(c->path, sizeof(c->path), "spec.codecoapp-msspec[%zu]",
			 i);
		rc = walk_service(c, services->kids[i], app, &app_spec,
				  &out[*n]);
		if (rc != 0) {
			return rc;
		}
		for (size_t j = 0; j < *n; j++) {
			if (strcmp(out[j].id, out[*n].id) == 0) {
				return fail(c, services->kids[i]->line,
					    "workload id '%s' appears twice",
					    out[*n].id);
			}
		}
		(*n)++;
	}
	return 0;
}

int manifest_parse(const char *buf, size_t len, const char *file,
		   struct workload_spec *out, size_t max, size_t *n, char *err,
		   size_t err_len)
{
	struct ctx c;
	int rc = 0;
	struct ynode *docs[16];
	size_t n_docs = 0;

	memset(&c, 0, sizeof(c));
	c.file = file != NULL ? file : "manifest";
	c.err = err;
	c.err_len = err_len;
	*n = 0;
	if (err_len > 0) {
		err[0] = '\0';
	}
	if (len > MANIFEST_MAX_BYTES) {
		snprintf(err, err_len, "%s: larger than %d bytes", c.file,
			 MANIFEST_MAX_BYTES);
		return -EMSGSIZE;
	}
	if (!yaml_parser_initialize(&c.parser)) {
		snprintf(err, err_len, "%s: cannot start the YAML parser",
			 c.file);
		return -ENOMEM;
	}
	yaml_parser_set_input_string(&c.parser, (const unsigned char *)buf,
				     len);
	for (;;) {
		yaml_event_t ev;
		if (!yaml_parser_parse(&c.parser, &ev)) {
			rc = yaml_fail(&c);
			goto out;
		}
		yaml_event_type_t t = ev.type;
		if (t == YAML_STREAM_END_EVENT) {
			yaml_event_delete(&ev);
			break;
		}
		if (t == YAML_STREAM_START_EVENT ||
		    t == YAML_DOCUMENT_START_EVENT ||
		    t == YAML_DOCUMENT_END_EVENT) {
			yaml_event_delete(&ev);
			continue;
		}
		if (n_docs >= sizeof(docs) / sizeof(docs[0])) {
			rc = fail(&c, (unsigned)ev.start_mark.line + 1,
				  "more than %zu documents",
				  sizeof(docs) / sizeof(docs[0]));
			yaml_event_delete(&ev);
			goto out;
		}
		rc = parse_node(&c, &ev, 0, &docs[n_docs]);
		yaml_event_delete(&ev);
		if (rc != 0) {
			goto out;
		}
		n_docs++;
	}
	if (n_docs == 0) {
		rc = fail(&c, 1, "no CodecoApp document");
		goto out;
	}
	for (size_t d = 0; d < n_docs && rc == 0; d++) {
		rc = walk_doc(&c, docs[d], out, max, n);
	}
out:
	yaml_parser_delete(&c.parser);
	free_all(&c);
	if (rc != 0) {
		*n = 0;
		if (rc == -ENOMEM && err_len > 0 && err[0] == '\0') {
			snprintf(err, err_len, "%s: out of memory", c.file);
		}
	}
	return rc;
}
