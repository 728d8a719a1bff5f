/* memory.c -- searching the results of earlier tasks (see memory.h): the
 * FTS5 index tasks_fts over the `done` rows of tasks (schema/004).
 *
 * A query is an FTS5 expression ("parser AND csv", "pars*", a "phrase");
 * free text that is not one (a task's prompt, with its punctuation) is
 * turned into its words, each quoted, joined with OR, so that the best
 * bm25 matches come first. fleetqctl search tries what the user typed
 * first and falls back to the words; the coordinator's recall always
 * uses the words.
 */
#include "memory.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#define WORDS_MAX 24
#define WORD_MIN 3

static const char search_sql[] =
    "SELECT t.id, t.role, t.finished_at, t.prompt, t.output, t.flow_id"
    "  FROM tasks_fts JOIN tasks AS t ON t.rowid = tasks_fts.rowid"
    " WHERE tasks_fts MATCH ?1 AND (?2 IS NULL OR t.role = ?2)"
    " ORDER BY rank LIMIT ?3";

char *fq_memory_words(const char *text)
{
    size_t len = strlen(text), cap = len * 2 + 16, used = 0;
    char *out = malloc(cap);
    if (out == NULL)
        return NULL;
    out[0] = '\0';
    int words = 0;
    for (size_t i = 0; i < len && words < WORDS_MAX;) {
        /* a word: letters and digits, and any byte of a UTF-8 sequence */
        size_t start = i;
        while (i < len && (isalnum((unsigned char)text[i]) || (unsigned char)text[i] >= 0x80))
            i++;
        if (i - start >= WORD_MIN) {
            used += (size_t)snprintf(out + used, cap - used, "%s\"%.*s\"", words ? " OR " : "",
                                     (int)(i - start), text + start);
            words++;
        }
        while (i < len && !(isalnum((unsigned char)text[i]) || (unsigned char)text[i] >= 0x80))
            i++;
    }
    if (words == 0) {
        free(out);
        return NULL;
    }
    return out;
}

static char *column(sqlite3_stmt *st, int i)
{
    const unsigned char *s = sqlite3_column_text(st, i);
    return s ? strdup((const char *)s) : NULL;
}

int fq_memory_search(sqlite3 *db, const char *match, const char *role, int limit,
                     fq_memory_hit **hits, int *n, char *err, size_t errlen)
{
    *hits = NULL;
    *n = 0;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, search_sql, -1, &st, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "the memory index: %s (is the store at schema 4?)",
                 sqlite3_errmsg(db));
        return -1;
    }
    sqlite3_bind_text(st, 1, match, -1, SQLITE_STATIC);
    if (role != NULL)
        sqlite3_bind_text(st, 2, role, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, limit);
    fq_memory_hit *out = calloc((size_t)(limit > 0 ? limit : 1), sizeof(*out));
    int rc = out != NULL ? SQLITE_ROW : SQLITE_NOMEM, count = 0;
    while (out != NULL && count < limit && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        fq_memory_hit *h = &out[count++];
        h->id = column(st, 0);
        h->role = column(st, 1);
        h->finished_at = column(st, 2);
        h->prompt = column(st, 3);
        h->output = column(st, 4);
        h->flow_id = column(st, 5);
    }
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        snprintf(err, errlen, "%s", rc == SQLITE_NOMEM ? "out of memory" : sqlite3_errmsg(db));
        sqlite3_finalize(st);
        fq_memory_hits_free(out, count);
        return -1;
    }
    sqlite3_finalize(st);
    *hits = out;
    *n = count;
    return 0;
}

void fq_memory_hits_free(fq_memory_hit *hits, int n)
{
    for (int i = 0; hits != NULL && i < n; i++) {
        free(hits[i].id);
        free(hits[i].role);
        free(hits[i].finished_at);
        free(hits[i].prompt);
        free(hits[i].output);
        free(hits[i].flow_id);
    }
    free(hits);
}

/* At most max bytes of s, cut before a UTF-8 continuation byte. */
static size_t cut(const char *s, size_t max)
{
    size_t len = s ? strlen(s) : 0;
    if (len <= max)
        return len;
    while (max > 0 && ((unsigned char)s[max] & 0xC0) == 0x80)
        max--;
    return max;
}

char *fq_memory_context(const fq_memory_hit *hits, int n)
{
    size_t cap = 256;
    for (int i = 0; i < n; i++)
        cap += 128 + FQ_RECALL_PROMPT_MAX + FQ_RECALL_OUTPUT_MAX + strlen(hits[i].id);
    char *out = malloc(cap);
    if (out == NULL)
        return NULL;
    size_t used = (size_t)snprintf(out, cap, "Earlier results that may help (from the fleet's "
                                             "memory, best match first):");
    for (int i = 0; i < n; i++) {
        const fq_memory_hit *h = &hits[i];
        const char *asked = h->prompt ? h->prompt : "", *answer = h->output ? h->output : "";
        size_t p = cut(asked, FQ_RECALL_PROMPT_MAX), o = cut(answer, FQ_RECALL_OUTPUT_MAX);
        used += (size_t)snprintf(out + used, cap - used,
                                 "\n\n[%d] task %s (%s, %s)\nAsked: %.*s%s\nAnswer: %.*s%s",
                                 i + 1, h->id, h->role ? h->role : "?",
                                 h->finished_at ? h->finished_at : "?", (int)p, asked,
                                 asked[p] ? " [...]" : "", (int)o, answer,
                                 answer[o] ? " [...]" : "");
    }
    return out;
}

int fq_memory_recall(sqlite3 *db, const char *text, int k, char **context, char **recalled,
                     char *err, size_t errlen)
{
    *context = *recalled = NULL;
    char *match = fq_memory_words(text);
    if (match == NULL || k <= 0) {
        free(match);
        return 0;
    }
    fq_memory_hit *hits;
    int n;
    int rc = fq_memory_search(db, match, NULL, k, &hits, &n, err, errlen);
    free(match);
    if (rc != 0 || n == 0) {
        fq_memory_hits_free(hits, n);
        return rc;
    }
    cJSON *ids = cJSON_CreateArray();
    for (int i = 0; ids != NULL && i < n; i++)
        cJSON_AddItemToArray(ids, cJSON_CreateString(hits[i].id));
    *recalled = ids ? cJSON_PrintUnformatted(ids) : NULL;
    cJSON_Delete(ids);
    *context = fq_memory_context(hits, n);
    fq_memory_hits_free(hits, n);
    if (*context == NULL || *recalled == NULL) {
        free(*context);
        free(*recalled);
        *context = *recalled = NULL;
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}
