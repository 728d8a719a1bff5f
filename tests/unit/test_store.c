/* test_store.c -- unit tests of the SQLite result store (coordinator/store.c).
 *
 * Every test gets a fresh temporary directory and works on a real database
 * file there. The store writes; a second, independent sqlite3 connection
 * reads back what landed on disk (schema, user_version, rows, views), the
 * way an operator with the sqlite3 shell would see it.
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

#include "embedded.h"
#include "record.h"
#include "fq_shared.h"
#include "store.h"

/* 2026-11-23T12:00:00.000Z */
#define T0 INT64_C(1795435200000)

typedef struct fixture {
    char dir[256];
    char path[300];
} fixture;

/* ------------------------------------------------------------------ */
/* Helpers                                                             */
/* ------------------------------------------------------------------ */

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    const char *tmp = getenv("TMPDIR");
    snprintf(f->dir, sizeof(f->dir), "%s/fq_store_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof(f->path), "%s/fleetq.db", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    static const char *const suffix[] = { "", "-wal", "-shm", "-journal" };
    char p[320];
    for (size_t i = 0; i < sizeof(suffix) / sizeof(suffix[0]); i++) {
        snprintf(p, sizeof(p), "%s%s", f->path, suffix[i]);
        unlink(p);
    }
    snprintf(p, sizeof(p), "%s/junk", f->dir);
    unlink(p);
    rmdir(f->dir);
    free(f);
    return 0;
}

/* The newest migration this build embeds. */
static int latest_migration(void)
{
    int n = 0;
    for (const fq_embedded *e = fq_sql_files; e->name; e++)
        n = atoi(e->name);
    return n;
}

static fq_store *open_ok(const fixture *f)
{
    char err[512] = "";
    fq_store *s = fq_store_open(f->path, err, sizeof(err));
    if (!s)
        fail_msg("fq_store_open: %s", err);
    return s;
}

/* A reading connection of the test's own. */
static sqlite3 *peek(const fixture *f)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(f->path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    sqlite3_busy_timeout(db, 2000);
    return db;
}

static sqlite3_stmt *prep(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        fail_msg("prepare %s: %s", sql, sqlite3_errmsg(db));
    return st;
}

__attribute__((format(printf, 2, 3)))
static int64_t query_int(sqlite3 *db, const char *fmt, ...)
{
    char sql[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof(sql), fmt, ap);
    va_end(ap);
    sqlite3_stmt *st = prep(db, sql);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

static void exec_ok(sqlite3 *db, const char *sql)
{
    if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(db));
}

/* Column checks: a NULL expectation means SQL NULL. */
static void col_text(sqlite3_stmt *st, int i, const char *want)
{
    if (!want) {
        if (sqlite3_column_type(st, i) != SQLITE_NULL)
            fail_msg("column %s: want NULL, got %s", sqlite3_column_name(st, i),
                     sqlite3_column_text(st, i));
        return;
    }
    if (sqlite3_column_type(st, i) != SQLITE_TEXT)
        fail_msg("column %s: want text '%s', got type %d", sqlite3_column_name(st, i),
                 want, sqlite3_column_type(st, i));
    assert_string_equal((const char *)sqlite3_column_text(st, i), want);
}

static void col_int(sqlite3_stmt *st, int i, int64_t want)
{
    if (sqlite3_column_type(st, i) != SQLITE_INTEGER)
        fail_msg("column %s: want integer %lld, got type %d", sqlite3_column_name(st, i),
                 (long long)want, sqlite3_column_type(st, i));
    assert_int_equal(sqlite3_column_int64(st, i), want);
}

static void col_null(sqlite3_stmt *st, int i)
{
    if (sqlite3_column_type(st, i) != SQLITE_NULL)
        fail_msg("column %s: want NULL, got type %d", sqlite3_column_name(st, i),
                 sqlite3_column_type(st, i));
}

static void col_real(sqlite3_stmt *st, int i, double want)
{
    if (sqlite3_column_type(st, i) != SQLITE_FLOAT)
        fail_msg("column %s: want real %.12g, got type %d", sqlite3_column_name(st, i),
                 want, sqlite3_column_type(st, i));
    double d = sqlite3_column_double(st, i) - want;
    if (d > 1e-12 || d < -1e-12)
        fail_msg("column %s: want %.12g, got %.12g", sqlite3_column_name(st, i), want,
                 sqlite3_column_double(st, i));
}

static fq_final_record final_rec(const char *id, const char *status)
{
    fq_final_record r = {
        .task_id = (char *)id,
        .role = "code",
        .priority = 3,
        .status = (char *)status,
        .model = "grok-code-fast-1",
        .prompt = "Fix this bug: print('hello world')",
        .output = "print(\"hello world\")",
        .error = NULL,
        .attempts = 2,
        .prompt_tokens = 120,
        .completion_tokens = 45,
        .reasoning_tokens = 7,
        .cached_tokens = 64,
        .cost_ticks = INT64_C(12345678900),   /* 1.23456789 USD */
        .latency_ms = 850,
        .submitted_at = T0 + 123,
        .started_at = T0 + 1005,
        .finished_at = T0 + 3450,
        .worker = "host-a:4242",
    };
    return r;
}

static fq_attempt_record attempt_rec(const char *id, int64_t n, const char *outcome)
{
    fq_attempt_record r = {
        .task_id = (char *)id,
        .n = n,
        .http_status = strcmp(outcome, "ok") == 0 ? 200 : 429,
        .outcome = (char *)outcome,
        .error = strcmp(outcome, "ok") == 0 ? NULL : "rate limited: slow down",
        .latency_ms = 300 + n,
        .started_at = T0 + 1000 * n + 5,
        .worker = "host-a:4242",
    };
    return r;
}

/* The batch the coordinator would write for one task: two attempts (one
 * rate limited, one good) and the final row. */
static void write_batch(fq_store *s, const char *id)
{
    fq_attempt_record a1 = attempt_rec(id, 1, "rate_limited");
    fq_attempt_record a2 = attempt_rec(id, 2, "ok");
    fq_final_record fr = final_rec(id, "done");
    assert_int_equal(fq_store_begin(s), 0);
    assert_int_equal(fq_store_put_attempt(s, &a1), 0);
    assert_int_equal(fq_store_put_attempt(s, &a2), 0);
    assert_int_equal(fq_store_put_final(s, &fr), 0);
    assert_int_equal(fq_store_commit(s), 0);
}

static void put_one_final(fq_store *s, const fq_final_record *r)
{
    assert_int_equal(fq_store_begin(s), 0);
    if (fq_store_put_final(s, r) != 0)
        fail_msg("put_final: %s", fq_store_error(s));
    assert_int_equal(fq_store_commit(s), 0);
}

/* ------------------------------------------------------------------ */
/* Opening and migrations                                              */
/* ------------------------------------------------------------------ */

static void test_fresh_open_creates_schema(void **state)
{
    fixture *f = *state;
    int latest = latest_migration();
    assert_true(latest >= 1);

    fq_store *s = open_ok(f);
    assert_int_equal(fq_store_version(s), latest);
    assert_int_equal(fq_store_ping(s), 0);

    sqlite3 *db = peek(f);
    assert_int_equal(query_int(db, "PRAGMA user_version"), latest);
    assert_int_equal(query_int(db, "SELECT count(*) FROM sqlite_schema WHERE type = 'table'"
                               " AND name IN ('tasks', 'attempts')"), 2);
    assert_int_equal(query_int(db, "SELECT count(*) FROM sqlite_schema WHERE type = 'view'"
                               " AND name IN ('usage_daily', 'errors')"), 2);
    assert_int_equal(query_int(db, "SELECT count(*) FROM sqlite_schema WHERE type = 'index'"
                               " AND name IN ('tasks_status', 'tasks_role_finished',"
                               " 'tasks_finished', 'attempts_started')"), 4);
    assert_int_equal(query_int(db, "SELECT count(*) FROM pragma_table_list"
                               " WHERE name IN ('tasks', 'attempts') AND strict = 1"), 2);
    /* The columns of `tasks` are the final record's fields (shared.def, as
     * the Lua prelude builds the record) with the id and cost_usd. */
    assert_int_equal(query_int(db, "SELECT count(*) FROM pragma_table_info('tasks')"),
                     FQ_FINAL_FIELDS_COUNT + 2);
    for (int i = 0; i < FQ_FINAL_FIELDS_COUNT; i++) {
        if (query_int(db, "SELECT count(*) FROM pragma_table_info('tasks') WHERE name = '%s'",
                      fq_final_fields[i]) != 1)
            fail_msg("the tasks table has no column %s (shared.def's FINAL_FIELDS)",
                     fq_final_fields[i]);
    }
    /* STRICT: a word where a number belongs is refused. */
    assert_int_not_equal(sqlite3_exec(db, "INSERT INTO tasks (id, status, attempts)"
                                      " VALUES ('x', 'done', 'many')", NULL, NULL, NULL),
                         SQLITE_OK);
    /* The status CHECK holds. */
    assert_int_not_equal(sqlite3_exec(db, "INSERT INTO tasks (id, status)"
                                      " VALUES ('x', 'queued')", NULL, NULL, NULL),
                         SQLITE_OK);

    /* WAL is a property of the file, visible to every connection. */
    sqlite3_stmt *st = prep(db, "PRAGMA journal_mode");
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);

    sqlite3_close(db);
    fq_store_close(s);
}

static void test_reopen_applies_nothing_twice(void **state)
{
    fixture *f = *state;
    fq_store *s = open_ok(f);
    write_batch(s, "t-keep");
    fq_store_close(s);

    sqlite3 *db = peek(f);
    int64_t objects = query_int(db, "SELECT count(*) FROM sqlite_schema");
    sqlite3_close(db);

    s = open_ok(f);
    assert_int_equal(fq_store_version(s), latest_migration());
    fq_store_close(s);
    s = open_ok(f);
    fq_store_close(s);

    db = peek(f);
    assert_int_equal(query_int(db, "SELECT count(*) FROM sqlite_schema"), objects);
    assert_int_equal(query_int(db, "PRAGMA user_version"), latest_migration());
    assert_int_equal(query_int(db, "SELECT count(*) FROM tasks WHERE id = 't-keep'"), 1);
    assert_int_equal(query_int(db, "SELECT count(*) FROM attempts"), 2);
    sqlite3_close(db);
}

static void test_failed_migration_is_reported_and_rolled_back(void **state)
{
    fixture *f = *state;
    fq_store_close(open_ok(f));

    /* Pretend nothing was applied: 001 runs again and meets its own
     * tables, which must fail loudly, name the file and change nothing. */
    sqlite3 *db = peek(f);
    exec_ok(db, "PRAGMA user_version = 0");
    int64_t objects = query_int(db, "SELECT count(*) FROM sqlite_schema");
    sqlite3_close(db);

    char err[512] = "";
    fq_store *s = fq_store_open(f->path, err, sizeof(err));
    assert_null(s);
    assert_non_null(strstr(err, f->path));
    assert_non_null(strstr(err, fq_sql_files[0].name));
    assert_non_null(strstr(err, "already exists"));

    db = peek(f);
    assert_int_equal(query_int(db, "PRAGMA user_version"), 0);
    assert_int_equal(query_int(db, "SELECT count(*) FROM sqlite_schema"), objects);
    sqlite3_close(db);
}

static void test_newer_schema_is_refused(void **state)
{
    fixture *f = *state;
    int latest = latest_migration();
    int newer = latest + 6;

    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    char sql[64];
    snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", newer);
    exec_ok(db, sql);
    sqlite3_close(db);

    char err[512] = "", want[512];
    fq_store *s = fq_store_open(f->path, err, sizeof(err));
    assert_null(s);
    snprintf(want, sizeof(want), "%s has schema version %d; this fleetq knows up to %d: "
             "upgrade fleetq", f->path, newer, latest);
    assert_string_equal(err, want);

    /* Nothing was written to it. */
    db = peek(f);
    assert_int_equal(query_int(db, "PRAGMA user_version"), newer);
    assert_int_equal(query_int(db, "SELECT count(*) FROM sqlite_schema"), 0);
    sqlite3_close(db);
}

static void test_open_errors_name_the_path(void **state)
{
    fixture *f = *state;
    char err[512] = "", bad[320];

    snprintf(bad, sizeof(bad), "%s/no/such/dir/fleetq.db", f->dir);
    assert_null(fq_store_open(bad, err, sizeof(err)));
    assert_non_null(strstr(err, bad));
    assert_non_null(strstr(err, "/no/such/dir: No such file or directory"));

    snprintf(bad, sizeof(bad), "%s/junk", f->dir);
    FILE *fp = fopen(bad, "w");
    assert_non_null(fp);
    for (int i = 0; i < 200; i++)
        fputs("this is not an SQLite database file at all\n", fp);
    fclose(fp);
    err[0] = '\0';
    assert_null(fq_store_open(bad, err, sizeof(err)));
    assert_non_null(strstr(err, bad));
    assert_non_null(strstr(err, "not a database"));
}

/* ------------------------------------------------------------------ */
/* Writing                                                             */
/* ------------------------------------------------------------------ */

static void test_batch_round_trip(void **state)
{
    fixture *f = *state;
    fq_store *s = open_ok(f);
    write_batch(s, "plan-42");
    fq_store_close(s);

    sqlite3 *db = peek(f);
    sqlite3_stmt *st = prep(db,
        "SELECT id, role, priority, status, model, prompt, output, error, attempts,"
        " prompt_tokens, completion_tokens, reasoning_tokens, cached_tokens, cost_usd,"
        " cost_ticks, latency_ms, submitted_at, started_at, finished_at, worker"
        " FROM tasks");
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    col_text(st, 0, "plan-42");
    col_text(st, 1, "code");
    col_int(st, 2, 3);
    col_text(st, 3, "done");
    col_text(st, 4, "grok-code-fast-1");
    col_text(st, 5, "Fix this bug: print('hello world')");
    col_text(st, 6, "print(\"hello world\")");
    col_null(st, 7);
    col_int(st, 8, 2);
    col_int(st, 9, 120);
    col_int(st, 10, 45);
    col_int(st, 11, 7);
    col_int(st, 12, 64);
    col_real(st, 13, 1.23456789);
    col_int(st, 14, INT64_C(12345678900));
    col_int(st, 15, 850);
    col_text(st, 16, "2026-11-23T12:00:00.123Z");
    col_text(st, 17, "2026-11-23T12:00:01.005Z");
    col_text(st, 18, "2026-11-23T12:00:03.450Z");
    col_text(st, 19, "host-a:4242");
    assert_int_equal(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);

    st = prep(db, "SELECT task_id, n, http_status, outcome, error, latency_ms, started_at,"
              " worker FROM attempts ORDER BY n");
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    col_text(st, 0, "plan-42");
    col_int(st, 1, 1);
    col_int(st, 2, 429);
    col_text(st, 3, "rate_limited");
    col_text(st, 4, "rate limited: slow down");
    col_int(st, 5, 301);
    col_text(st, 6, "2026-11-23T12:00:01.005Z");
    col_text(st, 7, "host-a:4242");
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    col_int(st, 1, 2);
    col_int(st, 2, 200);
    col_text(st, 3, "ok");
    col_null(st, 4);
    col_int(st, 5, 302);
    col_text(st, 6, "2026-11-23T12:00:02.005Z");
    assert_int_equal(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);
    sqlite3_close(db);
}

static void test_unknowns_are_null(void **state)
{
    fixture *f = *state;
    fq_store *s = open_ok(f);

    /* A rejection: no role, no priority, never run, only a finish time. */
    fq_final_record r = {
        .task_id = "1795435200000-0",
        .priority = -1,
        .status = "rejected",
        .prompt = "{not json",
        .error = "json: not valid JSON",
        .latency_ms = 0,
        .finished_at = T0,
    };
    fq_attempt_record a = {
        .task_id = "t-net", .n = 1, .http_status = 0, .outcome = "network",
        .error = "connection refused", .latency_ms = 0, .started_at = 0,
    };
    assert_int_equal(fq_store_begin(s), 0);
    assert_int_equal(fq_store_put_final(s, &r), 0);
    assert_int_equal(fq_store_put_attempt(s, &a), 0);
    assert_int_equal(fq_store_commit(s), 0);
    fq_store_close(s);

    sqlite3 *db = peek(f);
    sqlite3_stmt *st = prep(db, "SELECT role, priority, model, output, attempts, cost_usd,"
                            " cost_ticks, latency_ms, submitted_at, started_at, finished_at,"
                            " worker, error FROM tasks");
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    col_null(st, 0);
    col_null(st, 1);
    col_null(st, 2);
    col_null(st, 3);
    col_int(st, 4, 0);
    col_real(st, 5, 0.0);
    col_int(st, 6, 0);
    col_null(st, 7);
    col_null(st, 8);
    col_null(st, 9);
    col_text(st, 10, "2026-11-23T12:00:00.000Z");
    col_null(st, 11);
    col_text(st, 12, "json: not valid JSON");
    sqlite3_finalize(st);

    st = prep(db, "SELECT http_status, latency_ms, started_at, worker FROM attempts");
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    col_null(st, 0);
    col_int(st, 1, 0);
    col_null(st, 2);
    col_null(st, 3);
    sqlite3_finalize(st);
    sqlite3_close(db);
}

static void test_replay_writes_nothing_twice(void **state)
{
    fixture *f = *state;
    fq_store *s = open_ok(f);
    write_batch(s, "t-1");
    write_batch(s, "t-2");
    write_batch(s, "t-1");   /* the coordinator crashed before XACK */
    write_batch(s, "t-2");

    /* A repeated attempt number keeps the first row. */
    fq_attempt_record again = attempt_rec("t-1", 1, "server_error");
    assert_int_equal(fq_store_begin(s), 0);
    assert_int_equal(fq_store_put_attempt(s, &again), 0);
    assert_int_equal(fq_store_commit(s), 0);
    fq_store_close(s);

    sqlite3 *db = peek(f);
    assert_int_equal(query_int(db, "SELECT count(*) FROM tasks"), 2);
    assert_int_equal(query_int(db, "SELECT count(*) FROM attempts"), 4);
    assert_int_equal(query_int(db, "SELECT count(*) FROM attempts WHERE task_id = 't-1'"
                               " AND n = 1 AND outcome = 'rate_limited'"), 1);
    assert_int_equal(query_int(db, "SELECT sum(cost_ticks) FROM tasks"), INT64_C(24691357800));
    sqlite3_close(db);
}

static void test_done_is_not_overwritten_by_a_late_failure(void **state)
{
    fixture *f = *state;
    fq_store *s = open_ok(f);

    fq_final_record done = final_rec("t-race", "done");
    put_one_final(s, &done);

    /* A worker that lost its lease reports a failure afterwards. */
    fq_final_record late = final_rec("t-race", "failed");
    late.output = NULL;
    late.error = "timeout after 90 s";
    late.worker = "host-b:1";
    put_one_final(s, &late);
    fq_final_record cancelled = final_rec("t-race", "cancelled");
    cancelled.output = NULL;
    put_one_final(s, &cancelled);

    sqlite3 *db = peek(f);
    assert_int_equal(query_int(db, "SELECT count(*) FROM tasks WHERE id = 't-race'"
                               " AND status = 'done' AND output IS NOT NULL"
                               " AND error IS NULL AND worker = 'host-a:4242'"), 1);
    sqlite3_close(db);

    /* The other way round, done wins over an earlier failure... */
    fq_final_record failed = final_rec("t-retry", "failed");
    failed.output = NULL;
    failed.error = "server error";
    failed.attempts = 1;
    put_one_final(s, &failed);
    fq_final_record won = final_rec("t-retry", "done");
    won.attempts = 4;
    won.worker = "host-c:7";
    put_one_final(s, &won);

    /* ...and a final state other than done replaces an earlier one. */
    fq_final_record f1 = final_rec("t-fail", "failed");
    f1.error = "first";
    put_one_final(s, &f1);
    fq_final_record f2 = final_rec("t-fail", "expired");
    f2.error = "second";
    put_one_final(s, &f2);

    /* A later done replaces an earlier done (e.g. a replay). */
    fq_final_record d2 = final_rec("t-race", "done");
    d2.output = "second answer";
    put_one_final(s, &d2);
    fq_store_close(s);

    db = peek(f);
    assert_int_equal(query_int(db, "SELECT count(*) FROM tasks WHERE id = 't-retry'"
                               " AND status = 'done' AND error IS NULL AND attempts = 4"
                               " AND worker = 'host-c:7' AND output IS NOT NULL"), 1);
    assert_int_equal(query_int(db, "SELECT count(*) FROM tasks WHERE id = 't-fail'"
                               " AND status = 'expired' AND error = 'second'"), 1);
    assert_int_equal(query_int(db, "SELECT count(*) FROM tasks WHERE id = 't-race'"
                               " AND output = 'second answer'"), 1);
    assert_int_equal(query_int(db, "SELECT count(*) FROM tasks"), 3);
    sqlite3_close(db);
}

static void test_rollback_leaves_nothing(void **state)
{
    fixture *f = *state;
    fq_store *s = open_ok(f);

    fq_attempt_record a = attempt_rec("t-rb", 1, "ok");
    fq_final_record r = final_rec("t-rb", "done");
    assert_int_equal(fq_store_begin(s), 0);
    assert_int_equal(fq_store_put_attempt(s, &a), 0);
    assert_int_equal(fq_store_put_final(s, &r), 0);
    fq_store_rollback(s);

    sqlite3 *db = peek(f);
    assert_int_equal(query_int(db, "SELECT count(*) FROM tasks"), 0);
    assert_int_equal(query_int(db, "SELECT count(*) FROM attempts"), 0);

    /* A failing put in the middle of a batch: the cause survives the
     * rollback, and the store carries on. */
    fq_final_record bad = final_rec("t-bad", "queued");
    assert_int_equal(fq_store_begin(s), 0);
    assert_int_equal(fq_store_put_attempt(s, &a), 0);
    assert_int_equal(fq_store_put_final(s, &bad), -1);
    fq_store_rollback(s);
    assert_non_null(strstr(fq_store_error(s), "CHECK constraint failed"));
    assert_non_null(strstr(fq_store_error(s), "t-bad"));
    fq_store_rollback(s);   /* nothing open: harmless */
    assert_int_equal(query_int(db, "SELECT count(*) FROM attempts"), 0);

    write_batch(s, "t-after");
    assert_int_equal(query_int(db, "SELECT count(*) FROM tasks"), 1);
    assert_int_equal(query_int(db, "SELECT count(*) FROM attempts"), 2);
    sqlite3_close(db);
    fq_store_close(s);
}

static void test_bad_records_and_misuse(void **state)
{
    fixture *f = *state;
    fq_store *s = open_ok(f);

    assert_int_equal(fq_store_begin(s), 0);
    assert_int_equal(fq_store_begin(s), -1);   /* already in a transaction */
    assert_non_null(strstr(fq_store_error(s), "within a transaction"));

    fq_final_record r = final_rec(NULL, "done");
    assert_int_equal(fq_store_put_final(s, &r), -1);
    assert_non_null(strstr(fq_store_error(s), "task id"));
    r = final_rec("t-x", NULL);
    assert_int_equal(fq_store_put_final(s, &r), -1);
    assert_non_null(strstr(fq_store_error(s), "status"));

    fq_attempt_record a = attempt_rec("t-x", 0, "ok");
    assert_int_equal(fq_store_put_attempt(s, &a), -1);
    assert_non_null(strstr(fq_store_error(s), "n >= 1"));
    a = attempt_rec("t-x", 1, "ok");
    a.outcome = NULL;
    assert_int_equal(fq_store_put_attempt(s, &a), -1);
    assert_non_null(strstr(fq_store_error(s), "outcome"));
    a.task_id = NULL;
    assert_int_equal(fq_store_put_attempt(s, &a), -1);
    assert_non_null(strstr(fq_store_error(s), "task id"));

    assert_int_equal(fq_store_commit(s), 0);
    assert_int_equal(fq_store_commit(s), -1);  /* nothing to commit */
    assert_non_null(strstr(fq_store_error(s), "no transaction"));
    assert_int_equal(fq_store_ping(s), 0);
    fq_store_close(s);
    fq_store_close(NULL);
}

/* ------------------------------------------------------------------ */
/* Views                                                               */
/* ------------------------------------------------------------------ */

static void test_usage_daily(void **state)
{
    fixture *f = *state;
    fq_store *s = open_ok(f);
    const int64_t day = INT64_C(86400000);

    struct {
        const char *id, *status, *role, *model;
        int64_t when, attempts, p, c, r, ticks;
    } rows[] = {
        { "a", "done", "code", "m1", T0, 1, 100, 10, 1, 1000000000 },
        { "b", "done", "code", "m1", T0 + 5000, 2, 200, 20, 2, 2000000000 },
        { "c", "failed", "code", "m1", T0 + 9000, 4, 50, 0, 0, 500000000 },
        { "d", "done", "code", "m2", T0, 1, 7, 3, 0, 100 },
        { "e", "done", "ceo", "m1", T0 - day, 1, 1000, 100, 10, 30000000000 },
        { "f", "rejected", "code", "m1", T0, 0, 0, 0, 0, 0 },
        { "g", "cancelled", "code", "m1", T0, 0, 0, 0, 0, 0 },
    };
    assert_int_equal(fq_store_begin(s), 0);
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        fq_final_record r = final_rec(rows[i].id, rows[i].status);
        r.role = (char *)rows[i].role;
        r.model = (char *)rows[i].model;
        r.finished_at = rows[i].when;
        r.attempts = rows[i].attempts;
        r.prompt_tokens = rows[i].p;
        r.completion_tokens = rows[i].c;
        r.reasoning_tokens = rows[i].r;
        r.cost_ticks = rows[i].ticks;
        assert_int_equal(fq_store_put_final(s, &r), 0);
    }
    assert_int_equal(fq_store_commit(s), 0);
    fq_store_close(s);

    sqlite3 *db = peek(f);
    sqlite3_stmt *st = prep(db, "SELECT day, role, model, tasks, requests, prompt_tokens,"
                            " completion_tokens, reasoning_tokens, tokens, cost_usd, cost_ticks"
                            " FROM usage_daily");
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    col_text(st, 0, "2026-11-23");
    col_text(st, 1, "code");
    col_text(st, 2, "m1");
    col_int(st, 3, 3);                 /* a, b, c; not the rejected or cancelled */
    col_int(st, 4, 7);
    col_int(st, 5, 350);
    col_int(st, 6, 30);
    col_int(st, 7, 3);
    col_int(st, 8, 383);
    col_real(st, 9, 0.35);
    col_int(st, 10, 3500000000);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    col_text(st, 0, "2026-11-23");
    col_text(st, 2, "m2");
    col_int(st, 3, 1);
    col_int(st, 8, 10);
    col_real(st, 9, 1e-8);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    col_text(st, 0, "2026-11-22");
    col_text(st, 1, "ceo");
    col_int(st, 4, 1);
    col_int(st, 8, 1110);
    col_real(st, 9, 3.0);
    assert_int_equal(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);
    sqlite3_close(db);
}

/* error_rates_hourly and latency_daily: 20 successful calls of one model
 * with latencies 10, 20, ..., 200 ms, and 5 failed ones (2 rate limited, 3
 * the provider's fault) in the same hour. */
static void test_error_and_latency_views(void **state)
{
    fixture *f = *state;
    fq_store *s = open_ok(f);
    const char *bad[] = {"rate_limited", "rate_limited", "server_error", "timeout", "network"};
    char ids[25][16];

    assert_int_equal(fq_store_begin(s), 0);
    for (int i = 0; i < 25; i++) {
        snprintf(ids[i], sizeof(ids[i]), "v-%d", i);
        fq_attempt_record a = attempt_rec(ids[i], 1, i < 20 ? "ok" : bad[i - 20]);
        a.latency_ms = 10 * (i + 1);
        a.started_at = T0 + 1000 * i;
        assert_int_equal(fq_store_put_attempt(s, &a), 0);
        fq_final_record t = final_rec(ids[i], i < 20 ? "done" : "failed");
        t.role = "code";
        t.model = "m1";
        assert_int_equal(fq_store_put_final(s, &t), 0);
    }
    assert_int_equal(fq_store_commit(s), 0);
    fq_store_close(s);

    sqlite3 *db = peek(f);
    sqlite3_stmt *st = prep(db, "SELECT hour, model, calls, errors, rate_limited,"
                            " provider_errors, error_pct FROM error_rates_hourly");
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    col_text(st, 0, "2026-11-23T12:00Z");
    col_text(st, 1, "m1");
    col_int(st, 2, 25);
    col_int(st, 3, 5);
    col_int(st, 4, 2);
    col_int(st, 5, 3);
    col_real(st, 6, 20.0);
    assert_int_equal(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);

    st = prep(db, "SELECT day, role, model, calls, avg_ms, p50_ms, p95_ms, max_ms"
              " FROM latency_daily");
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    col_text(st, 0, "2026-11-23");
    col_text(st, 1, "code");
    col_text(st, 2, "m1");
    col_int(st, 3, 20);       /* the failed calls do not count */
    col_int(st, 4, 105);
    col_int(st, 5, 100);      /* nearest rank: the 10th of 20 */
    col_int(st, 6, 190);      /* the 19th of 20 */
    col_int(st, 7, 200);
    assert_int_equal(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);
    sqlite3_close(db);
}

static void test_errors_view(void **state)
{
    fixture *f = *state;
    fq_store *s = open_ok(f);

    fq_attempt_record a[] = {
        attempt_rec("t-1", 1, "rate_limited"),
        attempt_rec("t-1", 2, "ok"),
        attempt_rec("t-2", 1, "server_error"),
        attempt_rec("t-2", 2, "timeout"),
        attempt_rec("t-run", 1, "network"),   /* no final row yet */
    };
    a[2].http_status = 503;
    a[2].error = "upstream 503";
    a[2].started_at = T0 + 10000;
    a[3].http_status = 0;
    a[3].error = "no answer in 90 s";
    a[3].started_at = T0 + 20000;
    a[4].http_status = 0;
    a[4].started_at = T0 + 30000;
    fq_final_record t1 = final_rec("t-1", "done");
    fq_final_record t2 = final_rec("t-2", "failed");
    t2.role = "memory";
    t2.model = "grok-4";

    assert_int_equal(fq_store_begin(s), 0);
    for (size_t i = 0; i < sizeof(a) / sizeof(a[0]); i++)
        assert_int_equal(fq_store_put_attempt(s, &a[i]), 0);
    assert_int_equal(fq_store_put_final(s, &t1), 0);
    assert_int_equal(fq_store_put_final(s, &t2), 0);
    assert_int_equal(fq_store_commit(s), 0);
    fq_store_close(s);

    sqlite3 *db = peek(f);
    sqlite3_stmt *st = prep(db, "SELECT started_at, task_id, n, role, model, http_status,"
                            " outcome, error, latency_ms FROM errors");
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    col_text(st, 0, "2026-11-23T12:00:30.000Z");
    col_text(st, 1, "t-run");
    col_null(st, 3);
    col_null(st, 4);
    col_null(st, 5);
    col_text(st, 6, "network");
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    col_text(st, 0, "2026-11-23T12:00:20.000Z");
    col_text(st, 1, "t-2");
    col_int(st, 2, 2);
    col_text(st, 3, "memory");
    col_text(st, 4, "grok-4");
    col_null(st, 5);
    col_text(st, 6, "timeout");
    col_text(st, 7, "no answer in 90 s");
    col_int(st, 8, 302);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    col_text(st, 1, "t-2");
    col_int(st, 2, 1);
    col_int(st, 5, 503);
    col_text(st, 6, "server_error");
    col_text(st, 7, "upstream 503");
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    col_text(st, 0, "2026-11-23T12:00:01.005Z");
    col_text(st, 1, "t-1");
    col_int(st, 2, 1);
    col_text(st, 3, "code");
    col_text(st, 4, "grok-code-fast-1");
    col_int(st, 5, 429);
    col_text(st, 6, "rate_limited");
    assert_int_equal(sqlite3_step(st), SQLITE_DONE);   /* the ok attempt is not listed */
    sqlite3_finalize(st);
    sqlite3_close(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_fresh_open_creates_schema, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen_applies_nothing_twice, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_migration_is_reported_and_rolled_back,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_newer_schema_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_errors_name_the_path, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batch_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknowns_are_null, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replay_writes_nothing_twice, setup, teardown),
        cmocka_unit_test_setup_teardown(test_done_is_not_overwritten_by_a_late_failure,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_rollback_leaves_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_records_and_misuse, setup, teardown),
        cmocka_unit_test_setup_teardown(test_usage_daily, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors_view, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_and_latency_views, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
