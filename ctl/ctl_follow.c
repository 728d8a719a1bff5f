/* ctl_follow.c -- `fleetqctl result --follow ID`: a streamed task's answer
 * printed as it arrives.
 *
 * A worker that streams a task appends to <prefix>:stream:<id>, in order,
 * one entry per piece of the answer (fields attempt N, delta TEXT) and one
 * when an attempt ends (attempt N, end done|failed|retry, and as known
 * model, finish_reason, the token counts and error). Following reads that
 * stream from its start with XREAD BLOCK, a few seconds at a time, and
 * writes each delta to stdout at once. An attempt that ends "retry" is a
 * line on stderr; the next attempt starts the answer afresh, on a new line.
 * Entries of an attempt older than the one shown (a worker that lost its
 * lease and went on writing) are skipped. "done" ends the output; "failed"
 * too, with the error on stderr.
 *
 * Each time a block passes with nothing new (and once before the first),
 * the task's hash says whether to go on waiting. Once the task has ended,
 * the rest of the stream is read; if it has no end entry (the task did not
 * stream, or its stream expired), the output in the hash is printed
 * instead: only the part the stream has not shown, when the output begins
 * with what the attempt shown wrote. A task with neither a hash nor a
 * stream is unknown.
 */
#include <stdlib.h>
#include <string.h>

#include "ctl_follow.h"
#include "keys.h"

#define BLOCK_MS 2000       /* one XREAD BLOCK; the hash is read between them */
#define READ_COUNT 100      /* entries per XREAD */
#define FOLLOWING (-1)      /* follow.result while the task has not ended */

typedef struct follow {
    fq_ctl *ctl;
    const char *id;
    char key[FQ_KEY_MAX];   /* <prefix>:stream:<id> */
    char last_id[64];       /* the last entry read; "0" before the first */
    long long attempt;      /* the attempt shown; 0 before the first */
    int attempt_over;       /* it ended "retry": the next delta starts afresh */
    int printed;            /* something was written to stdout */
    int at_line_start;      /* nothing written yet, or the last byte was '\n' */
    char *text;             /* what the attempt shown wrote so far */
    size_t len, cap;
    int text_kept;          /* 0: text ran out of memory and is incomplete */
    int result;             /* FOLLOWING, or the exit code */
} follow;

/* ------------------------------------------------------------------------
 * Output
 * --------------------------------------------------------------------- */

static void put(follow *f, const char *s, size_t n)
{
    if (n == 0)
        return;
    fwrite(s, 1, n, stdout);
    fflush(stdout);
    f->printed = 1;
    f->at_line_start = s[n - 1] == '\n';
}

/* Ends a line left open on stdout. */
static void fresh_line(follow *f)
{
    if (f->at_line_start)
        return;
    putchar('\n');
    fflush(stdout);
    f->at_line_start = 1;
}

/* A delta of the attempt shown: printed, and kept to compare with the
 * output should the stream stop short. */
static void put_delta(follow *f, const char *s, size_t n)
{
    put(f, s, n);
    if (!f->text_kept || n == 0)
        return;
    if (f->len + n > f->cap) {
        size_t cap = f->cap ? f->cap : 4096;
        while (cap < f->len + n)
            cap *= 2;
        char *t = realloc(f->text, cap);
        if (t == NULL) {
            f->text_kept = 0;
            return;
        }
        f->text = t;
        f->cap = cap;
    }
    memcpy(f->text + f->len, s, n);
    f->len += n;
}

/* ------------------------------------------------------------------------
 * Entries
 * --------------------------------------------------------------------- */

/* A whole number field of an entry, def when absent or not one. */
static long long field_ll(const redisReply *fields, const char *name, long long def)
{
    const redisReply *v = fq_ctl_hash_get(fields, name);
    if (v == NULL || v->len == 0)
        return def;
    char *end;
    long long n = strtoll(v->str, &end, 10);
    return *end == '\0' ? n : def;
}

/* The next attempt begins: a note if the one shown stopped without an end
 * entry, and a new line for its answer. */
static void start_attempt(follow *f, long long attempt)
{
    if (f->attempt > 0 && !f->attempt_over)
        fq_ctl_errorf("attempt %lld stopped without an end; attempt %lld starts again",
                      f->attempt, attempt);
    fresh_line(f);
    f->attempt = attempt;
    f->attempt_over = 0;
    f->len = 0;
    f->text_kept = 1;
}

static void take_end(follow *f, long long attempt, const char *end, const redisReply *fields)
{
    const redisReply *error = fq_ctl_hash_get(fields, "error");
    char why[512] = "";
    if (error != NULL && error->len > 0)
        snprintf(why, sizeof(why), " (%.*s)", (int)(error->len < 400 ? error->len : 400),
                 error->str);
    if (strcmp(end, "done") == 0) {
        fresh_line(f);
        f->result = FQ_CTL_OK;
    } else if (strcmp(end, "failed") == 0) {
        fresh_line(f);
        fq_ctl_errorf("attempt %lld failed%s; the task has failed", attempt, why);
        f->result = FQ_CTL_ENDED;
    } else if (strcmp(end, "retry") == 0) {
        fresh_line(f);
        fq_ctl_errorf("attempt %lld failed%s; the task will be tried again", attempt, why);
        f->attempt = attempt;
        f->attempt_over = 1;
    }
    /* another end is not known here: the task's hash decides */
}

static void take_entry(follow *f, const redisReply *entry)
{
    if (entry->type != REDIS_REPLY_ARRAY || entry->elements != 2 ||
        entry->element[0]->type != REDIS_REPLY_STRING ||
        entry->element[0]->len >= sizeof(f->last_id))
        return;
    memcpy(f->last_id, entry->element[0]->str, entry->element[0]->len + 1);
    const redisReply *fields = entry->element[1];
    long long attempt = field_ll(fields, "attempt", f->attempt + f->attempt_over);
    if (attempt < f->attempt || (attempt == f->attempt && f->attempt_over))
        return;   /* an attempt that is over */
    const redisReply *end = fq_ctl_hash_get(fields, "end");
    if (end != NULL) {
        take_end(f, attempt, end->str, fields);
        return;
    }
    const redisReply *delta = fq_ctl_hash_get(fields, "delta");
    if (delta == NULL)
        return;
    if (attempt > f->attempt || f->attempt_over)
        start_attempt(f, attempt);
    put_delta(f, delta->str, delta->len);
}

/* Reads the entries after last_id, waiting up to block_ms for the first
 * (0: not at all), and takes them until one ends the task. Returns how
 * many were read, or -1 after a Redis failure (reported). */
static long read_entries(follow *f, long block_ms)
{
    redisReply *r =
        block_ms > 0 ? fq_ctl_command_run(f->ctl, "XREAD COUNT %d BLOCK %ld STREAMS %s %s",
                                          READ_COUNT, block_ms, f->key, f->last_id)
                     : fq_ctl_command_run(f->ctl, "XREAD COUNT %d STREAMS %s %s", READ_COUNT,
                                          f->key, f->last_id);
    if (r == NULL)
        return -1;
    long n = 0;
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 1) {
        const redisReply *s = r->element[0];
        if (s->type == REDIS_REPLY_ARRAY && s->elements == 2 &&
            s->element[1]->type == REDIS_REPLY_ARRAY) {
            const redisReply *entries = s->element[1];
            for (size_t i = 0; i < entries->elements && f->result == FOLLOWING; i++, n++)
                take_entry(f, entries->element[i]);
        }
    }
    freeReplyObject(r);
    return n;
}

/* ------------------------------------------------------------------------
 * The task's hash
 * --------------------------------------------------------------------- */

/* The task ended without an end entry in its stream: its output from the
 * hash (what the stream has not shown of it), and its outcome. */
static void show_from_hash(follow *f, const char *task_key)
{
    redisReply *r = fq_ctl_command_run(f->ctl, "HMGET %s status error output", task_key);
    if (r == NULL)
        return;
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
        r->element[0]->type != REDIS_REPLY_STRING) {
        freeReplyObject(r);
        fq_ctl_errorf("result %s: the task's hash went away while it was read", f->id);
        fq_ctl_fail(f->ctl, FQ_CTL_PARTIAL);
        return;
    }
    const char *status = r->element[0]->str;
    const redisReply *error = r->element[1], *output = r->element[2];
    if (output->type == REDIS_REPLY_STRING && output->len > 0) {
        size_t shown = 0;
        if (f->text_kept && !f->attempt_over && f->len <= output->len &&
            (f->len == 0 || memcmp(output->str, f->text, f->len) == 0))
            shown = f->len;
        else
            fresh_line(f);
        put(f, output->str + shown, output->len - shown);
        fresh_line(f);
    }
    if (strcmp(status, "done") == 0) {
        f->result = FQ_CTL_OK;
    } else {
        if (error->type == REDIS_REPLY_STRING && error->len > 0)
            fq_ctl_errorf("result %s: the task ended %s (%.*s)", f->id, status,
                          (int)(error->len < 400 ? error->len : 400), error->str);
        else
            fq_ctl_errorf("result %s: the task ended %s", f->id, status);
        f->result = FQ_CTL_ENDED;
    }
    freeReplyObject(r);
}

/* Reads the task's hash: 1 to go on waiting, 0 when following is over
 * (f->result set, or a Redis failure recorded). */
static int keep_waiting(follow *f)
{
    char task_key[FQ_KEY_MAX];
    fq_key_task(f->id, task_key, sizeof(task_key));
    redisReply *r = fq_ctl_command_run(f->ctl, "HGET %s status", task_key);
    if (r == NULL)
        return 0;
    char status[32] = "";
    int known = r->type == REDIS_REPLY_STRING;
    if (known)
        snprintf(status, sizeof(status), "%s", r->str);
    freeReplyObject(r);

    if (!known) {
        r = fq_ctl_command_run(f->ctl, "EXISTS %s", f->key);
        if (r == NULL)
            return 0;
        int streamed = r->type == REDIS_REPLY_INTEGER && r->integer > 0;
        freeReplyObject(r);
        if (streamed)
            return 1;   /* its stream says it exists: its hash is to come */
        fq_ctl_errorf("result %s: no such task in Redis (neither %s nor %s): the id is "
                      "unknown, or its record has expired from Redis; ended tasks stay in "
                      "SQLite: sqlite3 %s \"SELECT * FROM tasks WHERE id = '%s'\"",
                      f->id, task_key, f->key, f->ctl->cfg.db_path, f->id);
        fq_ctl_fail(f->ctl, FQ_CTL_PARTIAL);
        return 0;
    }
    if (!fq_ctl_status_final(status))
        return 1;
    /* ended: what the stream still holds may end it the usual way */
    long n;
    while (f->result == FOLLOWING && (n = read_entries(f, 0)) > 0) {
    }
    if (f->result == FOLLOWING && fq_ctl_exit(f->ctl) == FQ_CTL_OK)
        show_from_hash(f, task_key);
    return 0;
}

/* ------------------------------------------------------------------------
 * Following
 * --------------------------------------------------------------------- */

int fq_ctl_result_follow(fq_ctl *ctl, const char *id)
{
    follow f;
    memset(&f, 0, sizeof(f));
    f.ctl = ctl;
    f.id = id;
    fq_key_stream(id, f.key, sizeof(f.key));
    snprintf(f.last_id, sizeof(f.last_id), "0");
    f.at_line_start = 1;
    f.text_kept = 1;
    f.result = FOLLOWING;

    int quiet = 1;   /* nothing came in the last read: time to look at the hash */
    while (f.result == FOLLOWING) {
        if (quiet && !keep_waiting(&f))
            break;
        long n = read_entries(&f, BLOCK_MS);
        if (n < 0)
            break;
        quiet = n == 0;
    }
    free(f.text);
    if (fq_ctl_exit(ctl) != FQ_CTL_OK || f.result == FOLLOWING)
        return fq_ctl_exit(ctl) != FQ_CTL_OK ? fq_ctl_exit(ctl) : FQ_CTL_PARTIAL;
    return f.result;
}
