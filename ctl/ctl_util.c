/* ctl_util.c -- what every fleetqctl command uses besides Redis: the one-line
 * messages on stderr ("fleetqctl: ..."), the exit code a run ends with (the
 * worst one recorded), usage errors, option values and one-line output.
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

void fq_ctl_put_field(FILE *out, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        fputc(ch < 0x20 || ch == 0x7f ? ' ' : ch, out);
    }
}
