/* sqlite_errno.h: one mapping of SQLite result codes to negative errno values, shared by every
 * module that talks to the journal, so a full disk reads as -ENOSPC and a
 * read-only journal as -EROFS wherever it is detected.
 */
#ifndef TS_SQLITE_ERRNO_H
#define TS_SQLITE_ERRNO_H

/* 0 for SQLITE_OK/ROW/DONE; -ENOSPC (FULL), -EROFS (READONLY), -EBUSY (BUSY,
 * LOCKED), -EINVAL (CONSTRAINT), -ENOMEM (NOMEM), -EPROTO (NOTADB), -EIO for
 * anything else. Extended result codes are reduced to their primary code. */
int sqlite_errno(int rc);

#endif
