/* ctl_util.c -- what every fleetqctl command uses besides Redis: the one-line
 * messages on stderr ("fleetqctl: ..."), the exit code a run ends with (the
 * worst one recorded), usage errors, option values, one-line output, fields
 * of HGETALL replies and JSON output.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

void fq_ctl_errorf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs(FQ_CTL_PROG ": ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

void fq_ctl_fail(fq_ctl *ctl, int code)
{
    if (code > ctl->rc)
        ctl->rc = code;
}

int fq_ctl_exit(const fq_ctl *ctl)
{
    return ctl->rc;
}

void fq_ctl_print_usage(const fq_ctl_command *cmd, FILE *out)
{
    fprintf(out, "Usage: " FQ_CTL_PROG " %s %s\n", cmd->name, cmd->args);
}

int fq_ctl_usage_error(const fq_ctl_command *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, FQ_CTL_PROG " %s: ", cmd->name);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    fq_ctl_print_usage(cmd, stderr);
    fprintf(stderr, "See '" FQ_CTL_PROG " %s --help'.\n", cmd->name);
    return FQ_CTL_USAGE;
}

int fq_ctl_parse_count(const fq_ctl_command *cmd, const char *option, const char *s,
                       long min, long max, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
        return fq_ctl_usage_error(cmd, "%s: must be a whole number from %ld to %ld, got \"%.40s\"",
                                  option, min, max, s);
    *out = v;
    return 0;
}

int fq_ctl_bad_option(const fq_ctl_command *cmd, int c, char **argv)
{
    const char *arg = optind > 0 ? argv[optind - 1] : "?";
    if (c == ':')
        return fq_ctl_usage_error(cmd, "option %.40s needs a value", arg);
    if (strncmp(arg, "--", 2) == 0 || optopt == 0 || optopt > 127)
        return fq_ctl_usage_error(cmd, "unknown option (or a value it does not take) %.40s",
                                  arg);
    return fq_ctl_usage_error(cmd, "unknown option -%c", optopt);
}

int fq_ctl_json_options(const fq_ctl_command *cmd, void (*help)(void), int words_first,
                        int argc, char **argv, int *json)
{
    static const struct option opts[] = {
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    *json = 0;
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, words_first ? "+:h" : ":h", opts, NULL)) != -1) {
        switch (c) {
        case 'j': *json = 1; break;
        case 'h': help(); return FQ_CTL_OK;
        default: return fq_ctl_bad_option(cmd, c, argv);
        }
    }
    return -1;
}

void fq_ctl_put_field(FILE *out, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        fputc(ch < 0x20 || ch == 0x7f ? ' ' : ch, out);
    }
}

int fq_ctl_parse_seconds(const fq_ctl_command *cmd, const char *option, const char *s,
                         double min, double max, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    /* digits and one point only: no signs, exponents, "inf" or "nan" */
    int plain = s[0] != '\0' && strspn(s, "0123456789.") == strlen(s);
    if (!plain || errno != 0 || end == s || *end != '\0' || !(v >= min && v <= max))
        return fq_ctl_usage_error(cmd, "%s: must be a number of seconds from %g to %g, "
                                       "got \"%.40s\"", option, min, max, s);
    *out = v;
    return 0;
}

int fq_ctl_status_final(const char *status)
{
    static const char *const final[] = {"done", "failed", "rejected", "expired", "cancelled"};
    for (size_t i = 0; status != NULL && i < sizeof(final) / sizeof(final[0]); i++)
        if (strcmp(status, final[i]) == 0)
            return 1;
    return 0;
}

const redisReply *fq_ctl_hash_get(const redisReply *hash, const char *name)
{
    if (hash == NULL || hash->type != REDIS_REPLY_ARRAY)
        return NULL;
    for (size_t i = 0; i + 1 < hash->elements; i += 2) {
        const redisReply *k = hash->element[i], *v = hash->element[i + 1];
        if (k->type == REDIS_REPLY_STRING && v->type == REDIS_REPLY_STRING &&
            strcmp(k->str, name) == 0)
            return v;
    }
    return NULL;
}

long long fq_ctl_hash_ll(const redisReply *hash, const char *name, long long def)
{
    const redisReply *v = fq_ctl_hash_get(hash, name);
    if (v == NULL || v->len == 0)
        return def;
    char *end;
    errno = 0;
    long long n = strtoll(v->str, &end, 10);
    if (errno == 0 && *end == '\0')
        return n;
    /* a whole number written by Lua as a float ("1.7e+12", "3.0") */
    double d = strtod(v->str, &end);
    if (*end != '\0' || !(d > -9.2e18 && d < 9.2e18))
        return def;
    return (long long)d;
}

int fq_ctl_json_str(cJSON *obj, const char *name, const char *s, size_t len)
{
    if (s == NULL)
        return cJSON_AddNullToObject(obj, name) != NULL ? 0 : -1;
    char *copy = strndup(s, len);
    int ok = copy != NULL && cJSON_AddStringToObject(obj, name, copy) != NULL;
    free(copy);
    return ok ? 0 : -1;
}

int fq_ctl_json_print(cJSON *obj)
{
    char *text = obj != NULL ? cJSON_PrintUnformatted(obj) : NULL;
    if (text != NULL)
        puts(text);
    cJSON_free(text);
    cJSON_Delete(obj);
    if (text == NULL) {
        fq_ctl_errorf("out of memory while writing the JSON");
        return -1;
    }
    return 0;
}
