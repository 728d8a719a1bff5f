/* cmd_dead.c -- `fleetqctl dead`: lists the dead letters, the tasks that
 * ended `failed`, newest first.
 *
 * The ids come from the dead-letter set (fq_keys()->dead, scored by finish
 * time); what is shown comes from each task's hash (role, attempts, finish
 * time, error), read in one pipeline. Entries whose hash has expired (it
 * lives at most FQ_ENDED_TTL seconds) or whose task is no longer failed are stale: they
 * are removed on the way and not shown. Text output is one line per task,
 * tab-separated (id, role, attempts, finished, error), with a header only
 * on a terminal; --json prints one JSON array.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "ctl.h"
#include "keys.h"
#include "record.h"

#define DEFAULT_LIMIT 100
#define MAX_LIMIT 1000000000L

static int run(fq_ctl *ctl, int argc, char **argv);

const fq_ctl_command fq_ctl_cmd_dead = {
    .name = "dead",
    .args = "[--json] [--limit N]",
    .summary = "list the dead letters (tasks that ended failed), newest first",
    .run = run,
};

static void help(void)
{
    fq_ctl_print_usage(&fq_ctl_cmd_dead, stdout);
    fputs("\n"
          "Lists the tasks that ended `failed` (all their attempts used, or an error\n"
          "that is not retried), newest first: one line per task with its id, role,\n"
          "attempts made, finish time (UTC) and error, separated by tabs. Failed\n"
          "tasks stay listed until they are requeued (" FQ_CTL_PROG " requeue) or their\n"
          "record expires (FLEETQ_RESULT_TTL after it is stored, a day by default).\n"
          "\n"
          "Options:\n"
          "  --json         print a JSON array of objects: id, role, attempts,\n"
          "                 max_attempts, attempts_note (why max_attempts is not the\n"
          "                 number asked, as in result; null when it is), finished_at\n"
          "                 (ISO-8601), finished_at_ms, error\n"
          "  -n, --limit N  show at most N (default 100); 0 shows all\n"
          "  -h, --help     show this help\n",
          stdout);
}

typedef struct letter {
    const char *id;
    size_t id_len;
    redisReply *hash;     /* HMGET status role attempts max_attempts finished_at error,
                             and what max_attempts is made of (task.h) */
    long long died_ms;    /* the set's score */
} letter;

enum { H_STATUS, H_ROLE, H_ATTEMPTS, H_MAX_ATTEMPTS, H_FINISHED, H_ERROR, H_ALLOWANCE,
       H_REQUEUES, H_AT_REQUEUE, H_FALLBACK_ATTEMPTS, H_COUNT };

static const redisReply *hash_field(const letter *l, int i)
{
    const redisReply *v = l->hash->element[i];
    return v->type == REDIS_REPLY_STRING ? v : NULL;
}

static long long hash_int(const letter *l, int i, long long def)
{
    const redisReply *v = hash_field(l, i);
    return v ? strtoll(v->str, NULL, 10) : def;
}

static long long finished_ms(const letter *l)
{
    return hash_int(l, H_FINISHED, l->died_ms);
}

static void print_text(const letter *ls, size_t n)
{
    if (n > 0 && isatty(STDOUT_FILENO))
        puts("ID\tROLE\tATTEMPTS\tFINISHED\tERROR");
    for (size_t i = 0; i < n; i++) {
        const letter *l = &ls[i];
        const redisReply *role = hash_field(l, H_ROLE), *error = hash_field(l, H_ERROR);
        char iso[40];
        fq_ctl_put_field(stdout, l->id, l->id_len);
        putchar('\t');
        fq_ctl_put_field(stdout, role ? role->str : "-", role ? role->len : 1);
        printf("\t%lld\t%s\t", hash_int(l, H_ATTEMPTS, 0),
               fq_iso8601_ms(finished_ms(l), iso, sizeof(iso)));
        if (error != NULL)
            fq_ctl_put_field(stdout, error->str, error->len);
        putchar('\n');
    }
}

static int add_string(cJSON *obj, const char *name, const char *s, size_t len)
{
    char *copy = strndup(s, len);
    int ok = copy != NULL && cJSON_AddStringToObject(obj, name, copy) != NULL;
    free(copy);
    return ok ? 0 : -1;
}

static int print_json(const letter *ls, size_t n)
{
    cJSON *arr = cJSON_CreateArray();
    int ok = arr != NULL;
    for (size_t i = 0; ok && i < n; i++) {
        const letter *l = &ls[i];
        const redisReply *role = hash_field(l, H_ROLE), *error = hash_field(l, H_ERROR);
        char iso[40];
        cJSON *o = cJSON_CreateObject();
        ok = o != NULL && cJSON_AddItemToArray(arr, o);
        ok = ok && add_string(o, "id", l->id, l->id_len) == 0;
        ok = ok && (role ? add_string(o, "role", role->str, role->len) == 0
                         : cJSON_AddNullToObject(o, "role") != NULL);
        ok = ok && cJSON_AddNumberToObject(o, "attempts",
                                           (double)hash_int(l, H_ATTEMPTS, 0)) != NULL;
        ok = ok && cJSON_AddNumberToObject(o, "max_attempts",
                                           (double)hash_int(l, H_MAX_ATTEMPTS, 0)) != NULL;
        fq_attempt_limit lim;
        char note[160];
        fq_attempt_limit_read(hash_int(l, H_MAX_ATTEMPTS, -1), hash_int(l, H_ALLOWANCE, -1),
                              hash_int(l, H_REQUEUES, -1), hash_int(l, H_AT_REQUEUE, -1),
                              hash_int(l, H_FALLBACK_ATTEMPTS, -1), &lim);
        fq_attempt_limit_note(&lim, note, sizeof(note));
        ok = ok && (note[0] != '\0' ? cJSON_AddStringToObject(o, "attempts_note", note)
                                    : cJSON_AddNullToObject(o, "attempts_note")) != NULL;
        ok = ok && cJSON_AddStringToObject(o, "finished_at",
                                           fq_iso8601_ms(finished_ms(l), iso, sizeof(iso)));
        ok = ok && cJSON_AddNumberToObject(o, "finished_at_ms", (double)finished_ms(l)) != NULL;
        ok = ok && (error ? add_string(o, "error", error->str, error->len) == 0
                          : cJSON_AddNullToObject(o, "error") != NULL);
    }
    char *text = ok ? cJSON_PrintUnformatted(arr) : NULL;
    if (text != NULL)
        puts(text);
    cJSON_free(text);
    cJSON_Delete(arr);
    if (text == NULL) {
        fq_ctl_errorf("out of memory while writing the JSON");
        return -1;
    }
    return 0;
}

/* Reads the hashes of the listed ids; drops the stale ones and removes
 * them from the set. Returns the number kept in ls, or -1 when Redis
 * failed (reported). */
static long read_letters(fq_ctl *ctl, const redisReply *range, letter *ls)
{
    size_t n = range->elements / 2;
    for (size_t i = 0; i < n; i++) {
        const redisReply *id = range->element[2 * i];
        if (fq_ctl_append(ctl, "HMGET %s:task:%b status role attempts max_attempts "
                               "finished_at error allowance requeues attempts_at_requeue "
                               "fallback_attempts", fq_keys()->prefix, id->str, id->len) != 0)
            return -1;
    }
    fq_argv stale;
    fq_argv_init(&stale);
    fq_argv_adds(&stale, "ZREM");
    fq_argv_adds(&stale, fq_keys()->dead);
    long kept = 0;
    int failed = 0;
    for (size_t i = 0; i < n && !failed; i++) {
        redisReply *hash = fq_ctl_next_reply(ctl);
        if (hash == NULL) {
            failed = 1;  /* reported */
            break;
        }
        const redisReply *id = range->element[2 * i];
        letter l = {id->str, id->len, hash, strtoll(range->element[2 * i + 1]->str, NULL, 10)};
        const redisReply *status = hash->type == REDIS_REPLY_ARRAY &&
                                           hash->elements == H_COUNT
                                       ? hash_field(&l, H_STATUS)
                                       : NULL;
        if (status == NULL || strcmp(status->str, "failed") != 0) {
            /* stale: the task expired, or it was requeued and runs again */
            fq_argv_add(&stale, id->str, id->len);
            freeReplyObject(hash);
            continue;
        }
        ls[kept++] = l;
    }
    if (!failed && stale.argc > 2) {
        redisReply *r = fq_ctl_command_argv(ctl, &stale);
        failed = r == NULL;
        if (r != NULL)
            freeReplyObject(r);
    }
    fq_argv_free(&stale);
    if (failed) {
        for (long i = 0; i < kept; i++)
            freeReplyObject(ls[i].hash);
        return -1;
    }
    return kept;
}

static int list(fq_ctl *ctl, int json, long limit)
{
    long long now = fq_ctl_redis_now_ms(ctl);
    if (now < 0)
        return fq_ctl_exit(ctl);
    /* entries older than the task hashes live point at nothing */
    long long oldest = now - FQ_ENDED_TTL * 1000;
    redisReply *r = fq_ctl_command_run(ctl, "ZREMRANGEBYSCORE %s -inf (%lld", fq_keys()->dead,
                                       oldest);
    if (r == NULL)
        return fq_ctl_exit(ctl);
    freeReplyObject(r);
    redisReply *range = fq_ctl_command_run(ctl, "ZREVRANGE %s 0 %ld WITHSCORES", fq_keys()->dead,
                                           limit > 0 ? limit - 1 : -1L);
    if (range == NULL)
        return fq_ctl_exit(ctl);
    if (range->type != REDIS_REPLY_ARRAY) {
        freeReplyObject(range);
        fq_ctl_errorf("Redis answered ZREVRANGE with something unexpected");
        fq_ctl_fail(ctl, FQ_CTL_PARTIAL);
        return fq_ctl_exit(ctl);
    }
    letter *ls = calloc(range->elements / 2 + 1, sizeof(*ls));
    long n = ls ? read_letters(ctl, range, ls) : -1;
    if (ls == NULL) {
        fq_ctl_errorf("out of memory");
        fq_ctl_fail(ctl, FQ_CTL_PARTIAL);
    }
    if (n >= 0) {
        if (json) {
            if (print_json(ls, (size_t)n) != 0)
                fq_ctl_fail(ctl, FQ_CTL_PARTIAL);
        } else {
            print_text(ls, (size_t)n);
        }
        for (long i = 0; i < n; i++)
            freeReplyObject(ls[i].hash);
        /* a full page may have more behind it */
        redisReply *card = limit > 0 && (size_t)limit == range->elements / 2
                               ? fq_ctl_command_run(ctl, "ZCARD %s", fq_keys()->dead)
                               : NULL;
        if (card != NULL && card->type == REDIS_REPLY_INTEGER && card->integer > limit)
            fprintf(stderr, FQ_CTL_PROG ": showing the newest %ld of %lld dead letters; "
                            "--limit 0 shows all\n", limit, card->integer);
        if (card != NULL)
            freeReplyObject(card);
    }
    free(ls);
    freeReplyObject(range);
    return fq_ctl_exit(ctl);
}

static int run(fq_ctl *ctl, int argc, char **argv)
{
    static const struct option opts[] = {
        {"json", no_argument, NULL, 'j'},
        {"limit", required_argument, NULL, 'n'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int json = 0, c;
    long limit = DEFAULT_LIMIT;
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":n:h", opts, NULL)) != -1) {
        switch (c) {
        case 'j': json = 1; break;
        case 'n':
            if (fq_ctl_parse_count(&fq_ctl_cmd_dead, "--limit", optarg, 0, MAX_LIMIT, &limit))
                return FQ_CTL_USAGE;
            break;
        case 'h': help(); return FQ_CTL_OK;
        default: return fq_ctl_bad_option(&fq_ctl_cmd_dead, c, argv);
        }
    }
    if (optind < argc)
        return fq_ctl_usage_error(&fq_ctl_cmd_dead, "unexpected argument \"%.40s\"",
                                  argv[optind]);
    if (fq_ctl_connect(ctl) != 0)
        return fq_ctl_exit(ctl);
    return list(ctl, json, limit);
}
