/* ctl.h -- what the commands of fleetqctl share.
 *
 * main.c finds the command named by the first argument in fq_ctl_commands
 * and runs it with the rest of the command line (argv[0] is the command's
 * name, so getopt_long works as usual). Each command lives in a file of
 * its own, cmd_<name>.c, and exports one fq_ctl_command; a new command is
 * that file, one line in main.c's table and one in ctl/CMakeLists.txt.
 *
 * A command parses its options first (so `--help` works without any
 * configuration), then calls fq_ctl_connect(), which reads REDIS_URL like
 * every fleetq program (no API key needed) and connects synchronously.
 * Everything that talks to Redis goes through ctl_redis.c, which prints one
 * line on stderr when something goes wrong and remembers the exit code;
 * commands then return fq_ctl_exit(ctl). ctl_util.c holds the messages,
 * exit codes and argument helpers.
 *
 * Exit codes, for scripts: 0 success; 1 some id was not handled (each has
 * a line on stderr), or Redis refused a command; 2 usage or configuration
 * error; 3 Redis could not be reached (or the connection was lost).
 */
#ifndef FQ_CTL_H
#define FQ_CTL_H

#include <stdio.h>

#include <hiredis/hiredis.h>

#include "config.h"
#include "fields.h"

#define FQ_CTL_PROG "fleetqctl"

enum {
    FQ_CTL_OK = 0,
    FQ_CTL_PARTIAL = 1,      /* some id was not handled; a Redis error reply */
    FQ_CTL_USAGE = 2,        /* == FQ_EXIT_CONFIG */
    FQ_CTL_UNREACHABLE = 3,
};

#define FQ_CTL_MAX_SCRIPTS 16

typedef struct fq_ctl {
    fq_config cfg;
    int have_cfg;
    redisContext *redis;          /* NULL until fq_ctl_connect() */
    int rc;                       /* the worst exit code so far */
    struct {
        const char *name;         /* "requeue" */
        char sha[48];
    } scripts[FQ_CTL_MAX_SCRIPTS];
    int nscripts;
} fq_ctl;

typedef struct fq_ctl_command {
    const char *name;
    const char *args;             /* synopsis after the name, for the help */
    const char *summary;          /* one line for `fleetqctl --help` */
    int (*run)(fq_ctl *ctl, int argc, char **argv);
} fq_ctl_command;

extern const fq_ctl_command fq_ctl_cmd_dead;
extern const fq_ctl_command fq_ctl_cmd_requeue;
extern const fq_ctl_command fq_ctl_cmd_cancel;

/* ---- ctl_redis.c ---- */

/* Reads the configuration and connects. Returns 0, or the exit code
 * (2 configuration, 3 unreachable) after printing why. */
int fq_ctl_connect(fq_ctl *ctl);
void fq_ctl_close(fq_ctl *ctl);

/* Runs one command (hiredis format). Returns the reply (free it with
 * freeReplyObject), or NULL after printing why and recording the exit
 * code: 3 when the connection failed, 1 for an error reply. */
redisReply *fq_ctl_command_run(fq_ctl *ctl, const char *fmt, ...);

/* The same for a command given as an argument vector. */
redisReply *fq_ctl_command_argv(fq_ctl *ctl, const fq_argv *a);

/* Pipelining: queue commands with fq_ctl_append() (-1 after reporting a
 * failure), then collect one reply per command, in order, with
 * fq_ctl_next_reply() (NULL as above). No other command may run until every
 * reply has been collected. */
int fq_ctl_append(fq_ctl *ctl, const char *fmt, ...);
redisReply *fq_ctl_next_reply(fq_ctl *ctl);

/* Runs the embedded script "<name>.lua" (EVALSHA once loaded, EVAL when
 * Redis answers NOSCRIPT) with the first nkeys of args as KEYS and the
 * rest as ARGV. Returns the reply or NULL as fq_ctl_command_run(). */
redisReply *fq_ctl_script(fq_ctl *ctl, const char *name, int nkeys, const fq_argv *args);

/* Redis' clock in ms (TIME), or -1 after printing why. */
long long fq_ctl_redis_now_ms(fq_ctl *ctl);

/* ---- ctl_util.c ---- */

/* "fleetqctl: <message>" on stderr. */
void fq_ctl_errorf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Records an exit code; the worst (highest) one wins. */
void fq_ctl_fail(fq_ctl *ctl, int code);
int fq_ctl_exit(const fq_ctl *ctl);

/* For the commands' option parsing: prints a usage error naming the
 * command and returns 2. */
int fq_ctl_usage_error(const fq_ctl_command *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Prints the command's synopsis line ("Usage: fleetqctl dead [--json] ...")
 * to out. */
void fq_ctl_print_usage(const fq_ctl_command *cmd, FILE *out);

/* Reads a whole number from min to max for an option. Returns 0 with the
 * value in *out, or 2 after a usage error naming the option. */
int fq_ctl_parse_count(const fq_ctl_command *cmd, const char *option, const char *s,
                       long min, long max, long *out);

/* For getopt_long: the usage error for the option that getopt refused
 * (c is getopt's '?' or ':'). Returns 2. */
int fq_ctl_bad_option(const fq_ctl_command *cmd, int c, char **argv);

/* Writes s for a one-line text listing: control characters (tabs, line
 * breaks) become spaces. */
void fq_ctl_put_field(FILE *out, const char *s, size_t len);

#endif
