/* cmd_result.c -- `fleetqctl result ID`: what became of one task.
 *
 * Everything comes from the task's hash, fleetq:task:<id> (one HMGET):
 * status, role, model, attempts, error, output, tokens, cost and times.
 * Text output is a few "name: value" header lines (control characters
 * shown as spaces), then a blank line and the output as it is; --json
 * prints one object. The exit status says how the task stands, so scripts
 * can branch on it: 0 done, 4 ended otherwise, 5 not ended yet, 1 unknown.
 * The hash of an ended task expires FLEETQ_RESULT_TTL after it is stored
 * (a day by default); after that the task is only in SQLite, and the
 * message says how to look there.
 *
 * fq_ctl_result_show() is shared with `fleetqctl submit --wait`. With
 * --follow, the answer of a streamed task is printed as it arrives instead
 * (ctl_follow.c).
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cost.h"
#include "ctl.h"
#include "ctl_follow.h"
#include "keys.h"
#include "record.h"
#include "task.h"

static int run(fq_ctl *ctl, int argc, char **argv);

const fq_ctl_command fq_ctl_cmd_result = {
    .name = "result",
    .args = "ID [--json | --follow]",
    .summary = "show a task's status, output, error, tokens, cost and times",
    .run = run,
};

static void help(void)
{
    fq_ctl_print_usage(&fq_ctl_cmd_result, stdout);
    fputs("\n"
          "Shows one task from its record in Redis (fleetq:task:ID): a few header\n"
          "lines (id, status, role and priority, model, attempts, tokens, cost,\n"
          "latency, times in UTC, worker, the task an answer from the cache came from,\n"
          "notes, error), then a blank line and the output as the model wrote it.\n"
          "The attempts line is \"MADE of MOST\"; when MOST is not the number the\n"
          "task was submitted with it says why, e.g. \"2 of 5 (4 asked, +1 made\n"
          "before the requeue)\": a requeue gives a fresh allowance on top of the\n"
          "attempts made; \"+1 for a fallback after a 404\": a fallback's call may go\n"
          "past the limit. Ended tasks are kept in Redis for FLEETQ_RESULT_TTL\n"
          "(24 h by default) once stored; older ones are only in SQLite (the tasks\n"
          "table of FLEETQ_DB).\n"
          "\n"
          "Options:\n"
          "  --json       print one JSON object: id, status, final (true once ended),\n"
          "               role, priority, model, attempts, max_attempts (and what it\n"
          "               is made of: attempts_asked, requeues, attempts_at_requeue,\n"
          "               fallback_attempts, attempts_note), error, output,\n"
          "               finish_reason, prompt_tokens, completion_tokens,\n"
          "               reasoning_tokens, cached_tokens, cost_usd, latency_ms,\n"
          "               submitted_at, started_at, finished_at (ISO-8601), worker,\n"
          "               cached_from, notes;\n"
          "               what the task does not have yet is null\n"
          "  -f, --follow print the answer as it arrives (for a task with stream on),\n"
          "               from the start of fleetq:stream:ID, until the task ends; the\n"
          "               output then ends with a line break. When an attempt fails\n"
          "               and the task will be tried again, a line on stderr says so\n"
          "               and the next attempt's answer starts on a new line. A task\n"
          "               that ended without streaming (or whose stream has expired)\n"
          "               prints just its output, without the header lines (the part\n"
          "               not streamed already); an error goes to stderr. Ctrl-C stops\n"
          "               following. Not with --json\n"
          "  -h, --help   show this help\n"
          "\n"
          "Exit status: 0 the task is done; 4 it ended failed, rejected, expired or\n"
          "cancelled; 5 it has not ended yet (queued, delayed, running, retrying;\n"
          "never with --follow, which waits for the end); 1 no such task in Redis\n"
          "(or not a task id); 2 usage or configuration error; 3 Redis could not be\n"
          "reached.\n",
          stdout);
}

/* ------------------------------------------------------------------------
 * Reading the task
 * --------------------------------------------------------------------- */

typedef struct task_view {
    const char *id;
    const redisReply *f[FQ_FOLLOW_COUNT];   /* NULL when the hash lacks the field */
} task_view;

static const redisReply *get(const task_view *t, int i)
{
    return t->f[i];
}

/* A whole-number field; -1 when absent or not one. */
static long long num(const task_view *t, int i)
{
    const redisReply *v = t->f[i];
    if (v == NULL || v->len == 0)
        return -1;
    char *end;
    long long n = strtoll(v->str, &end, 10);
    return *end == '\0' ? n : -1;
}

/* The same, 0 when absent. */
static long long count(const task_view *t, int i)
{
    long long n = num(t, i);
    return n < 0 ? 0 : n;
}

/* What its max_attempts is made of. */
static void attempt_limit(const task_view *t, fq_attempt_limit *l)
{
    fq_attempt_limit_read(num(t, FQ_FOLLOW_MAX_ATTEMPTS), num(t, FQ_FOLLOW_ALLOWANCE),
                          num(t, FQ_FOLLOW_REQUEUES), num(t, FQ_FOLLOW_AT_REQUEUE),
                          num(t, FQ_FOLLOW_FALLBACK_ATTEMPTS), l);
}

/* Reads the hash; returns the HMGET reply (owning t's fields), or NULL
 * after reporting why. */
static redisReply *read_task(fq_ctl *ctl, const char *id, task_view *t)
{
    char key[FQ_KEY_MAX];
    fq_argv a;
    fq_argv_init(&a);
    fq_argv_adds(&a, "HMGET");
    fq_argv_adds(&a, fq_key_task(id, key, sizeof(key)));
    int bad = 0;
    for (int i = 0; i < FQ_FOLLOW_COUNT; i++)
        bad |= fq_argv_adds(&a, fq_follow_fields[i]);
    redisReply *r = bad ? NULL : fq_ctl_command_argv(ctl, &a);
    fq_argv_free(&a);
    if (bad) {
        fq_ctl_errorf("out of memory");
        fq_ctl_fail(ctl, FQ_CTL_PARTIAL);
        return NULL;
    }
    if (r == NULL)
        return NULL;
    if (r->type != REDIS_REPLY_ARRAY || r->elements != FQ_FOLLOW_COUNT) {
        freeReplyObject(r);
        fq_ctl_errorf("Redis answered HMGET with something unexpected");
        fq_ctl_fail(ctl, FQ_CTL_PARTIAL);
        return NULL;
    }
    t->id = id;
    for (int i = 0; i < FQ_FOLLOW_COUNT; i++)
        t->f[i] = r->element[i]->type == REDIS_REPLY_STRING ? r->element[i] : NULL;
    return r;
}

/* ------------------------------------------------------------------------
 * Text
 * --------------------------------------------------------------------- */

static void header(const char *name, const redisReply *v)
{
    if (v == NULL || v->len == 0)
        return;
    printf("%-11s", name);
    fq_ctl_put_field(stdout, v->str, v->len);
    putchar('\n');
}

static void header_time(const char *name, long long ms)
{
    char t[40];
    if (ms > 0)
        printf("%-11s%s\n", name, fq_iso8601_ms(ms, t, sizeof(t)));
}

static void print_text(const task_view *t)
{
    printf("%-11s%s\n", "id:", t->id);
    header("status:", get(t, FQ_FOLLOW_STATUS));
    if (get(t, FQ_FOLLOW_ROLE) != NULL) {
        printf("%-11s", "role:");
        fq_ctl_put_field(stdout, get(t, FQ_FOLLOW_ROLE)->str, get(t, FQ_FOLLOW_ROLE)->len);
        if (num(t, FQ_FOLLOW_PRIORITY) >= 0)
            printf(", priority %lld", num(t, FQ_FOLLOW_PRIORITY));
        putchar('\n');
    }
    header("model:", get(t, FQ_FOLLOW_MODEL));
    if (num(t, FQ_FOLLOW_ATTEMPTS) >= 0) {
        fq_attempt_limit l;
        char note[160];
        attempt_limit(t, &l);
        fq_attempt_limit_note(&l, note, sizeof(note));
        printf("%-11s%lld", "attempts:", num(t, FQ_FOLLOW_ATTEMPTS));
        if (l.max > 0)
            printf(" of %lld", l.max);
        if (note[0] != '\0')
            printf(" (%s)", note);
        putchar('\n');
    }
    if (num(t, FQ_FOLLOW_PROMPT_TOKENS) >= 0)
        printf("%-11s%lld prompt (%lld cached), %lld completion, %lld reasoning%s\n", "tokens:",
               num(t, FQ_FOLLOW_PROMPT_TOKENS), count(t, FQ_FOLLOW_CACHED_TOKENS), count(t, FQ_FOLLOW_COMPLETION_TOKENS),
               count(t, FQ_FOLLOW_REASONING_TOKENS),
               num(t, FQ_FOLLOW_USAGE_ESTIMATED) > 0
                   ? " (estimated: the provider sent no usage)" : "");
    if (num(t, FQ_FOLLOW_COST_TICKS) >= 0)
        printf("%-11s$%.6f\n", "cost:", (double)num(t, FQ_FOLLOW_COST_TICKS) / FQ_TICKS_PER_USD);
    if (num(t, FQ_FOLLOW_LATENCY) >= 0)
        printf("%-11s%lld ms\n", "latency:", num(t, FQ_FOLLOW_LATENCY));
    header_time("submitted:", num(t, FQ_FOLLOW_SUBMITTED));
    header_time("started:", num(t, FQ_FOLLOW_STARTED));
    header_time("finished:", num(t, FQ_FOLLOW_FINISHED));
    header("worker:", get(t, FQ_FOLLOW_WORKER));
    header("finish:", get(t, FQ_FOLLOW_FINISH_REASON));
    header("cached:", get(t, FQ_FOLLOW_CACHED_FROM));
    header("notes:", get(t, FQ_FOLLOW_NOTES));
    header("error:", get(t, FQ_FOLLOW_ERROR));
    const redisReply *out = get(t, FQ_FOLLOW_OUTPUT);
    if (out != NULL && out->len > 0) {
        putchar('\n');
        fwrite(out->str, 1, out->len, stdout);
        if (out->str[out->len - 1] != '\n')
            putchar('\n');
    }
}

/* ------------------------------------------------------------------------
 * JSON
 * --------------------------------------------------------------------- */

static int add_str(cJSON *o, const char *name, const redisReply *v)
{
    return fq_ctl_json_str(o, name, v ? v->str : NULL, v ? v->len : 0);
}

static int add_num(cJSON *o, const char *name, int known, double n)
{
    return (known ? cJSON_AddNumberToObject(o, name, n) : cJSON_AddNullToObject(o, name)) !=
                   NULL ? 0 : -1;
}

static int add_int(cJSON *o, const char *name, long long n)
{
    return add_num(o, name, n >= 0, (double)n);
}

static int add_time(cJSON *o, const char *name, long long ms)
{
    char t[40];
    if (ms <= 0)
        return cJSON_AddNullToObject(o, name) != NULL ? 0 : -1;
    return cJSON_AddStringToObject(o, name, fq_iso8601_ms(ms, t, sizeof(t))) != NULL ? 0 : -1;
}

/* What max_attempts is made of: attempts_asked, requeues,
 * attempts_at_requeue, fallback_attempts, and attempts_note (why it is
 * not what was asked, null when it is); null without a max_attempts. */
static int add_attempt_limit(cJSON *o, const task_view *t)
{
    fq_attempt_limit l;
    char note[160];
    attempt_limit(t, &l);
    fq_attempt_limit_note(&l, note, sizeof(note));
    int known = l.max > 0;
    return add_num(o, "attempts_asked", known, (double)l.asked) |
           add_num(o, "requeues", known, (double)l.requeues) |
           add_num(o, "attempts_at_requeue", known, (double)l.at_requeue) |
           add_num(o, "fallback_attempts", known, (double)l.by_fallback) |
           (note[0] != '\0' ? cJSON_AddStringToObject(o, "attempts_note", note) == NULL
                            : cJSON_AddNullToObject(o, "attempts_note") == NULL);
}

static cJSON *to_json(const task_view *t)
{
    cJSON *o = cJSON_CreateObject();
    if (o == NULL)
        return NULL;
    const redisReply *status = get(t, FQ_FOLLOW_STATUS);
    int bad = cJSON_AddStringToObject(o, "id", t->id) == NULL;
    bad |= add_str(o, "status", status);
    bad |= cJSON_AddBoolToObject(o, "final", fq_ctl_status_final(status->str)) == NULL;
    bad |= add_str(o, "role", get(t, FQ_FOLLOW_ROLE));
    bad |= add_int(o, "priority", num(t, FQ_FOLLOW_PRIORITY));
    bad |= add_str(o, "model", get(t, FQ_FOLLOW_MODEL));
    bad |= add_int(o, "attempts", num(t, FQ_FOLLOW_ATTEMPTS));
    bad |= add_int(o, "max_attempts", num(t, FQ_FOLLOW_MAX_ATTEMPTS));
    bad |= add_attempt_limit(o, t);
    bad |= add_str(o, "error", get(t, FQ_FOLLOW_ERROR));
    bad |= add_str(o, "output", get(t, FQ_FOLLOW_OUTPUT));
    bad |= add_str(o, "finish_reason", get(t, FQ_FOLLOW_FINISH_REASON));
    bad |= add_int(o, "prompt_tokens", num(t, FQ_FOLLOW_PROMPT_TOKENS));
    bad |= add_int(o, "completion_tokens", num(t, FQ_FOLLOW_COMPLETION_TOKENS));
    bad |= add_int(o, "reasoning_tokens", num(t, FQ_FOLLOW_REASONING_TOKENS));
    bad |= add_int(o, "cached_tokens", num(t, FQ_FOLLOW_CACHED_TOKENS));
    bad |= add_num(o, "cost_usd", num(t, FQ_FOLLOW_COST_TICKS) >= 0,
                   (double)num(t, FQ_FOLLOW_COST_TICKS) / FQ_TICKS_PER_USD);
    bad |= add_int(o, "latency_ms", num(t, FQ_FOLLOW_LATENCY));
    bad |= add_time(o, "submitted_at", num(t, FQ_FOLLOW_SUBMITTED));
    bad |= add_time(o, "started_at", num(t, FQ_FOLLOW_STARTED));
    bad |= add_time(o, "finished_at", num(t, FQ_FOLLOW_FINISHED));
    bad |= add_str(o, "worker", get(t, FQ_FOLLOW_WORKER));
    bad |= add_str(o, "cached_from", get(t, FQ_FOLLOW_CACHED_FROM));
    bad |= add_str(o, "notes", get(t, FQ_FOLLOW_NOTES));
    bad |= cJSON_AddBoolToObject(o, "usage_estimated",
                                 num(t, FQ_FOLLOW_USAGE_ESTIMATED) > 0) == NULL;
    if (bad) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

/* ------------------------------------------------------------------------
 * The command
 * --------------------------------------------------------------------- */

int fq_ctl_result_show(fq_ctl *ctl, const char *id, int json)
{
    task_view t;
    redisReply *r = read_task(ctl, id, &t);
    if (r == NULL)
        return fq_ctl_exit(ctl);
    const redisReply *status = get(&t, FQ_FOLLOW_STATUS);
    if (status == NULL) {
        freeReplyObject(r);
        fq_ctl_errorf("result %s: no such task in Redis (fleetq:task:%s): the id is unknown, "
                      "or the task was stored more than FLEETQ_RESULT_TTL (%d s) ago; ended "
                      "tasks stay in SQLite: sqlite3 %s \"SELECT * FROM tasks WHERE id = '%s'\"",
                      id, id, ctl->cfg.result_ttl_s, ctl->cfg.db_path, id);
        fq_ctl_fail(ctl, FQ_CTL_PARTIAL);
        return fq_ctl_exit(ctl);
    }
    if (json) {
        if (fq_ctl_json_print(to_json(&t)) != 0)
            fq_ctl_fail(ctl, FQ_CTL_PARTIAL);
    } else {
        print_text(&t);
    }
    int code = strcmp(status->str, "done") == 0        ? FQ_CTL_OK
               : fq_ctl_status_final(status->str) ? FQ_CTL_ENDED
                                                   : FQ_CTL_NOT_ENDED;
    freeReplyObject(r);
    return fq_ctl_exit(ctl) != FQ_CTL_OK ? fq_ctl_exit(ctl) : code;
}

/* Parses --json, --follow and --help. Returns -1 to go on, with optind at
 * the first word, else the exit status (help shown, or a usage error). */
static int parse_options(int argc, char **argv, int *json, int *follow)
{
    static const struct option opts[] = {
        {"json", no_argument, NULL, 'j'},
        {"follow", no_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    *json = *follow = 0;
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":fh", opts, NULL)) != -1) {
        switch (c) {
        case 'j': *json = 1; break;
        case 'f': *follow = 1; break;
        case 'h': help(); return FQ_CTL_OK;
        default: return fq_ctl_bad_option(&fq_ctl_cmd_result, c, argv);
        }
    }
    if (*json && *follow)
        return fq_ctl_usage_error(&fq_ctl_cmd_result, "--follow prints the answer as text "
                                  "as it arrives; it cannot be combined with --json");
    return -1;
}

static int run(fq_ctl *ctl, int argc, char **argv)
{
    int json, follow;
    int rc = parse_options(argc, argv, &json, &follow);
    if (rc >= 0)
        return rc;
    if (optind >= argc)
        return fq_ctl_usage_error(&fq_ctl_cmd_result, "no task id given");
    if (argc - optind > 1)
        return fq_ctl_usage_error(&fq_ctl_cmd_result, "one task id at a time, got \"%.40s\" "
                                  "too", argv[optind + 1]);
    const char *id = argv[optind];
    if (!fq_id_valid(id, strlen(id))) {
        fq_ctl_errorf("result \"%.40s\": not a task id (1-128 of A-Za-z0-9._:-)", id);
        return FQ_CTL_PARTIAL;
    }
    if (fq_ctl_connect(ctl) != 0)
        return fq_ctl_exit(ctl);
    return follow ? fq_ctl_result_follow(ctl, id) : fq_ctl_result_show(ctl, id, json);
}
