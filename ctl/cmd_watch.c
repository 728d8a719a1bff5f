/* cmd_watch.c -- `fleetqctl watch`: the status screen, redrawn every
 * interval, with a progress line while a batch drains.
 *
 * Each screen is one snapshot (ctl_fleet.c). On a terminal the screen is
 * cleared before each one (ANSI); otherwise screens follow each other,
 * separated by a blank line, so the output can be logged and tested.
 *
 * Progress: done/total, where total is the tasks that ended since watch
 * started plus the tasks outstanding now (queued + delayed + running).
 * Ended tasks are counted from fleetq:events: every entry after the one
 * that was last when watch started whose status is final (done, failed,
 * rejected, expired, cancelled; see fq_event in the Lua prelude for the
 * layout: id, status, role, ...). The snapshot carries the id of the last
 * event at its moment, and events are read up to exactly that id, so a task
 * that ends between two reads is counted once: outstanding in one screen,
 * ended in the next.
 *
 * It runs until --count screens are shown, or until SIGINT or SIGTERM
 * (exit 0).
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"
#include "keys.h"

#define DEFAULT_INTERVAL_S 2.0
#define EVENTS_BATCH 1000
#define BAR_WIDTH 30

static int run(fq_ctl *ctl, int argc, char **argv);

const fq_ctl_command fq_ctl_cmd_watch = {
    .name = "watch",
    .args = "[--interval SECONDS] [--count N] [--json]",
    .summary = "the status screen every few seconds, with a batch's progress",
    .run = run,
};

static void help(void)
{
    fq_ctl_print_usage(&fq_ctl_cmd_watch, stdout);
    fputs("\n"
          "Shows the screen of `" FQ_CTL_PROG " status` again and again, with one more\n"
          "line: the progress of the work in hand, \"progress  N/TOTAL ended [###...]\",\n"
          "where TOTAL is the tasks that ended since watch started plus those queued,\n"
          "delayed or running now. Tasks that ended other than done count as ended\n"
          "too, and \"(N not done)\" follows the bar. On a terminal the screen is\n"
          "redrawn in place; otherwise screens follow each other, separated by a\n"
          "blank line.\n"
          "\n"
          "Options:\n"
          "  -i, --interval SECONDS  time between screens (default 2; 0.1 to 3600)\n"
          "  -n, --count N           stop after N screens (default: until interrupted)\n"
          "  --json                  one JSON object per screen and line: the object of\n"
          "                          `status --json` plus progress (ended, done, total)\n"
          "  -h, --help              show this help\n"
          "\n"
          "Exit status: 0 after --count screens or on SIGINT/SIGTERM; 1 Redis refused\n"
          "a command; 2 usage or configuration error; 3 Redis could not be reached\n"
          "(or went away).\n",
          stdout);
}

/* ------------------------------------------------------------------------
 * Stopping
 * --------------------------------------------------------------------- */

static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
    (void)sig;
    stopping = 1;
}

static void catch_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;  /* no SA_RESTART: the sleep ends at once */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

static void pause_for(double seconds)
{
    struct timespec ts = {.tv_sec = (time_t)seconds,
                          .tv_nsec = (long)((seconds - floor(seconds)) * 1e9)};
    while (!stopping && nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* ------------------------------------------------------------------------
 * Counting ended tasks from fleetq:events
 * --------------------------------------------------------------------- */

typedef struct progress {
    char seen[48];          /* the last event counted ("" before any) */
    long long ended;        /* since watch started */
    long long done;         /* of those, done */
} progress;

/* The stream id right after id ("ms-seq"), for an exclusive start. */
static void next_id(const char *id, char *buf, size_t len)
{
    unsigned long long ms = 0, seq = 0;
    if (sscanf(id, "%llu-%llu", &ms, &seq) != 2) {
        snprintf(buf, len, "0-1");
        return;
    }
    if (seq == ~0ULL) {
        ms++;
        seq = 0;
    } else {
        seq++;
    }
    snprintf(buf, len, "%llu-%llu", ms, seq);
}

/* Counts one XRANGE entry: {id, {name, value, ...}}. */
static void count_event(progress *p, const redisReply *e)
{
    if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
        e->element[0]->type != REDIS_REPLY_STRING || e->element[0]->len >= sizeof(p->seen))
        return;
    snprintf(p->seen, sizeof(p->seen), "%s", e->element[0]->str);
    const redisReply *status = fq_ctl_hash_get(e->element[1], "status");
    if (status != NULL && fq_ctl_status_final(status->str)) {
        p->ended++;
        if (strcmp(status->str, "done") == 0)
            p->done++;
    }
}

/* Reads the events after p->seen up to last (inclusive). Returns 0, or -1
 * after reporting a Redis failure. */
static int count_events(fq_ctl *ctl, progress *p, const char *last)
{
    char from[64];
    while (last[0] != '\0' && strcmp(p->seen, last) != 0) {
        next_id(p->seen[0] ? p->seen : "0-0", from, sizeof(from));
        redisReply *r = fq_ctl_command_run(ctl, "XRANGE %s %s %s COUNT %d", fq_keys()->events, from,
                                           last, EVENTS_BATCH);
        if (r == NULL)
            return -1;
        size_t n = r->type == REDIS_REPLY_ARRAY ? r->elements : 0;
        for (size_t i = 0; i < n; i++)
            count_event(p, r->element[i]);
        freeReplyObject(r);
        if (n < EVENTS_BATCH)
            break;  /* up to last (trimmed entries are simply gone) */
    }
    snprintf(p->seen, sizeof(p->seen), "%s", last);
    return 0;
}

/* ------------------------------------------------------------------------
 * Screens
 * --------------------------------------------------------------------- */

static void print_progress(const progress *p, long long total, FILE *out)
{
    fprintf(out, "%-14s", "progress");
    if (total <= 0) {
        fputs("nothing outstanding\n", out);
        return;
    }
    int fill = (int)(p->ended * BAR_WIDTH / total);
    fprintf(out, "%lld/%lld ended [", p->ended, total);
    for (int i = 0; i < BAR_WIDTH; i++)
        fputc(i < fill ? '#' : '.', out);
    fprintf(out, "] %3lld%%", p->ended * 100 / total);
    if (p->ended > p->done)
        fprintf(out, " (%lld not done)", p->ended - p->done);
    fputc('\n', out);
}

static int show_json(const fq_ctl *ctl, const fq_ctl_fleet *f, const progress *p,
                     long long total)
{
    cJSON *o = fq_ctl_fleet_json(ctl, f);
    cJSON *pr = o != NULL ? cJSON_AddObjectToObject(o, "progress") : NULL;
    if (pr == NULL || cJSON_AddNumberToObject(pr, "ended", (double)p->ended) == NULL ||
        cJSON_AddNumberToObject(pr, "done", (double)p->done) == NULL ||
        cJSON_AddNumberToObject(pr, "total", (double)total) == NULL) {
        cJSON_Delete(o);
        o = NULL;
    }
    return fq_ctl_json_print(o);
}

static int watch(fq_ctl *ctl, double interval, long count, int json)
{
    int tty = isatty(STDOUT_FILENO);
    progress p;
    memset(&p, 0, sizeof(p));
    catch_signals();
    for (long shown = 0; !stopping && (count == 0 || shown < count); shown++) {
        if (shown > 0)
            pause_for(interval);
        if (stopping)
            break;
        fq_ctl_fleet f;
        int ok = fq_ctl_fleet_gather(ctl, &f) == 0;
        if (ok && shown == 0)
            snprintf(p.seen, sizeof(p.seen), "%s", f.events_last);  /* the start */
        ok = ok && count_events(ctl, &p, f.events_last) == 0;
        if (ok) {
            long long total = p.ended + fq_ctl_fleet_outstanding(&f);
            if (json) {
                ok = show_json(ctl, &f, &p, total) == 0;
            } else {
                if (tty)
                    fputs("\033[H\033[2J", stdout);
                else if (shown > 0)
                    putchar('\n');
                fq_ctl_fleet_print(ctl, &f, stdout);
                print_progress(&p, total, stdout);
            }
            fflush(stdout);
        }
        fq_ctl_fleet_free(&f);
        if (!ok) {
            fq_ctl_fail(ctl, FQ_CTL_PARTIAL);
            break;
        }
    }
    return fq_ctl_exit(ctl);
}

static int run(fq_ctl *ctl, int argc, char **argv)
{
    static const struct option opts[] = {
        {"interval", required_argument, NULL, 'i'},
        {"count", required_argument, NULL, 'n'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int json = 0, c;
    double interval = DEFAULT_INTERVAL_S;
    long count = 0;
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":i:n:h", opts, NULL)) != -1) {
        switch (c) {
        case 'i':
            if (fq_ctl_parse_seconds(&fq_ctl_cmd_watch, "--interval", optarg, 0.1, 3600,
                                     &interval))
                return FQ_CTL_USAGE;
            break;
        case 'n':
            if (fq_ctl_parse_count(&fq_ctl_cmd_watch, "--count", optarg, 1, 1000000000L,
                                   &count))
                return FQ_CTL_USAGE;
            break;
        case 'j': json = 1; break;
        case 'h': help(); return FQ_CTL_OK;
        default: return fq_ctl_bad_option(&fq_ctl_cmd_watch, c, argv);
        }
    }
    if (optind < argc)
        return fq_ctl_usage_error(&fq_ctl_cmd_watch, "unexpected argument \"%.40s\"",
                                  argv[optind]);
    if (fq_ctl_connect(ctl) != 0)
        return fq_ctl_exit(ctl);
    return watch(ctl, interval, count, json);
}
