/* dashboard_auth.h -- who may open the dashboard: FLEETQ_DASHBOARD_TOKEN,
 * given as a bearer token or through the login form, which opens a
 * session held by a cookie (HttpOnly, SameSite=Strict).
 *
 * A session has its own CSRF token, which the page sends with every
 * action (the X-CSRF-Token header); a request with the bearer token needs
 * none, as no browser sends that header on its own. Sessions live in the
 * coordinator's memory, FQ_DASH_SESSION_S at most and FQ_DASH_SESSIONS of
 * them (a new one pushes out the oldest): a restart logs everyone out.
 * Every comparison of a secret takes the same time whatever it holds.
 */
#ifndef FQ_DASHBOARD_AUTH_H
#define FQ_DASHBOARD_AUTH_H

#include <stddef.h>
#include <stdint.h>

#define FQ_DASH_SESSIONS 64
#define FQ_DASH_SESSION_S 43200             /* 12 hours */
#define FQ_DASH_SECRET_HEX 64               /* 32 random bytes in hex */
#define FQ_DASH_COOKIE "fleetq_session"

typedef struct fq_dash_auth fq_dash_auth;

typedef enum fq_dash_who { FQ_DASH_NOBODY = 0, FQ_DASH_BEARER, FQ_DASH_SESSION } fq_dash_who;

fq_dash_auth *fq_dash_auth_new(const char *token);
void fq_dash_auth_free(fq_dash_auth *a);

/* Who sent a request with these headers (NULL when absent): the
 * Authorization header's bearer token, else the session cookie. For a
 * session, its CSRF token is copied into csrf (FQ_DASH_SECRET_HEX + 1). */
fq_dash_who fq_dash_auth_check(fq_dash_auth *a, const char *authorization, const char *cookie,
                               char *csrf);

/* The login form's token: when right, a new session's id into session and
 * its CSRF token into csrf (FQ_DASH_SECRET_HEX + 1 each) and 0; else -1. */
int fq_dash_auth_login(fq_dash_auth *a, const char *token, char *session, char *csrf);

/* Ends the session of cookie, if any. */
void fq_dash_auth_logout(fq_dash_auth *a, const char *cookie);

/* 1 when a[0..alen) and b[0..blen) are equal, in a time that depends only
 * on blen (b is the secret). */
int fq_secret_equal(const char *a, size_t alen, const char *b, size_t blen);

#endif
