/* cmd_search.c -- `fleetqctl search QUERY [--role R] [--limit N]
 * [--json]`: the earlier results that match, from the fleet's memory (the
 * FTS5 index of SQLite's done tasks, memory.h), best match first.
 *
 * It reads FLEETQ_DB (read-only: the coordinator is the one writer), so it
 * runs where the store is. QUERY is an FTS5 expression (words, "a
 * phrase", pars*, AND, OR, NOT); text that is not one is searched for its
 * words instead.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "ctl.h"
#include "memory.h"

#define DEFAULT_LIMIT 10
#define SHOWN_BYTES 100

static int run(fq_ctl *ctl, int argc, char **argv);

const fq_ctl_command fq_ctl_cmd_search = {
    .name = "search",
    .args = "QUERY [--role R] [--limit N] [--json]",
    .summary = "search the results of earlier done tasks (SQLite FTS5)",
    .run = run,
};

static void help(void)
{
    fq_ctl_print_usage(&fq_ctl_cmd_search, stdout);
    fputs("\n"
          "Searches the prompts and outputs of the tasks that ended done, in the\n"
          "store's full-text index (FLEETQ_DB, read-only), best match first: one\n"
          "line per task with its id, role, finish time and the start of its output,\n"
          "separated by tabs. QUERY is an SQLite FTS5 query (csv parser, \"exact\n"
          "phrase\", pars*, csv AND NOT json); text that is not one is searched for\n"
          "its words. The same from sqlite3:\n"
          "  SELECT id FROM tasks WHERE rowid IN\n"
          "    (SELECT rowid FROM tasks_fts WHERE tasks_fts MATCH 'parser')\n"
          "\n"
          "Options:\n"
          "  --role R       only tasks of role R\n"
          "  -n, --limit N  at most N (default 10)\n"
          "  --json         print a JSON array: id, role, flow_id, finished_at,\n"
          "                 prompt, output\n"
          "  -h, --help     show this help\n",
          stdout);
}

static void print_hits(const fq_memory_hit *hits, int n)
{
    for (int i = 0; i < n; i++) {
        const char *out = hits[i].output ? hits[i].output : "";
        size_t len = strlen(out);
        printf("%s\t%s\t%s\t", hits[i].id, hits[i].role ? hits[i].role : "",
               hits[i].finished_at ? hits[i].finished_at : "");
        fq_ctl_put_field(stdout, out, len > SHOWN_BYTES ? SHOWN_BYTES : len);
        printf("\n");
    }
}

static cJSON *hits_json(const fq_memory_hit *hits, int n)
{
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; a != NULL && i < n; i++) {
        cJSON *o = cJSON_CreateObject();
        if (o == NULL || !cJSON_AddItemToArray(a, o)) {
            cJSON_Delete(o);
            cJSON_Delete(a);
            return NULL;
        }
        const char *v[] = {hits[i].id, hits[i].role, hits[i].flow_id, hits[i].finished_at,
                           hits[i].prompt, hits[i].output};
        const char *k[] = {"id", "role", "flow_id", "finished_at", "prompt", "output"};
        for (int j = 0; j < 6; j++)
            if (fq_ctl_json_str(o, k[j], v[j], v[j] ? strlen(v[j]) : 0) != 0) {
                cJSON_Delete(a);
                return NULL;
            }
    }
    return a;
}

static int run(fq_ctl *ctl, int argc, char **argv)
{
    static const struct option opts[] = {
        {"role", required_argument, NULL, 'r'},
        {"limit", required_argument, NULL, 'n'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *role = NULL;
    long limit = DEFAULT_LIMIT;
    int json = 0, c;
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":n:h", opts, NULL)) != -1) {
        switch (c) {
        case 'r':
            if (fq_role_parse(optarg, strlen(optarg)) < 0)
                return fq_ctl_usage_error(&fq_ctl_cmd_search, "--role: must be one of "
                                          FQ_ROLE_LIST ", got \"%.40s\"", optarg);
            role = optarg;
            break;
        case 'n':
            if (fq_ctl_parse_count(&fq_ctl_cmd_search, "--limit", optarg, 1, 1000, &limit))
                return FQ_CTL_USAGE;
            break;
        case 'j': json = 1; break;
        case 'h': help(); return FQ_CTL_OK;
        default: return fq_ctl_bad_option(&fq_ctl_cmd_search, c, argv);
        }
    }
    if (optind + 1 != argc)
        return fq_ctl_usage_error(&fq_ctl_cmd_search, optind >= argc
                                      ? "no query given"
                                      : "give the query as one argument (quote it)");
    const char *query = argv[optind];

    char err[512];
    if (fq_ctl_load_config(ctl) != 0)
        return FQ_CTL_USAGE;
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(ctl->cfg.db_path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        fq_ctl_errorf("search: cannot open FLEETQ_DB %s: %s (run it where the coordinator's "
                      "store is)", ctl->cfg.db_path, db ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_close(db);
        return FQ_CTL_UNREACHABLE;
    }
    sqlite3_busy_timeout(db, 5000);
    fq_memory_hit *hits = NULL;
    int n = 0;
    int rc = fq_memory_search(db, query, role, (int)limit, &hits, &n, err, sizeof(err));
    if (rc != 0) {
        /* not an FTS5 query ("fts5: syntax error", "unterminated string"):
         * its words; when that fails too, the first error stands */
        char *words = fq_memory_words(query), why[sizeof(err)];
        if (words == NULL)
            rc = strstr(err, "no such table") ? rc : 0;
        else if (fq_memory_search(db, words, role, (int)limit, &hits, &n, why, sizeof(why)) == 0)
            rc = 0;
        free(words);
    }
    sqlite3_close(db);
    if (rc != 0) {
        fq_ctl_errorf("search: %s", err);
        return FQ_CTL_PARTIAL;
    }
    if (json) {
        if (fq_ctl_json_print(hits_json(hits, n)) != 0)
            fq_ctl_fail(ctl, FQ_CTL_PARTIAL);
    } else {
        print_hits(hits, n);
    }
    fq_memory_hits_free(hits, n);
    return fq_ctl_exit(ctl);
}
