/* cmd_events.c -- `fleetqctl events`: the state changes of the fleet's
 * tasks, from the stream <prefix>:events that every script writes (queued,
 * running, retrying, done, ...), the last few and, with --follow, each new
 * one as it happens.
 *
 * Following is a loop of XREAD BLOCK from the last entry seen, so nothing
 * between two reads is missed (the stream is trimmed to about
 * FQ_EVENTS_MAXLEN entries; a reader that far behind would miss the
 * oldest). Each event is one line: the time (from the entry's id), the
 * task, its status, then the other fields as name=value; --json prints one
 * JSON object a line instead.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "ctl.h"
#include "keys.h"
#include "record.h"

#define DEFAULT_LAST 20
#define FOLLOW_BLOCK_MS 5000   /* one XREAD's wait; well inside the reply timeout */

static int run(fq_ctl *ctl, int argc, char **argv);

const fq_ctl_command fq_ctl_cmd_events = {
    .name = "events",
    .args = "[--follow] [--last N] [--json]",
    .summary = "the tasks' state changes, the last few or (--follow) as they happen",
    .run = run,
};

static void help(void)
{
    fq_ctl_print_usage(&fq_ctl_cmd_events, stdout);
    fputs("\n"
          "Prints the state changes of the fleet's tasks (queued, running, retrying,\n"
          "done, failed, ...) from the stream fleetq:events, oldest first: the time,\n"
          "the task, its status, then the event's other fields as name=value.\n"
          "\n"
          "Options:\n"
          "  -f, --follow   after the last N, wait for new events and print each as it\n"
          "                 happens, until interrupted (Ctrl-C)\n"
          "  -n, --last N   how many of the latest events to print first (default 20;\n"
          "                 0 with --follow prints only new ones)\n"
          "  --json         one JSON object a line: entry, time, time_ms and the\n"
          "                 event's fields (id, status, role, ...)\n"
          "  -h, --help     show this help\n"
          "\n"
          "Exit status: 0 printed; 1 Redis refused a command; 2 usage or configuration\n"
          "error; 3 Redis could not be reached (or was lost while following).\n",
          stdout);
}

/* The milliseconds of an entry id ("1764892800123-0"). */
static long long entry_ms(const redisReply *id)
{
    return strtoll(id->str, NULL, 10);
}

static void print_text(const redisReply *entry)
{
    const redisReply *id = entry->element[0], *fields = entry->element[1];
    char iso[40];
    printf("%s", fq_iso8601_ms(entry_ms(id), iso, sizeof(iso)));
    /* the task and its status first, then the rest in their order */
    static const char *const first[] = {"id", "status"};
    for (size_t k = 0; k < 2; k++) {
        for (size_t i = 0; i + 1 < fields->elements; i += 2) {
            if (strcmp(fields->element[i]->str, first[k]) == 0) {
                putchar(' ');
                fq_ctl_put_field(stdout, fields->element[i + 1]->str, fields->element[i + 1]->len);
            }
        }
    }
    for (size_t i = 0; i + 1 < fields->elements; i += 2) {
        const redisReply *name = fields->element[i], *value = fields->element[i + 1];
        if (strcmp(name->str, "id") == 0 || strcmp(name->str, "status") == 0)
            continue;
        putchar(' ');
        fq_ctl_put_field(stdout, name->str, name->len);
        putchar('=');
        fq_ctl_put_field(stdout, value->str, value->len);
    }
    putchar('\n');
}

static int print_json(const redisReply *entry)
{
    const redisReply *id = entry->element[0], *fields = entry->element[1];
    char iso[40];
    cJSON *o = cJSON_CreateObject();
    int bad = o == NULL || fq_ctl_json_str(o, "entry", id->str, id->len) != 0 ||
              cJSON_AddStringToObject(o, "time", fq_iso8601_ms(entry_ms(id), iso, sizeof(iso))) ==
                  NULL ||
              cJSON_AddNumberToObject(o, "time_ms", (double)entry_ms(id)) == NULL;
    for (size_t i = 0; !bad && i + 1 < fields->elements; i += 2) {
        char *name = strndup(fields->element[i]->str, fields->element[i]->len);
        bad = name == NULL || fq_ctl_json_str(o, name, fields->element[i + 1]->str,
                                              fields->element[i + 1]->len) != 0;
        free(name);
    }
    if (bad) {
        cJSON_Delete(o);
        o = NULL;
    }
    return fq_ctl_json_print(o);
}

static int well_formed(const redisReply *entry)
{
    return entry->type == REDIS_REPLY_ARRAY && entry->elements == 2 &&
           entry->element[0]->type == REDIS_REPLY_STRING &&
           entry->element[1]->type == REDIS_REPLY_ARRAY;
}

/* Prints the entries of an XRANGE-shaped reply from first to last (or
 * from last to first when reversed); keeps the id of the newest in last. */
static int print_entries(const redisReply *list, int reversed, int json, char *last,
                         size_t lastlen)
{
    size_t n = list->type == REDIS_REPLY_ARRAY ? list->elements : 0;
    for (size_t k = 0; k < n; k++) {
        const redisReply *e = list->element[reversed ? n - 1 - k : k];
        if (!well_formed(e))
            continue;
        if (!json)
            print_text(e);
        else if (print_json(e) != 0)
            return -1;
        snprintf(last, lastlen, "%s", e->element[0]->str);
    }
    fflush(stdout);
    return 0;
}

static int run(fq_ctl *ctl, int argc, char **argv)
{
    static const struct option opts[] = {
        {"follow", no_argument, NULL, 'f'},
        {"last", required_argument, NULL, 'n'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int follow = 0, json = 0, c;
    long last_n = DEFAULT_LAST;
    optind = 1;
    while ((c = getopt_long(argc, argv, "+fn:h", opts, NULL)) != -1) {
        switch (c) {
        case 'f':
            follow = 1;
            break;
        case 'n':
            if (fq_ctl_parse_count(&fq_ctl_cmd_events, "--last", optarg, 0, 100000, &last_n) != 0)
                return FQ_CTL_USAGE;
            break;
        case 'j':
            json = 1;
            break;
        case 'h':
            help();
            return FQ_CTL_OK;
        default:
            return fq_ctl_bad_option(&fq_ctl_cmd_events, c, argv);
        }
    }
    if (optind < argc)
        return fq_ctl_usage_error(&fq_ctl_cmd_events, "unexpected argument \"%.40s\"",
                                  argv[optind]);
    if (fq_ctl_connect(ctl) != 0)
        return fq_ctl_exit(ctl);

    const char *key = fq_keys()->events;
    char last[64] = "$";   /* with nothing printed, follow from now */
    if (last_n > 0) {
        redisReply *r = fq_ctl_command_run(ctl, "XREVRANGE %s + - COUNT %ld", key, last_n);
        if (r == NULL)
            return fq_ctl_exit(ctl);
        int bad = print_entries(r, 1, json, last, sizeof(last));
        freeReplyObject(r);
        if (bad) {
            fq_ctl_fail(ctl, FQ_CTL_PARTIAL);
            return fq_ctl_exit(ctl);
        }
    }
    if (strcmp(last, "$") == 0 && follow) {
        /* nothing yet: start after whatever is the newest now */
        redisReply *r = fq_ctl_command_run(ctl, "XREVRANGE %s + - COUNT 1", key);
        if (r == NULL)
            return fq_ctl_exit(ctl);
        if (r->type == REDIS_REPLY_ARRAY && r->elements == 1 && well_formed(r->element[0]))
            snprintf(last, sizeof(last), "%s", r->element[0]->element[0]->str);
        else
            snprintf(last, sizeof(last), "0-0");
        freeReplyObject(r);
    }
    while (follow) {
        redisReply *r = fq_ctl_command_run(ctl, "XREAD COUNT 1000 BLOCK %d STREAMS %s %s",
                                           FOLLOW_BLOCK_MS, key, last);
        if (r == NULL)
            return fq_ctl_exit(ctl);
        /* [[key, [entries...]]], or nil when nothing came */
        int bad = 0;
        if (r->type == REDIS_REPLY_ARRAY && r->elements == 1 &&
            r->element[0]->type == REDIS_REPLY_ARRAY && r->element[0]->elements == 2)
            bad = print_entries(r->element[0]->element[1], 0, json, last, sizeof(last));
        freeReplyObject(r);
        if (bad) {
            fq_ctl_fail(ctl, FQ_CTL_PARTIAL);
            break;
        }
    }
    return fq_ctl_exit(ctl);
}
