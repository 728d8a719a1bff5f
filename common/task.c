/* task.c -- the task model: roles, priorities, ids and submission parsing
 * (see task.h).
 *
 * A submission arrives as the name/value list of one stream entry. Parsing
 * runs in a fixed order so that the reason a client reads is the most
 * useful one: first the total size, then UTF-8 of every name and value,
 * then the field names (unknown, duplicated, `json` mixed with others),
 * then the JSON object when the task came as one `json` field, and last
 * every value in the order of the README's field table. Before any of that the
 * role and id are picked out on their own, so that even a rejected
 * submission can be filed under them.
 *
 * Both forms feed one table of raw values (struct raw): a separate field
 * gives a byte string; a key of the JSON object gives either a string or a
 * JSON item (a number, an array for `messages`, ...). The per-field checks
 * read the raw value through small typed getters that accept both shapes,
 * so every rule is written once. Error lines name the field, say what is
 * allowed and show what was given, escaped and cut to about 40 bytes
 * (fq_text_show() in text.c).
 *
 * The seven model parameters (FQ_MODEL_PARAM_NAMES, model_params.h) are
 * checked here and kept together as one compact JSON object, in that
 * order; which of them a model is sent is for model_params.c to say.
 * `fallback` is read by task_fallback.c.
 *
 * The task hash, the form a parsed task is stored in, is written and read
 * back by task_hash.c.
 */
#include "task.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "model_params.h"
#include "text.h"

#define DEFAULT_MAX_SUBMISSION (1u << 20)

#define SEED_LIMIT ((int64_t)1 << 53)   /* seeds stay exact as JSON numbers */
#define STOP_MAX 4                      /* stop sequences in a list */
#define STOP_BYTES_MAX 200              /* bytes of one stop sequence */

/* ------------------------------------------------------------------------
 * Roles, priorities, ids
 * --------------------------------------------------------------------- */

static const char *const role_names[FQ_ROLE_COUNT] = {"ceo", "code", "quality", "memory"};

const char *fq_role_name(fq_role role)
{
    if ((int)role < 0 || (int)role >= FQ_ROLE_COUNT)
        return NULL;
    return role_names[role];
}

int fq_role_parse(const char *s, size_t len)
{
    if (s == NULL)
        return -1;
    for (int i = 0; i < FQ_ROLE_COUNT; i++) {
        if (strlen(role_names[i]) == len && memcmp(role_names[i], s, len) == 0)
            return i;
    }
    return -1;
}

static const struct {
    const char *name;
    int value;
} priority_names[] = {
    {"critical", 0}, {"high", 2}, {"normal", 4}, {"low", 6}, {"bulk", 8},
};

int fq_priority_parse(const char *s, size_t len)
{
    if (s == NULL)
        return -1;
    if (len == 1 && s[0] >= '0' && s[0] <= '9')
        return s[0] - '0';
    for (size_t i = 0; i < sizeof(priority_names) / sizeof(priority_names[0]); i++) {
        if (strlen(priority_names[i].name) == len && memcmp(priority_names[i].name, s, len) == 0)
            return priority_names[i].value;
    }
    return -1;
}

int fq_id_valid(const char *s, size_t len)
{
    return s != NULL && fq_text_name_valid(s, len, FQ_ID_MAX);
}

/* ------------------------------------------------------------------------
 * Error lines
 * --------------------------------------------------------------------- */

/* How an error line names the type of a JSON value, first match wins. */
static const struct {
    cJSON_bool (*is)(const cJSON *item);
    const char *name;
} json_types[] = {
    {cJSON_IsString, "a JSON string"}, {cJSON_IsNumber, "a JSON number"},
    {cJSON_IsBool, "a JSON boolean"},  {cJSON_IsNull, "null"},
    {cJSON_IsArray, "a JSON array"},   {cJSON_IsObject, "a JSON object"},
};

static const char *json_type_name(const cJSON *j)
{
    for (size_t i = 0; i < sizeof(json_types) / sizeof(json_types[0]); i++) {
        if (json_types[i].is(j))
            return json_types[i].name;
    }
    return "a JSON value";
}

/* ------------------------------------------------------------------------
 * Raw values: one per known field, from separate fields or the JSON object
 * --------------------------------------------------------------------- */

/* The model parameters are the run from F_REASONING_EFFORT to
 * F_RESPONSE_FORMAT, in the order of FQ_MODEL_PARAM_NAMES. */
enum fld {
    F_ROLE, F_PROMPT, F_MESSAGES, F_PRIORITY, F_ID, F_SYSTEM, F_MODEL,
    F_MAX_TOKENS, F_TEMPERATURE, F_MAX_ATTEMPTS, F_TIMEOUT, F_DELAY, F_TTL,
    F_AFTER, F_REVIEW_BY, F_PLAN, F_RECALL, F_CACHE, F_STREAM, F_FALLBACK,
    F_REASONING_EFFORT, F_TOP_P, F_SEED, F_STOP, F_PRESENCE_PENALTY, F_FREQUENCY_PENALTY,
    F_RESPONSE_FORMAT, F_JSON, F_COUNT
};

static const char *const fld_names[F_COUNT] = {
    "role", "prompt", "messages", "priority", "id", "system", "model",
    "max_tokens", "temperature", "max_attempts", "timeout", "delay", "ttl", "after",
    "review_by", "plan", "recall", "cache", "stream", "fallback",
    "reasoning_effort", "top_p", "seed", "stop", "presence_penalty", "frequency_penalty",
    "response_format", "json",
};

#define ALLOWED_FIELDS \
    "role, prompt, messages, priority, id, system, model, max_tokens, " \
    "temperature, max_attempts, timeout, delay, ttl, after, review_by, plan, recall, " \
    "cache, stream, fallback, " FQ_MODEL_PARAM_NAMES ", json"

typedef struct raw {
    int present;
    int dup;
    const char *s;      /* the bytes of a string value, else NULL */
    size_t len;
    const cJSON *j;     /* the JSON item when the value came from `json` */
} raw;

const char fq_task_fields[] = ALLOWED_FIELDS;

static int fld_lookup(const char *name, size_t len)
{
    for (int i = 0; i < F_COUNT; i++) {
        if (strlen(fld_names[i]) == len && memcmp(fld_names[i], name, len) == 0)
            return i;
    }
    return -1;
}

int fq_task_field_known(const char *name, size_t len)
{
    return fld_lookup(name, len) >= 0;
}

/* Files the separate fields into r[]. Remembers the first problem with the
 * names in err (returns -1) but files everything it can, so that role and
 * id can still be read. */
static int collect_fields(const fq_field *fields, size_t n, raw *r, char *err, size_t errlen)
{
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        int f = fld_lookup(fields[i].name, fields[i].name_len);
        fq_text_shown sh;
        if (f < 0) {
            if (rc == 0)
                rc = fq_text_fail(err, errlen, "unknown field %s; allowed: " ALLOWED_FIELDS,
                                  fq_text_show(&sh, fields[i].name, fields[i].name_len));
            continue;
        }
        if (r[f].present) {
            r[f].dup = 1;
            if (rc == 0)
                rc = fq_text_fail(err, errlen, "%s: given more than once; give each field once",
                                  fld_names[f]);
            continue;
        }
        r[f].present = 1;
        r[f].s = fields[i].value;
        r[f].len = fields[i].value_len;
    }
    if (rc == 0 && r[F_JSON].present) {
        for (int f = 0; f < F_COUNT; f++) {
            if (f != F_JSON && r[f].present)
                return fq_text_fail(err, errlen,
                                    "json: cannot be combined with other fields (got \"%s\" too); "
                                    "put every field inside the JSON object",
                                    fld_names[f]);
        }
    }
    return rc;
}

/* Files the keys of the `json` object into r[] (JSON null counts as not
 * given). Same error convention as collect_fields(). */
static int collect_json(const cJSON *obj, raw *r, char *err, size_t errlen)
{
    int rc = 0;
    memset(r, 0, sizeof(*r) * F_COUNT);
    for (const cJSON *it = obj->child; it != NULL; it = it->next) {
        const char *key = it->string ? it->string : "";
        int f = fld_lookup(key, strlen(key));
        fq_text_shown sh;
        if (f < 0 || f == F_JSON) {
            if (rc == 0)
                rc = fq_text_fail(err, errlen,
                                  "json: unknown key %s; allowed: " ALLOWED_FIELDS
                                  " (without json)", fq_text_show(&sh, key, strlen(key)));
            continue;
        }
        if (r[f].present || r[f].dup) {
            r[f].present = 0;
            r[f].dup = 1;
            if (rc == 0)
                rc = fq_text_fail(err, errlen,
                                  "json: key \"%s\" appears more than once; give each key once",
                                  fld_names[f]);
            continue;
        }
        if (cJSON_IsNull(it))
            continue;
        r[f].present = 1;
        r[f].j = it;
        if (cJSON_IsString(it)) {
            r[f].s = it->valuestring;
            r[f].len = strlen(it->valuestring);
        }
    }
    return rc;
}

/* Picks role and id out of r[] when each was given once and is valid. */
static void note_role_id(const raw *r, fq_task *out, int *role)
{
    if (r[F_ROLE].present && !r[F_ROLE].dup && r[F_ROLE].s != NULL) {
        int v = fq_role_parse(r[F_ROLE].s, r[F_ROLE].len);
        if (v >= 0) {
            *role = v;
            out->role = (fq_role)v;
        }
    }
    if (r[F_ID].present && !r[F_ID].dup && r[F_ID].s != NULL &&
        fq_id_valid(r[F_ID].s, r[F_ID].len)) {
        memcpy(out->id, r[F_ID].s, r[F_ID].len);
        out->id[r[F_ID].len] = '\0';
    }
}

/* "\u0000" inside a JSON string would cut the decoded C string short; in
 * valid JSON a backslash only appears inside strings, so a scan of escape
 * pairs finds it. Returns the offset of the escape, or len. */
static size_t json_nul_escape_at(const char *s, size_t len)
{
    for (size_t i = 0; i + 1 < len; i++) {
        if (s[i] != '\\')
            continue;
        if (s[i + 1] == 'u' && i + 5 < len && memcmp(s + i + 2, "0000", 4) == 0)
            return i;
        i++;  /* skip the escaped character */
    }
    return len;
}

/* Parses a whole buffer as JSON: trailing non-space bytes are an error.
 * On failure returns NULL and the offset of the problem in *at. */
static cJSON *parse_json(const char *s, size_t len, size_t *at)
{
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(s, len, &end, 0);
    if (j == NULL) {
        *at = end != NULL && end >= s && end <= s + len ? (size_t)(end - s) : 0;
        return NULL;
    }
    size_t off = (size_t)(end - s);
    while (off < len && (s[off] == ' ' || s[off] == '\t' || s[off] == '\n' || s[off] == '\r'))
        off++;
    if (off != len) {
        cJSON_Delete(j);
        *at = off;
        return NULL;
    }
    return j;
}

/* The JSON a field's string value holds, or NULL with the reason in err:
 * the value holds \u0000, or is not JSON (shape says what to give). */
static cJSON *json_in_value(const raw *v, int f, const char *shape, char *err, size_t errlen)
{
    size_t at = 0;
    size_t nul = json_nul_escape_at(v->s, v->len);
    if (nul < v->len) {
        fq_text_fail(err, errlen, "%s: contains \\u0000 at byte %zu; NUL characters are not "
                     "allowed", fld_names[f], nul);
        return NULL;
    }
    cJSON *j = parse_json(v->s, v->len, &at);
    if (j == NULL)
        fq_text_fail(err, errlen, "%s: not valid JSON (error near byte %zu); give %s",
                     fld_names[f], at, shape);
    return j;
}

/* ------------------------------------------------------------------------
 * Typed getters over raw values
 * --------------------------------------------------------------------- */

/* What was given, for an error line: the string shown, or the JSON item. */
static const char *given(fq_text_shown *b, const raw *v)
{
    if (v->s != NULL)
        return fq_text_show(b, v->s, v->len);
    if (cJSON_IsNumber(v->j)) {
        snprintf(b->s, sizeof(b->s), "%.15g", v->j->valuedouble);
        return b->s;
    }
    if (cJSON_IsBool(v->j))
        return cJSON_IsTrue(v->j) ? "true" : "false";
    return json_type_name(v->j);
}

static int get_string(const raw *v, int f, const char **s, size_t *len, char *err, size_t errlen)
{
    if (v->s == NULL)
        return fq_text_fail(err, errlen, "%s: must be a string, got %s", fld_names[f],
                            json_type_name(v->j));
    *s = v->s;
    *len = v->len;
    return 0;
}

/* A string of 1 to max characters of the id alphabet (ids, models). */
static int get_name(const raw *v, int f, size_t max, const char **s, size_t *len, char *err,
                    size_t errlen)
{
    fq_text_shown sh;
    if (get_string(v, f, s, len, err, errlen) != 0)
        return -1;
    if (!fq_text_name_valid(*s, *len, max))
        return fq_text_fail(err, errlen,
                            "%s: must be 1 to %zu characters of A-Z a-z 0-9 . _ : -, got %s",
                            fld_names[f], max, fq_text_show(&sh, *s, *len));
    return 0;
}

/* An integer in [lo, hi] given as a plain decimal string or a JSON number
 * with no fraction. unit is "" or " number of seconds" for the message. */
static int get_int64(const raw *v, int f, int64_t lo, int64_t hi, const char *unit,
                     int64_t *out, char *err, size_t errlen)
{
    int64_t x = 0;
    int ok = 0;
    if (v->s != NULL) {
        ok = fq_text_parse_int64(v->s, v->len, &x) == 0 && x >= lo && x <= hi;
    } else if (cJSON_IsNumber(v->j)) {
        double d = v->j->valuedouble;
        ok = isfinite(d) && d == floor(d) && d >= (double)lo && d <= (double)hi;
        if (ok)
            x = (int64_t)d;
    }
    if (!ok) {
        fq_text_shown sh;
        return fq_text_fail(err, errlen, "%s: must be an integer%s from %lld to %lld, got %s",
                            fld_names[f], unit, (long long)lo, (long long)hi, given(&sh, v));
    }
    *out = x;
    return 0;
}

/* get_int64() for the fields that are ints. */
static int get_int(const raw *v, int f, int lo, int hi, const char *unit, int *out, char *err,
                   size_t errlen)
{
    int64_t x;
    if (get_int64(v, f, lo, hi, unit, &x, err, errlen) != 0)
        return -1;
    *out = (int)x;
    return 0;
}

/* A number in [lo, hi] given as a plain decimal string (with a leading '-'
 * when lo is negative) or a JSON number. like is an example for the message. */
static int get_number(const raw *v, int f, double lo, double hi, const char *like, double *out,
                      char *err, size_t errlen)
{
    double d = 0;
    int ok = 0;
    if (v->s != NULL) {
        int minus = lo < 0 && v->len > 0 && v->s[0] == '-';
        ok = fq_text_parse_decimal(v->s + minus, v->len - (size_t)minus, &d) == 0;
        if (minus)
            d = -d;
    } else if (cJSON_IsNumber(v->j)) {
        ok = 1;
        d = v->j->valuedouble;
    }
    ok = ok && isfinite(d) && d >= lo && d <= hi;
    if (!ok) {
        fq_text_shown sh;
        return fq_text_fail(err, errlen, "%s: must be a number from %g to %g (like %s), got %s",
                            fld_names[f], lo, hi, like, given(&sh, v));
    }
    *out = d;
    return 0;
}

/* 1 when the value is the string word. */
static int raw_is(const raw *v, const char *word)
{
    return v->s != NULL && strlen(word) == v->len && memcmp(v->s, word, v->len) == 0;
}

/* true or false (also "1" or "0", or a JSON boolean) into *on as 1 or 0. */
static int get_bool(const raw *v, int f, int *on, char *err, size_t errlen)
{
    if (cJSON_IsBool(v->j))
        *on = cJSON_IsTrue(v->j) != 0;
    else if (raw_is(v, "true") || raw_is(v, "1"))
        *on = 1;
    else if (raw_is(v, "false") || raw_is(v, "0"))
        *on = 0;
    else {
        fq_text_shown sh;
        return fq_text_fail(err, errlen, "%s: must be true or false, got %s", fld_names[f],
                            given(&sh, v));
    }
    return 0;
}

static int get_priority(const raw *v, int *out, char *err, size_t errlen)
{
    int p = -1;
    if (v->s != NULL) {
        p = fq_priority_parse(v->s, v->len);
    } else if (cJSON_IsNumber(v->j)) {
        double d = v->j->valuedouble;
        if (isfinite(d) && d == floor(d) && d >= 0 && d <= FQ_PRIORITY_MAX)
            p = (int)d;
    }
    if (p < 0) {
        fq_text_shown sh;
        return fq_text_fail(err, errlen,
                            "priority: must be critical, high, normal, low, bulk or a digit 0-9 "
                            "(0 most urgent), got %s",
                            given(&sh, v));
    }
    *out = p;
    return 0;
}

/* ------------------------------------------------------------------------
 * Messages
 * --------------------------------------------------------------------- */

#define MESSAGES_SHAPE "a JSON array of {\"role\",\"content\"} objects"

static int check_message(const cJSON *m, int i, char *err, size_t errlen)
{
    const cJSON *role = NULL, *content = NULL;
    fq_text_shown sh;
    if (!cJSON_IsObject(m))
        return fq_text_fail(err, errlen,
                            "messages[%d]: must be an object with \"role\" and \"content\", got %s",
                            i, json_type_name(m));
    for (const cJSON *k = m->child; k != NULL; k = k->next) {
        const char *key = k->string ? k->string : "";
        const cJSON **slot = NULL;
        if (strcmp(key, "role") == 0)
            slot = &role;
        else if (strcmp(key, "content") == 0)
            slot = &content;
        else
            return fq_text_fail(err, errlen, "messages[%d]: unknown key %s; allowed: role, content",
                                i, fq_text_show(&sh, key, strlen(key)));
        if (*slot != NULL)
            return fq_text_fail(err, errlen, "messages[%d]: key \"%s\" appears more than once", i,
                                key);
        *slot = k;
    }
    if (role == NULL)
        return fq_text_fail(err, errlen,
                            "messages[%d].role: missing; give system, user or assistant", i);
    if (!cJSON_IsString(role))
        return fq_text_fail(err, errlen,
                            "messages[%d].role: must be system, user or assistant, got %s", i,
                            json_type_name(role));
    const char *r = role->valuestring;
    int assistant = strcmp(r, "assistant") == 0;
    if (!assistant && strcmp(r, "user") != 0 && strcmp(r, "system") != 0)
        return fq_text_fail(err, errlen,
                            "messages[%d].role: must be system, user or assistant, got %s", i,
                            fq_text_show(&sh, r, strlen(r)));
    if (content == NULL)
        return fq_text_fail(err, errlen,
                            "messages[%d].content: missing; give the message text as a string", i);
    if (!cJSON_IsString(content))
        return fq_text_fail(err, errlen, "messages[%d].content: must be a string, got %s", i,
                            json_type_name(content));
    if (content->valuestring[0] == '\0' && !assistant)
        return fq_text_fail(err, errlen,
                            "messages[%d].content: must not be empty "
                            "(only an assistant message may be)", i);
    return 0;
}

/* Validates the messages value and returns it printed compactly (malloc). */
static int get_messages(const raw *v, char **out, char *err, size_t errlen)
{
    cJSON *parsed = NULL;
    const cJSON *arr = v->j;
    int rc = -1;
    if (v->s != NULL) {
        if ((parsed = json_in_value(v, F_MESSAGES, MESSAGES_SHAPE, err, errlen)) == NULL)
            goto done;
        arr = parsed;
    }
    if (!cJSON_IsArray(arr)) {
        fq_text_fail(err, errlen, "messages: must be " MESSAGES_SHAPE ", got %s",
                     json_type_name(arr));
        goto done;
    }
    if (arr->child == NULL) {
        fq_text_fail(err, errlen, "messages: must not be empty; give at least one "
                     "{\"role\":\"user\",\"content\":\"...\"}");
        goto done;
    }
    int i = 0;
    for (const cJSON *m = arr->child; m != NULL; m = m->next, i++) {
        if (check_message(m, i, err, errlen) != 0)
            goto done;
    }
    char *printed = cJSON_PrintUnformatted(arr);
    if (printed == NULL) {
        fq_text_fail(err, errlen, "messages: out of memory");
        goto done;
    }
    *out = strdup(printed);
    cJSON_free(printed);
    if (*out == NULL) {
        fq_text_fail(err, errlen, "messages: out of memory");
        goto done;
    }
    rc = 0;
done:
    cJSON_Delete(parsed);
    return rc;
}

/* ------------------------------------------------------------------------
 * cache, stream and the model parameters
 * --------------------------------------------------------------------- */

/* An optional true/false field into *out: 1 true, -1 false, 0 not given. */
static int get_flag(const raw *v, int f, int *out, char *err, size_t errlen)
{
    int on;
    if (!v->present)
        return 0;
    if (get_bool(v, f, &on, err, errlen) != 0)
        return -1;
    *out = on ? 1 : -1;
    return 0;
}

/* A check of one model parameter: 0 with its value as a new JSON item in
 * *item, or -1 with the reason in err. */
typedef int (*param_check)(const raw *v, int f, cJSON **item, char *err, size_t errlen);

static int created(cJSON *made, int f, cJSON **item, char *err, size_t errlen)
{
    if (made == NULL)
        return fq_text_fail(err, errlen, "%s: out of memory", fld_names[f]);
    *item = made;
    return 0;
}

static int param_reasoning_effort(const raw *v, int f, cJSON **item, char *err, size_t errlen)
{
    static const char *const efforts[] = {"minimal", "low", "medium", "high"};
    for (size_t i = 0; i < sizeof(efforts) / sizeof(efforts[0]); i++) {
        if (raw_is(v, efforts[i]))
            return created(cJSON_CreateString(efforts[i]), f, item, err, errlen);
    }
    fq_text_shown sh;
    return fq_text_fail(err, errlen, "%s: must be minimal, low, medium or high, got %s",
                        fld_names[f], given(&sh, v));
}

static int param_top_p(const raw *v, int f, cJSON **item, char *err, size_t errlen)
{
    double d = 0;
    if (get_number(v, f, 0, 1, "0.9", &d, err, errlen) != 0)
        return -1;
    return created(cJSON_CreateNumber(d), f, item, err, errlen);
}

static int param_penalty(const raw *v, int f, cJSON **item, char *err, size_t errlen)
{
    double d = 0;
    if (get_number(v, f, -2, 2, "0.5", &d, err, errlen) != 0)
        return -1;
    return created(cJSON_CreateNumber(d), f, item, err, errlen);
}

/* Kept as its decimal text: cJSON prints a number beyond int's range with
 * 15 significant digits, which would change a large seed. */
static int param_seed(const raw *v, int f, cJSON **item, char *err, size_t errlen)
{
    int64_t x = 0;
    char text[24];
    if (get_int64(v, f, -SEED_LIMIT, SEED_LIMIT, "", &x, err, errlen) != 0)
        return -1;
    snprintf(text, sizeof(text), "%lld", (long long)x);
    return created(cJSON_CreateRaw(text), f, item, err, errlen);
}

#define STOP_SHAPE "a non-empty string of at most 200 bytes, or a JSON array of 1 to 4 of them"

static int stop_length_ok(size_t len)
{
    return len >= 1 && len <= STOP_BYTES_MAX;
}

static int stop_list(const cJSON *list, int f, cJSON **item, char *err, size_t errlen)
{
    int n = cJSON_GetArraySize(list);
    if (n < 1 || n > STOP_MAX)
        return fq_text_fail(err, errlen, "%s: a list must hold 1 to %d stop sequences, got %d",
                            fld_names[f], STOP_MAX, n);
    const cJSON *it;
    int i = 0;
    cJSON_ArrayForEach(it, list) {
        fq_text_shown sh;
        if (!cJSON_IsString(it))
            return fq_text_fail(err, errlen, "%s: element %d must be a string, got %s",
                                fld_names[f], i, json_type_name(it));
        size_t len = strlen(it->valuestring);
        if (!stop_length_ok(len))
            return fq_text_fail(err, errlen,
                                "%s: element %d must be 1 to %d bytes, got %s", fld_names[f], i,
                                STOP_BYTES_MAX, fq_text_show(&sh, it->valuestring, len));
        i++;
    }
    return created(cJSON_Duplicate(list, 1), f, item, err, errlen);
}

static int stop_string(const raw *v, int f, cJSON **item, char *err, size_t errlen)
{
    fq_text_shown sh;
    if (v->s == NULL || !stop_length_ok(v->len))
        return fq_text_fail(err, errlen, "%s: must be " STOP_SHAPE ", got %s", fld_names[f],
                            given(&sh, v));
    char *text = fq_text_dupn(v->s, v->len);
    cJSON *made = text != NULL ? cJSON_CreateString(text) : NULL;
    free(text);
    return created(made, f, item, err, errlen);
}

static size_t skip_json_space(const char *s, size_t len, size_t at)
{
    while (at < len && (s[at] == ' ' || s[at] == '\t' || s[at] == '\n' || s[at] == '\r'))
        at++;
    return at;
}

static int four_hex_digits_at(const char *s, size_t len, size_t at)
{
    if (at > len || len - at < 4)
        return 0;
    for (size_t i = at; i < at + 4; i++) {
        if (!isxdigit((unsigned char)s[i]))
            return 0;
    }
    return 1;
}

/* The offset just past the JSON string that starts at s[at], or 0 when
 * none does. Escapes are checked for their shape only. */
static size_t json_string_end(const char *s, size_t len, size_t at)
{
    if (at >= len || s[at] != '"')
        return 0;
    for (at++; at < len; at++) {
        unsigned char c = (unsigned char)s[at];
        if (c == '"')
            return at + 1;
        if (c < 0x20)
            return 0;
        if (c != '\\')
            continue;
        if (++at >= len || s[at] == '\0' || strchr("\"\\/bfnrtu", s[at]) == NULL)
            return 0;
        if (s[at] == 'u' && !four_hex_digits_at(s, len, at + 1))
            return 0;
    }
    return 0;
}

/* 1 when s[0..len) is written as a JSON array of strings. Deciding this
 * from the text alone keeps a failed allocation in the JSON parser from
 * turning such an array into one stop string. */
static int looks_like_string_array(const char *s, size_t len)
{
    size_t at = skip_json_space(s, len, 0);
    if (at >= len || s[at] != '[')
        return 0;
    at = skip_json_space(s, len, at + 1);
    if (at < len && s[at] == ']')
        return skip_json_space(s, len, at + 1) == len;
    for (;;) {
        size_t end = json_string_end(s, len, at);
        if (end == 0)
            return 0;
        at = skip_json_space(s, len, end);
        if (at < len && s[at] == ']')
            return skip_json_space(s, len, at + 1) == len;
        if (at >= len || s[at] != ',')
            return 0;
        at = skip_json_space(s, len, at + 1);
    }
}

/* A separate field written as a JSON array of strings: parsed, checked. */
static int stop_text_list(const raw *v, int f, cJSON **item, char *err, size_t errlen)
{
    cJSON *list = json_in_value(v, f, STOP_SHAPE, err, errlen);
    if (list == NULL)
        return -1;
    int rc = stop_list(list, f, item, err, errlen);
    cJSON_Delete(list);
    return rc;
}

/* A JSON array of strings is a list of stop sequences (in a separate field,
 * a value written as one); anything else is one stop sequence. */
static int param_stop(const raw *v, int f, cJSON **item, char *err, size_t errlen)
{
    if (cJSON_IsArray(v->j))
        return stop_list(v->j, f, item, err, errlen);
    if (v->j == NULL && looks_like_string_array(v->s, v->len))
        return stop_text_list(v, f, item, err, errlen);
    return stop_string(v, f, item, err, errlen);
}

#define RESPONSE_FORMAT_SHAPE \
    "text, json_object or a JSON object with a string \"type\" (like {\"type\":\"json_schema\"," \
    "\"json_schema\":{...}})"

static int response_format_object(const cJSON *obj, int f, cJSON **item, char *err,
                                  size_t errlen)
{
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(obj, "type");
    if (!cJSON_IsString(type) || type->valuestring[0] == '\0')
        return fq_text_fail(err, errlen, "%s: must be " RESPONSE_FORMAT_SHAPE "; its \"type\" "
                            "is %s", fld_names[f],
                            type == NULL ? "missing"
                                         : cJSON_IsString(type) ? "empty" : json_type_name(type));
    return created(cJSON_Duplicate(obj, 1), f, item, err, errlen);
}

/* A string holding a JSON object: parsed, then checked. */
static int response_format_text_object(const raw *v, int f, cJSON **item, char *err,
                                       size_t errlen)
{
    cJSON *obj = json_in_value(v, f, RESPONSE_FORMAT_SHAPE, err, errlen);
    if (obj == NULL)
        return -1;
    if (!cJSON_IsObject(obj)) {
        fq_text_fail(err, errlen, "%s: must be " RESPONSE_FORMAT_SHAPE ", got %s", fld_names[f],
                     json_type_name(obj));
        cJSON_Delete(obj);
        return -1;
    }
    int rc = response_format_object(obj, f, item, err, errlen);
    cJSON_Delete(obj);
    return rc;
}

static int param_response_format(const raw *v, int f, cJSON **item, char *err, size_t errlen)
{
    if (cJSON_IsObject(v->j))
        return response_format_object(v->j, f, item, err, errlen);
    if (v->s != NULL && v->len > 0 && v->s[0] == '{')
        return response_format_text_object(v, f, item, err, errlen);
    static const char *const types[] = {"text", "json_object"};
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        if (!raw_is(v, types[i]))
            continue;
        cJSON *obj = cJSON_CreateObject();
        if (obj != NULL && cJSON_AddStringToObject(obj, "type", types[i]) == NULL) {
            cJSON_Delete(obj);
            obj = NULL;
        }
        return created(obj, f, item, err, errlen);
    }
    fq_text_shown sh;
    return fq_text_fail(err, errlen, "%s: must be " RESPONSE_FORMAT_SHAPE ", got %s",
                        fld_names[f], given(&sh, v));
}

/* In the order of FQ_MODEL_PARAM_NAMES, which is the order of the fields. */
static const param_check param_checks[F_RESPONSE_FORMAT - F_REASONING_EFFORT + 1] = {
    [F_REASONING_EFFORT - F_REASONING_EFFORT] = param_reasoning_effort,
    [F_TOP_P - F_REASONING_EFFORT] = param_top_p,
    [F_SEED - F_REASONING_EFFORT] = param_seed,
    [F_STOP - F_REASONING_EFFORT] = param_stop,
    [F_PRESENCE_PENALTY - F_REASONING_EFFORT] = param_penalty,
    [F_FREQUENCY_PENALTY - F_REASONING_EFFORT] = param_penalty,
    [F_RESPONSE_FORMAT - F_REASONING_EFFORT] = param_response_format,
};

/* Checks the model parameters given and collects them, in order, into one
 * JSON object printed compactly into *out (malloc'd); *out stays NULL when
 * none was given. */
static int get_model_params(const raw *r, char **out, char *err, size_t errlen)
{
    cJSON *params = NULL;
    int rc = -1;
    for (int f = F_REASONING_EFFORT; f <= F_RESPONSE_FORMAT; f++) {
        cJSON *item = NULL;
        if (!r[f].present)
            continue;
        if (params == NULL && (params = cJSON_CreateObject()) == NULL) {
            fq_text_fail(err, errlen, "%s: out of memory", fld_names[f]);
            goto done;
        }
        if (param_checks[f - F_REASONING_EFFORT](&r[f], f, &item, err, errlen) != 0)
            goto done;
        if (!cJSON_AddItemToObject(params, fld_names[f], item)) {
            cJSON_Delete(item);
            fq_text_fail(err, errlen, "%s: out of memory", fld_names[f]);
            goto done;
        }
    }
    rc = 0;
    if (params == NULL)
        goto done;
    char *printed = cJSON_PrintUnformatted(params);
    *out = printed != NULL ? strdup(printed) : NULL;
    cJSON_free(printed);
    if (*out == NULL)
        rc = fq_text_fail(err, errlen, "model parameters: out of memory");
done:
    cJSON_Delete(params);
    return rc;
}

/* ------------------------------------------------------------------------
 * The task
 * --------------------------------------------------------------------- */

void fq_task_init(fq_task *t)
{
    memset(t, 0, sizeof(*t));
    t->role = FQ_ROLE_CEO;
    t->priority = -1;
    t->review_by = -1;
}

void fq_task_free(fq_task *t)
{
    free(t->model);
    free(t->system);
    free(t->prompt);
    free(t->messages);
    free(t->parents);
    free(t->recall);
    free(t->context);
    free(t->recalled);
    free(t->fallback);
    free(t->params);
    fq_task_init(t);
}

static int blank(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (!fq_text_is_space(s[i]))
            return 0;
    }
    return 1;
}

/* Size, then UTF-8 and NUL bytes, of the entry as it arrived. */
static int check_bytes(const fq_field *fields, size_t n, size_t limit, char *err, size_t errlen)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        size_t add = fields[i].name_len + fields[i].value_len;
        total = (total > SIZE_MAX - add) ? SIZE_MAX : total + add;
    }
    if (total > limit)
        return fq_text_fail(err, errlen,
                            "submission is %zu bytes; the limit is %zu "
                            "(FLEETQ_MAX_SUBMISSION_BYTES)", total, limit);
    for (size_t i = 0; i < n; i++) {
        fq_text_shown sh;
        const fq_field *f = &fields[i];
        if (fq_utf8_bad_at(f->name, f->name_len) != f->name_len)
            return fq_text_fail(err, errlen, "field name %s is not valid UTF-8",
                                fq_text_show(&sh, f->name, f->name_len));
        /* A known name is printed bare, like in every other message. */
        const char *name =
            fld_lookup(f->name, f->name_len) >= 0 ? NULL : fq_text_show(&sh, f->name, f->name_len);
        int nlen = name ? (int)strlen(name) : (int)f->name_len;
        if (name == NULL)
            name = f->name;
        size_t bad = fq_utf8_bad_at(f->value, f->value_len);
        if (bad != f->value_len)
            return fq_text_fail(err, errlen,
                                "%.*s: not valid UTF-8 (byte 0x%02x at offset %zu); "
                                "send UTF-8 text", nlen, name, (unsigned char)f->value[bad], bad);
        const char *nul = f->value_len ? memchr(f->value, '\0', f->value_len) : NULL;
        if (nul != NULL)
            return fq_text_fail(err, errlen,
                                "%.*s: contains a NUL byte at offset %zu; "
                                "NUL bytes are not allowed", nlen, name, (size_t)(nul - f->value));
    }
    return 0;
}

/* The value checks, in the order of the README's field table. */
static int check_values(const raw *r, fq_task *t, char *err, size_t errlen)
{
    const char *s = NULL;
    size_t len = 0;
    fq_text_shown sh;

    if (!r[F_ROLE].present)
        return fq_text_fail(err, errlen, "role: missing; give one of " FQ_ROLE_LIST);
    if (get_string(&r[F_ROLE], F_ROLE, &s, &len, err, errlen) != 0)
        return -1;
    int role = fq_role_parse(s, len);
    if (role < 0)
        return fq_text_fail(err, errlen, "role: must be one of " FQ_ROLE_LIST ", got %s",
                            fq_text_show(&sh, s, len));
    t->role = (fq_role)role;

    if (r[F_ID].present) {
        if (get_name(&r[F_ID], F_ID, FQ_ID_MAX, &s, &len, err, errlen) != 0)
            return -1;
        memcpy(t->id, s, len);
        t->id[len] = '\0';
    }

    if (r[F_PROMPT].present && r[F_MESSAGES].present)
        return fq_text_fail(err, errlen,
                            "prompt and messages: both given; give only one "
                            "(prompt is plain text, messages a JSON array of chat messages)");
    if (!r[F_PROMPT].present && !r[F_MESSAGES].present)
        return fq_text_fail(err, errlen,
                            "prompt: missing; give prompt (the text to send) or messages "
                            "(" MESSAGES_SHAPE ")");
    if (r[F_PROMPT].present) {
        if (get_string(&r[F_PROMPT], F_PROMPT, &s, &len, err, errlen) != 0)
            return -1;
        if (blank(s, len))
            return fq_text_fail(err, errlen,
                                "prompt: must not be empty or only white space, got %s",
                                fq_text_show(&sh, s, len));
        if ((t->prompt = fq_text_dupn(s, len)) == NULL)
            return fq_text_fail(err, errlen, "prompt: out of memory");
    } else if (get_messages(&r[F_MESSAGES], &t->messages, err, errlen) != 0) {
        return -1;
    }

    if (r[F_PRIORITY].present && get_priority(&r[F_PRIORITY], &t->priority, err, errlen) != 0)
        return -1;

    if (r[F_MODEL].present) {
        if (get_name(&r[F_MODEL], F_MODEL, FQ_MODEL_NAME_MAX, &s, &len, err, errlen) != 0)
            return -1;
        if ((t->model = fq_text_dupn(s, len)) == NULL)
            return fq_text_fail(err, errlen, "model: out of memory");
    }

    if (r[F_SYSTEM].present) {
        if (get_string(&r[F_SYSTEM], F_SYSTEM, &s, &len, err, errlen) != 0)
            return -1;
        if ((t->system = fq_text_dupn(s, len)) == NULL)
            return fq_text_fail(err, errlen, "system: out of memory");
    }

    if (r[F_MAX_TOKENS].present &&
        get_int(&r[F_MAX_TOKENS], F_MAX_TOKENS, 1, FQ_MAX_TOKENS_LIMIT, "", &t->max_tokens, err,
                errlen) != 0)
        return -1;
    if (r[F_TEMPERATURE].present) {
        if (get_number(&r[F_TEMPERATURE], F_TEMPERATURE, 0, FQ_TEMPERATURE_MAX, "0.7",
                       &t->temperature, err, errlen) != 0)
            return -1;
        t->has_temperature = 1;
    }
    if (r[F_MAX_ATTEMPTS].present &&
        get_int(&r[F_MAX_ATTEMPTS], F_MAX_ATTEMPTS, 1, FQ_MAX_ATTEMPTS_LIMIT, "", &t->max_attempts,
                err, errlen) != 0)
        return -1;
    if (r[F_TIMEOUT].present &&
        get_int(&r[F_TIMEOUT], F_TIMEOUT, 1, FQ_TIMEOUT_LIMIT, " number of seconds", &t->timeout_s, err,
                errlen) != 0)
        return -1;
    if (r[F_DELAY].present &&
        get_int(&r[F_DELAY], F_DELAY, 0, FQ_DELAY_LIMIT, " number of seconds", &t->delay_s, err,
                errlen) != 0)
        return -1;
    if (r[F_TTL].present &&
        get_int(&r[F_TTL], F_TTL, 1, FQ_TTL_LIMIT, " number of seconds", &t->ttl_s, err, errlen) != 0)
        return -1;
    if (r[F_REVIEW_BY].present) {
        if (get_string(&r[F_REVIEW_BY], F_REVIEW_BY, &s, &len, err, errlen) != 0)
            return -1;
        if ((t->review_by = fq_role_parse(s, len)) < 0)
            return fq_text_fail(err, errlen, "review_by: must be one of " FQ_ROLE_LIST ", got %s",
                                fq_text_show(&sh, s, len));
        if (strlen(t->id) + strlen(FQ_REVIEW_SUFFIX) > FQ_ID_MAX)
            return fq_text_fail(err, errlen,
                                "review_by: the review's id %s" FQ_REVIEW_SUFFIX " would be longer "
                                "than %d characters; give a shorter id", t->id, FQ_ID_MAX);
    }
    if (r[F_PLAN].present) {
        int on;
        if (get_bool(&r[F_PLAN], F_PLAN, &on, err, errlen) != 0)
            return -1;
        if (on && t->role != FQ_ROLE_CEO)
            return fq_text_fail(err, errlen, "plan: only ceo tasks plan; this one's role is %s",
                                fq_role_name(t->role));
        t->plan = on;
    }
    if (r[F_RECALL].present) {
        if (get_string(&r[F_RECALL], F_RECALL, &s, &len, err, errlen) != 0)
            return -1;
        if (blank(s, len) || len > FQ_RECALL_QUERY_MAX)
            return fq_text_fail(err, errlen, "recall: must be what to search the memory for "
                                "(1 to %d bytes), or off, got %s", FQ_RECALL_QUERY_MAX,
                                fq_text_show(&sh, s, len));
        if (len == 3 && memcmp(s, "off", 3) == 0)
            t->recall_off = 1;
        else if ((t->recall = fq_text_dupn(s, len)) == NULL)
            return fq_text_fail(err, errlen, "recall: out of memory");
    }
    if (r[F_AFTER].present) {
        if (fq_after_parse(r[F_AFTER].s, r[F_AFTER].len, r[F_AFTER].j, t->id[0] ? t->id : NULL,
                           &t->parents, err, errlen) != 0 ||
            fq_after_check_placeholders(t->parents, "prompt", t->prompt, err, errlen) != 0 ||
            fq_after_check_placeholders(t->parents, "messages", t->messages, err, errlen) != 0 ||
            fq_after_check_placeholders(t->parents, "system", t->system, err, errlen) != 0)
            return -1;
    }
    if (get_flag(&r[F_CACHE], F_CACHE, &t->cache, err, errlen) != 0 ||
        get_flag(&r[F_STREAM], F_STREAM, &t->stream, err, errlen) != 0)
        return -1;
    if (r[F_FALLBACK].present &&
        fq_fallback_parse("fallback", r[F_FALLBACK].s, r[F_FALLBACK].len, r[F_FALLBACK].j,
                          &t->fallback, err, errlen) != 0)
        return -1;
    return get_model_params(r, &t->params, err, errlen);
}

int fq_task_parse_submission(const fq_field *fields, size_t n,
                             const fq_task_limits *limits, fq_task *out,
                             int *role_or_minus1, char *err, size_t errlen)
{
    raw r[F_COUNT];
    cJSON *doc = NULL;
    char namerr[512];
    int role = -1;
    int rc = -1;
    size_t limit = (limits != NULL && limits->max_submission_bytes > 0)
                       ? limits->max_submission_bytes : DEFAULT_MAX_SUBMISSION;

    fq_task_init(out);
    if (err != NULL && errlen > 0)
        err[0] = '\0';
    if (fields == NULL)
        n = 0;

    /* Role and id first, on their own, for filing a rejection. */
    memset(r, 0, sizeof(r));
    int names_bad = collect_fields(fields, n, r, namerr, sizeof(namerr)) != 0;
    note_role_id(r, out, &role);

    if (check_bytes(fields, n, limit, err, errlen) != 0)
        goto done;
    if (n == 0) {
        fq_text_fail(err, errlen, "submission is empty; give at least role and prompt");
        goto done;
    }
    if (names_bad) {
        fq_text_fail(err, errlen, "%s", namerr);
        goto done;
    }

    if (r[F_JSON].present) {
        const char *js = r[F_JSON].s;
        size_t jlen = r[F_JSON].len, at = 0;
        size_t nul = json_nul_escape_at(js, jlen);
        if (nul < jlen) {
            fq_text_fail(err, errlen,
                         "json: contains \\u0000 at byte %zu; NUL characters are not allowed", nul);
            goto done;
        }
        doc = parse_json(js, jlen, &at);
        if (doc == NULL) {
            fq_text_fail(err, errlen,
                         "json: not valid JSON (error near byte %zu); give one JSON object "
                         "like {\"role\":\"code\",\"prompt\":\"...\"}",
                         at);
            goto done;
        }
        if (!cJSON_IsObject(doc)) {
            fq_text_fail(err, errlen,
                         "json: must be a JSON object like {\"role\":\"code\",\"prompt\":\"...\"}, "
                         "got %s",
                         json_type_name(doc));
            goto done;
        }
        names_bad = collect_json(doc, r, namerr, sizeof(namerr)) != 0;
        note_role_id(r, out, &role);
        if (names_bad) {
            fq_text_fail(err, errlen, "%s", namerr);
            goto done;
        }
    }

    if (check_values(r, out, err, errlen) != 0)
        goto done;
    role = (int)out->role;
    rc = 0;

done:
    cJSON_Delete(doc);
    if (rc != 0) {
        /* Keep only what a rejection record needs. */
        char id[FQ_ID_MAX + 1];
        memcpy(id, out->id, sizeof(id));
        fq_task_free(out);
        memcpy(out->id, id, sizeof(id));
        if (role >= 0)
            out->role = (fq_role)role;
    }
    if (role_or_minus1 != NULL)
        *role_or_minus1 = role;
    return rc;
}
