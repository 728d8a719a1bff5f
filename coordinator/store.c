/* store.c -- the SQLite result store (see store.h).
 *
 * DESIGN
 *
 * The coordinator is the only process that opens the database, and it does
 * so from one thread, so the connection is opened without SQLite's mutexes.
 * Opening sets WAL (readers such as the sqlite3 shell never block the
 * writer), synchronous=NORMAL (safe with WAL; a power cut may lose the last
 * transactions, which the results stream replays because entries are only
 * acknowledged after COMMIT), a busy timeout and foreign keys.
 *
 * Migrations are the files of schema/ compiled in as fq_sql_files[] (sorted
 * by name, each name starting with its number). PRAGMA user_version holds
 * the number of the last one applied; every newer file runs in its own
 * BEGIN IMMEDIATE ... COMMIT together with the user_version update, so a
 * crash leaves the database at a whole version. The version is read again
 * inside each transaction, so two coordinators starting at once do not
 * apply a file twice. A database newer than this build is refused rather
 * than written with an old idea of the schema.
 *
 * Every statement is prepared once at open into stmt[], indexed by an enum
 * (the freebsd pkg way), and reset after each use. Strings are bound with
 * their lengths and SQLITE_STATIC: the record and the local time buffers
 * outlive the step. Writes are upserts: a task row is replaced by a later
 * final record for the same id, except that a 'done' row is only ever
 * replaced by another 'done' (a worker that lost its lease may report a
 * failure after another worker finished the task); an attempt row is
 * written once per (task_id, n). Replaying a batch thus writes nothing
 * twice.
 *
 * Errors are copied into a buffer in the store when they happen, so that
 * fq_store_error() still tells the cause after the caller has rolled back.
 */
#include "store.h"

#include <errno.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "embedded.h"
#include "fq_shared.h"

#define BUSY_TIMEOUT_MS 1000   /* the writer thread waits this long for a lock, then retries */
#define ISO_LEN 32

/* ------------------------------------------------------------------ */
/* Statements                                                          */
/* ------------------------------------------------------------------ */

enum stmt_id {
    STMT_BEGIN,
    STMT_COMMIT,
    STMT_ROLLBACK,
    STMT_PUT_FINAL,
    STMT_PUT_ATTEMPT,
    STMT_PING,
    STMT_PRUNE_ATTEMPTS,
    STMT_PRUNE_TASKS,
    STMT_FLEET_SET,
    STMT_COUNT
};

/* Parameter numbers of STMT_PUT_FINAL, in column order. */
enum final_param {
    FP_ID = 1, FP_ROLE, FP_PRIORITY, FP_STATUS, FP_MODEL, FP_PROMPT,
    FP_OUTPUT, FP_ERROR, FP_ATTEMPTS, FP_PROMPT_TOKENS, FP_COMPLETION_TOKENS,
    FP_REASONING_TOKENS, FP_CACHED_TOKENS, FP_COST_USD, FP_COST_TICKS,
    FP_LATENCY_MS, FP_SUBMITTED_AT, FP_STARTED_AT, FP_FINISHED_AT, FP_WORKER,
    FP_FLOW_ID, FP_PARENTS, FP_PLAN, FP_RECALLED, FP_CACHED_FROM, FP_NOTES,
    FP_USAGE_ESTIMATED
};

/* Parameter numbers of STMT_PUT_ATTEMPT, in column order. */
enum attempt_param {
    AP_TASK_ID = 1, AP_N, AP_HTTP_STATUS, AP_OUTCOME, AP_ERROR,
    AP_LATENCY_MS, AP_STARTED_AT, AP_WORKER, AP_MODEL, AP_TTFT_MS,
    AP_PROMPT_TOKENS, AP_COMPLETION_TOKENS, AP_COST_TICKS, AP_USAGE_ESTIMATED
};

static const char *const stmt_sql[STMT_COUNT] = {
    [STMT_BEGIN] = "BEGIN IMMEDIATE",
    [STMT_COMMIT] = "COMMIT",
    [STMT_ROLLBACK] = "ROLLBACK",
    [STMT_PUT_FINAL] =
        "INSERT INTO tasks (id, role, priority, status, model, prompt, output,"
        " error, attempts, prompt_tokens, completion_tokens, reasoning_tokens,"
        " cached_tokens, cost_usd, cost_ticks, latency_ms, submitted_at,"
        " started_at, finished_at, worker, flow_id, parents, plan, recalled, cached_from,"
        " notes, usage_estimated)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14,"
        " ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27)"
        " ON CONFLICT (id) DO UPDATE SET"
        " role = excluded.role, priority = excluded.priority,"
        " status = excluded.status, model = excluded.model,"
        " prompt = excluded.prompt, output = excluded.output,"
        " error = excluded.error, attempts = excluded.attempts,"
        " prompt_tokens = excluded.prompt_tokens,"
        " completion_tokens = excluded.completion_tokens,"
        " reasoning_tokens = excluded.reasoning_tokens,"
        " cached_tokens = excluded.cached_tokens,"
        " cost_usd = excluded.cost_usd, cost_ticks = excluded.cost_ticks,"
        " latency_ms = excluded.latency_ms,"
        " submitted_at = excluded.submitted_at,"
        " started_at = excluded.started_at,"
        " finished_at = excluded.finished_at, worker = excluded.worker,"
        " flow_id = excluded.flow_id, parents = excluded.parents, plan = excluded.plan,"
        " recalled = excluded.recalled, cached_from = excluded.cached_from,"
        " notes = excluded.notes, usage_estimated = excluded.usage_estimated"
        " WHERE tasks.status <> 'done' OR excluded.status = 'done'",
    [STMT_PUT_ATTEMPT] =
        "INSERT INTO attempts (task_id, n, http_status, outcome, error,"
        " latency_ms, started_at, worker, model, ttft_ms, prompt_tokens, completion_tokens,"
        " cost_ticks, usage_estimated)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)"
        " ON CONFLICT (task_id, n) DO NOTHING",
    [STMT_PING] = "SELECT 1",
    /* the oldest ended tasks before ?1 (ISO-8601), at most ?2 of them:
     * their attempts first, then their rows */
    [STMT_PRUNE_ATTEMPTS] =
        "DELETE FROM attempts WHERE task_id IN (SELECT id FROM tasks"
        " WHERE finished_at < ?1 ORDER BY finished_at LIMIT ?2)",
    [STMT_PRUNE_TASKS] =
        "DELETE FROM tasks WHERE id IN (SELECT id FROM tasks"
        " WHERE finished_at < ?1 ORDER BY finished_at LIMIT ?2)",
    [STMT_FLEET_SET] = "INSERT INTO fleet (id, created_at)"
                       " SELECT ?1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"
                       " WHERE NOT EXISTS (SELECT 1 FROM fleet)",
};

struct fq_store {
    sqlite3 *db;
    sqlite3_stmt *stmt[STMT_COUNT];
    int version;
    char errbuf[512];
    int busy;          /* the last failure was SQLITE_BUSY or SQLITE_LOCKED */
};

/* ------------------------------------------------------------------ */
/* Errors                                                              */
/* ------------------------------------------------------------------ */

__attribute__((format(printf, 3, 4)))
static void put_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* Records "what: sqlite's message" as the store's last error. */
static void fail_sqlite(fq_store *s, const char *what)
{
    int code = sqlite3_errcode(s->db) & 0xff;
    s->busy = code == SQLITE_BUSY || code == SQLITE_LOCKED;
    put_err(s->errbuf, sizeof(s->errbuf), "%s: %s", what, sqlite3_errmsg(s->db));
}

/* ------------------------------------------------------------------ */
/* Binding                                                             */
/* ------------------------------------------------------------------ */

/* Binds parameters one after another and keeps the first failure, so a
 * put binds everything and checks once. */
typedef struct binder {
    sqlite3_stmt *st;
    int rc;
} binder;

static void bind_text(binder *b, int i, const char *v)
{
    if (b->rc != SQLITE_OK)
        return;
    if (!v)
        b->rc = sqlite3_bind_null(b->st, i);
    else
        b->rc = sqlite3_bind_text64(b->st, i, v, (sqlite3_uint64)strlen(v),
                                    SQLITE_STATIC, SQLITE_UTF8);
}

static void bind_int(binder *b, int i, int64_t v)
{
    if (b->rc == SQLITE_OK)
        b->rc = sqlite3_bind_int64(b->st, i, v);
}

/* An integer that is NULL below min (unknown). */
static void bind_int_min(binder *b, int i, int64_t v, int64_t min)
{
    if (b->rc != SQLITE_OK)
        return;
    if (v < min)
        b->rc = sqlite3_bind_null(b->st, i);
    else
        b->rc = sqlite3_bind_int64(b->st, i, v);
}

static void bind_double(binder *b, int i, double v)
{
    if (b->rc == SQLITE_OK)
        b->rc = sqlite3_bind_double(b->st, i, v);
}

/* ms since the epoch as ISO-8601 text in buf (which must outlive the
 * step); 0 or less is unknown: NULL. */
static void bind_time(binder *b, int i, int64_t ms, char *buf, size_t len)
{
    if (b->rc != SQLITE_OK)
        return;
    const char *iso = ms > 0 ? fq_iso8601_ms(ms, buf, len) : NULL;
    bind_text(b, i, iso && *iso ? iso : NULL);   /* "" when out of range */
}

/* Steps a write statement to completion and resets it. */
static int run(fq_store *s, enum stmt_id id, const char *what)
{
    sqlite3_stmt *st = s->stmt[id];
    int rc = sqlite3_step(st);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        fail_sqlite(s, what);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : -1;
}

/* ------------------------------------------------------------------ */
/* Migrations                                                          */
/* ------------------------------------------------------------------ */

/* The number a migration's file name starts with, or -1. */
static int migration_number(const char *name)
{
    long n = 0;
    const char *p = name;
    while (*p >= '0' && *p <= '9' && n < 1000000)
        n = n * 10 + (*p++ - '0');
    return p == name || n >= 1000000 ? -1 : (int)n;
}

static int read_version(sqlite3 *db, int *out)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
        return -1;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *out = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 0 : -1;
}

/* Applies one migration in its own transaction, unless the database
 * already has it (another process may have got there first). */
static int apply_migration(fq_store *s, const char *path, const fq_embedded *f,
                           int number, char *err, size_t errlen)
{
    int have = 0;
    char sql[64];

    if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        goto err;
    if (read_version(s->db, &have) < 0)
        goto err;
    if (have < number) {
        if (sqlite3_exec(s->db, f->text, NULL, NULL, NULL) != SQLITE_OK)
            goto err;
        snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", number);
        if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK)
            goto err;
    }
    if (sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        goto err;
    return 0;

err:
    put_err(err, errlen, "%s: schema migration %s failed: %s (the database is left "
            "at version %d; fix the cause and start again)",
            path, f->name, sqlite3_errmsg(s->db), have);
    if (!sqlite3_get_autocommit(s->db))
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
}

static int migrate(fq_store *s, const char *path, char *err, size_t errlen)
{
    int newest = 0, version = 0;

    for (const fq_embedded *f = fq_sql_files; f->name; f++) {
        int n = migration_number(f->name);
        if (n <= newest) {
            put_err(err, errlen, "schema migration %s has no number or is out of order "
                    "(names must start with increasing numbers): fix schema/ and rebuild",
                    f->name);
            return -1;
        }
        newest = n;
    }

    if (read_version(s->db, &version) < 0) {
        put_err(err, errlen, "%s: cannot read the schema version: %s "
                "(is FLEETQ_DB an SQLite database?)", path, sqlite3_errmsg(s->db));
        return -1;
    }
    if (version < 0) {
        put_err(err, errlen, "%s has schema version %d, which fleetq never writes: "
                "point FLEETQ_DB at a fleetq database", path, version);
        return -1;
    }
    if (version > newest)
        goto too_new;

    for (const fq_embedded *f = fq_sql_files; f->name; f++) {
        int n = migration_number(f->name);
        if (n > version && apply_migration(s, path, f, n, err, errlen) < 0)
            return -1;
    }

    if (read_version(s->db, &version) < 0) {
        put_err(err, errlen, "%s: cannot read the schema version: %s", path,
                sqlite3_errmsg(s->db));
        return -1;
    }
    if (version > newest)
        goto too_new;
    s->version = version;
    return 0;

too_new:
    put_err(err, errlen, "%s has schema version %d; this fleetq knows up to %d: "
            "upgrade fleetq", path, version, newest);
    return -1;
}

/* ------------------------------------------------------------------ */
/* Open and close                                                      */
/* ------------------------------------------------------------------ */

/* Before SQLite is asked: can this process create the database, and the
 * -wal and -shm files WAL keeps beside it, in path's directory? SQLite's own
 * answer is "unable to open database file"; this one names the directory,
 * its owner and mode, and who is asking, which is what an operator needs
 * when a volume or a platform's disk was mounted owned by root. */
static int check_writable(const char *path, char *err, size_t errlen)
{
    char copy[4096];
    if (snprintf(copy, sizeof(copy), "%s", path) >= (int)sizeof(copy)) {
        put_err(err, errlen, "FLEETQ_DB is longer than %zu bytes", sizeof(copy) - 1);
        return -1;
    }
    const char *dir = dirname(copy);
    struct stat st;
    if (stat(dir, &st) != 0) {
        put_err(err, errlen, "cannot create %s: its directory %s: %s (check FLEETQ_DB)",
                path, dir, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        put_err(err, errlen, "cannot create %s: %s is not a directory (check FLEETQ_DB)",
                path, dir);
        return -1;
    }
    if (access(dir, W_OK | X_OK) != 0) {
        put_err(err, errlen, "cannot create %s: the directory %s (owner uid %u, mode %04o) "
                "is not writable by this process (uid %u); give it to this user (chown %u %s) "
                "or point FLEETQ_DB at a directory it can write", path, dir,
                (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777), (unsigned)geteuid(),
                (unsigned)geteuid(), dir);
        return -1;
    }
    if (access(path, F_OK) == 0 && access(path, R_OK | W_OK) != 0 &&
        stat(path, &st) == 0) {
        put_err(err, errlen, "cannot open %s (owner uid %u, mode %04o) for writing as uid %u; "
                "give it to this user (chown %u %s)", path, (unsigned)st.st_uid,
                (unsigned)(st.st_mode & 07777), (unsigned)geteuid(), (unsigned)geteuid(),
                path);
        return -1;
    }
    return 0;
}

fq_store *fq_store_open(const char *path, char *err, size_t errlen)
{
    if (check_writable(path, err, errlen) < 0)
        return NULL;
    fq_store *s = calloc(1, sizeof(*s));
    if (!s) {
        put_err(err, errlen, "%s: out of memory opening the result store", path);
        return NULL;
    }

    int rc = sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                             SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        put_err(err, errlen, "cannot open %s: %s (check FLEETQ_DB and that its "
                "directory exists and is writable)", path,
                s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
        goto err;
    }
    sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);

    if (sqlite3_exec(s->db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;"
                     " PRAGMA foreign_keys = ON", NULL, NULL, NULL) != SQLITE_OK) {
        put_err(err, errlen, "%s: %s (check FLEETQ_DB: it must be a writable SQLite "
                "database or a new file)", path, sqlite3_errmsg(s->db));
        goto err;
    }

    if (migrate(s, path, err, errlen) < 0)
        goto err;

    for (int i = 0; i < STMT_COUNT; i++) {
        if (sqlite3_prepare_v3(s->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
                               &s->stmt[i], NULL) != SQLITE_OK) {
            put_err(err, errlen, "%s: preparing \"%.40s...\" failed: %s (is the "
                    "schema damaged?)", path, stmt_sql[i], sqlite3_errmsg(s->db));
            goto err;
        }
    }
    return s;

err:
    fq_store_close(s);
    return NULL;
}

void fq_store_close(fq_store *s)
{
    if (!s)
        return;
    for (int i = 0; i < STMT_COUNT; i++)
        sqlite3_finalize(s->stmt[i]);
    sqlite3_close(s->db);
    free(s);
}

int fq_store_version(fq_store *s)
{
    return s->version;
}

int fq_store_was_busy(const fq_store *s)
{
    return s != NULL && s->busy;
}

const char *fq_store_error(fq_store *s)
{
    return s ? s->errbuf : "no result store";
}

/* ------------------------------------------------------------------ */
/* Transactions                                                        */
/* ------------------------------------------------------------------ */

int fq_store_begin(fq_store *s)
{
    s->busy = 0;
    return run(s, STMT_BEGIN, "starting a transaction");
}

int fq_store_commit(fq_store *s)
{
    return run(s, STMT_COMMIT, "committing");
}

void fq_store_rollback(fq_store *s)
{
    /* After some errors SQLite has already rolled back by itself. */
    if (sqlite3_get_autocommit(s->db))
        return;
    /* run() leaves the error buffer alone on success: the cause stays. */
    run(s, STMT_ROLLBACK, "rolling back");
}

/* ------------------------------------------------------------------ */
/* Writes                                                              */
/* ------------------------------------------------------------------ */

int fq_store_put_final(fq_store *s, const fq_final_record *r)
{
    char submitted[ISO_LEN], started[ISO_LEN], finished[ISO_LEN];

    if (!r->task_id || !r->status) {
        put_err(s->errbuf, sizeof(s->errbuf), "a final record without %s cannot be "
                "stored: the producer must fill it in", r->task_id ? "a status" : "a task id");
        return -1;
    }

    binder b = { s->stmt[STMT_PUT_FINAL], SQLITE_OK };
    bind_text(&b, FP_ID, r->task_id);
    bind_text(&b, FP_ROLE, r->role);
    bind_int_min(&b, FP_PRIORITY, r->priority, 0);
    bind_text(&b, FP_STATUS, r->status);
    bind_text(&b, FP_MODEL, r->model);
    bind_text(&b, FP_PROMPT, r->prompt);
    bind_text(&b, FP_OUTPUT, r->output);
    bind_text(&b, FP_ERROR, r->error);
    bind_int(&b, FP_ATTEMPTS, r->attempts);
    bind_int(&b, FP_PROMPT_TOKENS, r->prompt_tokens);
    bind_int(&b, FP_COMPLETION_TOKENS, r->completion_tokens);
    bind_int(&b, FP_REASONING_TOKENS, r->reasoning_tokens);
    bind_int(&b, FP_CACHED_TOKENS, r->cached_tokens);
    bind_double(&b, FP_COST_USD, (double)r->cost_ticks / (double)FQ_TICKS_PER_USD);
    bind_int(&b, FP_COST_TICKS, r->cost_ticks);
    /* A task that never reached the API has no latency. */
    bind_int_min(&b, FP_LATENCY_MS, r->attempts > 0 ? r->latency_ms : -1, 0);
    bind_time(&b, FP_SUBMITTED_AT, r->submitted_at, submitted, sizeof(submitted));
    bind_time(&b, FP_STARTED_AT, r->started_at, started, sizeof(started));
    bind_time(&b, FP_FINISHED_AT, r->finished_at, finished, sizeof(finished));
    bind_text(&b, FP_WORKER, r->worker);
    bind_text(&b, FP_FLOW_ID, r->flow_id ? r->flow_id : r->task_id);
    bind_text(&b, FP_PARENTS, r->parents);
    bind_int_min(&b, FP_PLAN, r->plan, 1);
    bind_text(&b, FP_RECALLED, r->recalled);
    bind_text(&b, FP_CACHED_FROM, r->cached_from);
    bind_text(&b, FP_NOTES, r->notes);
    bind_int(&b, FP_USAGE_ESTIMATED, r->usage_estimated != 0);
    if (b.rc != SQLITE_OK) {
        put_err(s->errbuf, sizeof(s->errbuf), "storing task %s: %s", r->task_id,
                sqlite3_errstr(b.rc));
        sqlite3_clear_bindings(b.st);
        return -1;
    }

    char what[200];
    snprintf(what, sizeof(what), "storing task %s", r->task_id);
    return run(s, STMT_PUT_FINAL, what);
}

int fq_store_put_attempt(fq_store *s, const fq_attempt_record *r)
{
    char started[ISO_LEN];

    if (!r->task_id || !r->outcome || r->n < 1) {
        put_err(s->errbuf, sizeof(s->errbuf), "an attempt record without %s cannot be "
                "stored: the producer must fill it in",
                !r->task_id ? "a task id" : !r->outcome ? "an outcome" : "a number n >= 1");
        return -1;
    }

    binder b = { s->stmt[STMT_PUT_ATTEMPT], SQLITE_OK };
    bind_text(&b, AP_TASK_ID, r->task_id);
    bind_int(&b, AP_N, r->n);
    bind_int_min(&b, AP_HTTP_STATUS, r->http_status, 1);
    bind_text(&b, AP_OUTCOME, r->outcome);
    bind_text(&b, AP_ERROR, r->error);
    bind_int_min(&b, AP_LATENCY_MS, r->latency_ms, 0);
    bind_time(&b, AP_STARTED_AT, r->started_at, started, sizeof(started));
    bind_text(&b, AP_WORKER, r->worker);
    bind_text(&b, AP_MODEL, r->model);
    bind_int_min(&b, AP_TTFT_MS, r->ttft_ms, 0);
    bind_int_min(&b, AP_PROMPT_TOKENS, r->prompt_tokens, 0);
    bind_int_min(&b, AP_COMPLETION_TOKENS, r->completion_tokens, 0);
    bind_int_min(&b, AP_COST_TICKS, r->cost_ticks, 0);
    bind_int(&b, AP_USAGE_ESTIMATED, r->usage_estimated != 0);
    if (b.rc != SQLITE_OK) {
        put_err(s->errbuf, sizeof(s->errbuf), "storing attempt %lld of task %s: %s",
                (long long)r->n, r->task_id, sqlite3_errstr(b.rc));
        sqlite3_clear_bindings(b.st);
        return -1;
    }

    char what[200];
    snprintf(what, sizeof(what), "storing attempt %lld of task %s", (long long)r->n,
             r->task_id);
    return run(s, STMT_PUT_ATTEMPT, what);
}

static int prune_step(fq_store *s, enum stmt_id id, const char *before, int limit)
{
    sqlite3_stmt *st = s->stmt[id];
    if (sqlite3_bind_text(st, 1, before, -1, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_int(st, 2, limit) != SQLITE_OK) {
        fail_sqlite(s, "binding the prune's cutoff");
        sqlite3_clear_bindings(st);
        return -1;
    }
    return run(s, id, "pruning old rows");
}

int fq_store_prune(fq_store *s, int64_t before_ms, int limit)
{
    char before[ISO_LEN];
    fq_iso8601_ms(before_ms, before, sizeof(before));
    if (fq_store_begin(s) != 0)
        return -1;
    if (prune_step(s, STMT_PRUNE_ATTEMPTS, before, limit) != 0 ||
        prune_step(s, STMT_PRUNE_TASKS, before, limit) != 0) {
        fq_store_rollback(s);
        return -1;
    }
    int deleted = sqlite3_changes(s->db);
    if (fq_store_commit(s) != 0) {
        fq_store_rollback(s);
        return -1;
    }
    return deleted;
}

int fq_store_ping(fq_store *s)
{
    sqlite3_stmt *st = s->stmt[STMT_PING];
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW)
        fail_sqlite(s, "ping");
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? 0 : -1;
}

/* ------------------------------------------------------------------ */
/* The fleet this database belongs to                                  */
/* ------------------------------------------------------------------ */

int fq_store_set_fleet(fq_store *s, const char *id)
{
    if (sqlite3_bind_text(s->stmt[STMT_FLEET_SET], 1, id, -1, SQLITE_STATIC) != SQLITE_OK) {
        fail_sqlite(s, "binding the fleet's id");
        return -1;
    }
    return run(s, STMT_FLEET_SET, "recording the fleet's id");
}
