/* dashboard_auth.c -- the dashboard's token, sessions and CSRF tokens (see
 * dashboard_auth.h).
 *
 * DESIGN
 * Session ids and CSRF tokens are 32 bytes of getrandom(2) in hex. A
 * cookie is looked up by comparing it with every live session in constant
 * time, so neither a wrong cookie nor the position of a right one shows
 * in the time taken. The table is small and fixed; one mutex guards it
 * (the HTTP server's threads check requests concurrently).
 */
#include "dashboard_auth.h"

#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <uv.h>

#include "timeutil.h"

typedef struct session {
    char id[FQ_DASH_SECRET_HEX + 1];
    char csrf[FQ_DASH_SECRET_HEX + 1];
    int64_t expires_ms;          /* 0: a free slot */
    int64_t created_ms;
} session;

struct fq_dash_auth {
    const char *token;
    size_t token_len;
    uv_mutex_t lock;
    session sessions[FQ_DASH_SESSIONS];
};

int fq_secret_equal(const char *a, size_t alen, const char *b, size_t blen)
{
    unsigned char diff = alen != blen;
    for (size_t i = 0; i < blen; i++)
        diff |= (unsigned char)(b[i] ^ (alen > 0 ? a[i % alen] : 0));
    return blen > 0 && diff == 0;
}

fq_dash_auth *fq_dash_auth_new(const char *token)
{
    fq_dash_auth *a = calloc(1, sizeof(*a));
    if (a == NULL)
        return NULL;
    if (uv_mutex_init(&a->lock) != 0) {
        free(a);
        return NULL;
    }
    a->token = token;
    a->token_len = strlen(token);
    return a;
}

void fq_dash_auth_free(fq_dash_auth *a)
{
    if (a == NULL)
        return;
    uv_mutex_destroy(&a->lock);
    explicit_bzero(a->sessions, sizeof(a->sessions));
    free(a);
}

static int random_hex(char *out)
{
    unsigned char raw[FQ_DASH_SECRET_HEX / 2];
    size_t got = 0;
    while (got < sizeof(raw)) {
        ssize_t n = getrandom(raw + got, sizeof(raw) - got, 0);
        if (n <= 0)
            return -1;
        got += (size_t)n;
    }
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < sizeof(raw); i++) {
        out[2 * i] = hex[raw[i] >> 4];
        out[2 * i + 1] = hex[raw[i] & 15];
    }
    out[FQ_DASH_SECRET_HEX] = '\0';
    explicit_bzero(raw, sizeof(raw));
    return 0;
}

/* The session of cookie (lock held), or NULL; visits every slot. */
static session *find(fq_dash_auth *a, const char *cookie, int64_t now)
{
    session *found = NULL;
    size_t len = cookie != NULL ? strlen(cookie) : 0;
    for (int i = 0; i < FQ_DASH_SESSIONS; i++) {
        session *s = &a->sessions[i];
        int live = s->expires_ms > now;
        if (fq_secret_equal(cookie != NULL ? cookie : "", len, s->id, FQ_DASH_SECRET_HEX) &&
            live)
            found = s;
    }
    return found;
}

fq_dash_who fq_dash_auth_check(fq_dash_auth *a, const char *authorization, const char *cookie,
                               char *csrf)
{
    static const char bearer[] = "Bearer ";
    if (authorization != NULL && strncmp(authorization, bearer, sizeof(bearer) - 1) == 0) {
        const char *t = authorization + sizeof(bearer) - 1;
        return fq_secret_equal(t, strlen(t), a->token, a->token_len) ? FQ_DASH_BEARER
                                                                      : FQ_DASH_NOBODY;
    }
    if (cookie == NULL || strlen(cookie) != FQ_DASH_SECRET_HEX)
        return FQ_DASH_NOBODY;
    uv_mutex_lock(&a->lock);
    session *s = find(a, cookie, fq_now_ms());
    if (s != NULL)
        memcpy(csrf, s->csrf, FQ_DASH_SECRET_HEX + 1);
    uv_mutex_unlock(&a->lock);
    return s != NULL ? FQ_DASH_SESSION : FQ_DASH_NOBODY;
}

int fq_dash_auth_login(fq_dash_auth *a, const char *token, char *session_id, char *csrf)
{
    if (token == NULL || !fq_secret_equal(token, strlen(token), a->token, a->token_len))
        return -1;
    int64_t now = fq_now_ms();
    uv_mutex_lock(&a->lock);
    session *slot = &a->sessions[0];   /* a free or expired slot, else the oldest */
    for (int i = 0; i < FQ_DASH_SESSIONS; i++) {
        session *s = &a->sessions[i];
        if (s->expires_ms <= now) {
            slot = s;
            break;
        }
        if (s->created_ms < slot->created_ms)
            slot = s;
    }
    int rc = random_hex(slot->id) == 0 && random_hex(slot->csrf) == 0 ? 0 : -1;
    if (rc == 0) {
        slot->created_ms = now;
        slot->expires_ms = now + FQ_DASH_SESSION_S * 1000LL;
        memcpy(session_id, slot->id, FQ_DASH_SECRET_HEX + 1);
        memcpy(csrf, slot->csrf, FQ_DASH_SECRET_HEX + 1);
    } else {
        memset(slot, 0, sizeof(*slot));
    }
    uv_mutex_unlock(&a->lock);
    return rc;
}

void fq_dash_auth_logout(fq_dash_auth *a, const char *cookie)
{
    if (cookie == NULL)
        return;
    uv_mutex_lock(&a->lock);
    session *s = find(a, cookie, fq_now_ms());
    if (s != NULL)
        explicit_bzero(s, sizeof(*s));
    uv_mutex_unlock(&a->lock);
}
