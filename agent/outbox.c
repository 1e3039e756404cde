// SPDX-License-Identifier: Apache-2.0
/*
 * outbox: the store-and-forward queue over the store's outbox table. Rows
 * are the truth; memory holds only the byte count, the send cursor and the
 * token bucket, all rebuilt from the table at open, so a crash at any point
 * loses nothing that was committed (see outbox.h).
 */
#define LOG_TAG "outbox"
#include "outbox.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "store.h"

#define DEFAULT_MAX_BYTES (8u << 20)
#define DEFAULT_BURST	  32
#define DROP_PAYLOAD_MAX  32

struct outbox {
	struct store *st;
	struct outbox_config cfg;
	bool online;
	uint64_t rows;	      /* rows in the table */
	uint64_t bytes;	      /* accounted bytes */
	uint64_t cursor;      /* highest event id handed out */
	uint64_t handed_live; /* rows with seq <= cursor still stored */
	double tokens;
	uint64_t tokens_ms; /* when tokens was last refilled */
	bool tokens_init;
	struct outbox_stats st_cnt;
};

static const char SQL_SIZE[] =
    "SELECT count(*), coalesce(sum(length(payload)), 0) FROM outbox";
static const char SQL_VICTIM[] =
    "SELECT seq, length(payload) FROM outbox WHERE kind != 6 "
    "ORDER BY priority, seq LIMIT 1";
static const char SQL_DELETE[] = "DELETE FROM outbox WHERE seq = ?1";
static const char SQL_ROWLEN[] =
    "SELECT length(payload) FROM outbox WHERE seq = ?1";
static const char SQL_REPORT[] =
    "SELECT seq, dropped, length(payload) FROM outbox "
    "WHERE kind = 6 AND seq > ?1 ORDER BY seq DESC LIMIT 1";
static const char SQL_REPORT_UPDATE[] =
    "UPDATE outbox SET dropped = ?2, payload = ?3 WHERE seq = ?1";
static const char SQL_INSERT[] =
    "INSERT INTO outbox(kind, priority, created_ms, historical, dropped, "
    "payload) VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
static const char SQL_NEXT[] =
    "SELECT seq, kind, priority, created_ms, historical, dropped, payload "
    "FROM outbox WHERE seq > ?1 ORDER BY seq LIMIT 1";

static int encode_dropped_default(uint64_t count, uint8_t *buf, size_t cap,
				  size_t *len)
{
	if (cap < 8) {
		return -ENOBUFS;
	}
	for (int i = 0; i < 8; i++) {
		buf[i] = (uint8_t)(count >> (56 - 8 * i));
	}
	*len = 8;
	return 0;
}

static int db_err(struct outbox *ob, int rc, const char *what)
{
	log_error("%s: %s", what, store_errmsg(ob->st));
	int e = store_errno(rc);
	return e != 0 ? e : -EIO;
}

uint32_t outbox_default_priority(enum uplink_event_kind kind)
{
	switch (kind) {
	case EVENT_DROPPED:
		return OUTBOX_DROP_PRIORITY;
	case EVENT_POLICY:
		return 6;
	case EVENT_WORKLOAD:
		return 5;
	case EVENT_MEMBERSHIP:
		return 4;
	case EVENT_DECISION:
		return 2;
	case EVENT_LEARNING:
		return 1;
	}
	return 0;
}

static bool kind_valid(uint32_t kind)
{
	return kind >= EVENT_WORKLOAD && kind <= EVENT_DROPPED;
}

int outbox_open(struct store *st, const struct outbox_config *cfg,
		struct outbox **out)
{
	struct outbox *ob = calloc(1, sizeof(*ob));
	sqlite3_stmt *q;
	int rc;

	*out = NULL;
	if (ob == NULL) {
		return -ENOMEM;
	}
	ob->st = st;
	if (cfg != NULL) {
		ob->cfg = *cfg;
	}
	if (ob->cfg.max_bytes == 0) {
		ob->cfg.max_bytes = DEFAULT_MAX_BYTES;
	}
	if (ob->cfg.burst == 0) {
		ob->cfg.burst = DEFAULT_BURST;
	}
	if (ob->cfg.encode_dropped == NULL) {
		ob->cfg.encode_dropped = encode_dropped_default;
	}
	q = store_stmt(st, SQL_SIZE);
	if (q == NULL) {
		free(ob);
		return -EIO;
	}
	rc = sqlite3_step(q);
	if (rc != SQLITE_ROW) {
		rc = db_err(ob, rc, "reading the outbox size");
		sqlite3_reset(q);
		free(ob);
		return rc;
	}
	ob->rows = (uint64_t)sqlite3_column_int64(q, 0);
	ob->bytes = (uint64_t)sqlite3_column_int64(q, 1) +
		    ob->rows * OUTBOX_ROW_OVERHEAD;
	sqlite3_reset(q);
	if (ob->rows > 0) {
		log_info("%" PRIu64 " events (%" PRIu64
			 " bytes) waiting from before",
			 ob->rows, ob->bytes);
	}
	*out = ob;
	return 0;
}

void outbox_free(struct outbox *ob)
{
	free(ob);
}

void outbox_set_max_bytes(struct outbox *ob, uint64_t max_bytes)
{
	ob->cfg.max_bytes = max_bytes ? max_bytes : DEFAULT_MAX_BYTES;
}

void outbox_set_rate(struct outbox *ob, double rate_per_s, uint32_t burst)
{
	ob->cfg.rate_per_s = rate_per_s > 0 ? rate_per_s : 0;
	ob->cfg.burst = burst ? burst : DEFAULT_BURST;
	if (ob->tokens > ob->cfg.burst) {
		ob->tokens = ob->cfg.burst;
	}
}

void outbox_set_online(struct outbox *ob, bool online)
{
	ob->online = online;
}

/* Length of a row's payload, or -ENOENT. */
static int64_t row_len(struct outbox *ob, uint64_t seq)
{
	sqlite3_stmt *q = store_stmt(ob->st, SQL_ROWLEN);
	int64_t len = -ENOENT;
	if (q == NULL) {
		return -EIO;
	}
	sqlite3_bind_int64(q, 1, (int64_t)seq);
	if (sqlite3_step(q) == SQLITE_ROW) {
		len = sqlite3_column_int64(q, 0);
	}
	sqlite3_reset(q);
	return len;
}

static int delete_row(struct outbox *ob, uint64_t seq)
{
	sqlite3_stmt *q = store_stmt(ob->st, SQL_DELETE);
	int rc;
	if (q == NULL) {
		return -EIO;
	}
	sqlite3_bind_int64(q, 1, (int64_t)seq);
	rc = sqlite3_step(q);
	sqlite3_reset(q);
	return rc == SQLITE_DONE ? 0 : db_err(ob, rc, "deleting an event");
}

/* Changes made inside one put transaction, applied after COMMIT. */
struct put_delta {
	uint64_t rows_removed;
	uint64_t bytes_removed;
	uint64_t handed_removed;
	uint64_t dropped;
	int64_t bytes_added;
	uint64_t rows_added;
};

/* Drop the oldest lowest-priority non-report row. -ENOSPC if none. */
static int drop_one(struct outbox *ob, struct put_delta *d)
{
	sqlite3_stmt *q = store_stmt(ob->st, SQL_VICTIM);
	uint64_t seq;
	uint64_t len;
	int rc;
	if (q == NULL) {
		return -EIO;
	}
	rc = sqlite3_step(q);
	if (rc != SQLITE_ROW) {
		sqlite3_reset(q);
		return rc == SQLITE_DONE ? -ENOSPC
					 : db_err(ob, rc, "choosing a victim");
	}
	seq = (uint64_t)sqlite3_column_int64(q, 0);
	len = (uint64_t)sqlite3_column_int64(q, 1);
	sqlite3_reset(q);
	rc = delete_row(ob, seq);
	if (rc != 0) {
		return rc;
	}
	d->rows_removed++;
	d->bytes_removed += len + OUTBOX_ROW_OVERHEAD;
	if (seq <= ob->cursor) {
		d->handed_removed++;
	}
	d->dropped++;
	return 0;
}

static int insert_row(struct outbox *ob, uint32_t kind, uint32_t priority,
		      uint64_t time_ms, uint64_t dropped,
		      const uint8_t *payload, size_t len, uint64_t *seq)
{
	sqlite3_stmt *q = store_stmt(ob->st, SQL_INSERT);
	int rc;
	if (q == NULL) {
		return -EIO;
	}
	sqlite3_bind_int(q, 1, (int)kind);
	sqlite3_bind_int(q, 2, (int)priority);
	sqlite3_bind_int64(q, 3, (int64_t)time_ms);
	sqlite3_bind_int(q, 4, ob->online ? 0 : 1);
	sqlite3_bind_int64(q, 5, (int64_t)dropped);
	/* zeroblob for an empty payload: NOT NULL must hold */
	if (len == 0) {
		sqlite3_bind_zeroblob(q, 6, 0);
	} else {
		sqlite3_bind_blob(q, 6, payload, (int)len, SQLITE_STATIC);
	}
	rc = sqlite3_step(q);
	sqlite3_reset(q);
	if (rc != SQLITE_DONE) {
		return db_err(ob, rc, "storing an event");
	}
	*seq = (uint64_t)sqlite3_last_insert_rowid(store_db(ob->st));
	return 0;
}

/* Add n drops to the pending (not yet handed out) report, or make one. */
static int record_drops(struct outbox *ob, uint64_t n, uint64_t time_ms,
			struct put_delta *d)
{
	uint8_t buf[DROP_PAYLOAD_MAX];
	size_t len = 0;
	sqlite3_stmt *q = store_stmt(ob->st, SQL_REPORT);
	uint64_t seq = 0;
	uint64_t count = n;
	uint64_t old_len = 0;
	int rc;

	if (q == NULL) {
		return -EIO;
	}
	sqlite3_bind_int64(q, 1, (int64_t)ob->cursor);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		seq = (uint64_t)sqlite3_column_int64(q, 0);
		count += (uint64_t)sqlite3_column_int64(q, 1);
		old_len = (uint64_t)sqlite3_column_int64(q, 2);
	} else if (rc != SQLITE_DONE) {
		sqlite3_reset(q);
		return db_err(ob, rc, "finding the drop report");
	}
	sqlite3_reset(q);
	rc = ob->cfg.encode_dropped(count, buf, sizeof(buf), &len);
	if (rc != 0) {
		return rc;
	}
	if (seq == 0) {
		rc = insert_row(ob, EVENT_DROPPED, OUTBOX_DROP_PRIORITY,
				time_ms, count, buf, len, &seq);
		if (rc == 0) {
			d->rows_added++;
			d->bytes_added += (int64_t)(len + OUTBOX_ROW_OVERHEAD);
		}
		return rc;
	}
	q = store_stmt(ob->st, SQL_REPORT_UPDATE);
	if (q == NULL) {
		return -EIO;
	}
	sqlite3_bind_int64(q, 1, (int64_t)seq);
	sqlite3_bind_int64(q, 2, (int64_t)count);
	sqlite3_bind_blob(q, 3, buf, (int)len, SQLITE_STATIC);
	rc = sqlite3_step(q);
	sqlite3_reset(q);
	if (rc != SQLITE_DONE) {
		return db_err(ob, rc, "updating the drop report");
	}
	d->bytes_added += (int64_t)len - (int64_t)old_len;
	return 0;
}

int outbox_put(struct outbox *ob, enum uplink_event_kind kind,
	       uint32_t priority, uint64_t time_ms, const uint8_t *payload,
	       size_t payload_len, uint64_t *event_id)
{
	struct put_delta d = {0};
	uint64_t need = payload_len + OUTBOX_ROW_OVERHEAD;
	/* room kept for a drop report next to the event */
	uint64_t reserve = DROP_PAYLOAD_MAX + OUTBOX_ROW_OVERHEAD;
	uint64_t seq = 0;
	int rc;

	if (!kind_valid(kind) || kind == EVENT_DROPPED ||
	    priority > UPLINK_PRIORITY_MAX) {
		return -EINVAL;
	}
	if (payload_len > UPLINK_PAYLOAD_MAX || payload_len > INT32_MAX ||
	    need + reserve > ob->cfg.max_bytes) {
		return -EMSGSIZE;
	}
	if (payload_len > 0 && payload == NULL) {
		return -EINVAL;
	}
	rc = store_begin(ob->st);
	if (rc != 0) {
		return rc;
	}
	while (ob->bytes - d.bytes_removed + need + reserve >
	       ob->cfg.max_bytes) {
		rc = drop_one(ob, &d);
		if (rc != 0) {
			goto fail;
		}
	}
	if (d.dropped > 0) {
		rc = record_drops(ob, d.dropped, time_ms, &d);
		if (rc != 0) {
			goto fail;
		}
	}
	rc = insert_row(ob, kind, priority, time_ms, 0, payload, payload_len,
			&seq);
	if (rc != 0) {
		goto fail;
	}
	rc = store_commit(ob->st);
	if (rc != 0) {
		goto fail;
	}
	ob->rows = ob->rows - d.rows_removed + d.rows_added + 1;
	ob->bytes =
	    (uint64_t)((int64_t)(ob->bytes - d.bytes_removed) + d.bytes_added) +
	    need;
	ob->handed_live -= d.handed_removed;
	ob->st_cnt.dropped += d.dropped;
	ob->st_cnt.put++;
	if (d.dropped > 0) {
		log_warn("outbox full (%" PRIu64 " bytes): dropped %" PRIu64
			 " oldest low-priority events",
			 ob->cfg.max_bytes, d.dropped);
	}
	if (event_id != NULL) {
		*event_id = seq;
	}
	return 0;
fail:
	store_rollback(ob->st);
	return rc;
}

static void refill(struct outbox *ob, uint64_t now_ms)
{
	if (!ob->tokens_init) {
		ob->tokens = ob->cfg.burst;
		ob->tokens_ms = now_ms;
		ob->tokens_init = true;
		return;
	}
	if (now_ms > ob->tokens_ms) {
		ob->tokens += (double)(now_ms - ob->tokens_ms) *
			      ob->cfg.rate_per_s / 1000.0;
		if (ob->tokens > ob->cfg.burst) {
			ob->tokens = ob->cfg.burst;
		}
		ob->tokens_ms = now_ms;
	}
}

uint64_t outbox_ready_ms(const struct outbox *ob, uint64_t now_ms)
{
	if (ob->cfg.rate_per_s <= 0 || !ob->tokens_init) {
		return now_ms;
	}
	double have = ob->tokens;
	if (now_ms > ob->tokens_ms) {
		have += (double)(now_ms - ob->tokens_ms) * ob->cfg.rate_per_s /
			1000.0;
	}
	if (have >= 1.0) {
		return now_ms;
	}
	return now_ms + 1 +
	       (uint64_t)((1.0 - have) * 1000.0 / ob->cfg.rate_per_s);
}

uint64_t outbox_pending(const struct outbox *ob)
{
	return ob->rows - ob->handed_live;
}

int outbox_next(struct outbox *ob, uint64_t now_ms, struct outbox_event *ev)
{
	sqlite3_stmt *q;
	int rc;

	memset(ev, 0, sizeof(*ev));
	if (outbox_pending(ob) == 0) {
		return -ENOENT;
	}
	if (ob->cfg.rate_per_s > 0) {
		refill(ob, now_ms);
		if (ob->tokens < 1.0) {
			ob->st_cnt.rate_limited++;
			return -EAGAIN;
		}
	}
	q = store_stmt(ob->st, SQL_NEXT);
	if (q == NULL) {
		return -EIO;
	}
	sqlite3_bind_int64(q, 1, (int64_t)ob->cursor);
	rc = sqlite3_step(q);
	if (rc != SQLITE_ROW) {
		sqlite3_reset(q);
		if (rc == SQLITE_DONE) {
			/* counters out of step with the table: resync */
			log_warn("outbox count drifted; resynchronising");
			ob->handed_live = ob->rows;
			return -ENOENT;
		}
		return db_err(ob, rc, "reading the next event");
	}
	ev->event_id = (uint64_t)sqlite3_column_int64(q, 0);
	ev->kind = (enum uplink_event_kind)sqlite3_column_int(q, 1);
	ev->priority = (uint32_t)sqlite3_column_int(q, 2);
	ev->time_ms = (uint64_t)sqlite3_column_int64(q, 3);
	ev->historical = sqlite3_column_int(q, 4) != 0;
	ev->dropped = (uint64_t)sqlite3_column_int64(q, 5);
	int n = sqlite3_column_bytes(q, 6);
	const void *p = sqlite3_column_blob(q, 6);
	if (n < 0 || (size_t)n > UPLINK_PAYLOAD_MAX || (n > 0 && p == NULL)) {
		sqlite3_reset(q);
		log_error("event %" PRIu64 " has a bad payload; skipping",
			  ev->event_id);
		ob->cursor = ev->event_id;
		ob->handed_live++;
		return -EBADMSG;
	}
	ev->payload = malloc(n > 0 ? (size_t)n : 1);
	if (ev->payload == NULL) {
		sqlite3_reset(q);
		return -ENOMEM;
	}
	if (n > 0) {
		memcpy(ev->payload, p, (size_t)n);
	}
	ev->payload_len = (size_t)n;
	sqlite3_reset(q);
	ob->cursor = ev->event_id;
	ob->handed_live++;
	ob->st_cnt.handed++;
	if (ob->cfg.rate_per_s > 0) {
		ob->tokens -= 1.0;
	}
	return 0;
}

int outbox_ack(struct outbox *ob, uint64_t event_id)
{
	int64_t len = row_len(ob, event_id);
	int rc;
	if (len == -ENOENT) {
		return 0;
	}
	if (len < 0) {
		return (int)len;
	}
	rc = delete_row(ob, event_id);
	if (rc != 0) {
		return rc;
	}
	ob->rows--;
	ob->bytes -= (uint64_t)len + OUTBOX_ROW_OVERHEAD;
	if (event_id <= ob->cursor) {
		ob->handed_live--;
	}
	ob->st_cnt.acked++;
	return 0;
}

int outbox_ack_many(struct outbox *ob, const uint64_t *event_ids, size_t n)
{
	int rc;
	if (n == 0) {
		return 0;
	}
	if (n == 1) {
		return outbox_ack(ob, event_ids[0]);
	}
	/* one transaction: the in-memory counters follow only a commit */
	struct outbox saved = *ob;
	rc = store_begin(ob->st);
	if (rc != 0) {
		return rc;
	}
	for (size_t i = 0; i < n; i++) {
		rc = outbox_ack(ob, event_ids[i]);
		if (rc != 0) {
			goto fail;
		}
	}
	rc = store_commit(ob->st);
	if (rc == 0) {
		return 0;
	}
fail:
	store_rollback(ob->st);
	*ob = saved;
	return rc;
}

void outbox_rewind(struct outbox *ob)
{
	ob->cursor = 0;
	ob->handed_live = 0;
}

void outbox_stats(const struct outbox *ob, struct outbox_stats *out)
{
	*out = ob->st_cnt;
	out->queued = ob->rows;
	out->bytes = ob->bytes;
	out->max_bytes = ob->cfg.max_bytes;
}

void outbox_event_fini(struct outbox_event *ev)
{
	if (ev == NULL) {
		return;
	}
	free(ev->payload);
	memset(ev, 0, sizeof(*ev));
}
