/* task.c -- the task model: roles, priorities, submission parsing and the
 * task hash (see task.h).
 *
 * A submission arrives as the name/value list of one stream entry. Parsing
 * runs in a fixed order so that the reason a client reads is the most
 * useful one: first the total size, then UTF-8 of every name and value,
 * then the field names (unknown, duplicated, `json` mixed with others),
 * then the JSON object when the task came as one `json` field, and last
 * every value in the order of INTERFACE.md's table. Before any of that the
 * role and id are picked out on their own, so that even a rejected
 * submission can be filed under them.
 *
 * Both forms feed one table of raw values (struct raw): a separate field
 * gives a byte string; a key of the JSON object gives either a string or a
 * JSON item (a number, an array for `messages`, ...). The per-field checks
 * read the raw value through small typed getters that accept both shapes,
 * so every rule is written once. Error lines name the field, say what is
 * allowed and show what was given, escaped and cut to about 40 bytes.
 *
 * The task hash is the flat list HSET writes into `fleetq:task:<id>`;
 * numbers are plain decimals and the temperature is printed with the
 * shortest precision that reads back to the same double.
 */
#include "task.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#define DEFAULT_MAX_SUBMISSION (1u << 20)
#define MODEL_MAX 64
#define SHOW_BYTES 40

/* ------------------------------------------------------------------------
 * Roles, priorities, ids, UTF-8
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

/* Length of the valid UTF-8 sequence at p (1..4), or 0 when the bytes there
 * are not one: stray continuation bytes, overlong forms, surrogates, code
 * points above U+10FFFF and sequences cut short by the end of the buffer. */
static size_t utf8_seq(const unsigned char *p, size_t avail)
{
    unsigned c = p[0];
    size_t need;
    uint32_t cp;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        need = 1;
        cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 2;
        cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 3;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (avail < need + 1)
        return 0;
    for (size_t k = 1; k <= need; k++) {
        if ((p[k] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[k] & 0x3F);
    }
    if (need == 2 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF)))
        return 0;
    if (need == 3 && (cp < 0x10000 || cp > 0x10FFFF))
        return 0;
    return need + 1;
}

/* Offset of the first byte that is not valid UTF-8, or len. */
static size_t utf8_bad_at(const char *buf, size_t len)
{
    const unsigned char *p = (const unsigned char *)buf;
    size_t i = 0;
    while (i < len) {
        size_t n = utf8_seq(p + i, len - i);
        if (n == 0)
            return i;
        i += n;
    }
    return len;
}

int fq_utf8_valid(const char *buf, size_t len)
{
    if (buf == NULL)
        return len == 0;
    return utf8_bad_at(buf, len) == len;
}

static int id_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '.' || c == '_' || c == ':' || c == '-';
}

int fq_id_valid(const char *s, size_t len)
{
    if (s == NULL || len == 0 || len > FQ_ID_MAX)
        return 0;
    for (size_t i = 0; i < len; i++) {
        if (!id_char(s[i]))
            return 0;
    }
    return 1;
}

/* Models share the id alphabet, 1..64 bytes. */
static int model_valid(const char *s, size_t len)
{
    if (len == 0 || len > MODEL_MAX)
        return 0;
    for (size_t i = 0; i < len; i++) {
        if (!id_char(s[i]))
            return 0;
    }
    return 1;
}

/* ------------------------------------------------------------------------
 * Error lines
 * --------------------------------------------------------------------- */

static int fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (err != NULL && errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* A quoted rendering of untrusted bytes for an error line: printable ASCII
 * and valid UTF-8 as they are, quotes and backslashes escaped, anything else
 * as \xNN, at most SHOW_BYTES bytes of it, then "... (N bytes)" when cut. */
typedef struct shown {
    char s[SHOW_BYTES * 4 + 48];
} shown;

static const char *show(shown *b, const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t o = 0, i = 0;
    b->s[o++] = '"';
    while (i < len) {
        char piece[8];
        size_t plen, adv = 1;
        size_t n = utf8_seq(p + i, len - i);
        if (p[i] == '"' || p[i] == '\\') {
            piece[0] = '\\';
            piece[1] = (char)p[i];
            plen = 2;
        } else if (p[i] >= 0x20 && p[i] < 0x7f) {
            piece[0] = (char)p[i];
            plen = 1;
        } else if (n > 1) {
            memcpy(piece, p + i, n);
            plen = adv = n;
        } else {
            snprintf(piece, sizeof(piece), "\\x%02x", p[i]);
            plen = 4;
        }
        if (o - 1 + plen > SHOW_BYTES)
            break;
        memcpy(b->s + o, piece, plen);
        o += plen;
        i += adv;
    }
    b->s[o++] = '"';
    b->s[o] = '\0';
    if (i < len)
        snprintf(b->s + o, sizeof(b->s) - o, "... (%zu bytes)", len);
    return b->s;
}

static const char *json_type_name(const cJSON *j)
{
    if (cJSON_IsString(j))
        return "a JSON string";
    if (cJSON_IsNumber(j))
        return "a JSON number";
    if (cJSON_IsBool(j))
        return "a JSON boolean";
    if (cJSON_IsNull(j))
        return "null";
    if (cJSON_IsArray(j))
        return "a JSON array";
    if (cJSON_IsObject(j))
        return "a JSON object";
    return "a JSON value";
}

/* ------------------------------------------------------------------------
 * Raw values: one per known field, from separate fields or the JSON object
 * --------------------------------------------------------------------- */

enum fld {
    F_ROLE, F_PROMPT, F_MESSAGES, F_PRIORITY, F_ID, F_SYSTEM, F_MODEL,
    F_MAX_TOKENS, F_TEMPERATURE, F_MAX_ATTEMPTS, F_TIMEOUT, F_DELAY, F_TTL,
    F_JSON, F_COUNT
};

static const char *const fld_names[F_COUNT] = {
    "role", "prompt", "messages", "priority", "id", "system", "model",
    "max_tokens", "temperature", "max_attempts", "timeout", "delay", "ttl", "json",
};

#define ALLOWED_FIELDS \
    "role, prompt, messages, priority, id, system, model, max_tokens, " \
    "temperature, max_attempts, timeout, delay, ttl, json"

#define ROLE_LIST "ceo, code, quality, memory"

typedef struct raw {
    int present;
    int dup;
    const char *s;      /* the bytes of a string value, else NULL */
    size_t len;
    const cJSON *j;     /* the JSON item when the value came from `json` */
} raw;

static int fld_lookup(const char *name, size_t len)
{
    for (int i = 0; i < F_COUNT; i++) {
        if (strlen(fld_names[i]) == len && memcmp(fld_names[i], name, len) == 0)
            return i;
    }
    return -1;
}

/* Files the separate fields into r[]. Remembers the first problem with the
 * names in err (returns -1) but files everything it can, so that role and
 * id can still be read. */
static int collect_fields(const fq_field *fields, size_t n, raw *r, char *err, size_t errlen)
{
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        int f = fld_lookup(fields[i].name, fields[i].name_len);
        shown sh;
        if (f < 0) {
            if (rc == 0)
                rc = fail(err, errlen, "unknown field %s; allowed: " ALLOWED_FIELDS,
                          show(&sh, fields[i].name, fields[i].name_len));
            continue;
        }
        if (r[f].present) {
            r[f].dup = 1;
            if (rc == 0)
                rc = fail(err, errlen, "%s: given more than once; give each field once",
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
                return fail(err, errlen,
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
        shown sh;
        if (f < 0 || f == F_JSON) {
            if (rc == 0)
                rc = fail(err, errlen, "json: unknown key %s; allowed: " ALLOWED_FIELDS
                          " (without json)", show(&sh, key, strlen(key)));
            continue;
        }
        if (r[f].present || r[f].dup) {
            r[f].present = 0;
            r[f].dup = 1;
            if (rc == 0)
                rc = fail(err, errlen, "json: key \"%s\" appears more than once; give each key once",
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

/* ------------------------------------------------------------------------
 * Typed getters over raw values
 * --------------------------------------------------------------------- */

/* Strict decimal: optional '-', then digits, nothing else, no overflow. */
static int parse_dec(const char *s, size_t len, int64_t *out)
{
    size_t i = 0;
    int neg = 0;
    uint64_t v = 0;
    if (len > 0 && s[0] == '-') {
        neg = 1;
        i = 1;
    }
    if (i == len)
        return -1;
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
        if (v > (uint64_t)INT64_MAX)
            return -1;
    }
    *out = neg ? -(int64_t)v : (int64_t)v;
    return 0;
}

/* Strict decimal number for temperatures: digits with an optional fraction
 * (".5" and "1." too), no sign, exponent, white space, hex, inf or nan. */
static int parse_decimal_double(const char *s, size_t len, double *out)
{
    char buf[64];
    size_t digits = 0, dots = 0;
    if (len == 0 || len >= sizeof(buf))
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (s[i] >= '0' && s[i] <= '9')
            digits++;
        else if (s[i] == '.')
            dots++;
        else
            return -1;
    }
    if (digits == 0 || dots > 1)
        return -1;
    memcpy(buf, s, len);
    buf[len] = '\0';
    char *end;
    errno = 0;
    double d = strtod(buf, &end);
    if (*end != '\0' || !isfinite(d))
        return -1;
    *out = d;
    return 0;
}

/* What was given, for an error line: the string shown, or the JSON item. */
static const char *given(shown *b, const raw *v)
{
    if (v->s != NULL)
        return show(b, v->s, v->len);
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
        return fail(err, errlen, "%s: must be a string, got %s", fld_names[f], json_type_name(v->j));
    *s = v->s;
    *len = v->len;
    return 0;
}

/* An integer in [lo, hi] given as a plain decimal string or a JSON number
 * with no fraction. unit is "" or " seconds" for the message. */
static int get_int(const raw *v, int f, int64_t lo, int64_t hi, const char *unit, int *out,
                   char *err, size_t errlen)
{
    int64_t x = 0;
    int ok = 0;
    if (v->s != NULL) {
        ok = parse_dec(v->s, v->len, &x) == 0 && x >= lo && x <= hi;
    } else if (cJSON_IsNumber(v->j)) {
        double d = v->j->valuedouble;
        ok = isfinite(d) && d == floor(d) && d >= (double)lo && d <= (double)hi;
        if (ok)
            x = (int64_t)d;
    }
    if (!ok) {
        shown sh;
        return fail(err, errlen, "%s: must be an integer%s from %lld to %lld, got %s",
                    fld_names[f], unit, (long long)lo, (long long)hi, given(&sh, v));
    }
    *out = (int)x;
    return 0;
}

static int get_temperature(const raw *v, double *out, char *err, size_t errlen)
{
    double d = 0;
    int ok = 0;
    if (v->s != NULL)
        ok = parse_decimal_double(v->s, v->len, &d) == 0;
    else if (cJSON_IsNumber(v->j)) {
        ok = 1;
        d = v->j->valuedouble;
    }
    ok = ok && isfinite(d) && d >= 0.0 && d <= FQ_TEMPERATURE_MAX;
    if (!ok) {
        shown sh;
        return fail(err, errlen, "temperature: must be a number from 0 to 2 (like 0.7), got %s",
                    given(&sh, v));
    }
    *out = d;
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
        shown sh;
        return fail(err, errlen,
                    "priority: must be critical, high, normal, low, bulk or a digit 0-9 "
                    "(0 most urgent), got %s", given(&sh, v));
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
    shown sh;
    if (!cJSON_IsObject(m))
        return fail(err, errlen, "messages[%d]: must be an object with \"role\" and \"content\", got %s",
                    i, json_type_name(m));
    for (const cJSON *k = m->child; k != NULL; k = k->next) {
        const char *key = k->string ? k->string : "";
        const cJSON **slot = NULL;
        if (strcmp(key, "role") == 0)
            slot = &role;
        else if (strcmp(key, "content") == 0)
            slot = &content;
        else
            return fail(err, errlen, "messages[%d]: unknown key %s; allowed: role, content",
                        i, show(&sh, key, strlen(key)));
        if (*slot != NULL)
            return fail(err, errlen, "messages[%d]: key \"%s\" appears more than once", i, key);
        *slot = k;
    }
    if (role == NULL)
        return fail(err, errlen, "messages[%d].role: missing; give system, user or assistant", i);
    if (!cJSON_IsString(role))
        return fail(err, errlen, "messages[%d].role: must be system, user or assistant, got %s",
                    i, json_type_name(role));
    const char *r = role->valuestring;
    int assistant = strcmp(r, "assistant") == 0;
    if (!assistant && strcmp(r, "user") != 0 && strcmp(r, "system") != 0)
        return fail(err, errlen, "messages[%d].role: must be system, user or assistant, got %s",
                    i, show(&sh, r, strlen(r)));
    if (content == NULL)
        return fail(err, errlen, "messages[%d].content: missing; give the message text as a string", i);
    if (!cJSON_IsString(content))
        return fail(err, errlen, "messages[%d].content: must be a string, got %s",
                    i, json_type_name(content));
    if (content->valuestring[0] == '\0' && !assistant)
        return fail(err, errlen,
                    "messages[%d].content: must not be empty (only an assistant message may be)", i);
    return 0;
}

/* Validates the messages value and returns it printed compactly (malloc). */
static int get_messages(const raw *v, char **out, char *err, size_t errlen)
{
    cJSON *parsed = NULL;
    const cJSON *arr = v->j;
    int rc = -1;
    if (v->s != NULL) {
        size_t at = 0;
        size_t nul = json_nul_escape_at(v->s, v->len);
        if (nul < v->len) {
            fail(err, errlen, "messages: contains \\u0000 at byte %zu; NUL characters are not allowed", nul);
            goto done;
        }
        parsed = parse_json(v->s, v->len, &at);
        if (parsed == NULL) {
            fail(err, errlen, "messages: not valid JSON (error near byte %zu); give " MESSAGES_SHAPE, at);
            goto done;
        }
        arr = parsed;
    }
    if (!cJSON_IsArray(arr)) {
        fail(err, errlen, "messages: must be " MESSAGES_SHAPE ", got %s", json_type_name(arr));
        goto done;
    }
    if (arr->child == NULL) {
        fail(err, errlen, "messages: must not be empty; give at least one {\"role\":\"user\",\"content\":\"...\"}");
        goto done;
    }
    int i = 0;
    for (const cJSON *m = arr->child; m != NULL; m = m->next, i++) {
        if (check_message(m, i, err, errlen) != 0)
            goto done;
    }
    char *printed = cJSON_PrintUnformatted(arr);
    if (printed == NULL) {
        fail(err, errlen, "messages: out of memory");
        goto done;
    }
    *out = strdup(printed);
    cJSON_free(printed);
    if (*out == NULL) {
        fail(err, errlen, "messages: out of memory");
        goto done;
    }
    rc = 0;
done:
    cJSON_Delete(parsed);
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
}

void fq_task_free(fq_task *t)
{
    free(t->model);
    free(t->system);
    free(t->prompt);
    free(t->messages);
    fq_task_init(t);
}

static char *dupn(const char *s, size_t len)
{
    char *d = malloc(len + 1);
    if (d == NULL)
        return NULL;
    if (len)
        memcpy(d, s, len);
    d[len] = '\0';
    return d;
}

static int blank(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (!(s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r' || s[i] == '\v' ||
              s[i] == '\f'))
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
        return fail(err, errlen,
                    "submission is %zu bytes; the limit is %zu (FLEETQ_MAX_SUBMISSION_BYTES)",
                    total, limit);
    for (size_t i = 0; i < n; i++) {
        shown sh;
        const fq_field *f = &fields[i];
        if (utf8_bad_at(f->name, f->name_len) != f->name_len)
            return fail(err, errlen, "field name %s is not valid UTF-8",
                        show(&sh, f->name, f->name_len));
        /* A known name is printed bare, like in every other message. */
        const char *name = fld_lookup(f->name, f->name_len) >= 0 ? NULL
                           : show(&sh, f->name, f->name_len);
        int nlen = name ? (int)strlen(name) : (int)f->name_len;
        if (name == NULL)
            name = f->name;
        size_t bad = utf8_bad_at(f->value, f->value_len);
        if (bad != f->value_len)
            return fail(err, errlen, "%.*s: not valid UTF-8 (byte 0x%02x at offset %zu); send UTF-8 text",
                        nlen, name, (unsigned char)f->value[bad], bad);
        const char *nul = f->value_len ? memchr(f->value, '\0', f->value_len) : NULL;
        if (nul != NULL)
            return fail(err, errlen, "%.*s: contains a NUL byte at offset %zu; NUL bytes are not allowed",
                        nlen, name, (size_t)(nul - f->value));
    }
    return 0;
}

/* The value checks, in the order of INTERFACE.md's table. */
static int check_values(const raw *r, fq_task *t, char *err, size_t errlen)
{
    const char *s = NULL;
    size_t len = 0;
    shown sh;

    if (!r[F_ROLE].present)
        return fail(err, errlen, "role: missing; give one of " ROLE_LIST);
    if (get_string(&r[F_ROLE], F_ROLE, &s, &len, err, errlen) != 0)
        return -1;
    int role = fq_role_parse(s, len);
    if (role < 0)
        return fail(err, errlen, "role: must be one of " ROLE_LIST ", got %s", show(&sh, s, len));
    t->role = (fq_role)role;

    if (r[F_ID].present) {
        if (get_string(&r[F_ID], F_ID, &s, &len, err, errlen) != 0)
            return -1;
        if (!fq_id_valid(s, len))
            return fail(err, errlen, "id: must be 1 to %d characters of A-Z a-z 0-9 . _ : -, got %s",
                        FQ_ID_MAX, show(&sh, s, len));
        memcpy(t->id, s, len);
        t->id[len] = '\0';
    }

    if (r[F_PROMPT].present && r[F_MESSAGES].present)
        return fail(err, errlen, "prompt and messages: both given; give only one "
                    "(prompt is plain text, messages a JSON array of chat messages)");
    if (!r[F_PROMPT].present && !r[F_MESSAGES].present)
        return fail(err, errlen, "prompt: missing; give prompt (the text to send) or messages "
                    "(" MESSAGES_SHAPE ")");
    if (r[F_PROMPT].present) {
        if (get_string(&r[F_PROMPT], F_PROMPT, &s, &len, err, errlen) != 0)
            return -1;
        if (blank(s, len))
            return fail(err, errlen, "prompt: must not be empty or only white space, got %s",
                        show(&sh, s, len));
        if ((t->prompt = dupn(s, len)) == NULL)
            return fail(err, errlen, "prompt: out of memory");
    } else if (get_messages(&r[F_MESSAGES], &t->messages, err, errlen) != 0) {
        return -1;
    }

    if (r[F_PRIORITY].present && get_priority(&r[F_PRIORITY], &t->priority, err, errlen) != 0)
        return -1;

    if (r[F_MODEL].present) {
        if (get_string(&r[F_MODEL], F_MODEL, &s, &len, err, errlen) != 0)
            return -1;
        if (!model_valid(s, len))
            return fail(err, errlen, "model: must be 1 to %d characters of A-Z a-z 0-9 . _ : -, got %s",
                        MODEL_MAX, show(&sh, s, len));
        if ((t->model = dupn(s, len)) == NULL)
            return fail(err, errlen, "model: out of memory");
    }

    if (r[F_SYSTEM].present) {
        if (get_string(&r[F_SYSTEM], F_SYSTEM, &s, &len, err, errlen) != 0)
            return -1;
        if ((t->system = dupn(s, len)) == NULL)
            return fail(err, errlen, "system: out of memory");
    }

    if (r[F_MAX_TOKENS].present &&
        get_int(&r[F_MAX_TOKENS], F_MAX_TOKENS, 1, FQ_MAX_TOKENS_LIMIT, "", &t->max_tokens, err,
                errlen) != 0)
        return -1;
    if (r[F_TEMPERATURE].present) {
        if (get_temperature(&r[F_TEMPERATURE], &t->temperature, err, errlen) != 0)
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
    return 0;
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
        fail(err, errlen, "submission is empty; give at least role and prompt");
        goto done;
    }
    if (names_bad) {
        fail(err, errlen, "%s", namerr);
        goto done;
    }

    if (r[F_JSON].present) {
        const char *js = r[F_JSON].s;
        size_t jlen = r[F_JSON].len, at = 0;
        size_t nul = json_nul_escape_at(js, jlen);
        if (nul < jlen) {
            fail(err, errlen, "json: contains \\u0000 at byte %zu; NUL characters are not allowed", nul);
            goto done;
        }
        doc = parse_json(js, jlen, &at);
        if (doc == NULL) {
            fail(err, errlen, "json: not valid JSON (error near byte %zu); give one JSON object "
                 "like {\"role\":\"code\",\"prompt\":\"...\"}", at);
            goto done;
        }
        if (!cJSON_IsObject(doc)) {
            fail(err, errlen, "json: must be a JSON object like {\"role\":\"code\",\"prompt\":\"...\"}, "
                 "got %s", json_type_name(doc));
            goto done;
        }
        names_bad = collect_json(doc, r, namerr, sizeof(namerr)) != 0;
        note_role_id(r, out, &role);
        if (names_bad) {
            fail(err, errlen, "%s", namerr);
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

/* ------------------------------------------------------------------------
 * The task hash
 * --------------------------------------------------------------------- */

/* The shortest %.Ng that reads back as the same double. */
static void format_double(double d, char *buf, size_t len)
{
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, len, "%.*g", prec, d);
        if (strtod(buf, NULL) == d)
            return;
    }
}

int fq_task_to_hash(const fq_task *t, fq_argv *out)
{
    const char *role = fq_role_name(t->role);
    if (role == NULL)
        return -1;
    if (fq_argv_pair(out, "role", role) != 0 || fq_argv_pairll(out, "priority", t->priority) != 0)
        return -1;
    if (t->model != NULL && fq_argv_pair(out, "model", t->model) != 0)
        return -1;
    if (t->system != NULL && fq_argv_pair(out, "system", t->system) != 0)
        return -1;
    if (t->prompt != NULL) {
        if (fq_argv_pair(out, "prompt", t->prompt) != 0)
            return -1;
    } else if (t->messages != NULL) {
        if (fq_argv_pair(out, "messages", t->messages) != 0)
            return -1;
    }
    if (t->max_tokens > 0 && fq_argv_pairll(out, "max_tokens", t->max_tokens) != 0)
        return -1;
    if (t->has_temperature) {
        char buf[40];
        format_double(t->temperature, buf, sizeof(buf));
        if (fq_argv_pair(out, "temperature", buf) != 0)
            return -1;
    }
    if (t->max_attempts > 0 && fq_argv_pairll(out, "max_attempts", t->max_attempts) != 0)
        return -1;
    if (t->timeout_s > 0 && fq_argv_pairll(out, "timeout", t->timeout_s) != 0)
        return -1;
    if (t->delay_s > 0 && fq_argv_pairll(out, "delay", t->delay_s) != 0)
        return -1;
    if (t->ttl_s > 0 && fq_argv_pairll(out, "ttl", t->ttl_s) != 0)
        return -1;
    return 0;
}

/* Reads an optional non-negative int field of the hash into *out. */
static int hash_int(const fq_field *fields, size_t n, const char *name, int64_t hi, int *out,
                    char *err, size_t errlen)
{
    const fq_field *f = fq_fields_find(fields, n, name);
    int64_t v;
    if (f == NULL)
        return 0;
    if (parse_dec(f->value, f->value_len, &v) != 0 || v < 0 || v > hi) {
        shown sh;
        return fail(err, errlen, "%s: not a valid number in the task hash, got %s", name,
                    show(&sh, f->value, f->value_len));
    }
    *out = (int)v;
    return 0;
}

static int hash_str(const fq_field *fields, size_t n, const char *name, char **out, char *err,
                    size_t errlen)
{
    const fq_field *f = fq_fields_find(fields, n, name);
    if (f == NULL)
        return 0;
    if ((*out = dupn(f->value, f->value_len)) == NULL)
        return fail(err, errlen, "%s: out of memory", name);
    return 0;
}

int fq_task_from_hash(const fq_field *fields, size_t n, fq_task *out,
                      char *err, size_t errlen)
{
    const fq_field *f;
    shown sh;
    fq_task_init(out);
    if (fields == NULL)
        n = 0;

    f = fq_fields_find(fields, n, "role");
    int role = f ? fq_role_parse(f->value, f->value_len) : -1;
    if (role < 0) {
        if (f != NULL)
            fail(err, errlen, "role: must be one of " ROLE_LIST " in the task hash, got %s",
                 show(&sh, f->value, f->value_len));
        else
            fail(err, errlen, "role: missing from the task hash");
        goto err;
    }
    out->role = (fq_role)role;

    f = fq_fields_find(fields, n, "id");
    if (f != NULL && fq_id_valid(f->value, f->value_len)) {
        memcpy(out->id, f->value, f->value_len);
        out->id[f->value_len] = '\0';
    }

    f = fq_fields_find(fields, n, "priority");
    if (f != NULL && !(f->value_len == 2 && memcmp(f->value, "-1", 2) == 0)) {
        out->priority = fq_priority_parse(f->value, f->value_len);
        if (out->priority < 0) {
            fail(err, errlen, "priority: not a valid priority in the task hash, got %s",
                 show(&sh, f->value, f->value_len));
            goto err;
        }
    }

    if (hash_str(fields, n, "prompt", &out->prompt, err, errlen) != 0 ||
        hash_str(fields, n, "messages", &out->messages, err, errlen) != 0 ||
        hash_str(fields, n, "model", &out->model, err, errlen) != 0 ||
        hash_str(fields, n, "system", &out->system, err, errlen) != 0)
        goto err;
    if (out->prompt == NULL && out->messages == NULL) {
        fail(err, errlen, "prompt: missing from the task hash (neither prompt nor messages)");
        goto err;
    }

    if (hash_int(fields, n, "max_tokens", FQ_MAX_TOKENS_LIMIT, &out->max_tokens, err, errlen) != 0 ||
        hash_int(fields, n, "max_attempts", FQ_MAX_ATTEMPTS_LIMIT, &out->max_attempts, err, errlen) != 0 ||
        hash_int(fields, n, "timeout", FQ_TIMEOUT_LIMIT, &out->timeout_s, err, errlen) != 0 ||
        hash_int(fields, n, "delay", FQ_DELAY_LIMIT, &out->delay_s, err, errlen) != 0 ||
        hash_int(fields, n, "ttl", FQ_TTL_LIMIT, &out->ttl_s, err, errlen) != 0)
        goto err;

    f = fq_fields_find(fields, n, "temperature");
    if (f != NULL) {
        char buf[64];
        char *end;
        if (f->value_len == 0 || f->value_len >= sizeof(buf)) {
            fail(err, errlen, "temperature: not a valid number in the task hash, got %s",
                 show(&sh, f->value, f->value_len));
            goto err;
        }
        memcpy(buf, f->value, f->value_len);
        buf[f->value_len] = '\0';
        double d = strtod(buf, &end);
        if (*end != '\0' || !isfinite(d) || d < 0 || d > FQ_TEMPERATURE_MAX) {
            fail(err, errlen, "temperature: not a valid number in the task hash, got %s",
                 show(&sh, f->value, f->value_len));
            goto err;
        }
        out->temperature = d;
        out->has_temperature = 1;
    }
    return 0;

err:
    fq_task_free(out);
    return -1;
}
