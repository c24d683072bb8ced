/* Internal to the sink module: what the event store and its outbox share. */
#ifndef VIGIL_SINK_INTERNAL_H
#define VIGIL_SINK_INTERNAL_H

/* The vigil error code of an SQLite result code (extended codes accepted):
 * VG_ENOMEM, VG_EFORMAT (not a database, corrupt), VG_EBUSY (busy,
 * locked), VG_ENOSPC (full), else VG_EIO. */
int vgi_sqlite_code(int sqlite_rc);

#endif
