/* cmd_submit.c -- `fleetqctl submit FIELD VALUE...` (or `--FIELD VALUE`):
 * submits a task, and with --wait follows it to its end.
 *
 * The fields go to the inbox exactly as `redis-cli XADD fleetq:submit '*'
 * FIELD VALUE...` would send them: the coordinator validates them (an
 * invalid submission ends `rejected` with the reason), so the tool checks
 * only that the words pair up and that no name is empty. Each field may
 * also be written as an option, `--role code` or `--role=code`, for every
 * name a submission knows (task.h's fq_task_field_known), and the two
 * forms mix. One VALUE may be `-`: it is then read from stdin (one trailing
 * line break dropped), for prompts too long or too awkward for a command
 * line. Options may stand before, between or after the pairs, but only
 * where a FIELD would: a VALUE is always a value, even when it looks like
 * an option, and `--` ends the options.
 *
 * The task id printed is the `id` field when given (or the `id` inside a
 * `json` field), else the stream entry id XADD returned, as the
 * coordinator assigns it. --wait then waits for fleetq:done:<id> (pushed
 * once the task's row is in SQLite) with BLPOP, a couple of seconds at a
 * time; before and between the waits it looks at the task's hash, so a
 * task that had already ended (a repeated id: not run twice) or whose
 * announcement someone else took is noticed too. The hash decides, not
 * what BLPOP popped: an entry on fleetq:done:<id> may be left from an
 * earlier task with that id (a rejected one, which may be submitted anew),
 * told apart by the hash's `entry`. Then the result is shown as `fleetqctl
 * result` shows it.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"
#include "keys.h"
#include "task.h"
#include "timeutil.h"

#define DEFAULT_WAIT_S 300.0
#define MAX_WAIT_S (366.0 * 86400)
#define WAIT_STEP_S 2.0          /* one BLPOP; the hash is checked between them */
#define STDIN_MAX (64u << 20)

static int run(fq_ctl *ctl, int argc, char **argv);

const fq_ctl_command fq_ctl_cmd_submit = {
    .name = "submit",
    .args = "FIELD VALUE [FIELD VALUE...] [--wait [SECONDS]] [--json]\n"
            "       " FQ_CTL_PROG " submit --FIELD VALUE [--FIELD VALUE...] [--wait [S]] [--json]",
    .summary = "submit a task (fields as for XADD fleetq:submit); --wait for it",
    .run = run,
};

static void help(void)
{
    fq_ctl_print_usage(&fq_ctl_cmd_submit, stdout);
    fputs("\n"
          "Submits a task to the inbox, the same as\n"
          "    redis-cli XADD fleetq:submit '*' FIELD VALUE...\n"
          "and prints its id: the `id` field when given (or the id inside a `json`\n"
          "field), else the stream entry id, which the coordinator makes the task id.\n"
          "Each field may also be given as an option, and the two forms mix:\n"
          "    " FQ_CTL_PROG " submit --role code --prompt \"Fix this bug\"\n"
          "    " FQ_CTL_PROG " submit role code --priority=high prompt \"Fix this bug\"\n"
          "Fields: role (ceo, code, quality, memory), prompt or messages (a JSON array\n"
          "of {role, content}), priority (critical, high, normal, low, bulk or 0-9),\n"
          "id, system, model, max_tokens, temperature, max_attempts, timeout, delay,\n"
          "ttl, or the whole task as one json object. The coordinator checks them: a\n"
          "submission that is not valid ends `rejected` with the reason.\n"
          "\n"
          "A VALUE of - is read from stdin (one trailing line break is dropped), e.g.\n"
          "    " FQ_CTL_PROG " submit --role code --prompt - < bug-report.txt\n"
          "for at most one field. Options go where a FIELD would; a VALUE is never\n"
          "taken for an option, and -- ends the options.\n"
          "\n"
          "Options:\n"
          "  --wait [SECONDS]  wait until the task ends (default 300 s; 0 waits for\n"
          "                    ever), then show it as `" FQ_CTL_PROG " result` does\n"
          "                    (the id line first, in text)\n"
          "  --json            print JSON: {\"id\", \"entry\"}, or with --wait the\n"
          "                    object of `" FQ_CTL_PROG " result --json` (also when\n"
          "                    the time runs out: the task as it stands)\n"
          "  -h, --help        show this help\n"
          "\n"
          "Exit status: 0 submitted (with --wait: the task is done); 4 (--wait) the\n"
          "task ended failed, rejected, expired or cancelled; 5 (--wait) it had not\n"
          "ended when the time ran out; 1 Redis refused the submission; 2 usage or\n"
          "configuration error; 3 Redis could not be reached.\n",
          stdout);
}

typedef struct submission {
    char **words;         /* FIELD VALUE ... (pointers into argv, or stdin_value);
                             room for 2 * argc: --FIELD=VALUE gives two */
    int nwords;
    int stdin_at;         /* the word read from stdin, -1 for none */
    char *stdin_value;
    size_t stdin_len;
    int json;
    int wait;
    double wait_s;        /* 0 = for ever */
} submission;

/* ------------------------------------------------------------------------
 * The command line
 * --------------------------------------------------------------------- */

static int is_seconds(const char *s)
{
    return s[0] != '\0' && strspn(s, "0123456789.") == strlen(s);
}

/* Adds one word; a VALUE of "-" is to be read from stdin. Returns 0 or 2. */
static int add_word(submission *s, char *w)
{
    const fq_ctl_command *cmd = &fq_ctl_cmd_submit;
    int at_field = s->nwords % 2 == 0;
    if (at_field && w[0] == '\0')
        return fq_ctl_usage_error(cmd, "an empty field name (word %d)", s->nwords + 1);
    if (strcmp(w, "-") == 0) {
        if (at_field)
            return fq_ctl_usage_error(cmd, "- (read from stdin) stands for a VALUE, not a "
                                           "FIELD");
        if (s->stdin_at >= 0)
            return fq_ctl_usage_error(cmd, "only one VALUE can be read from stdin (-)");
        s->stdin_at = s->nwords;
    }
    s->words[s->nwords++] = w;
    return 0;
}

/* --FIELD VALUE and --FIELD=VALUE: returns 1 when argv[*i] is one (and
 * consumes it, and the VALUE after it), 0 when it names no field, or 2. */
static int field_option(int argc, char **argv, int *i, submission *s)
{
    char *name = argv[*i] + 2, *eq = strchr(name, '=');
    size_t len = eq ? (size_t)(eq - name) : strlen(name);
    if (argv[*i][1] != '-' || !fq_task_field_known(name, len))
        return 0;
    if (eq != NULL) {
        *eq = '\0';   /* argv is ours to cut: the name ends here */
        return add_word(s, name) ? FQ_CTL_USAGE : add_word(s, eq + 1) ? FQ_CTL_USAGE : 1;
    }
    if (*i + 1 >= argc)
        return fq_ctl_usage_error(&fq_ctl_cmd_submit, "--%s needs a value", name);
    if (add_word(s, name) || add_word(s, argv[++*i]))
        return FQ_CTL_USAGE;
    return 1;
}

/* Reads options and words. Returns 0, -1 after --help (exit 0), or 2. */
static int parse(int argc, char **argv, submission *s)
{
    const fq_ctl_command *cmd = &fq_ctl_cmd_submit;
    int options = 1;
    s->stdin_at = -1;
    s->wait_s = DEFAULT_WAIT_S;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int at_field = s->nwords % 2 == 0;
        if (options && at_field && a[0] == '-' && a[1] != '\0') {
            if (strcmp(a, "--") == 0) {
                options = 0;
            } else if (strcmp(a, "--json") == 0) {
                s->json = 1;
            } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
                help();
                return -1;
            } else if (strcmp(a, "--wait") == 0) {
                s->wait = 1;
                if (i + 1 < argc && is_seconds(argv[i + 1]) &&
                    fq_ctl_parse_seconds(cmd, "--wait", argv[++i], 0, MAX_WAIT_S, &s->wait_s))
                    return FQ_CTL_USAGE;
            } else if (strncmp(a, "--wait=", 7) == 0) {
                s->wait = 1;
                if (fq_ctl_parse_seconds(cmd, "--wait", a + 7, 0, MAX_WAIT_S, &s->wait_s))
                    return FQ_CTL_USAGE;
            } else {
                int rc = field_option(argc, argv, &i, s);
                if (rc == 0)
                    return fq_ctl_usage_error(cmd, "unknown option %.40s (fields are FIELD "
                                                   "VALUE or --FIELD VALUE, for: %s)",
                                              a, fq_task_fields);
                if (rc != 1)
                    return rc;
            }
            continue;
        }
        if (add_word(s, argv[i]) != 0)
            return FQ_CTL_USAGE;
    }
    if (s->nwords == 0)
        return fq_ctl_usage_error(cmd, "no fields given (at least: role ROLE prompt TEXT)");
    if (s->nwords % 2 != 0)
        return fq_ctl_usage_error(cmd, "field \"%.40s\" has no value: give FIELD VALUE pairs",
                                  s->words[s->nwords - 1]);
    return 0;
}

/* Reads stdin whole for the `-` value. Returns 0, or 2 after saying why. */
static int read_stdin(submission *s)
{
    const char *field = s->words[s->stdin_at - 1];
    size_t cap = 64 * 1024, len = 0;
    char *buf = malloc(cap);
    if (isatty(STDIN_FILENO))
        fq_ctl_errorf("reading the value of %.40s from stdin (end it with Ctrl-D)", field);
    while (buf != NULL) {
        if (len == cap) {
            char *bigger = cap < STDIN_MAX ? realloc(buf, cap * 2) : NULL;
            if (bigger == NULL) {
                fq_ctl_errorf("the value of %.40s on stdin is too large (over %u MiB)", field,
                              STDIN_MAX >> 20);
                free(buf);
                return FQ_CTL_USAGE;
            }
            buf = bigger;
            cap *= 2;
        }
        size_t n = fread(buf + len, 1, cap - len, stdin);
        len += n;
        if (n == 0)
            break;
    }
    if (buf == NULL || ferror(stdin)) {
        fq_ctl_errorf(buf ? "could not read the value of %.40s from stdin"
                          : "out of memory reading the value of %.40s", field);
        free(buf);
        return FQ_CTL_USAGE;
    }
    if (len > 0 && buf[len - 1] == '\n')
        len--;
    if (len > 0 && buf[len - 1] == '\r')
        len--;
    s->stdin_value = buf;
    s->stdin_len = len;
    return 0;
}

static const char *word(const submission *s, int i, size_t *len)
{
    if (i == s->stdin_at) {
        *len = s->stdin_len;
        return s->stdin_value;
    }
    *len = strlen(s->words[i]);
    return s->words[i];
}

/* ------------------------------------------------------------------------
 * Waiting
 * --------------------------------------------------------------------- */

/* Looks at the task's hash: 1 when it has ended and its row is stored
 * (and it is not a rejected task from before this submission), 0 when
 * not yet, -1 when Redis failed. *status gets what the hash says. */
static int ended(fq_ctl *ctl, const char *id, const char *entry, char *status, size_t size)
{
    char key[FQ_KEY_MAX];
    redisReply *r = fq_ctl_command_run(ctl, "HMGET %s status entry stored",
                                       fq_key_task(id, key, sizeof(key)));
    if (r == NULL)
        return -1;
    int done = 0;
    status[0] = '\0';
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 3 &&
        r->element[0]->type == REDIS_REPLY_STRING) {
        const redisReply *st = r->element[0], *en = r->element[1], *stored = r->element[2];
        /* a task stored is left without its entry: then it is ours, as the
         * id was checked before sending */
        int ours = en->type != REDIS_REPLY_STRING || strcmp(en->str, entry) == 0;
        int stale = !ours && strcmp(st->str, "rejected") == 0;  /* ours is not in yet */
        if (!stale)
            snprintf(status, size, "%s", st->str);
        done = !stale && fq_ctl_status_final(st->str) && stored->type == REDIS_REPLY_STRING;
        if (done && !ours)
            fq_ctl_errorf("submit: task %s had been submitted before (a repeated id is not "
                          "run twice); this is how it ended", id);
    }
    freeReplyObject(r);
    return done;
}

/* Waits for the task's end. Returns 0 when it ended, 5 when the time ran
 * out (status then holds the task's status, "" when it has none yet), or
 * the exit code of a Redis failure. */
static int wait_end(fq_ctl *ctl, const submission *s, const char *id, const char *entry,
                    char *status, size_t size)
{
    char done_key[FQ_KEY_MAX];
    fq_key_done(id, done_key, sizeof(done_key));
    int64_t start = fq_mono_ms();
    for (;;) {
        /* first the hash: a repeated id may have ended long ago */
        int e = ended(ctl, id, entry, status, size);
        if (e < 0)
            return fq_ctl_exit(ctl);
        if (e == 1)
            return 0;
        double step = WAIT_STEP_S;
        if (s->wait_s > 0) {
            double left = s->wait_s - (double)(fq_mono_ms() - start) / 1000.0;
            if (left <= 0)
                break;
            if (left < step)
                step = left < 0.01 ? 0.01 : left;
        }
        redisReply *r = fq_ctl_command_run(ctl, "BLPOP %s %.3f", done_key, step);
        if (r == NULL)
            return fq_ctl_exit(ctl);
        freeReplyObject(r);  /* the status popped is only a wake-up: the hash says */
    }
    if (status[0] == '\0')
        fq_ctl_errorf("submit --wait: task %s was not taken in within %g s: is a "
                      "fleetq-coordinator running on this Redis? Follow it with: "
                      FQ_CTL_PROG " result %s", id, s->wait_s, id);
    else
        fq_ctl_errorf("submit --wait: task %s is still %s after %g s; follow it with: "
                      FQ_CTL_PROG " result %s", id, status, s->wait_s, id);
    return FQ_CTL_NOT_ENDED;
}

/* ------------------------------------------------------------------------
 * The command
 * --------------------------------------------------------------------- */

/* Checks the submission by the coordinator's own rules
 * (fq_task_parse_submission(), the same code): 0 with the id it names
 * (`id`, or `id` in `json`; "" when none) in id, or -1 with the reason the
 * coordinator would give on stderr, and the exit code set. */
static int validate(fq_ctl *ctl, const submission *s, char id[FQ_ID_MAX + 1])
{
    size_t n = (size_t)s->nwords / 2;
    fq_field *f = calloc(n > 0 ? n : 1, sizeof(*f));
    if (f == NULL) {
        fq_ctl_errorf("out of memory");
        fq_ctl_fail(ctl, FQ_CTL_PARTIAL);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        f[i].name = word(s, (int)(2 * i), &f[i].name_len);
        f[i].value = word(s, (int)(2 * i + 1), &f[i].value_len);
    }
    fq_task task;
    fq_task_init(&task);
    fq_task_limits limits = {.max_submission_bytes = ctl->cfg.max_submission_bytes};
    char reason[512] = "";
    int rc = fq_task_parse_submission(f, n, &limits, &task, NULL, reason, sizeof(reason));
    memcpy(id, task.id, FQ_ID_MAX + 1);
    fq_task_free(&task);
    free(f);
    if (rc == 0)
        return 0;
    fq_ctl_errorf("submit: not sent, the coordinator would reject it: %s", reason);
    fq_ctl_fail(ctl, FQ_CTL_USAGE);
    return -1;
}

/* 1 when a task with this id is known already (the coordinator would not
 * run it again; said on stderr with its status), 0 when not, -1 when
 * Redis failed. */
static int exists_already(fq_ctl *ctl, const char *id)
{
    char key[FQ_KEY_MAX];
    redisReply *r = fq_ctl_command_run(ctl, "HGET %s status", fq_key_task(id, key, sizeof(key)));
    if (r == NULL)
        return -1;
    int exists = r->type == REDIS_REPLY_STRING;
    if (exists)
        fq_ctl_errorf("submit: task %s exists already (%s) and is not run again; nothing was "
                      "sent. See it with: " FQ_CTL_PROG " result %s, or submit under another id",
                      id, r->str, id);
    freeReplyObject(r);
    return exists;
}

static int submit(fq_ctl *ctl, const submission *s)
{
    char named[FQ_ID_MAX + 1];
    if (validate(ctl, s, named) != 0)
        return fq_ctl_exit(ctl);
    if (named[0] != '\0') {
        int known = exists_already(ctl, named);
        if (known < 0)
            return fq_ctl_exit(ctl);
        if (known)
            return FQ_CTL_EXISTS;
    }

    fq_argv a;
    fq_argv_init(&a);
    int bad = fq_argv_adds(&a, "XADD") | fq_argv_adds(&a, fq_keys()->submit) | fq_argv_adds(&a, "*");
    for (int i = 0; i < s->nwords; i++) {
        size_t len;
        const char *w = word(s, i, &len);
        bad |= fq_argv_add(&a, w, len);
    }
    redisReply *r = bad ? NULL : fq_ctl_command_argv(ctl, &a);
    fq_argv_free(&a);
    if (bad) {
        fq_ctl_errorf("out of memory");
        fq_ctl_fail(ctl, FQ_CTL_PARTIAL);
    }
    if (r == NULL)
        return fq_ctl_exit(ctl);
    if (r->type != REDIS_REPLY_STRING || r->len >= 64) {
        freeReplyObject(r);
        fq_ctl_errorf("Redis answered XADD with something unexpected");
        fq_ctl_fail(ctl, FQ_CTL_PARTIAL);
        return fq_ctl_exit(ctl);
    }
    char entry[64], id[FQ_ID_MAX + 64];
    snprintf(entry, sizeof(entry), "%s", r->str);
    freeReplyObject(r);
    snprintf(id, sizeof(id), "%s", named[0] != '\0' ? named : entry);

    if (!s->wait || !s->json) {
        if (s->json) {
            cJSON *o = cJSON_CreateObject();
            if (o != NULL && (cJSON_AddStringToObject(o, "id", id) == NULL ||
                              cJSON_AddStringToObject(o, "entry", entry) == NULL)) {
                cJSON_Delete(o);
                o = NULL;
            }
            if (fq_ctl_json_print(o) != 0)
                fq_ctl_fail(ctl, FQ_CTL_PARTIAL);
        } else {
            fq_ctl_put_field(stdout, id, strlen(id));
            putchar('\n');
        }
        fflush(stdout);
    }
    if (!s->wait)
        return fq_ctl_exit(ctl);
    char status[32];
    int rc = wait_end(ctl, s, id, entry, status, sizeof(status));
    if (rc == FQ_CTL_NOT_ENDED && s->json) {
        /* the task as it stands, or only its id when it is not in yet */
        if (status[0] != '\0')
            return fq_ctl_result_show(ctl, id, 1);
        cJSON *o = cJSON_CreateObject();
        if (o != NULL && (cJSON_AddStringToObject(o, "id", id) == NULL ||
                          cJSON_AddStringToObject(o, "entry", entry) == NULL ||
                          cJSON_AddNullToObject(o, "status") == NULL)) {
            cJSON_Delete(o);
            o = NULL;
        }
        if (fq_ctl_json_print(o) != 0)
            fq_ctl_fail(ctl, FQ_CTL_PARTIAL);
        return fq_ctl_exit(ctl) != FQ_CTL_OK ? fq_ctl_exit(ctl) : rc;
    }
    if (rc != 0)
        return rc;
    if (!s->json)
        putchar('\n');
    return fq_ctl_result_show(ctl, id, s->json);
}

static int run(fq_ctl *ctl, int argc, char **argv)
{
    submission s;
    memset(&s, 0, sizeof(s));
    s.words = calloc(2 * (size_t)argc, sizeof(*s.words));
    if (s.words == NULL) {
        fq_ctl_errorf("out of memory");
        return FQ_CTL_PARTIAL;
    }
    int rc = parse(argc, argv, &s);
    if (rc == 0 && s.stdin_at >= 0)
        rc = read_stdin(&s);
    if (rc == 0 && fq_ctl_connect(ctl) == 0)
        rc = submit(ctl, &s);
    else if (rc == 0)
        rc = fq_ctl_exit(ctl);
    free(s.stdin_value);
    free(s.words);
    return rc < 0 ? FQ_CTL_OK : rc;
}
