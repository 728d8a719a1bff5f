/* scripts.h -- the contract between the C callers and the Lua scripts: for
 * every script, how many KEYS it takes, and whether the keys of ids may
 * follow them (the claim's candidates, the timer's due ids, ...).
 *
 * Each script states the same at its top (fq_contract() of the prelude,
 * which refuses a call with another count); a unit test reads every
 * script and checks that it agrees with this table, and the callers
 * (fq_redis_script, fleetqctl's fq_ctl_script) refuse to send a call that
 * does not fit it. So a wrong count fails at once, loudly, instead of
 * shifting every later key and argument.
 */
#ifndef FQ_SCRIPTS_H
#define FQ_SCRIPTS_H

#include <stddef.h>

typedef struct fq_script_def {
    const char *name;   /* the file, without .lua */
    int keys;           /* fixed KEYS */
    int more_keys;      /* 1: keys of ids may follow the fixed ones */
} fq_script_def;

/* The definition of the script called name, or NULL. */
const fq_script_def *fq_script_find(const char *name);

/* 0 when a call of name with nkeys KEYS fits the table, else -1 with the
 * reason in err. */
int fq_script_check(const char *name, int nkeys, char *err, size_t errlen);

extern const fq_script_def fq_scripts[];   /* ends with {NULL, 0, 0} */

#endif
