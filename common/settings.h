/* settings.h -- the table of every environment variable fleetq knows
 * (settings.def), and the check that names the ones it does not.
 *
 * Each row says what a variable is: its name, the type of its value, who
 * reads it (fq_config_load() for every program, a program itself, or the
 * project's scripts), where fq_config_load() puts it, its default, its range
 * or choices, and what 0 means wherever 0 is allowed. fq_config_load()
 * reads the rows in table order: the typed ones through one generic reader,
 * the others through the reader each names. `fleetqctl settings` lists the
 * table with the values in effect.
 *
 * A row of a role's setting names all four roles at once:
 * "FLEETQ_ROLE_<ROLE>_MODEL" stands for FLEETQ_ROLE_CEO_MODEL,
 * FLEETQ_ROLE_CODE_MODEL, FLEETQ_ROLE_QUALITY_MODEL and
 * FLEETQ_ROLE_MEMORY_MODEL; its field is then one of fq_role_profile's.
 *
 * At start the coordinator and the workers log config.unknown_setting once
 * for each FLEETQ_*, GROK_* and XAI_* variable of their environment that no
 * row names, with the nearest known name when one is near enough ("did you
 * mean GROK_RATE_LIMIT_RPM?"); fleetqctl prints the same line on stderr.
 * Only the variable's name is ever shown, never its value: a key may have
 * been pasted into a misspelled variable.
 */
#ifndef FQ_SETTINGS_H
#define FQ_SETTINGS_H

#include <stddef.h>
#include <stdint.h>

#include "task.h"

struct fq_config;
struct fq_setting;

/* What a value is. The first six have a generic reader (config.c) when the
 * row names a field and no reader of its own. */
typedef enum fq_setting_type {
    FQ_SET_INT64,      /* int64_t field: a whole number from lo to hi */
    FQ_SET_INT,        /* int field: a whole number from lo to hi */
    FQ_SET_BOOL,       /* int field: true or false (1/0, yes/no, on/off) */
    FQ_SET_STR,        /* char[] field: any text, trimmed; unset or empty keeps the default */
    FQ_SET_FRACTION,   /* double field: a decimal number from lo to hi */
    FQ_SET_USD,        /* int64_t field in ticks (cost.h): an amount in USD, 0 or more */
    FQ_SET_TEXT,       /* words, a list or a URL, checked by the row's own reader */
} fq_setting_type;

/* Who reads a variable. */
typedef enum fq_setting_by {
    FQ_BY_CONFIG = 0,    /* fq_config_load(): every program */
    FQ_BY_WORKER,        /* fleetq-worker itself */
    FQ_BY_COORDINATOR,   /* fleetq-coordinator itself */
    FQ_BY_SCRIPTS,       /* the project's scripts (`where`), never a program */
    FQ_BY_TESTS,         /* a program, but only for the tests (`where` says which) */
} fq_setting_by;

enum {
    FQ_SETTING_SECRET = 1 << 0,   /* a key, token or password, or a file of one: never shown */
    FQ_SETTING_URL = 1 << 1,      /* a URL that may hold a password: shown without it */
};

/* A row's own reader: reads the row's variable (every role's, for a
 * role's row) into cfg, and the variables read with it (`with`). needs is
 * fq_config_load()'s. Returns 0, or -1 with one line in err naming the
 * variable. */
typedef int (*fq_setting_reader)(struct fq_config *cfg, const struct fq_setting *s,
                                 unsigned needs, char *err, size_t errlen);

/* A role's row's own reader of one role's variable (name) into
 * cfg->roles[role]; fq_config_load() calls it for each role in turn.
 * Returns as fq_setting_reader. */
typedef int (*fq_setting_role_reader)(struct fq_config *cfg, const struct fq_setting *s,
                                      int role, const char *name, char *err, size_t errlen);

typedef struct fq_setting {
    const char *name;        /* "GROK_RATE_LIMIT_RPM", "FLEETQ_ROLE_<ROLE>_MODEL" */
    fq_setting_type type;
    fq_setting_by by;
    size_t offset, size;     /* the field in fq_config (in fq_role_profile for a role's
                                row); size 0: no field of the value's type */
    const char *def;         /* the default, as a value of the variable ("480", "true");
                                NULL: none (fq_setting_default() says "") */
    const char *role_def[FQ_ROLE_COUNT];   /* a role's row: each role's default, or NULL
                                              for def */
    int64_t lo, hi;          /* INT64, INT, FRACTION: the range */
    const char *range;       /* what else the value may be, in words, or NULL */
    const char *zero;        /* what 0 means, for every row that allows 0 */
    fq_setting_reader read;  /* NULL: the generic reader of the type */
    fq_setting_role_reader read_role;   /* a role's row: its reader of one role's variable,
                                           instead of the generic one */
    const char *with;        /* read by that row's reader, together with it */
    const char *where;       /* FQ_BY_SCRIPTS, FQ_BY_TESTS: what reads it */
    unsigned flags;          /* FQ_SETTING_* */
} fq_setting;

extern const fq_setting fq_settings[];
extern const size_t fq_settings_count;

/* 1 for a role's row ("FLEETQ_ROLE_<ROLE>_..."). */
int fq_setting_per_role(const fq_setting *s);

/* The row's variable for role (ignored for other rows) into buf; returns
 * buf, "" when it does not fit. */
const char *fq_setting_name(const fq_setting *s, int role, char *buf, size_t len);

/* The row's default for role (ignored for other rows; -1 for none), "" when
 * it has none. */
const char *fq_setting_default(const fq_setting *s, int role);

/* 1 when 0 is a value the row's range allows (a number from lo to hi). */
int fq_setting_allows_zero(const fq_setting *s);

/* The row whose variable (any role's) is name, or NULL. */
const fq_setting *fq_setting_find(const char *name);

/* The known variable nearest to name (by Damerau-Levenshtein distance, with
 * or without the FLEETQ_/GROK_/XAI_ prefixes) into buf, or NULL when none
 * is near enough for a suggestion. */
const char *fq_settings_suggest(const char *name, char *buf, size_t len);

/* Calls warn once for each variable of envp ("NAME=VALUE" strings, NULL
 * at the end) whose name starts with FLEETQ_, GROK_ or XAI_ and that the
 * table does not know: with its name (printable, at most 127 bytes) and the
 * nearest known name, or NULL. The value is never passed on. Returns how
 * many there were. */
size_t fq_settings_each_unknown(char *const *envp,
                                void (*warn)(const char *name, const char *suggestion,
                                             void *arg),
                                void *arg);

/* The warning about an unknown variable, one line, into buf. */
const char *fq_settings_warning(const char *name, const char *suggestion, char *buf,
                                size_t len);

/* For the coordinator and the workers, once logging is set up: logs
 * config.unknown_setting at warn for each unknown variable of the
 * environment. Returns how many there were. */
size_t fq_settings_log_unknown(void);

#endif
