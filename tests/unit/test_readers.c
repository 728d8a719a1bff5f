/* test_readers.c -- unit tests of the SQLite reader pool
 * (coordinator/readers.c), on a real database file in WAL mode and a real
 * libuv loop.
 *
 * A read returns its result on the loop; a query that runs past the time
 * limit is stopped and says so; reads go on while another connection holds
 * a write transaction (WAL); stopping reports the jobs not started.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>
#include <uv.h>

#include "readers.h"
#include "timeutil.h"

typedef struct fixture {
    char dir[64];
    char path[128];
    sqlite3 *writer;
} fixture;

typedef struct outcome {
    _Atomic int started;     /* set by the job on its thread */
    int calls;
    int rc;
    char err[300];
    long long value;
} outcome;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    snprintf(f->dir, sizeof(f->dir), "/tmp/fq-readers-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof(f->path), "%s/t.db", f->dir);
    assert_int_equal(sqlite3_open(f->path, &f->writer), SQLITE_OK);
    assert_int_equal(sqlite3_exec(f->writer, "PRAGMA journal_mode = WAL;"
                                  "CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1), (2), (3);",
                                  NULL, NULL, NULL), SQLITE_OK);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    sqlite3_close(f->writer);
    char cmd[200];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

/* Runs one statement and keeps its first column of the first row. */
static int run_sql(struct sqlite3 *db, const char *sql, long long *value, char *err,
                   size_t errlen)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        *value = sqlite3_column_int64(st, 0);
        rc = SQLITE_OK;
    }
    if (rc != SQLITE_OK)
        snprintf(err, errlen, "%s", sqlite3_errmsg(db));
    sqlite3_finalize(st);
    return rc == SQLITE_OK ? 0 : -1;
}


static int count_rows(struct sqlite3 *db, void *data, char *err, size_t errlen)
{
    return run_sql(db, "SELECT count(*) FROM t", &((outcome *)data)->value, err, errlen);
}

static int endless(struct sqlite3 *db, void *data, char *err, size_t errlen)
{
    ((outcome *)data)->started = 1;
    return run_sql(db, "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) "
                   "SELECT count(*) FROM c", &((outcome *)data)->value, err, errlen);
}

/* Holds its thread until released (by another thread), without a query:
 * a job still running when the pool is stopped. */
static _Atomic int released;

static int held(struct sqlite3 *db, void *data, char *err, size_t errlen)
{
    (void)db;
    ((outcome *)data)->started = 1;
    while (!released)
        usleep(1000);
    snprintf(err, errlen, "released");
    return -1;
}

static void release_later(void *arg)
{
    (void)arg;
    usleep(1000000);   /* the pool's stop has begun by then: its thread is asleep */
    released = 1;
}

static void on_done(int rc, const char *err, void *data)
{
    outcome *o = data;
    o->calls++;
    o->rc = rc;
    snprintf(o->err, sizeof(o->err), "%s", err);
}

/* Runs the loop until o has been reported (at most 10 s). */
static void wait_for(uv_loop_t *loop, outcome *o)
{
    int64_t until = fq_mono_ms() + 10000;
    while (o->calls == 0 && fq_mono_ms() < until)
        uv_run(loop, UV_RUN_ONCE);
}

static fq_readers *start(uv_loop_t *loop, const fixture *f, int threads, int limit_ms)
{
    char err[300];
    fq_readers *r = fq_readers_start(loop, f->path, threads, limit_ms, err, sizeof(err));
    if (r == NULL)
        fail_msg("fq_readers_start: %s", err);
    return r;
}

static void finish(uv_loop_t *loop, fq_readers *r)
{
    fq_readers_stop(r);
    uv_run(loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(loop), 0);
}

static void test_read_returns_on_the_loop(void **state)
{
    fixture *f = *state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    fq_readers *r = start(&loop, f, 2, 2000);
    outcome o = {0};
    assert_int_equal(fq_readers_submit(r, count_rows, on_done, &o), 0);
    assert_true(fq_readers_busy(r));
    wait_for(&loop, &o);
    assert_int_equal(o.calls, 1);
    assert_int_equal(o.rc, 0);
    assert_int_equal(o.value, 3);
    assert_false(fq_readers_busy(r));
    finish(&loop, r);
}

static void test_time_limit_stops_a_query(void **state)
{
    fixture *f = *state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    fq_readers *r = start(&loop, f, 2, 200);
    outcome o = {0};
    int64_t t0 = fq_mono_ms();
    assert_int_equal(fq_readers_submit(r, endless, on_done, &o), 0);
    wait_for(&loop, &o);
    int64_t ms = fq_mono_ms() - t0;
    assert_int_equal(o.calls, 1);
    assert_int_equal(o.rc, -1);
    assert_non_null(strstr(o.err, "took longer than 200 ms"));
    assert_true(ms >= 200 && ms < 3000);
    /* the thread is free again */
    outcome o2 = {0};
    assert_int_equal(fq_readers_submit(r, count_rows, on_done, &o2), 0);
    wait_for(&loop, &o2);
    assert_int_equal(o2.rc, 0);
    assert_int_equal(o2.value, 3);
    finish(&loop, r);
}

static void test_reads_go_on_under_a_write_lock(void **state)
{
    fixture *f = *state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    fq_readers *r = start(&loop, f, 2, 1000);
    assert_int_equal(sqlite3_exec(f->writer, "BEGIN IMMEDIATE; INSERT INTO t VALUES (4);", NULL,
                                  NULL, NULL), SQLITE_OK);
    outcome o = {0};
    assert_int_equal(fq_readers_submit(r, count_rows, on_done, &o), 0);
    wait_for(&loop, &o);
    assert_int_equal(o.rc, 0);
    assert_int_equal(o.value, 3);   /* the committed state */
    assert_int_equal(sqlite3_exec(f->writer, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    finish(&loop, r);
}

static void test_stop_reports_jobs_not_started(void **state)
{
    fixture *f = *state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    fq_readers *r = start(&loop, f, 1, 3000);
    outcome slow = {0}, queued = {0};
    released = 0;
    fq_readers_submit(r, held, on_done, &slow);
    fq_readers_submit(r, count_rows, on_done, &queued);
    int64_t until = fq_mono_ms() + 10000;
    while (!slow.started && fq_mono_ms() < until)   /* the one thread is in its job */
        usleep(1000);
    assert_true(slow.started);
    uv_thread_t releaser;
    assert_int_equal(uv_thread_create(&releaser, release_later, NULL), 0);
    fq_readers_stop(r);   /* returns once the held job is released */
    uv_thread_join(&releaser);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(slow.calls + queued.calls, 2);
    assert_int_equal(slow.rc, -1);
    assert_int_equal(queued.rc, -1);
    assert_non_null(strstr(queued.err, "stopping"));
    assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_read_returns_on_the_loop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_time_limit_stops_a_query, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reads_go_on_under_a_write_lock, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_reports_jobs_not_started, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
