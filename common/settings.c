/* settings.c -- the table of settings (settings.def, see settings.h) and
 * the small questions asked of a row: its variable for a role, its default,
 * whether 0 is in its range, which row a variable belongs to.
 */
#include "settings.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "config_read.h"
#include "fq_shared.h"
#include "keys.h"

#define ROLE_MARK "<ROLE>"
#define ROLE_NAME_MAX 16

/* How a role is written in a variable's name: its name in capitals. */
static const char *role_upper(int role, char *buf, size_t len)
{
    const char *name = fq_role_name((fq_role)role);
    size_t i = 0;
    for (; name[i] != '\0' && i + 1 < len; i++)
        buf[i] = (char)toupper((unsigned char)name[i]);
    buf[i] = '\0';
    return buf;
}

#define FIELD(f) .offset = offsetof(fq_config, f), .size = sizeof(((fq_config *)0)->f)
#define ROLE_FIELD(f) \
    .offset = offsetof(fq_role_profile, f), .size = sizeof(((fq_role_profile *)0)->f)
#define ROLE_DEFAULTS(ceo, code, quality, memory) \
    .role_def = {[FQ_ROLE_CEO] = ceo, [FQ_ROLE_CODE] = code, [FQ_ROLE_QUALITY] = quality, \
                 [FQ_ROLE_MEMORY] = memory}
#define SETTING(n, t, ...) {.name = n, .type = FQ_SET_##t, __VA_ARGS__},

const fq_setting fq_settings[] = {
#include "settings.def"
};
const size_t fq_settings_count = sizeof(fq_settings) / sizeof(fq_settings[0]);

#undef SETTING
#undef ROLE_DEFAULTS
#undef ROLE_FIELD
#undef FIELD

int fq_setting_per_role(const fq_setting *s)
{
    return strstr(s->name, ROLE_MARK) != NULL;
}

const char *fq_setting_name(const fq_setting *s, int role, char *buf, size_t len)
{
    const char *mark = strstr(s->name, ROLE_MARK);
    char up[ROLE_NAME_MAX];
    int n;
    if (mark == NULL || role < 0 || role >= FQ_ROLE_COUNT)
        n = snprintf(buf, len, "%s", s->name);
    else
        n = snprintf(buf, len, "%.*s%s%s", (int)(mark - s->name), s->name,
                     role_upper(role, up, sizeof(up)), mark + strlen(ROLE_MARK));
    if (n < 0 || (size_t)n >= len)
        buf[0] = '\0';
    return buf;
}

const char *fq_setting_default(const fq_setting *s, int role)
{
    if (role >= 0 && role < FQ_ROLE_COUNT && s->role_def[role] != NULL)
        return s->role_def[role];
    return s->def != NULL ? s->def : "";
}

int fq_setting_allows_zero(const fq_setting *s)
{
    switch (s->type) {
    case FQ_SET_INT64:
    case FQ_SET_INT:
    case FQ_SET_FRACTION:
    case FQ_SET_USD:
        return s->lo <= 0 && s->hi >= 0;
    default:
        return 0;
    }
}

const fq_setting *fq_setting_find(const char *name)
{
    for (size_t i = 0; i < fq_settings_count; i++) {
        const fq_setting *s = &fq_settings[i];
        const char *mark = strstr(s->name, ROLE_MARK);
        if (mark == NULL) {
            if (strcmp(s->name, name) == 0)
                return s;
            continue;
        }
        /* FLEETQ_ROLE_ + one role's name + the rest */
        size_t head = (size_t)(mark - s->name);
        if (strncmp(name, s->name, head) != 0)
            continue;
        for (int r = 0; r < FQ_ROLE_COUNT; r++) {
            char up[ROLE_NAME_MAX];
            size_t ul = strlen(role_upper(r, up, sizeof(up)));
            if (strncmp(name + head, up, ul) == 0 &&
                strcmp(name + head + ul, mark + strlen(ROLE_MARK)) == 0)
                return s;
        }
    }
    return NULL;
}
