/* cmd_requeue.c -- `fleetqctl requeue ID... | --all`: runs ended tasks
 * again.
 *
 * The work is requeue.lua's (see it for what a requeue changes): named ids
 * go to it in batches; --all hands it the dead-letter set a batch at a
 * time, up to the moment the command started (read from Redis' clock), so
 * tasks that fail again while it runs are not requeued in a loop, and past
 * the dead letters it had to leave in the set. Each
 * requeued id is printed on stdout; each id that was not requeued gets one
 * line with the reason on stderr and makes the exit status 1. With --all,
 * dead letters whose task has expired meanwhile are only dropped.
 */
#include <getopt.h>
#include <string.h>

#include "ctl.h"
#include "keys.h"
#include "task.h"

#define BATCH 500

static int run(fq_ctl *ctl, int argc, char **argv);

const fq_ctl_command fq_ctl_cmd_requeue = {
    .name = "requeue",
    .args = "ID... | --all",
    .summary = "run failed (or expired, cancelled) tasks again",
    .run = run,
};

static void help(void)
{
    fq_ctl_print_usage(&fq_ctl_cmd_requeue, stdout);
    fputs("\n"
          "Puts tasks that ended failed, expired or cancelled back on their role's\n"
          "queue, with a fresh allowance of attempts (as many as they were submitted\n"
          "with; attempt numbers keep counting up, so a task of 4 attempts requeued\n"
          "after 1 may make 5: " FQ_CTL_PROG " result shows \"2 of 5 (4 asked, +1 made\n"
          "before the requeue)\"). When such a task ends again, its row in SQLite is\n"
          "updated. Other tasks are left alone.\n"
          "\n"
          "Prints \"requeued ID\" for each task requeued; each task that was not gets\n"
          "one line on stderr saying why, and the exit status is 1.\n"
          "\n"
          "Options:\n"
          "  --all        requeue every dead letter (see " FQ_CTL_PROG " dead)\n"
          "  -h, --help   show this help\n",
          stdout);
}

/* Runs requeue.lua over ids[0..n) (lens[i] bytes each); the reply, or
 * NULL after reporting the failure. */
static redisReply *requeue_batch(fq_ctl *ctl, const char *const *ids, const size_t *lens,
                                 size_t n)
{
    fq_argv a;
    fq_argv_init(&a);
    fq_requeue_args(&a, ids, lens, n);
    redisReply *reply = fq_ctl_script(ctl, "requeue", FQ_REQUEUE_NKEYS + 2 * (int)n, &a);
    fq_argv_free(&a);
    return reply;
}

/* Prints what the script did with each id and counts the requeued ones in
 * *requeued and the ones left in the dead-letter set in *kept. Returns the
 * number of ids it handled, or -1 when the reply was not what it should
 * be. */
static long report(fq_ctl *ctl, const redisReply *reply, int all, long *requeued, long *kept)
{
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements % 2 != 1 ||
        reply->element[0]->type != REDIS_REPLY_INTEGER) {
        fq_ctl_errorf("requeue.lua answered with something unexpected");
        fq_ctl_fail(ctl, FQ_CTL_PARTIAL);
        return -1;
    }
    *kept += (long)reply->element[0]->integer;
    for (size_t i = 1; i + 1 < reply->elements; i += 2) {
        const redisReply *id = reply->element[i], *outcome = reply->element[i + 1];
        if (id->type != REDIS_REPLY_STRING || outcome->type != REDIS_REPLY_STRING)
            continue;
        if (strcmp(outcome->str, "requeued") == 0) {
            fputs("requeued ", stdout);
            fq_ctl_put_field(stdout, id->str, id->len);
            putchar('\n');
            (*requeued)++;
        } else if (!(all && strcmp(outcome->str, "not found") == 0)) {
            fprintf(stderr, FQ_CTL_PROG ": requeue ");
            fq_ctl_put_field(stderr, id->str, id->len);
            fprintf(stderr, ": %s\n", outcome->str);
            fq_ctl_fail(ctl, FQ_CTL_PARTIAL);
        }
    }
    return (long)(reply->elements / 2);
}

static int requeue_all(fq_ctl *ctl)
{
    long long cutoff = fq_ctl_redis_now_ms(ctl);
    if (cutoff < 0)
        return fq_ctl_exit(ctl);
    long handled, requeued = 0, kept = 0;
    do {
        /* the dead letters past those left in the set, up to the start */
        redisReply *range = fq_ctl_command_run(ctl, "ZRANGEBYSCORE %s -inf %lld LIMIT %ld %d",
                                               fq_keys()->dead, cutoff, kept, BATCH);
        if (range == NULL)
            break;
        handled = 0;
        size_t n = range->type == REDIS_REPLY_ARRAY ? range->elements : 0;
        const char *ids[BATCH];
        size_t lens[BATCH];
        for (size_t i = 0; i < n && i < BATCH; i++) {
            ids[i] = range->element[i]->str;
            lens[i] = range->element[i]->len;
        }
        redisReply *reply = n > 0 ? requeue_batch(ctl, ids, lens, n) : NULL;
        freeReplyObject(range);
        if (reply == NULL)
            break;
        handled = report(ctl, reply, 1, &requeued, &kept);
        freeReplyObject(reply);
    } while (handled == BATCH);
    if (requeued == 0 && fq_ctl_exit(ctl) == FQ_CTL_OK)
        fq_ctl_errorf("no dead letters to requeue");
    return fq_ctl_exit(ctl);
}

static int requeue_ids(fq_ctl *ctl, int n, char **ids)
{
    long requeued = 0, kept = 0;
    for (int start = 0; start < n; start += BATCH) {
        size_t count = (size_t)(n - start < BATCH ? n - start : BATCH);
        size_t lens[BATCH];
        for (size_t i = 0; i < count; i++)
            lens[i] = strlen(ids[start + (int)i]);
        redisReply *reply = requeue_batch(ctl, (const char *const *)ids + start, lens, count);
        if (reply == NULL)
            break;
        report(ctl, reply, 0, &requeued, &kept);
        freeReplyObject(reply);
    }
    return fq_ctl_exit(ctl);
}

static int run(fq_ctl *ctl, int argc, char **argv)
{
    static const struct option opts[] = {
        {"all", no_argument, NULL, 'a'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int all = 0, c;
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case 'a': all = 1; break;
        case 'h': help(); return FQ_CTL_OK;
        default: return fq_ctl_bad_option(&fq_ctl_cmd_requeue, c, argv);
        }
    }
    int n = argc - optind;
    if (all && n > 0)
        return fq_ctl_usage_error(&fq_ctl_cmd_requeue, "give task ids or --all, not both");
    if (!all && n == 0)
        return fq_ctl_usage_error(&fq_ctl_cmd_requeue, "no task id given (or --all)");

    /* An id that cannot name a task is reported without asking Redis. */
    char **ids = argv + optind;
    int valid = 0;
    for (int i = 0; i < n; i++) {
        if (fq_id_valid(ids[i], strlen(ids[i]))) {
            ids[valid++] = ids[i];
        } else {
            fq_ctl_errorf("requeue \"%.40s\": not a task id (1-128 of A-Za-z0-9._:-)", ids[i]);
            fq_ctl_fail(ctl, FQ_CTL_PARTIAL);
        }
    }
    if (!all && valid == 0)
        return fq_ctl_exit(ctl);
    int rc = fq_ctl_connect(ctl);
    if (rc != 0)
        return rc;
    return all ? requeue_all(ctl) : requeue_ids(ctl, valid, ids);
}
