/* readers.h -- SQLite reads off the loop: a small pool of threads, each
 * with a read-only connection of its own, running queries under a time
 * limit.
 *
 * The loop hands over a job (a function to run against a connection, and
 * a callback); a free thread runs it, and the callback runs on the loop
 * with the outcome. A query that runs past the pool's time limit is
 * interrupted (sqlite3_progress_handler) and fails with "took longer than
 * N ms". The database is in WAL mode, so a writer (the coordinator's own
 * or a user's) never blocks these reads. The memory's recall searches run
 * here, and the dashboard's queries in a pool of their own.
 */
#ifndef FQ_READERS_H
#define FQ_READERS_H

#include <stddef.h>

#include <uv.h>

struct sqlite3;

typedef struct fq_readers fq_readers;

/* Runs on a reader thread: 0, or -1 with the reason in err. */
typedef int (*fq_read_fn)(struct sqlite3 *db, void *data, char *err, size_t errlen);
/* Runs on the loop once the job is done (rc and err as fn left them), or
 * on the reader's thread for a pool without a loop. */
typedef void (*fq_read_done)(int rc, const char *err, void *data);

/* Starts threads readers on db_path, each query limited to time_limit_ms.
 * loop may be NULL: done then runs on the reader thread (job_queue.h).
 * Returns NULL with the reason in err. */
fq_readers *fq_readers_start(uv_loop_t *loop, const char *db_path, int threads,
                             int time_limit_ms, char *err, size_t errlen);

/* Hands a job over. Returns 0, or -1 when out of memory (nothing runs). */
int fq_readers_submit(fq_readers *r, fq_read_fn fn, fq_read_done done, void *data);

/* Jobs handed over and not yet reported. */
int fq_readers_busy(const fq_readers *r);

/* Waits for the threads (a running query ends within the time limit),
 * then closes the async handle; jobs not started are reported with rc -1
 * ("the coordinator is stopping") on the way. */
void fq_readers_stop(fq_readers *r);

#endif
