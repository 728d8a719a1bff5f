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
 * exit codes, argument helpers and JSON output; ctl_fleet.c the snapshot
 * of the fleet that `status` and `watch` show; cmd_result.c shows one task
 * for `result` and `submit --wait`.
 *
 * Exit codes, for scripts: 0 success; 1 some id was not handled (each has
 * a line on stderr), or Redis refused a command; 2 usage or configuration
 * error; 3 Redis could not be reached (or the connection was lost). The
 * commands that report on one task (result, submit --wait) add 4: the task
 * ended, but not done (failed, rejected, expired, cancelled), and 5: it has
 * not ended (yet: still queued or running, or --wait ran out of time).
 * Those two are the task's outcome, not failures of the tool: they are
 * returned only when nothing else went wrong, never recorded with
 * fq_ctl_fail().
 *
 * Besides the scripts the coordinator and the workers run (common/lua),
 * fleetqctl has a few of its own (ctl/lua, fq_ctl_lua_files): same
 * prelude, same loading.
 */
#ifndef FQ_CTL_H
#define FQ_CTL_H

#include <stdio.h>

#include <cjson/cJSON.h>
#include <hiredis/hiredis.h>

#include "config.h"
#include "embedded.h"
#include "fields.h"

#define FQ_CTL_PROG "fleetqctl"

enum {
    FQ_CTL_OK = 0,
    FQ_CTL_PARTIAL = 1,      /* some id was not handled; a Redis error reply */
    FQ_CTL_USAGE = 2,        /* == FQ_EXIT_CONFIG */
    FQ_CTL_UNREACHABLE = 3,
    FQ_CTL_ENDED = 4,        /* the task ended failed, rejected, expired, cancelled */
    FQ_CTL_NOT_ENDED = 5,    /* the task has not ended (--wait timed out) */
    FQ_CTL_EXISTS = 6,       /* submit: a task with that id exists; nothing was sent */
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

extern const fq_ctl_command fq_ctl_cmd_submit;
extern const fq_ctl_command fq_ctl_cmd_result;
extern const fq_ctl_command fq_ctl_cmd_status;
extern const fq_ctl_command fq_ctl_cmd_watch;
extern const fq_ctl_command fq_ctl_cmd_dead;
extern const fq_ctl_command fq_ctl_cmd_requeue;
extern const fq_ctl_command fq_ctl_cmd_cancel;
extern const fq_ctl_command fq_ctl_cmd_flow;
extern const fq_ctl_command fq_ctl_cmd_search;
extern const fq_ctl_command fq_ctl_cmd_resume;
extern const fq_ctl_command fq_ctl_cmd_limits;
extern const fq_ctl_command fq_ctl_cmd_events;
extern const fq_ctl_command fq_ctl_cmd_settings;

/* fleetqctl's own Lua scripts (the .lua files of ctl/lua, with the common
 * prelude). */
extern const fq_embedded fq_ctl_lua_files[];

/* ---- ctl_redis.c ---- */

/* Reads the configuration (never the key) into ctl->cfg, and the first
 * time warns on stderr of each unknown FLEETQ_/GROK_/XAI_ variable
 * (settings.h). Returns 0, or 2 after printing why. */
int fq_ctl_load_config(fq_ctl *ctl);

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

/* Parses the options of a command whose only ones are --json and --help
 * (help() prints its text). With words_first, options stop at the first
 * word, so that words like "-" stay words. Returns -1 to go on, with *json
 * set and optind at the first word, else the exit status (help shown, or
 * a usage error). */
int fq_ctl_json_options(const fq_ctl_command *cmd, void (*help)(void), int words_first,
                        int argc, char **argv, int *json);

/* Reads a number of seconds from min to max (fractions allowed, "1.5")
 * for an option. Returns 0 with the value in *out, or 2 after a usage
 * error naming the option. */
int fq_ctl_parse_seconds(const fq_ctl_command *cmd, const char *option, const char *s,
                         double min, double max, double *out);

/* Writes s for a one-line text listing: control characters (tabs, line
 * breaks) become spaces. */
void fq_ctl_put_field(FILE *out, const char *s, size_t len);

/* 1 for the final statuses: done, failed, rejected, expired, cancelled. */
int fq_ctl_status_final(const char *status);

/* The value of a field in an HGETALL reply (a flat name/value array), or
 * NULL when the field is absent or the reply is not such an array. */
const redisReply *fq_ctl_hash_get(const redisReply *hash, const char *name);
/* The same as a whole number (def when absent or not a number; a number
 * Lua wrote as a float, "1.7e+12", is read too). */
long long fq_ctl_hash_ll(const redisReply *hash, const char *name, long long def);

/* JSON output. fq_ctl_json_str() adds s[0..len) (NULL: JSON null) to obj;
 * returns 0, or -1 when memory ran out. fq_ctl_json_print() prints obj on
 * one line and frees it; returns 0, or -1 after reporting that memory ran
 * out (obj NULL counts as that). */
int fq_ctl_json_str(cJSON *obj, const char *name, const char *s, size_t len);
int fq_ctl_json_print(cJSON *obj);

/* ---- ctl_flow.c: the tasks of a flow, for `flow` and `cancel --flow` ---- */

enum {
    FQ_CTL_FLOW_STATUS, FQ_CTL_FLOW_ROLE, FQ_CTL_FLOW_PARENTS, FQ_CTL_FLOW_COST_TICKS,
    FQ_CTL_FLOW_ERROR, FQ_CTL_FLOW_FLOW_ID, FQ_CTL_FLOW_FIELDS
};

typedef struct fq_ctl_flow_task {
    char *id;
    redisReply *fields;    /* HMGET of the FQ_CTL_FLOW_* fields */
} fq_ctl_flow_task;

typedef struct fq_ctl_flow {
    fq_ctl_flow_task *tasks;   /* the root first, then from the root down */
    int n, cap;
} fq_ctl_flow;

/* Finds the tasks of the flow whose root is root (the root's hash may be
 * gone: its fields are then nil). Returns 0, or -1 when Redis failed
 * (reported) or memory ran out; free f with fq_ctl_flow_free either way. */
int fq_ctl_flow_gather(fq_ctl *ctl, const char *root, fq_ctl_flow *f);
/* A field of a task (FQ_CTL_FLOW_*), or NULL when the hash lacks it. */
const char *fq_ctl_flow_field(const fq_ctl_flow_task *t, int field);
void fq_ctl_flow_free(fq_ctl_flow *f);

/* ---- ctl_fleet.c: the figures of `status` and `watch` ---- */

typedef struct fq_ctl_fleet {
    long long now_ms;                       /* Redis' clock at the snapshot */
    long long queued[FQ_ROLE_COUNT];        /* ready queues */
    long long queued_all;
    long long delayed[FQ_ROLE_COUNT];       /* in the delayed set: delayed or retrying */
    long long retrying[FQ_ROLE_COUNT];      /* of those, retrying */
    long long delayed_all;
    int delayed_by_role;                    /* 0: too many to count by role */
    long long running[FQ_ROLE_COUNT];       /* leases */
    long long calling[FQ_ROLE_COUNT];       /* of those, calling the API (phase) */
    long long waiting_quota[FQ_ROLE_COUNT]; /* of those, waiting for the quota */
    long long running_all;
    int running_by_role;                    /* 0: too many to count by role (nor
                                               by phase) */
    long long workers[FQ_ROLE_COUNT];       /* live workers (registry) */
    long long workers_live, workers_registered;
    long long dead;                         /* dead letters */
    long long inflight;                     /* API calls in flight (quota slots) */
    int lease_s;                            /* the liveness window used */
    const redisReply *quota;                /* HGETALL fleetq:quota, in reply */
    const redisReply *models;               /* {model, HGETALL fleetq:quota:<model>, ...} */
    char events_last[48];                   /* the last fleetq:events id, "" if none */
    redisReply *reply;                      /* owns everything above */
    long long cache_hits, cache_misses;     /* the response cache, all time */
    long long cache_saved_ticks;            /* what its hits' answers had cost */
    long long cache_entries, cache_bytes;   /* what it holds now */
    /* the coordinator's lease (<prefix>:coordinator): host "" when none */
    char coord_host[256], coord_pid[16], coord_since[40], coord_db[512], coord_fleet[64];
    long long coord_silent_ms;              /* since its last renewal */
} fq_ctl_fleet;

/* Takes one snapshot (ctl/lua/fleet.lua). Returns 0, or -1 after reporting
 * why (with the exit code recorded); free with fq_ctl_fleet_free() either
 * way. */
int fq_ctl_fleet_gather(fq_ctl *ctl, fq_ctl_fleet *f);
void fq_ctl_fleet_free(fq_ctl_fleet *f);

/* Tasks not ended yet: queued + delayed + running. */
long long fq_ctl_fleet_outstanding(const fq_ctl_fleet *f);

/* The status screen, aligned, within 80 columns. */
void fq_ctl_fleet_print(const fq_ctl *ctl, const fq_ctl_fleet *f, FILE *out);

/* The same as one JSON object (NULL when memory ran out). */
cJSON *fq_ctl_fleet_json(const fq_ctl *ctl, const fq_ctl_fleet *f);

/* ---- cmd_result.c ---- */

/* Shows the task id (text or JSON, as `fleetqctl result`) and returns the
 * command's exit code: 0 done, 4 ended not done, 5 not ended, 1 not found
 * (with a line on stderr), or what Redis failures recorded. */
int fq_ctl_result_show(fq_ctl *ctl, const char *id, int json);

#endif
