/* memory.h -- the fleet's memory: the results of earlier `done` tasks,
 * searched in SQLite FTS5 (memory.c), for `fleetqctl search` and for the
 * context the coordinator attaches to a task that recalls. */
#ifndef FQ_MEMORY_H
#define FQ_MEMORY_H

#include <stddef.h>

#include <sqlite3.h>

#include "fq_shared.h"

typedef struct fq_memory_hit {
    char *id, *role, *finished_at, *prompt, *output, *flow_id;
} fq_memory_hit;

/* Free text as an FTS5 query: its words of 3 or more characters, quoted,
 * joined with OR (at most 24). NULL when it has none (or memory ran out). */
char *fq_memory_words(const char *text);

/* The best `limit` matches of the FTS5 expression match (role, when not
 * NULL, restricts them), best first. Returns 0 with *hits (free with
 * fq_memory_hits_free) and *n, or -1 with SQLite's reason in err (a
 * syntax error of match among them). */
int fq_memory_search(sqlite3 *db, const char *match, const char *role, int limit,
                     fq_memory_hit **hits, int *n, char *err, size_t errlen);
void fq_memory_hits_free(fq_memory_hit *hits, int n);

/* The context a recalling task is given (malloc'd): each hit's id, role,
 * time, and the first FQ_RECALL_PROMPT_MAX bytes of its prompt and
 * FQ_RECALL_OUTPUT_MAX of its output. */
char *fq_memory_context(const fq_memory_hit *hits, int n);

/* What a task recalling text is given: the best k matches of its words
 * as *context (fq_memory_context) and their ids as a JSON array in
 * *recalled, both malloc'd; both NULL when nothing matched. Returns 0, or
 * -1 with the reason in err. */
int fq_memory_recall(sqlite3 *db, const char *text, int k, char **context, char **recalled,
                     char *err, size_t errlen);

#endif
