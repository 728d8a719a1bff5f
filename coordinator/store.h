/* store.h -- the SQLite result store (the coordinator is its one writer).
 *
 * fq_store_open() opens the file in WAL mode with a busy timeout, applies
 * the migrations embedded from schema/ in order (PRAGMA user_version, each
 * in its own transaction), and prepares every statement once. Writes come
 * in batches: fq_store_begin() (BEGIN IMMEDIATE), any number of puts,
 * fq_store_commit(). Puts are upserts keyed by task id and (task_id, n), so
 * replaying a batch after a crash writes nothing twice.
 */
#ifndef FQ_STORE_H
#define FQ_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "record.h"

typedef struct fq_store fq_store;

/* Returns NULL with a reason in err on failure. */
fq_store *fq_store_open(const char *path, char *err, size_t errlen);
void fq_store_close(fq_store *s);

/* The schema version after migrations (PRAGMA user_version). */
int fq_store_version(fq_store *s);

/* Each returns 0, or -1 with sqlite's message available from
 * fq_store_error(). */
int fq_store_begin(fq_store *s);
int fq_store_commit(fq_store *s);
void fq_store_rollback(fq_store *s);
int fq_store_put_final(fq_store *s, const fq_final_record *r);
int fq_store_put_attempt(fq_store *s, const fq_attempt_record *r);

/* Deletes the rows of at most limit tasks that ended before before_ms
 * (epoch ms), the oldest first, with their attempts, in one transaction
 * (FLEETQ_RETAIN_DAYS). Returns the number of task rows deleted, or -1. */
int fq_store_prune(fq_store *s, int64_t before_ms, int limit);

/* 0 when the database answers a trivial query, -1 otherwise. */
int fq_store_ping(fq_store *s);

/* Records the id of the fleet the database belongs to, unless it has one
 * already (lease.c reads it, on a reader thread). */
int fq_store_set_fleet(fq_store *s, const char *id);

const char *fq_store_error(fq_store *s);
/* 1 when the last failure was the database being busy or locked (by
 * another connection): the write may succeed later, nothing refused it. */
int fq_store_was_busy(const fq_store *s);

#endif
