/* settings_check.c -- the check that names the variables of the environment
 * that look like fleetq's (FLEETQ_*, GROK_*, XAI_*) but that no row of the
 * settings table knows, each with the nearest known name as a suggestion.
 *
 * Nearness is the Damerau-Levenshtein distance (insertions, deletions,
 * substitutions and swaps of two neighbours, each costing 1; optimal string
 * alignment), with letters compared without regard to case. A variable is
 * compared with every known name, each role's name of a role's row, whole
 * and without the prefixes (FLEETQ_, GROK_, XAI_), so that
 * FLEETQ_DAILY_BUDGET_USD finds DAILY_BUDGET_USD; a match without them
 * costs 1 more. A name is suggested when it is at most a quarter of the
 * variable's length without its prefix away (at least 1): a slip of a
 * letter or two, not another word (FLEETQ_ROLE_INTERN_MODEL gets none).
 *
 * Only names are ever read from the environment: never a value.
 */
#include "settings.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "log.h"

#define NAME_MAX_SHOWN 127      /* bytes of an unknown variable's name passed on */
#define NAME_MAX_COMPARED 96    /* longer names get no suggestion */

extern char **environ;

static const char *const prefixes[] = {"FLEETQ_", "GROK_", "XAI_"};

/* The length of name's prefix (FLEETQ_, GROK_, XAI_), 0 when none. */
static size_t prefix_len(const char *name)
{
    for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
        size_t n = strlen(prefixes[i]);
        if (strncmp(name, prefixes[i], n) == 0)
            return n;
    }
    return 0;
}

static int same_letter(char a, char b)
{
    return toupper((unsigned char)a) == toupper((unsigned char)b);
}

/* The optimal-string-alignment distance of a[0..an) and b[0..bn), both at
 * most NAME_MAX_COMPARED bytes, over three rows of the usual matrix. */
static size_t distance(const char *a, size_t an, const char *b, size_t bn)
{
    size_t rows[3][NAME_MAX_COMPARED + 1];
    size_t *prev2 = rows[0], *prev = rows[1], *cur = rows[2];
    for (size_t j = 0; j <= bn; j++)
        prev[j] = j;
    for (size_t i = 1; i <= an; i++) {
        cur[0] = i;
        for (size_t j = 1; j <= bn; j++) {
            size_t cost = same_letter(a[i - 1], b[j - 1]) ? 0 : 1;
            size_t best = prev[j - 1] + cost;
            if (prev[j] + 1 < best)
                best = prev[j] + 1;
            if (cur[j - 1] + 1 < best)
                best = cur[j - 1] + 1;
            if (i > 1 && j > 1 && same_letter(a[i - 1], b[j - 2]) &&
                same_letter(a[i - 2], b[j - 1]) && prev2[j - 2] + 1 < best)
                best = prev2[j - 2] + 1;
            cur[j] = best;
        }
        size_t *t = prev2;
        prev2 = prev;
        prev = cur;
        cur = t;
    }
    return prev[bn];
}

/* How far name is from the known variable known: whole, or without the
 * prefixes for 1 more. */
static size_t nearness(const char *name, const char *known)
{
    size_t np = prefix_len(name), kp = prefix_len(known);
    size_t d = distance(name, strlen(name), known, strlen(known));
    size_t bare = distance(name + np, strlen(name + np), known + kp, strlen(known + kp)) + 1;
    return bare < d ? bare : d;
}

const char *fq_settings_suggest(const char *name, char *buf, size_t len)
{
    size_t n = strlen(name);
    if (n == 0 || n > NAME_MAX_COMPARED || len == 0)
        return NULL;
    size_t limit = (n - prefix_len(name)) / 4;
    if (limit < 1)
        limit = 1;
    size_t best = limit + 1;
    for (size_t i = 0; i < fq_settings_count; i++) {
        const fq_setting *s = &fq_settings[i];
        int roles = fq_setting_per_role(s) ? FQ_ROLE_COUNT : 1;
        for (int r = 0; r < roles; r++) {
            char known[NAME_MAX_COMPARED + 1];
            fq_setting_name(s, r, known, sizeof(known));
            if (known[0] == '\0' || strcmp(known, name) == 0)
                continue;
            size_t d = nearness(name, known);
            if (d < best) {
                best = d;
                snprintf(buf, len, "%s", known);
            }
        }
    }
    return best <= limit ? buf : NULL;
}

/* 1 when the variable name[0..n) appears in envp before entry i. */
static int seen_before(char *const *envp, size_t i, const char *name, size_t n)
{
    for (size_t k = 0; k < i; k++)
        if (strncmp(envp[k], name, n) == 0 && envp[k][n] == '=')
            return 1;
    return 0;
}

size_t fq_settings_each_unknown(char *const *envp,
                                void (*warn)(const char *name, const char *suggestion,
                                             void *arg),
                                void *arg)
{
    size_t count = 0;
    for (size_t i = 0; envp != NULL && envp[i] != NULL; i++) {
        const char *entry = envp[i];
        const char *eq = strchr(entry, '=');
        size_t n = eq != NULL ? (size_t)(eq - entry) : strlen(entry);
        char name[NAME_MAX_SHOWN + 1];
        if (prefix_len(entry) == 0 || prefix_len(entry) > n || seen_before(envp, i, entry, n))
            continue;
        /* the name alone, cut short, anything unprintable as '?' */
        size_t c = n < NAME_MAX_SHOWN ? n : NAME_MAX_SHOWN;
        for (size_t k = 0; k < c; k++)
            name[k] = isprint((unsigned char)entry[k]) ? entry[k] : '?';
        name[c] = '\0';
        if (c == n && fq_setting_find(name) != NULL)
            continue;
        char near[NAME_MAX_COMPARED + 1];
        warn(name, c == n ? fq_settings_suggest(name, near, sizeof(near)) : NULL, arg);
        count++;
    }
    return count;
}

const char *fq_settings_warning(const char *name, const char *suggestion, char *buf, size_t len)
{
    if (suggestion != NULL)
        snprintf(buf, len, "%s is not a fleetq setting and changes nothing; did you mean %s?",
                 name, suggestion);
    else
        snprintf(buf, len, "%s is not a fleetq setting and changes nothing (fleetqctl "
                 "settings lists them all)", name);
    return buf;
}

static void log_one(const char *name, const char *suggestion, void *arg)
{
    (void)arg;
    char msg[512];
    fq_log(FQ_LOG_WARN, "config.unknown_setting", FQ_LS, "variable", name, FQ_LS,
           "suggestion", suggestion, FQ_LS, "msg",
           fq_settings_warning(name, suggestion, msg, sizeof(msg)), FQ_LEND);
}

size_t fq_settings_log_unknown(void)
{
    return fq_settings_each_unknown(environ, log_one, NULL);
}
