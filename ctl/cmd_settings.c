/* cmd_settings.c -- `fleetqctl settings`: every setting fleetq knows, from
 * the table the programs read their configuration by (common/settings.def),
 * with the value in effect in this environment.
 *
 * Each setting (each role's, for the roles' settings) gets two lines: its
 * name and value, and whether that value came from the environment or is
 * the default; then what it may be, what 0 means where 0 is allowed, and
 * who reads it when that is not every program. A value fq_config_load()
 * keeps in a field is shown from there (so FLEETQ_BACKOFF_MAX_MS's default
 * follows the base); any other is shown as given, cut short, without a
 * URL's password. Keys, tokens, passwords and the files they come from
 * show only as "(set)". --json gives the same as one JSON array.
 *
 * Nothing is read from Redis: the command reads the environment alone, and
 * fails with the configuration's error line (exit 2) if there is one.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cost.h"
#include "ctl.h"
#include "settings.h"

#define SHOWN_MAX 60      /* bytes of a value shown before it is cut */

static int run(fq_ctl *ctl, int argc, char **argv);

const fq_ctl_command fq_ctl_cmd_settings = {
    .name = "settings",
    .args = "[--json]",
    .summary = "every setting: its default, range, what 0 means, its value here",
    .run = run,
};

static void help(void)
{
    fq_ctl_print_usage(&fq_ctl_cmd_settings, stdout);
    fputs("\n"
          "Lists every environment variable fleetq knows, from the one table the\n"
          "programs read their configuration by: for each, the value in effect in\n"
          "this environment and whether it was set here or is the default; what it\n"
          "may be (a range or choices); what 0 means, wherever 0 is allowed; and who\n"
          "reads it, when not every program does (fleetq-worker or\n"
          "fleetq-coordinator alone, or only the project's scripts). The roles'\n"
          "settings (FLEETQ_ROLE_<ROLE>_...) are listed for each role.\n"
          "\n"
          "Keys, tokens, passwords and the files they are read from show only as\n"
          "\"(set)\"; a URL shows without its password. A variable that looks like a\n"
          "setting (FLEETQ_*, GROK_*, XAI_*) but is none is named in a warning on\n"
          "stderr, with the nearest setting's name, as every command does.\n"
          "\n"
          "Options:\n"
          "  --json       one JSON array: objects with name, value (null when unset\n"
          "               without a default), from_environment, default, range, zero\n"
          "               (what 0 means, or null) and read_by\n"
          "  -h, --help   show this help\n"
          "\n"
          "Exit status: 0 listed; 2 usage or configuration error (the error's line\n"
          "on stderr).\n",
          stdout);
}

/* v for a listing: one line, at most SHOWN_MAX bytes (cut at a character
 * boundary, "..." after), a URL's user:password part as "***". */
static const char *shown(const char *v, int url, char *buf, size_t len)
{
    const char *auth = url ? strstr(v, "://") : NULL;
    const char *at = auth != NULL ? strrchr(auth + 3, '@') : NULL;
    char tmp[1024];
    if (at != NULL) {
        snprintf(tmp, sizeof(tmp), "%.*s***%s", (int)(auth + 3 - v), v, at);
        v = tmp;
    }
    size_t n = strlen(v), cut = n;
    if (n > SHOWN_MAX) {
        cut = SHOWN_MAX;
        while (cut > 0 && ((unsigned char)v[cut] & 0xC0) == 0x80)
            cut--;
    }
    size_t o = 0;
    for (size_t i = 0; i < cut && o + 1 < len; i++) {
        unsigned char c = (unsigned char)v[i];
        buf[o++] = c < 0x20 || c == 0x7f ? ' ' : (char)c;
    }
    buf[o] = '\0';
    if (cut < n && o + 4 < len)
        strcpy(buf + o, "...");
    return buf;
}

/* The value kept in the row's field of cfg (role's, for a role's row). */
static const char *field_value(const fq_setting *s, const fq_config *cfg, int role, char *buf,
                               size_t len)
{
    const char *base = fq_setting_per_role(s) ? (const char *)&cfg->roles[role]
                                              : (const char *)cfg;
    const void *f = base + s->offset;
    switch (s->type) {
    case FQ_SET_INT64:
        snprintf(buf, len, "%lld", (long long)*(const int64_t *)f);
        return buf;
    case FQ_SET_INT:
        snprintf(buf, len, "%d", *(const int *)f);
        return buf;
    case FQ_SET_BOOL:
        return *(const int *)f ? "true" : "false";
    case FQ_SET_FRACTION:
        snprintf(buf, len, "%g", *(const double *)f);
        return buf;
    case FQ_SET_USD:
        return fq_cost_format_usd(*(const int64_t *)f, buf, len);
    default:
        return shown(f, (s->flags & FQ_SETTING_URL) != 0, buf, len);
    }
}

/* 1 when the row's variable is set, or, for a value shown from its field,
 * a variable read with it (FLEETQ_HTTP_PORT for PORT). */
static int from_environment(const fq_setting *s, const char *name, int by_field)
{
    const char *v = getenv(name);
    if (v != NULL && v[0] != '\0')
        return 1;
    for (size_t i = 0; by_field && i < fq_settings_count; i++) {
        const fq_setting *w = &fq_settings[i];
        if (w->with != NULL && strcmp(w->with, s->name) == 0 && (v = getenv(w->name)) != NULL &&
            v[0] != '\0')
            return 1;
    }
    return 0;
}

/* What the row's value may be, in words. */
static const char *range_text(const fq_setting *s, char *buf, size_t len)
{
    const char *more = s->range != NULL ? s->range : "";
    const char *sep = s->range != NULL ? "; " : "";
    switch (s->type) {
    case FQ_SET_INT64:
    case FQ_SET_INT:
        if (s->hi == INT64_MAX)
            snprintf(buf, len, "%lld or more%s%s", (long long)s->lo, sep, more);
        else
            snprintf(buf, len, "%lld to %lld%s%s", (long long)s->lo, (long long)s->hi, sep,
                     more);
        return buf;
    case FQ_SET_FRACTION:
        snprintf(buf, len, "%lld to %lld%s%s", (long long)s->lo, (long long)s->hi, sep, more);
        return buf;
    case FQ_SET_BOOL:
        snprintf(buf, len, "true or false%s%s", sep, more);
        return buf;
    case FQ_SET_USD:
        snprintf(buf, len, "0 or more (USD)%s%s", sep, more);
        return buf;
    default:
        return s->range != NULL ? s->range : "text";
    }
}

static const char *read_by(const fq_setting *s)
{
    switch (s->by) {
    case FQ_BY_WORKER: return "fleetq-worker";
    case FQ_BY_COORDINATOR: return "fleetq-coordinator";
    case FQ_BY_SCRIPTS:
    case FQ_BY_TESTS: return s->where;
    default: return "every program";
    }
}

/* One setting's entry, for one role of a role's row. */
typedef struct entry {
    char name[80];
    const char *value;     /* NULL: unset, without a default */
    int from_env;
    const char *def;       /* "" when none */
    const char *range;
    char vbuf[SHOWN_MAX + 8], dbuf[SHOWN_MAX + 8], rbuf[256];
} entry;

static void describe(const fq_ctl *ctl, const fq_setting *s, int role, entry *e)
{
    fq_setting_name(s, role, e->name, sizeof(e->name));
    const char *v = getenv(e->name);
    int by_field = s->by == FQ_BY_CONFIG && s->with == NULL && s->size > 0;
    e->from_env = from_environment(s, e->name, by_field && !(s->flags & FQ_SETTING_SECRET));
    e->def = shown(fq_setting_default(s, role), 0, e->dbuf, sizeof(e->dbuf));
    e->range = range_text(s, e->rbuf, sizeof(e->rbuf));
    if (s->flags & FQ_SETTING_SECRET)
        e->value = e->from_env ? "(set)" : NULL;
    else if (by_field)
        e->value = field_value(s, &ctl->cfg, role, e->vbuf, sizeof(e->vbuf));
    else if (v != NULL && v[0] != '\0')
        e->value = shown(v, (s->flags & FQ_SETTING_URL) != 0, e->vbuf, sizeof(e->vbuf));
    else
        e->value = e->def;
    if (e->value != NULL && e->value[0] == '\0')   /* an empty text: none */
        e->value = NULL;
}

static void print_entry(const fq_setting *s, const entry *e)
{
    printf("%s = %s", e->name, e->value != NULL ? e->value : "(not set)");
    if (e->from_env && !(s->flags & FQ_SETTING_SECRET))   /* a secret's "(set)" says it */
        printf("  (from the environment%s%s)", e->def[0] != '\0' ? "; default " : "", e->def);
    else if (!e->from_env && e->value != NULL)
        fputs("  (default)", stdout);
    printf("\n    %s", e->range);
    if (s->zero != NULL)
        printf("; 0 means %s", s->zero);
    if (s->with != NULL)
        printf("; read with %s", s->with);
    if (s->by != FQ_BY_CONFIG)
        printf("; read by %s only", read_by(s));
    fputs("\n", stdout);
}

/* Adds name: s, or null when s is NULL; returns 0, or -1 when memory ran out. */
static int add_string(cJSON *o, const char *name, const char *s)
{
    return (s != NULL ? cJSON_AddStringToObject(o, name, s) : cJSON_AddNullToObject(o, name))
               != NULL ? 0 : -1;
}

static int add_entry(cJSON *list, const fq_setting *s, const entry *e)
{
    cJSON *o = cJSON_CreateObject();
    if (o == NULL || !cJSON_AddItemToArray(list, o)) {
        cJSON_Delete(o);
        return -1;
    }
    if (add_string(o, "name", e->name) != 0 || add_string(o, "value", e->value) != 0 ||
        cJSON_AddBoolToObject(o, "from_environment", e->from_env) == NULL ||
        add_string(o, "default", e->def) != 0 || add_string(o, "range", e->range) != 0 ||
        add_string(o, "zero", s->zero) != 0 || add_string(o, "read_by", read_by(s)) != 0)
        return -1;
    return 0;
}

static int run(fq_ctl *ctl, int argc, char **argv)
{
    int json;
    int rc = fq_ctl_json_options(&fq_ctl_cmd_settings, help, 0, argc, argv, &json);
    if (rc >= 0)
        return rc;
    if (optind < argc)
        return fq_ctl_usage_error(&fq_ctl_cmd_settings, "unexpected argument \"%.40s\"",
                                  argv[optind]);
    if (fq_ctl_load_config(ctl) != 0)
        return FQ_CTL_USAGE;
    cJSON *list = json ? cJSON_CreateArray() : NULL;
    int failed = json && list == NULL;
    for (size_t i = 0; i < fq_settings_count && !failed; i++) {
        const fq_setting *s = &fq_settings[i];
        int roles = fq_setting_per_role(s) ? FQ_ROLE_COUNT : 1;
        for (int r = 0; r < roles && !failed; r++) {
            entry e;
            describe(ctl, s, r, &e);
            if (json)
                failed = add_entry(list, s, &e) != 0;
            else
                print_entry(s, &e);
        }
    }
    if (json && (failed || fq_ctl_json_print(list) != 0)) {
        if (failed) {
            cJSON_Delete(list);
            fq_ctl_errorf("out of memory while writing the JSON");
        }
        return FQ_CTL_PARTIAL;
    }
    return FQ_CTL_OK;
}
