/*
 * The outbox's reader: its own connection to events.db.
 */
#include "vigil/outbox.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "sink/sink_internal.h"

struct vg_outbox {
    vg_context *ctx;
    sqlite3 *db;
    sqlite3_stmt *st_next, *st_delete, *st_count;
    char path[512];
    char errmsg[256];
};

__attribute__((format(printf, 3, 4))) static int
set_err(vg_outbox *ob, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ob->errmsg, sizeof(ob->errmsg), fmt, ap);
    va_end(ap);
    return code;
}

int vg_outbox_open(vg_context *ctx, const char *db_path, int busy_ms,
                   vg_outbox **out)
{
    vg_outbox *ob;
    int rc;

    if (!out)
        return vg_fail(ctx, VG_EINVAL, "vg_outbox_open: out is NULL");
    *out = NULL;
    if (!db_path || !db_path[0])
        return vg_fail(ctx, VG_EINVAL, "vg_outbox_open: no database path");
    if (access(db_path, F_OK) != 0)
        return vg_fail(ctx, VG_ENOENT, "%s: no event store there", db_path);
    ob = vg_calloc(ctx, 1, sizeof(*ob));
    if (!ob)
        return vg_fail(ctx, VG_ENOMEM, "%s: out of memory", db_path);
    ob->ctx = ctx;
    snprintf(ob->path, sizeof(ob->path), "%s", db_path);
    rc = sqlite3_open_v2(db_path, &ob->db,
                         SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW, NULL);
    if (rc != SQLITE_OK) {
        rc = vg_fail(ctx, vgi_sqlite_code(rc), "%s: cannot open: %s", db_path,
                     ob->db ? sqlite3_errmsg(ob->db) : sqlite3_errstr(rc));
        goto fail;
    }
    sqlite3_busy_timeout(ob->db, busy_ms > 0 ? busy_ms : 100);
    rc = sqlite3_prepare_v3(ob->db,
                            "SELECT id, event_id, created_ms, topic, payload "
                            "FROM outbox WHERE id > ? ORDER BY id LIMIT 1",
                            -1, SQLITE_PREPARE_PERSISTENT, &ob->st_next, NULL);
    if (rc == SQLITE_OK)
        rc =
            sqlite3_prepare_v3(ob->db, "DELETE FROM outbox WHERE id <= ?", -1,
                               SQLITE_PREPARE_PERSISTENT, &ob->st_delete, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v3(ob->db, "SELECT count(*) FROM outbox", -1,
                                SQLITE_PREPARE_PERSISTENT, &ob->st_count, NULL);
    if (rc != SQLITE_OK) {
        int code = vgi_sqlite_code(rc);
        rc = vg_fail(ctx, code == VG_EIO ? VG_EFORMAT : code,
                     "%s: no outbox (not a vigil event store of schema 2 "
                     "or later?): %s",
                     db_path, sqlite3_errmsg(ob->db));
        goto fail;
    }
    *out = ob;
    return 0;
fail:
    vg_outbox_close(&ob);
    return rc;
}

static void copy_text(sqlite3_stmt *st, int col, char *dst, size_t cap,
                      size_t *len)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    size_t n = t ? (size_t)sqlite3_column_bytes(st, col) : 0;
    if (n >= cap)
        n = cap - 1;
    if (n)
        memcpy(dst, t, n);
    dst[n] = '\0';
    if (len)
        *len = n;
}

int vg_outbox_next(vg_outbox *ob, int64_t after_id, vg_outbox_row *row)
{
    sqlite3_stmt *st;
    int rc, ret;

    if (!ob || !row)
        return VG_EINVAL;
    st = ob->st_next;
    sqlite3_bind_int64(st, 1, after_id);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        row->id = sqlite3_column_int64(st, 0);
        row->event_id = sqlite3_column_int64(st, 1);
        row->created_ms = sqlite3_column_int64(st, 2);
        copy_text(st, 3, row->topic, sizeof(row->topic), NULL);
        copy_text(st, 4, row->payload, sizeof(row->payload), &row->payload_len);
        ret = 1;
    } else if (rc == SQLITE_DONE) {
        ret = 0;
    } else {
        ret = set_err(ob, vgi_sqlite_code(rc), "%s: reading the outbox: %s",
                      ob->path, sqlite3_errmsg(ob->db));
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return ret;
}

int vg_outbox_mark_published(vg_outbox *ob, int64_t id)
{
    int rc;

    if (!ob)
        return VG_EINVAL;
    sqlite3_bind_int64(ob->st_delete, 1, id);
    rc = sqlite3_step(ob->st_delete);
    sqlite3_reset(ob->st_delete);
    sqlite3_clear_bindings(ob->st_delete);
    if (rc != SQLITE_DONE)
        return set_err(ob, vgi_sqlite_code(rc),
                       "%s: marking outbox row %lld: %s", ob->path,
                       (long long)id, sqlite3_errmsg(ob->db));
    return 0;
}

int64_t vg_outbox_count(vg_outbox *ob)
{
    int64_t n;
    int rc;

    if (!ob)
        return VG_EINVAL;
    rc = sqlite3_step(ob->st_count);
    n = rc == SQLITE_ROW ? sqlite3_column_int64(ob->st_count, 0)
                         : set_err(ob, vgi_sqlite_code(rc), "%s: counting: %s",
                                   ob->path, sqlite3_errmsg(ob->db));
    sqlite3_reset(ob->st_count);
    return n;
}

const char *vg_outbox_errmsg(const vg_outbox *ob)
{
    return ob ? ob->errmsg : "";
}

void vg_outbox_close(vg_outbox **obp)
{
    vg_outbox *ob;

    if (!obp || !*obp)
        return;
    ob = *obp;
    *obp = NULL;
    sqlite3_finalize(ob->st_next);
    sqlite3_finalize(ob->st_delete);
    sqlite3_finalize(ob->st_count);
    if (ob->db)
        sqlite3_close(ob->db);
    vg_free(ob->ctx, ob);
}
