/* scripts.c -- the table of the fleet's Lua scripts (see scripts.h). */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "scripts.h"

const fq_script_def fq_scripts[] = {
    /* common/lua */
    {"cache", 4, 0},
    {"cancel", 11, 0},
    {"claim", 7, 1},
    {"due", 2, 1},
    {"expire", 8, 1},
    {"finish", 8, 1},
    {"heartbeat", 2, 1},
    {"intake", 15, 1},
    {"lease", 2, 0},
    {"limits", 1, 0},
    {"promote", 10, 1},
    {"quota", 7, 1},
    {"reap", 12, 1},
    {"requeue", 12, 1},
    {"resolve", 13, 1},
    {"stored", 3, 1},
    /* ctl/lua */
    {"fleet", 11, 1},
    {"resume", 1, 1},
    {NULL, 0, 0},
};

const fq_script_def *fq_script_find(const char *name)
{
    for (const fq_script_def *d = fq_scripts; d->name != NULL; d++)
        if (strcmp(d->name, name) == 0)
            return d;
    return NULL;
}

int fq_script_check(const char *name, int nkeys, char *err, size_t errlen)
{
    const fq_script_def *d = fq_script_find(name);
    if (d == NULL) {
        snprintf(err, errlen, "%s.lua: not in the table of scripts", name);
        return -1;
    }
    if (nkeys < d->keys || (!d->more_keys && nkeys != d->keys)) {
        snprintf(err, errlen, "%s.lua: called with %d keys, takes %d%s", name, nkeys, d->keys,
                 d->more_keys ? " or more" : "");
        return -1;
    }
    return 0;
}
