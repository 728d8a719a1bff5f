/* main.c -- fleetqctl, the operator's command line for a fleetq fleet.
 *
 * `fleetqctl [--help|--version] COMMAND [ARGS...]`: the global options are
 * read here, then the command named by the first other argument runs with
 * the rest of the line (see ctl.h for how commands are written and for the
 * exit codes). `fleetqctl help COMMAND` is `fleetqctl COMMAND --help`.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

static const fq_ctl_command *const commands[] = {
    &fq_ctl_cmd_submit,
    &fq_ctl_cmd_result,
    &fq_ctl_cmd_status,
    &fq_ctl_cmd_watch,
    &fq_ctl_cmd_events,
    &fq_ctl_cmd_dead,
    &fq_ctl_cmd_requeue,
    &fq_ctl_cmd_cancel,
    &fq_ctl_cmd_flow,
    &fq_ctl_cmd_search,
    &fq_ctl_cmd_resume,
    &fq_ctl_cmd_limits,
    &fq_ctl_cmd_settings,
    NULL,
};

static void usage(FILE *out)
{
    fputs("Usage: " FQ_CTL_PROG " [--help] [--version] COMMAND [ARGS...]\n"
          "\n"
          "The operator's tool for a fleetq fleet. It talks to the Redis named by\n"
          "REDIS_URL (default redis://127.0.0.1:6379/0), like every fleetq program;\n"
          "it needs no API key.\n"
          "\n"
          "Commands:\n",
          out);
    for (int i = 0; commands[i] != NULL; i++)
        fprintf(out, "  %-10s %s\n", commands[i]->name, commands[i]->summary);
    fputs("\n"
          "Run '" FQ_CTL_PROG " COMMAND --help' for a command's arguments.\n"
          "\n"
          "Exit status: 0 success; 1 some task could not be handled (one line each\n"
          "on stderr: an unknown id, a task in the wrong state) or Redis refused a\n"
          "command; 2 usage or configuration error; 3 Redis could not be reached.\n"
          "For `result` and `submit --wait`, the task's outcome: 0 done; 4 it ended\n"
          "failed, rejected, expired or cancelled; 5 it has not ended (yet, or\n"
          "before --wait ran out). For `submit`, 6: a task with that id exists\n"
          "already; nothing was sent (a repeated id is never run twice).\n",
          out);
}

static const fq_ctl_command *find_command(const char *name)
{
    for (int i = 0; commands[i] != NULL; i++)
        if (strcmp(commands[i]->name, name) == 0)
            return commands[i];
    return NULL;
}

static int unknown_command(const char *name)
{
    fq_ctl_errorf("unknown command \"%.40s\"; see " FQ_CTL_PROG " --help", name);
    return FQ_CTL_USAGE;
}

int main(int argc, char **argv)
{
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return FQ_CTL_OK;
        }
        if (strcmp(a, "--version") == 0 || strcmp(a, "-V") == 0) {
            printf(FQ_CTL_PROG " %s\n", FQ_VERSION);
            return FQ_CTL_OK;
        }
        if (strcmp(a, "--") == 0) {
            i++;
            break;
        }
        fq_ctl_errorf("unknown option \"%.40s\"; see " FQ_CTL_PROG " --help", a);
        return FQ_CTL_USAGE;
    }
    if (i >= argc) {
        fq_ctl_errorf("no command given");
        usage(stderr);
        return FQ_CTL_USAGE;
    }

    const fq_ctl_command *cmd;
    char help_arg[] = "--help";
    char *help_argv[] = {NULL, help_arg, NULL};
    if (strcmp(argv[i], "help") == 0) {
        if (i + 1 >= argc) {
            usage(stdout);
            return FQ_CTL_OK;
        }
        if ((cmd = find_command(argv[i + 1])) == NULL)
            return unknown_command(argv[i + 1]);
        help_argv[0] = argv[i + 1];
        argc = 2;
        argv = help_argv;
        i = 0;
    } else if ((cmd = find_command(argv[i])) == NULL) {
        return unknown_command(argv[i]);
    }

    fq_ctl ctl;
    memset(&ctl, 0, sizeof(ctl));
    int rc = cmd->run(&ctl, argc - i, argv + i);
    fq_ctl_close(&ctl);
    return rc;
}
