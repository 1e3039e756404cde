// SPDX-License-Identifier: Apache-2.0
/*
 * runtime_store: the workloads table. One row per workload: the spec (a
 * small versioned text encoding, readable with the sqlite3 shell), whether
 * it should run, and its status including pid, start time and boot id for
 * adoption. Every write is one statement, so a row is never half-written.
 */
#define LOG_TAG "runtime"
#include "runtime_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "store.h"

#define SPEC_MAGIC "farnode-spec 1\n"

struct out {
	char *p;
	size_t cap;
	size_t len;
	bool overflow;
};

static void put_raw(struct out *o, const char *s, size_t n)
{
	if (o->overflow || o->len + n + 1 > o->cap) {
		o->overflow = true;
		return;
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
	o->p[o->len] = '\0';
}

static void put_kv(struct out *o, const char *key, const char *val)
{
	put_raw(o, key, strlen(key));
	put_raw(o, " ", 1);
	for (const char *c = val; *c != '\0'; c++) {
		if (*c == '\\') {
			put_raw(o, "\\\\", 2);
		} else if (*c == '\n') {
			put_raw(o, "\\n", 2);
		} else {
			put_raw(o, c, 1);
		}
	}
	put_raw(o, "\n", 1);
}

static void put_u(struct out *o, const char *key, uint64_t v)
{
	char buf[32];
	snprintf(buf, sizeof(buf), "%" PRIu64, v);
	put_kv(o, key, buf);
}

int runtime_spec_encode(const struct workload_spec *s, char *out,
			size_t out_len)
{
	struct out o = {.p = out, .cap = out_len};
	char buf[64];
	char lbl[NODE_LABEL_KEY_MAX + NODE_LABEL_VALUE_MAX + 2];

	if (out_len == 0) {
		return -EMSGSIZE;
	}
	out[0] = '\0';
	put_raw(&o, SPEC_MAGIC, strlen(SPEC_MAGIC));
	put_kv(&o, "id", s->id);
	put_kv(&o, "name", s->name);
	put_kv(&o, "qos", qos_class_name(s->qos));
	put_kv(&o, "profile", perf_profile_name(s->profile));
	put_u(&o, "cpu", s->cpu_milli);
	put_u(&o, "mem", s->mem_bytes);
	put_u(&o, "delay", s->max_delay_ms);
	put_u(&o, "bw", s->min_bandwidth_bps);
	snprintf(buf, sizeof(buf), "%.17g", s->energy_limit_watts);
	put_kv(&o, "energy", buf);
	put_u(&o, "failtol", (uint64_t)s->failure_tolerance);
	put_kv(&o, "runtime", workload_runtime_name(s->runtime));
	put_kv(&o, "restart", restart_policy_name(s->restart));
	for (uint32_t i = 0; i < s->n_locality && i < 4; i++) {
		snprintf(lbl, sizeof(lbl), "%s=%s", s->locality[i].key,
			 s->locality[i].value);
		put_kv(&o, "loc", lbl);
	}
	for (uint32_t i = 0; i < s->argc && i < WORKLOAD_ARGV_MAX; i++) {
		put_kv(&o, "arg", s->argv[i]);
	}
	for (uint32_t i = 0; i < s->envc && i < WORKLOAD_ENV_MAX; i++) {
		put_kv(&o, "env", s->env[i]);
	}
	put_kv(&o, "cwd", s->cwd);
	put_kv(&o, "bundle", s->bundle);
	return o.overflow ? -EMSGSIZE : (int)o.len;
}

/* Unescape [p, p+n) into out (cap bytes incl. NUL). */
static int get_str(const char *p, size_t n, char *out, size_t cap)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		char c = p[i];
		if (c == '\\') {
			if (++i >= n) {
				return -EBADMSG;
			}
			c = p[i] == 'n' ? '\n' : p[i] == '\\' ? '\\' : 0;
			if (c == 0) {
				return -EBADMSG;
			}
		} else if (c == '\0') {
			return -EBADMSG;
		}
		if (o + 1 >= cap) {
			return -EBADMSG;
		}
		out[o++] = c;
	}
	out[o] = '\0';
	return 0;
}

static int get_u(const char *p, size_t n, uint64_t max, uint64_t *v)
{
	char buf[24];
	if (n == 0 || n >= sizeof(buf)) {
		return -EBADMSG;
	}
	memcpy(buf, p, n);
	buf[n] = '\0';
	char *end;
	errno = 0;
	unsigned long long x = strtoull(buf, &end, 10);
	if (errno != 0 || *end != '\0' || buf[0] == '-' || x > max) {
		return -EBADMSG;
	}
	*v = x;
	return 0;
}

int runtime_spec_decode(const char *buf, size_t len, struct workload_spec *s)
{
	size_t ml = strlen(SPEC_MAGIC);
	char tmp[WORKLOAD_ARG_MAX];
	uint64_t v;

	memset(s, 0, sizeof(*s));
	if (len < ml || memcmp(buf, SPEC_MAGIC, ml) != 0) {
		return -EBADMSG;
	}
	size_t pos = ml;
	while (pos < len) {
		const char *line = buf + pos;
		const char *nl = memchr(line, '\n', len - pos);
		if (nl == NULL) {
			return -EBADMSG;
		}
		size_t ll = (size_t)(nl - line);
		pos += ll + 1;
		const char *sp = memchr(line, ' ', ll);
		if (sp == NULL) {
			return -EBADMSG;
		}
		size_t kl = (size_t)(sp - line);
		const char *val = sp + 1;
		size_t vl = ll - kl - 1;
#define KEY(k) (kl == strlen(k) && memcmp(line, k, kl) == 0)
		int rc = 0;
		if (KEY("id")) {
			rc = get_str(val, vl, s->id, sizeof(s->id));
		} else if (KEY("name")) {
			rc = get_str(val, vl, s->name, sizeof(s->name));
		} else if (KEY("qos") || KEY("profile") || KEY("runtime") ||
			   KEY("restart")) {
			rc = get_str(val, vl, tmp, sizeof(tmp));
			if (rc == 0 && KEY("qos")) {
				rc = qos_class_parse(tmp, &s->qos);
			} else if (rc == 0 && KEY("profile")) {
				rc = perf_profile_parse(tmp, &s->profile);
			} else if (rc == 0 && KEY("runtime")) {
				rc = workload_runtime_parse(tmp, &s->runtime);
			} else if (rc == 0) {
				rc = restart_policy_parse(tmp, &s->restart);
			}
		} else if (KEY("cpu")) {
			rc = get_u(val, vl, UINT32_MAX, &v);
			s->cpu_milli = (uint32_t)v;
		} else if (KEY("mem")) {
			rc = get_u(val, vl, UINT64_MAX, &v);
			s->mem_bytes = v;
		} else if (KEY("delay")) {
			rc = get_u(val, vl, UINT32_MAX, &v);
			s->max_delay_ms = (uint32_t)v;
		} else if (KEY("bw")) {
			rc = get_u(val, vl, UINT64_MAX, &v);
			s->min_bandwidth_bps = v;
		} else if (KEY("energy")) {
			rc = get_str(val, vl, tmp, 64);
			char *end;
			s->energy_limit_watts = strtod(tmp, &end);
			if (rc == 0 && (*end != '\0' || tmp[0] == '\0')) {
				rc = -EBADMSG;
			}
		} else if (KEY("failtol")) {
			rc = get_u(val, vl, FAILTOL_HIGH, &v);
			s->failure_tolerance = (enum failure_tolerance)v;
		} else if (KEY("loc")) {
			if (s->n_locality >= 4) {
				return -EBADMSG;
			}
			rc = get_str(val, vl, tmp, sizeof(tmp));
			char *eq = rc == 0 ? strchr(tmp, '=') : NULL;
			struct node_label *l = &s->locality[s->n_locality];
			if (eq == NULL ||
			    (size_t)(eq - tmp) >= sizeof(l->key) ||
			    strlen(eq + 1) >= sizeof(l->value)) {
				return -EBADMSG;
			}
			memcpy(l->key, tmp, (size_t)(eq - tmp));
			l->key[eq - tmp] = '\0';
			memcpy(l->value, eq + 1, strlen(eq + 1) + 1);
			s->n_locality++;
		} else if (KEY("arg")) {
			if (s->argc >= WORKLOAD_ARGV_MAX) {
				return -EBADMSG;
			}
			rc = get_str(val, vl, s->argv[s->argc],
				     WORKLOAD_ARG_MAX);
			s->argc++;
		} else if (KEY("env")) {
			if (s->envc >= WORKLOAD_ENV_MAX) {
				return -EBADMSG;
			}
			rc =
			    get_str(val, vl, s->env[s->envc], WORKLOAD_ARG_MAX);
			s->envc++;
		} else if (KEY("cwd")) {
			rc = get_str(val, vl, s->cwd, sizeof(s->cwd));
		} else if (KEY("bundle")) {
			rc = get_str(val, vl, s->bundle, sizeof(s->bundle));
		} else {
			return -EBADMSG;
		}
#undef KEY
		if (rc != 0) {
			return -EBADMSG;
		}
	}
	return s->id[0] != '\0' ? 0 : -EBADMSG;
}

static const char SQL_INSERT[] =
    "INSERT INTO workloads(id, spec, desired, phase, reason, pid, "
    "start_ticks, boot_id, exit_code, restarts, created_ms, started_ms, "
    "finished_ms, placed_on, origin) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, "
    "?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)";
static const char SQL_UPDATE[] =
    "UPDATE workloads SET desired = ?3, phase = ?4, reason = ?5, "
    "pid = ?6, start_ticks = ?7, boot_id = ?8, exit_code = ?9, "
    "restarts = ?10, created_ms = ?11, started_ms = ?12, "
    "finished_ms = ?13, placed_on = ?14, origin = ?15 WHERE id = ?1";
static const char SQL_DELETE[] = "DELETE FROM workloads WHERE id = ?1";
static const char SQL_LOAD[] =
    "SELECT id, spec, desired, phase, reason, pid, start_ticks, boot_id, "
    "exit_code, restarts, created_ms, started_ms, finished_ms, placed_on, "
    "origin FROM workloads ORDER BY created_ms, rowid";

/* A node id column: NULL for the zero id (this node). */
static void bind_id(sqlite3_stmt *st, int col, const struct node_id *id)
{
	if (node_id_is_zero(id)) {
		sqlite3_bind_null(st, col);
	} else {
		sqlite3_bind_blob(st, col, id->b, NODE_ID_LEN,
				  SQLITE_TRANSIENT);
	}
}

static void col_id(sqlite3_stmt *st, int col, struct node_id *out)
{
	memset(out, 0, sizeof(*out));
	if (sqlite3_column_bytes(st, col) == NODE_ID_LEN) {
		memcpy(out->b, sqlite3_column_blob(st, col), NODE_ID_LEN);
	}
}

static void bind_row(sqlite3_stmt *st, struct wl *w)
{
	sqlite3_bind_text(st, 1, w->spec.id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(st, 3, w->desired ? 1 : 0);
	sqlite3_bind_int(st, 4, (int)w->st.phase);
	sqlite3_bind_text(st, 5, w->st.reason, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(st, 6, w->st.pid);
	sqlite3_bind_int64(st, 7, (sqlite3_int64)w->st.start_time_ticks);
	sqlite3_bind_text(st, 8, w->st.pid > 0 ? w->rt->boot_id : "", -1,
			  SQLITE_TRANSIENT);
	sqlite3_bind_int(st, 9, w->st.exit_code);
	sqlite3_bind_int64(st, 10, (sqlite3_int64)w->st.restarts);
	sqlite3_bind_int64(st, 11, (sqlite3_int64)w->st.created_ms);
	sqlite3_bind_int64(st, 12, (sqlite3_int64)w->st.started_ms);
	sqlite3_bind_int64(st, 13, (sqlite3_int64)w->st.finished_ms);
	bind_id(st, 14, &w->st.placed_on);
	bind_id(st, 15, &w->st.origin);
}

static int step_done(struct runtime *rt, sqlite3_stmt *st, const char *what)
{
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc == SQLITE_DONE) {
		return 0;
	}
	if ((rc & 0xff) == SQLITE_CONSTRAINT) {
		return -EEXIST;
	}
	log_error("workloads %s: %s", what, store_errmsg(rt->store));
	return store_errno(rc);
}

int rt__store_insert(struct wl *w)
{
	char spec[8192];
	sqlite3_stmt *st = store_stmt(w->rt->store, SQL_INSERT);
	if (st == NULL) {
		return -EIO;
	}
	int n = runtime_spec_encode(&w->spec, spec, sizeof(spec));
	if (n < 0) {
		return n;
	}
	bind_row(st, w);
	sqlite3_bind_blob(st, 2, spec, n, SQLITE_TRANSIENT);
	return step_done(w->rt, st, "insert");
}

int rt__store_update(struct wl *w)
{
	sqlite3_stmt *st = store_stmt(w->rt->store, SQL_UPDATE);
	if (st == NULL) {
		return -EIO;
	}
	bind_row(st, w);
	int rc = step_done(w->rt, st, "update");
	if (rc == 0 && sqlite3_changes(store_db(w->rt->store)) != 1) {
		return -ENOENT;
	}
	return rc;
}

int rt__store_delete(struct runtime *rt, const char *id)
{
	sqlite3_stmt *st = store_stmt(rt->store, SQL_DELETE);
	if (st == NULL) {
		return -EIO;
	}
	sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
	return step_done(rt, st, "delete");
}

static void col_text(sqlite3_stmt *st, int col, char *out, size_t cap)
{
	const unsigned char *t = sqlite3_column_text(st, col);
	snprintf(out, cap, "%s", t != NULL ? (const char *)t : "");
}

int rt__store_load(struct runtime *rt, rt_load_fn fn)
{
	sqlite3_stmt *st = store_stmt(rt->store, SQL_LOAD);
	int n = 0;
	int rc;

	if (st == NULL) {
		return -EIO;
	}
	/* Collect first: callbacks write rows, which must not happen while
	   the SELECT is stepping over them. */
	struct row {
		struct workload_spec spec;
		struct workload_status status;
		bool desired;
		char boot_id[40];
	} *rows = NULL;
	size_t cap = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if ((size_t)n == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			struct row *nr = realloc(rows, ncap * sizeof(*rows));
			if (nr == NULL) {
				sqlite3_reset(st);
				free(rows);
				return -ENOMEM;
			}
			rows = nr;
			cap = ncap;
		}
		struct row *r = &rows[n];
		memset(r, 0, sizeof(*r));
		const void *blob = sqlite3_column_blob(st, 1);
		int blen = sqlite3_column_bytes(st, 1);
		if (blob == NULL ||
		    runtime_spec_decode(blob, (size_t)blen, &r->spec) != 0) {
			log_error("workload %s: stored spec does not decode; "
				  "row skipped",
				  (const char *)sqlite3_column_text(st, 0));
			continue;
		}
		r->desired = sqlite3_column_int(st, 2) != 0;
		int phase = sqlite3_column_int(st, 3);
		r->status.phase = phase >= WL_PENDING && phase <= WL_OFFLOADED
				      ? (enum workload_phase)phase
				      : WL_FAILED;
		col_text(st, 4, r->status.reason, sizeof(r->status.reason));
		r->status.pid = sqlite3_column_int(st, 5);
		r->status.start_time_ticks =
		    (uint64_t)sqlite3_column_int64(st, 6);
		col_text(st, 7, r->boot_id, sizeof(r->boot_id));
		r->status.exit_code = sqlite3_column_int(st, 8);
		r->status.restarts = (uint32_t)sqlite3_column_int64(st, 9);
		r->status.created_ms = (uint64_t)sqlite3_column_int64(st, 10);
		r->status.started_ms = (uint64_t)sqlite3_column_int64(st, 11);
		r->status.finished_ms = (uint64_t)sqlite3_column_int64(st, 12);
		col_id(st, 13, &r->status.placed_on);
		col_id(st, 14, &r->status.origin);
		n++;
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		log_error("workloads load: %s", store_errmsg(rt->store));
		free(rows);
		return store_errno(rc);
	}
	for (int i = 0; i < n; i++) {
		rc = fn(rt, &rows[i].spec, &rows[i].status, rows[i].desired,
			rows[i].boot_id);
		if (rc != 0) {
			free(rows);
			return rc;
		}
	}
	free(rows);
	return n;
}
