/* cmd_limits.c -- `fleetqctl limits`: shows and changes the fleet's limits
 * and budget, the hash fleetq:limits every worker's quota obeys (fleet_limits.h).
 *
 *   fleetqctl limits [--json]
 *   fleetqctl limits set budget USD | scope model|key | inflight N | burst N
 *                        | rate-limiting on|off | adaptive on|off
 *                        | default KEY=N[,KEY=N...] | MODEL KEY=N[,KEY=N...]
 *   fleetqctl limits unset MODEL [KEY...]
 *
 * A change is one write (limits.lua, op set) and holds at the next grant of
 * every worker, so fleet-wide within a second; the coordinator publishes
 * its environment again at its next start or SIGHUP. Values are checked
 * here with the parsers the environment's are checked with, so the hash
 * only ever holds what a worker can use.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cost.h"
#include "ctl.h"
#include "keys.h"
#include "fleet_limits.h"
#include "record.h"
#include "text.h"

#define LABEL "%-15s"

static int run(fq_ctl *ctl, int argc, char **argv);

const fq_ctl_command fq_ctl_cmd_limits = {
    .name = "limits",
    .args = "[--json] | set WHAT VALUE... | unset MODEL [KEY...]",
    .summary = "show or change the fleet's limits and budget (fleetq:limits)",
    .run = run,
};

static void help(void)
{
    fq_ctl_print_usage(&fq_ctl_cmd_limits, stdout);
    fputs("\n"
          "Shows the fleet's limits and budget, which every worker reads from Redis\n"
          "(fleetq:limits) on each call: the coordinator publishes them from its\n"
          "environment at start and on SIGHUP; a change made here holds fleet-wide\n"
          "at the next call, until the coordinator publishes again.\n"
          "\n"
          "  " FQ_CTL_PROG " limits set budget 20           DAILY_BUDGET_USD (0 = no cap)\n"
          "  " FQ_CTL_PROG " limits set scope key           FLEETQ_LIMIT_SCOPE: model or key\n"
          "  " FQ_CTL_PROG " limits set inflight 8          FLEETQ_MAX_INFLIGHT (0 = off)\n"
          "  " FQ_CTL_PROG " limits set burst 4             FLEETQ_RATE_BURST\n"
          "  " FQ_CTL_PROG " limits set rate-limiting off   ENABLE_RATE_LIMITING\n"
          "  " FQ_CTL_PROG " limits set adaptive off        FLEETQ_ADAPTIVE\n"
          "  " FQ_CTL_PROG " limits set default rpm=600     the ceilings of a model without\n"
          "                                        its own (GROK_RATE_LIMIT_RPM/RPH/TPM)\n"
          "  " FQ_CTL_PROG " limits set grok-4 rpm=60,tpm=16000   one model's own\n"
          "  " FQ_CTL_PROG " limits unset grok-4 [tpm]      drop a model's own (or one of them)\n"
          "\n"
          "Keys of a ceiling: rpm, rph, tpm (0 = off) and, for a model, inflight;\n"
          "they may be given as one word (rpm=60,tpm=16000) or several.\n"
          "\n"
          "Options:\n"
          "  --json       print the limits as one JSON object\n"
          "  -h, --help   show this help\n"
          "\n"
          "Exit status: 0 shown or changed; 1 Redis refused a command; 2 usage error or\n"
          "a bad value; 3 Redis could not be reached.\n",
          stdout);
}

/* ------------------------------------------------------------------------
 * Showing
 * --------------------------------------------------------------------- */

static const char *value_of(const redisReply *h, const char *name, const char *def)
{
    const redisReply *v = fq_ctl_hash_get(h, name);
    return v != NULL && v->len > 0 ? v->str : def;
}

/* The models with ceilings of their own: the names in "model:<m>:<key>"
 * fields, each once, in the order met. */
static int model_names(const redisReply *h, char names[][FQ_MODEL_NAME_MAX + 1], int max)
{
    int n = 0;
    for (size_t i = 0; h != NULL && i + 1 < h->elements; i += 2) {
        const char *f = h->element[i]->str;
        const char *colon = strncmp(f, "model:", 6) == 0 ? strrchr(f + 6, ':') : NULL;
        size_t len = colon ? (size_t)(colon - f - 6) : 0;
        if (len == 0 || len > FQ_MODEL_NAME_MAX)
            continue;
        int seen = 0;
        for (int k = 0; k < n && !seen; k++)
            seen = strlen(names[k]) == len && memcmp(names[k], f + 6, len) == 0;
        if (!seen && n < max) {
            memcpy(names[n], f + 6, len);
            names[n++][len] = '\0';
        }
    }
    return n;
}

static const char *model_value(const redisReply *h, const char *model, const char *key)
{
    char field[FQ_MODEL_NAME_MAX + 32];
    snprintf(field, sizeof(field), "model:%.*s:%.16s", FQ_MODEL_NAME_MAX, model, key);
    return value_of(h, field, NULL);
}

static void print_ceiling(const char *v, const char *unit)
{
    if (v == NULL || strcmp(v, "0") == 0)
        printf("no %s ceiling", unit);
    else
        printf("%s %s", v, unit);
}

static void show_text(const redisReply *h)
{
    char t[40];
    long long at = fq_ctl_hash_ll(h, "published_at_ms", 0);
    printf("fleet limits (%s, version %s, by %s at %s)\n\n", fq_keys()->limits,
           value_of(h, "version", "?"), value_of(h, "published_by", "?"),
           at > 0 ? fq_iso8601_ms(at, t, sizeof(t)) : "?");
    const char *scope = value_of(h, "scope", "model");
    printf(LABEL "%s\n", "limited per",
           strcmp(scope, "key") == 0 ? "key: one rate for every model"
                                     : "model: each model has its own rate, freeze and breaker");
    printf(LABEL, "ceilings");
    print_ceiling(value_of(h, "rpm", NULL), "requests/min");
    fputs(", ", stdout);
    print_ceiling(value_of(h, "rph", NULL), "requests/h");
    fputs(", ", stdout);
    print_ceiling(value_of(h, "tpm", NULL), "tokens/min");
    fputc('\n', stdout);
    printf(LABEL "%s call(s) back to back\n", "burst", value_of(h, "burst", "1"));
    const char *inflight = value_of(h, "max_inflight", "0");
    printf(LABEL "%s\n", "in flight", strcmp(inflight, "0") == 0 ? "no cap" : inflight);
    const char *budget = value_of(h, "daily_budget_usd", "0");
    if (strcmp(budget, "0") == 0)
        printf(LABEL "no daily cap\n", "budget");
    else
        printf(LABEL "$%s a day (UTC)\n", "budget", budget);
    printf(LABEL "%s, adaptive %s\n", "rate limiting", value_of(h, "rate_limiting", "on"),
           value_of(h, "adaptive", "on"));
    char names[FQ_MODEL_LIMITS_MAX][FQ_MODEL_NAME_MAX + 1];
    int n = model_names(h, names, FQ_MODEL_LIMITS_MAX);
    if (n == 0) {
        printf(LABEL "none with ceilings of their own\n", "models");
        return;
    }
    printf(LABEL "%-24s%9s%9s%10s%9s\n", "models", "MODEL", "RPM", "RPH", "TPM", "INFLIGHT");
    for (int i = 0; i < n; i++) {
        printf(LABEL "%-24.24s", "", names[i]);
        const int widths[] = {9, 9, 10, 9};
        for (int k = 0; fq_model_limit_fields[k] != NULL; k++) {
            const char *v = model_value(h, names[i], fq_model_limit_fields[k]);
            printf("%*s", widths[k], v ? v : "-");
        }
        fputc('\n', stdout);
    }
}

static int add_number_or_str(cJSON *o, const char *name, const char *v)
{
    char *end;
    double d = v ? strtod(v, &end) : 0;
    if (v == NULL)
        return cJSON_AddNullToObject(o, name) ? 0 : -1;
    if (*v != '\0' && *end == '\0')
        return cJSON_AddNumberToObject(o, name, d) ? 0 : -1;
    return cJSON_AddStringToObject(o, name, v) ? 0 : -1;
}

static cJSON *show_json(const redisReply *h)
{
    cJSON *o = cJSON_CreateObject();
    int bad = o == NULL;
    for (int i = 0; !bad && fq_limit_fields[i] != NULL; i++)
        bad |= add_number_or_str(o, fq_limit_fields[i], value_of(h, fq_limit_fields[i], NULL));
    bad = bad || add_number_or_str(o, "version", value_of(h, "version", NULL)) ||
          add_number_or_str(o, "published_by", value_of(h, "published_by", NULL)) ||
          add_number_or_str(o, "published_at_ms", value_of(h, "published_at_ms", NULL));
    cJSON *models = bad ? NULL : cJSON_AddObjectToObject(o, "models");
    bad |= models == NULL;
    char names[FQ_MODEL_LIMITS_MAX][FQ_MODEL_NAME_MAX + 1];
    int n = bad ? 0 : model_names(h, names, FQ_MODEL_LIMITS_MAX);
    for (int i = 0; !bad && i < n; i++) {
        cJSON *m = cJSON_AddObjectToObject(models, names[i]);
        bad |= m == NULL;
        for (int k = 0; !bad && fq_model_limit_fields[k] != NULL; k++)
            bad |= add_number_or_str(m, fq_model_limit_fields[k],
                                     model_value(h, names[i], fq_model_limit_fields[k]));
    }
    if (bad) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static int show(fq_ctl *ctl, int json)
{
    redisReply *h = fq_ctl_command_run(ctl, "HGETALL %s", fq_keys()->limits);
    if (h == NULL)
        return fq_ctl_exit(ctl);
    if (h->type != REDIS_REPLY_ARRAY || h->elements == 0) {
        fq_ctl_errorf("limits: nobody has published the fleet's limits yet (%s is empty): a "
                      "coordinator does at start, and so does the first worker",
                      fq_keys()->limits);
        freeReplyObject(h);
        fq_ctl_fail(ctl, FQ_CTL_PARTIAL);
        return fq_ctl_exit(ctl);
    }
    if (json) {
        if (fq_ctl_json_print(show_json(h)) != 0)
            fq_ctl_fail(ctl, FQ_CTL_PARTIAL);
    } else {
        show_text(h);
    }
    freeReplyObject(h);
    return fq_ctl_exit(ctl);
}

/* ------------------------------------------------------------------------
 * Changing
 * --------------------------------------------------------------------- */

/* WHAT VALUE for the fleet-wide settings: the field and the checked value
 * into pairs. Returns 0, 1 when WHAT is not one of them, or 2. */
static int fleet_setting(const char *what, const char *value, fq_argv *pairs)
{
    const fq_ctl_command *cmd = &fq_ctl_cmd_limits;
    int64_t x;
    if (strcmp(what, "budget") == 0) {
        char buf[32];
        if (fq_cost_parse_usd(value, &x) != 0)
            return fq_ctl_usage_error(cmd, "budget: must be a non-negative amount in USD like 50 "
                                           "or 12.5 (0 = no cap), got \"%.40s\"", value);
        return fq_argv_pair(pairs, "daily_budget_usd", fq_cost_format_usd(x, buf, sizeof(buf)))
                   ? FQ_CTL_USAGE : 0;
    }
    if (strcmp(what, "scope") == 0) {
        if (fq_limit_scope_parse(value) < 0)
            return fq_ctl_usage_error(cmd, "scope: must be model or key, got \"%.40s\"", value);
        return fq_argv_pair(pairs, "scope", value) ? FQ_CTL_USAGE : 0;
    }
    if (strcmp(what, "rate-limiting") == 0 || strcmp(what, "adaptive") == 0) {
        if (strcmp(value, "on") != 0 && strcmp(value, "off") != 0)
            return fq_ctl_usage_error(cmd, "%s: must be on or off, got \"%.40s\"", what, value);
        return fq_argv_pair(pairs, strcmp(what, "adaptive") == 0 ? "adaptive" : "rate_limiting",
                            value) ? FQ_CTL_USAGE : 0;
    }
    if (strcmp(what, "inflight") == 0 || strcmp(what, "burst") == 0) {
        int64_t lo = strcmp(what, "burst") == 0 ? 1 : 0, hi = lo ? 1000 : INT64_MAX;
        if (fq_text_parse_int64(value, strlen(value), &x) != 0 || x < lo || x > hi)
            return fq_ctl_usage_error(cmd, "%s: must be an integer from %lld%s, got \"%.40s\"",
                                      what, (long long)lo, lo ? " to 1000" : " up", value);
        return fq_argv_pairll(pairs, lo ? "burst" : "max_inflight", x) ? FQ_CTL_USAGE : 0;
    }
    return 1;
}

/* MODEL (or `default`) KEY=N...: the words joined with commas and checked
 * as a model's entry of FLEETQ_MODEL_LIMITS. */
static int ceilings(const char *target, char **words, int n, fq_argv *pairs)
{
    const fq_ctl_command *cmd = &fq_ctl_cmd_limits;
    int is_default = strcmp(target, "default") == 0;
    fq_model_limit m;
    memset(&m, 0, sizeof(m));
    m.rpm = m.rph = m.tpm = m.inflight = -1;
    if (strlen(target) >= sizeof(m.model))
        return fq_ctl_usage_error(cmd, "a model name of at most %zu bytes", sizeof(m.model) - 1);
    snprintf(m.model, sizeof(m.model), "%s", target);
    char spec[512] = "", err[256];
    for (int i = 0; i < n; i++) {
        size_t used = strlen(spec);
        if (snprintf(spec + used, sizeof(spec) - used, "%s%s", i ? "," : "", words[i]) >=
            (int)(sizeof(spec) - used))
            return fq_ctl_usage_error(cmd, "the limits given are too long");
    }
    if (fq_model_limit_parse(spec, strlen(spec), &m, err, sizeof(err)) != 0)
        return fq_ctl_usage_error(cmd, "%s", err);
    if (!is_default)
        return fq_model_limit_argv(&m, pairs) ? FQ_CTL_USAGE : 0;
    if (m.inflight >= 0)
        return fq_ctl_usage_error(cmd, "default: inflight is a model's own; for the whole key "
                                       "use: limits set inflight N");
    const int64_t v[] = {m.rpm, m.rph, m.tpm};
    const char *names[] = {"rpm", "rph", "tpm"};
    int bad = 0;
    for (int i = 0; i < 3; i++)
        if (v[i] >= 0)
            bad |= fq_argv_pairll(pairs, names[i], v[i]);
    return bad ? FQ_CTL_USAGE : 0;
}

/* unset MODEL [KEY...]: empty values, which limits.lua deletes. */
static int unset(const char *model, char **keys, int n, fq_argv *pairs)
{
    int bad = 0;
    for (int k = 0; fq_model_limit_fields[k] != NULL; k++) {
        int wanted = n == 0;
        for (int i = 0; i < n && !wanted; i++)
            wanted = strcmp(keys[i], fq_model_limit_fields[k]) == 0;
        if (wanted)
            bad |= fq_argv_addf(pairs, "model:%s:%s", model, fq_model_limit_fields[k]) |
                   fq_argv_adds(pairs, "");
    }
    for (int i = 0; i < n; i++) {
        int known = 0;
        for (int k = 0; fq_model_limit_fields[k] != NULL && !known; k++)
            known = strcmp(keys[i], fq_model_limit_fields[k]) == 0;
        if (!known)
            return fq_ctl_usage_error(&fq_ctl_cmd_limits, "unset: unknown limit \"%.40s\"; "
                                      "allowed: rpm, rph, tpm, inflight", keys[i]);
    }
    return bad ? FQ_CTL_USAGE : 0;
}

static int change(fq_ctl *ctl, int set, char **words, int n)
{
    const fq_ctl_command *cmd = &fq_ctl_cmd_limits;
    if (n < (set ? 2 : 1))
        return fq_ctl_usage_error(cmd, set ? "set needs WHAT and a VALUE (see --help)"
                                           : "unset needs a MODEL");
    char host[64] = "host", who[128];
    gethostname(host, sizeof(host) - 1);
    snprintf(who, sizeof(who), "fleetqctl %s:%d", host, (int)getpid());
    fq_argv a;
    fq_argv_init(&a);
    int rc = fq_argv_adds(&a, fq_keys()->limits) | fq_argv_adds(&a, "set") | fq_argv_adds(&a, who)
                 ? FQ_CTL_USAGE : 0;
    if (rc == 0 && !set) {
        rc = unset(words[0], words + 1, n - 1, &a);
    } else if (rc == 0) {
        rc = n == 2 ? fleet_setting(words[0], words[1], &a) : 1;
        if (rc == 1)
            rc = ceilings(words[0], words + 1, n - 1, &a);
    }
    redisReply *r = NULL;
    if (rc == 0 && fq_ctl_connect(ctl) == 0)
        r = fq_ctl_script(ctl, "limits", 1, &a);
    fq_argv_free(&a);
    if (rc != 0)
        return rc;
    if (r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
        r->element[1]->type == REDIS_REPLY_INTEGER)
        printf("limits: version %lld\n", r->element[1]->integer);
    if (r != NULL)
        freeReplyObject(r);
    return fq_ctl_exit(ctl);
}

static int run(fq_ctl *ctl, int argc, char **argv)
{
    int json;
    int rc = fq_ctl_json_options(&fq_ctl_cmd_limits, help, 1, argc, argv, &json);
    if (rc >= 0)
        return rc;
    if (optind == argc) {
        if (fq_ctl_connect(ctl) != 0)
            return fq_ctl_exit(ctl);
        return show(ctl, json);
    }
    const char *verb = argv[optind];
    if (strcmp(verb, "set") == 0 || strcmp(verb, "unset") == 0) {
        if (json)
            return fq_ctl_usage_error(&fq_ctl_cmd_limits, "--json is for showing the limits");
        return change(ctl, verb[0] == 's', argv + optind + 1, argc - optind - 1);
    }
    return fq_ctl_usage_error(&fq_ctl_cmd_limits, "unknown action \"%.40s\" (set, unset, or "
                              "nothing to show the limits)", verb);
}
