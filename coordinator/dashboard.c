/* dashboard.c -- the web dashboard's routes, login and assets (see
 * dashboard.h); what /api answers is dashboard_api.c's.
 *
 * DESIGN
 * The HTTP server's threads serve many connections each and must never
 * wait (they answer /health too), so an /api request that reads the store
 * or Redis is suspended (MHD_suspend_connection) and handed to a pool of
 * DASH_THREADS threads of its own (readers.h without a loop: each thread
 * has a read-only SQLite connection, and queries end after
 * DASH_QUERY_LIMIT_MS). The thread that answers resumes the connection,
 * and the access handler, called again, sends what it left. Pages,
 * assets, the login and /api/session are answered at once. Stopping
 * refuses new work first, then lets the pool answer or drop what is
 * queued, so no connection stays suspended when the server stops.
 */
#include "dashboard.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <uv.h>

#include "dashboard_api.h"
#include "dashboard_auth.h"
#include "embedded.h"
#include "form.h"
#include "http.h"
#include "log.h"
#include "readers.h"

#define DASH_THREADS 2
#define DASH_QUERY_LIMIT_MS 3000
#define BODY_MAX 4096               /* a login form or an action: small */
#define PATH_MAX_LEN 96

#define TYPE_JSON "application/json"
#define TYPE_HTML "text/html; charset=utf-8"
#define CSP                                                                                   \
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "               \
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
#define LOGIN_MARK "<!--message-->"
#define LOGIN_FAILED "<p class=\"error\" role=\"alert\">That is not the dashboard's token.</p>"

struct fq_dashboard {
    const fq_config *cfg;
    fq_snapshot *snapshot;
    fq_dash_auth *auth;
    fq_readers *readers;
    uv_mutex_t lock;
    int closing;
};

enum { REQ_NEW = 0, REQ_WAITING, REQ_READY };

struct fq_dash_request {
    fq_dashboard *d;
    struct MHD_Connection *conn;
    char path[PATH_MAX_LEN];
    int get, post;
    char body[BODY_MAX + 1];
    size_t body_len;
    int body_too_big;
    int state;
    fq_dash_query q;
    char *answer;
    size_t answer_len;
    unsigned answer_status;
};

/* The pages app.js draws; each is index.html. */
static const char *const pages[] = {"/", "/tasks", "/task", "/dead", "/flows", "/flow"};

int fq_dashboard_owns(const char *url)
{
    for (size_t i = 0; i < sizeof(pages) / sizeof(pages[0]); i++)
        if (strcmp(url, pages[i]) == 0)
            return 1;
    return strcmp(url, "/login") == 0 || strcmp(url, "/logout") == 0 ||
           strncmp(url, "/assets/", 8) == 0 || strncmp(url, "/api/", 5) == 0;
}

static int is_page(const char *path)
{
    for (size_t i = 0; i < sizeof(pages) / sizeof(pages[0]); i++)
        if (strcmp(path, pages[i]) == 0)
            return 1;
    return 0;
}

/* ========================================================================
 * Responses
 * ===================================================================== */

typedef struct header {
    const char *name, *value;
} header;

static enum MHD_Result reply(fq_dash_request *r, unsigned status, const char *type,
                             const char *body, size_t len, const header *extra, size_t nextra,
                             unsigned *out_status)
{
    *out_status = status;
    struct MHD_Response *resp = fq_http_response(type, body, len);
    if (resp == NULL)
        return MHD_NO;
    MHD_add_response_header(resp, "Content-Security-Policy", CSP);
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "X-Frame-Options", "DENY");
    MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
    for (size_t i = 0; i < nextra; i++)
        MHD_add_response_header(resp, extra[i].name, extra[i].value);
    enum MHD_Result ret = MHD_queue_response(r->conn, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result reply_error(fq_dash_request *r, unsigned status, const char *msg,
                                   const header *extra, size_t nextra, unsigned *out_status)
{
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddStringToObject(doc, "error", msg);
    char *text = cJSON_PrintUnformatted(doc);
    cJSON_Delete(doc);
    enum MHD_Result ret = reply(r, status, TYPE_JSON, text != NULL ? text : "{}",
                                text != NULL ? strlen(text) : 2, extra, nextra, out_status);
    cJSON_free(text);
    return ret;
}

static enum MHD_Result redirect(fq_dash_request *r, const char *to, const char *cookie,
                                unsigned *status)
{
    header h[] = {{MHD_HTTP_HEADER_LOCATION, to}, {MHD_HTTP_HEADER_SET_COOKIE, cookie}};
    return reply(r, MHD_HTTP_SEE_OTHER, "text/plain; charset=utf-8", "", 0, h,
                 cookie != NULL ? 2 : 1, status);
}

/* ========================================================================
 * Assets
 * ===================================================================== */

static const char *asset(const char *name)
{
    for (int i = 0; fq_web_files[i].name != NULL; i++)
        if (strcmp(fq_web_files[i].name, name) == 0)
            return fq_web_files[i].text;
    return NULL;
}

static const char *asset_type(const char *name)
{
    static const struct { const char *ext, *type; } types[] = {
        {".js", "text/javascript; charset=utf-8"}, {".css", "text/css; charset=utf-8"},
        {".svg", "image/svg+xml"}, {".html", TYPE_HTML}, {".png", "image/png"},
    };
    const char *dot = strrchr(name, '.');
    for (size_t i = 0; dot != NULL && i < sizeof(types) / sizeof(types[0]); i++)
        if (strcmp(dot, types[i].ext) == 0)
            return types[i].type;
    return "application/octet-stream";
}

static enum MHD_Result serve_asset(fq_dash_request *r, const char *name, unsigned status_code,
                                   unsigned *status)
{
    const char *text = asset(name);
    if (text == NULL)
        return reply_error(r, MHD_HTTP_NOT_FOUND, "no such asset", NULL, 0, status);
    return reply(r, status_code, asset_type(name), text, strlen(text), NULL, 0, status);
}

/* The login page, with a line saying the token was wrong when failed. */
static enum MHD_Result serve_login(fq_dash_request *r, int failed, unsigned *status)
{
    const char *page = asset("login.html");
    const char *mark = page != NULL ? strstr(page, LOGIN_MARK) : NULL;
    if (!failed || mark == NULL)
        return serve_asset(r, "login.html", failed ? MHD_HTTP_UNAUTHORIZED : MHD_HTTP_OK, status);
    size_t head = (size_t)(mark - page), msg = strlen(LOGIN_FAILED);
    const char *tail = mark + strlen(LOGIN_MARK);
    size_t len = head + msg + strlen(tail);
    char *text = malloc(len + 1);
    if (text == NULL)
        return MHD_NO;
    memcpy(text, page, head);
    memcpy(text + head, LOGIN_FAILED, msg);
    memcpy(text + head + msg, tail, strlen(tail) + 1);
    enum MHD_Result ret = reply(r, MHD_HTTP_UNAUTHORIZED, TYPE_HTML, text, len, NULL, 0, status);
    free(text);
    return ret;
}

/* ========================================================================
 * Login
 * ===================================================================== */

static int behind_https(struct MHD_Connection *conn)
{
    const char *proto = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Forwarded-Proto");
    return proto != NULL && strcmp(proto, "https") == 0;
}

static enum MHD_Result login(fq_dash_request *r, unsigned *status)
{
    char token[512], session[FQ_DASH_SECRET_HEX + 1], csrf[FQ_DASH_SECRET_HEX + 1];
    int ok = !r->body_too_big &&
             fq_form_value(r->body, r->body_len, "token", token, sizeof(token)) >= 0 &&
             fq_dash_auth_login(r->d->auth, token, session, csrf) == 0;
    explicit_bzero(token, sizeof(token));
    if (!ok) {
        fq_log(FQ_LOG_WARN, "dashboard.login_refused", FQ_LEND);
        return serve_login(r, 1, status);
    }
    char cookie[256];
    snprintf(cookie, sizeof(cookie), FQ_DASH_COOKIE "=%s; Path=/; Max-Age=%d; HttpOnly; "
             "SameSite=Strict%s", session, FQ_DASH_SESSION_S,
             behind_https(r->conn) ? "; Secure" : "");
    fq_log(FQ_LOG_INFO, "dashboard.login", FQ_LEND);
    return redirect(r, "/", cookie, status);
}

/* ========================================================================
 * /api
 * ===================================================================== */

/* Copies the query argument name into out; -1 when it is too long. */
static int arg(struct MHD_Connection *conn, const char *name, char *out, size_t outlen)
{
    const char *v = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, name);
    out[0] = '\0';
    if (v == NULL)
        return 0;
    if (strlen(v) >= outlen)
        return -1;
    memcpy(out, v, strlen(v) + 1);
    return 0;
}

/* Fills r->q from the query string; a reason in why when it is bad. */
static int parse_query(fq_dash_request *r, char *why, size_t whylen)
{
    fq_dash_query *q = &r->q;
    static const struct { const char *name; size_t offset; } texts[] = {
        {"id", offsetof(fq_dash_query, id)},         {"role", offsetof(fq_dash_query, role)},
        {"status", offsetof(fq_dash_query, status)}, {"model", offsetof(fq_dash_query, model)},
        {"flow", offsetof(fq_dash_query, flow)},     {"q", offsetof(fq_dash_query, text)},
        {"before", offsetof(fq_dash_query, before)},
    };
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
        if (arg(r->conn, texts[i].name, (char *)q + texts[i].offset, FQ_DASH_TEXT_MAX) != 0) {
            snprintf(why, whylen, "%s: at most %d bytes", texts[i].name, FQ_DASH_TEXT_MAX - 1);
            return -1;
        }
    char num[16];
    q->limit = FQ_DASH_LIMIT_DEFAULT;
    if (arg(r->conn, "limit", num, sizeof(num)) != 0 ||
        (num[0] != '\0' && ((q->limit = atoi(num)) < 1 || q->limit > FQ_DASH_LIMIT_MAX))) {
        snprintf(why, whylen, "limit: a number from 1 to %d", FQ_DASH_LIMIT_MAX);
        return -1;
    }
    arg(r->conn, "breaker", num, sizeof(num));
    q->breaker = strcmp(num, "1") == 0 || strcmp(num, "true") == 0;
    return 0;
}

/* On a dashboard thread. */
static int run_job(struct sqlite3 *db, void *data, char *err, size_t errlen)
{
    fq_dash_request *r = data;
    fq_dash_answer(r->d->cfg, r->d->snapshot, db, &r->q, &r->answer, &r->answer_len,
                   &r->answer_status);
    (void)err;
    (void)errlen;
    return r->answer_status < 500 ? 0 : -1;
}

/* On a dashboard thread (or the one stopping the pool). */
static void job_done(int rc, const char *err, void *data)
{
    fq_dash_request *r = data;
    if (rc != 0 && (r->answer == NULL || err[0] != '\0')) {   /* stopped, or not run */
        cJSON *doc = cJSON_CreateObject();
        cJSON_AddStringToObject(doc, "error", err);
        free(r->answer);
        r->answer = cJSON_PrintUnformatted(doc);
        r->answer_len = r->answer != NULL ? strlen(r->answer) : 0;
        r->answer_status = MHD_HTTP_SERVICE_UNAVAILABLE;
        cJSON_Delete(doc);
    }
    r->state = REQ_READY;
    MHD_resume_connection(r->conn);
}

/* Suspends the connection and hands the query to a dashboard thread. The
 * pool starts with the first query: the coordinator serves HTTP before it
 * has opened (and perhaps created) the database. */
static enum MHD_Result submit(fq_dash_request *r, unsigned *status)
{
    fq_dashboard *d = r->d;
    char err[300] = "";
    uv_mutex_lock(&d->lock);
    if (d->readers == NULL && !d->closing)
        d->readers = fq_readers_start(NULL, d->cfg->db_path, DASH_THREADS, DASH_QUERY_LIMIT_MS,
                                      err, sizeof(err));
    int closing = d->closing ? 1 : d->readers == NULL ? 2 : 0;
    if (!closing) {
        r->state = REQ_WAITING;
        MHD_suspend_connection(r->conn);
        if (fq_readers_submit(d->readers, run_job, job_done, r) != 0) {
            r->state = REQ_NEW;
            MHD_resume_connection(r->conn);
            closing = -1;
        }
    }
    uv_mutex_unlock(&d->lock);
    if (closing != 0)
        return reply_error(r, closing > 0 ? MHD_HTTP_SERVICE_UNAVAILABLE
                                          : MHD_HTTP_INTERNAL_SERVER_ERROR,
                           closing == 1 ? "the coordinator is stopping"
                           : closing == 2 ? err : "out of memory", NULL, 0, status);
    *status = 0;   /* answered later */
    return MHD_YES;
}

static enum MHD_Result api(fq_dash_request *r, fq_dash_who who, const char *csrf,
                           unsigned *status)
{
    if (strcmp(r->path, "/api/session") == 0) {
        if (!r->get)
            return reply_error(r, MHD_HTTP_METHOD_NOT_ALLOWED, "use GET", NULL, 0, status);
        char body[160];
        int n = snprintf(body, sizeof(body), "{\"auth\":\"%s\",\"csrf\":%s%s%s}",
                         who == FQ_DASH_SESSION ? "session" : "bearer",
                         who == FQ_DASH_SESSION ? "\"" : "", who == FQ_DASH_SESSION ? csrf : "null",
                         who == FQ_DASH_SESSION ? "\"" : "");
        return reply(r, MHD_HTTP_OK, TYPE_JSON, body, (size_t)n, NULL, 0, status);
    }
    int post = 0;
    int route = fq_dash_route(r->path, &post);
    if (route < 0)
        return reply_error(r, MHD_HTTP_NOT_FOUND, "no such /api path; see the README's "
                           "dashboard section", NULL, 0, status);
    if (post ? !r->post : !r->get) {
        header allow[] = {{MHD_HTTP_HEADER_ALLOW, post ? "POST" : "GET, HEAD"}};
        return reply_error(r, MHD_HTTP_METHOD_NOT_ALLOWED, post ? "use POST" : "use GET", allow,
                           1, status);
    }
    if (post && who == FQ_DASH_SESSION) {
        const char *given = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "X-CSRF-Token");
        if (given == NULL ||
            !fq_secret_equal(given, strlen(given), csrf, FQ_DASH_SECRET_HEX)) {
            fq_log(FQ_LOG_WARN, "dashboard.csrf_refused", FQ_LS, "path", r->path, FQ_LEND);
            return reply_error(r, MHD_HTTP_FORBIDDEN, "missing or wrong X-CSRF-Token (from GET "
                               "/api/session)", NULL, 0, status);
        }
    }
    char why[160];
    if (parse_query(r, why, sizeof(why)) != 0)
        return reply_error(r, MHD_HTTP_BAD_REQUEST, why, NULL, 0, status);
    r->q.route = route;
    return submit(r, status);
}

/* ========================================================================
 * Requests
 * ===================================================================== */

fq_dash_request *fq_dashboard_begin(fq_dashboard *d, struct MHD_Connection *conn,
                                    const char *url, const char *method)
{
    fq_dash_request *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return NULL;
    r->d = d;
    r->conn = conn;
    snprintf(r->path, sizeof(r->path), "%s", url);
    r->get = strcmp(method, MHD_HTTP_METHOD_GET) == 0 || strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
    r->post = strcmp(method, MHD_HTTP_METHOD_POST) == 0;
    return r;
}

static enum MHD_Result handle(fq_dash_request *r, unsigned *status)
{
    if (strncmp(r->path, "/assets/", 8) == 0)
        return r->get ? serve_asset(r, r->path + 8, MHD_HTTP_OK, status)
                      : reply_error(r, MHD_HTTP_METHOD_NOT_ALLOWED, "use GET", NULL, 0, status);
    if (strcmp(r->path, "/login") == 0)
        return r->post ? login(r, status) : serve_login(r, 0, status);
    char csrf[FQ_DASH_SECRET_HEX + 1] = "";
    fq_dash_who who = fq_dash_auth_check(
        r->d->auth, MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Authorization"),
        MHD_lookup_connection_value(r->conn, MHD_COOKIE_KIND, FQ_DASH_COOKIE), csrf);
    if (who == FQ_DASH_NOBODY) {
        if (is_page(r->path) || strcmp(r->path, "/logout") == 0)
            return redirect(r, "/login", NULL, status);
        header h[] = {{MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"fleetq\""}};
        return reply_error(r, MHD_HTTP_UNAUTHORIZED, "the dashboard needs FLEETQ_DASHBOARD_TOKEN "
                           "(Authorization: Bearer TOKEN, or log in at /login)", h, 1, status);
    }
    if (strcmp(r->path, "/logout") == 0) {
        if (!r->post)
            return reply_error(r, MHD_HTTP_METHOD_NOT_ALLOWED, "use POST", NULL, 0, status);
        fq_dash_auth_logout(r->d->auth,
                            MHD_lookup_connection_value(r->conn, MHD_COOKIE_KIND, FQ_DASH_COOKIE));
        return redirect(r, "/login", FQ_DASH_COOKIE "=; Path=/; Max-Age=0; HttpOnly; "
                        "SameSite=Strict", status);
    }
    if (is_page(r->path))
        return r->get ? serve_asset(r, "index.html", MHD_HTTP_OK, status)
                      : reply_error(r, MHD_HTTP_METHOD_NOT_ALLOWED, "use GET", NULL, 0, status);
    return api(r, who, csrf, status);
}

enum MHD_Result fq_dashboard_continue(fq_dash_request *r, const char *upload,
                                      size_t *upload_size, unsigned *status)
{
    *status = 0;
    if (*upload_size > 0) {
        size_t room = BODY_MAX - r->body_len;
        size_t n = *upload_size < room ? *upload_size : room;
        memcpy(r->body + r->body_len, upload, n);
        r->body_len += n;
        r->body[r->body_len] = '\0';
        r->body_too_big |= n < *upload_size;
        *upload_size = 0;
        return MHD_YES;
    }
    if (r->state == REQ_READY) {
        enum MHD_Result ret = reply(r, r->answer_status, TYPE_JSON,
                                    r->answer != NULL ? r->answer : "{}",
                                    r->answer != NULL ? r->answer_len : 2, NULL, 0, status);
        free(r->answer);
        r->answer = NULL;
        return ret;
    }
    if (r->state == REQ_WAITING)
        return MHD_YES;
    if (r->body_too_big)
        return reply_error(r, MHD_HTTP_CONTENT_TOO_LARGE, "the request body is too large", NULL,
                           0, status);
    return handle(r, status);
}

void fq_dashboard_end(fq_dash_request *r)
{
    if (r == NULL)
        return;
    explicit_bzero(r->body, sizeof(r->body));
    free(r->answer);
    free(r);
}

/* ========================================================================
 * Life cycle
 * ===================================================================== */

fq_dashboard *fq_dashboard_start(const fq_config *cfg, fq_snapshot *snapshot, char *err,
                                 size_t errlen)
{
    err[0] = '\0';
    if (cfg->dashboard_token[0] == '\0')
        return NULL;
    fq_dashboard *d = calloc(1, sizeof(*d));
    if (d == NULL || uv_mutex_init(&d->lock) != 0) {
        free(d);
        snprintf(err, errlen, "out of memory starting the dashboard");
        return NULL;
    }
    d->cfg = cfg;
    d->snapshot = snapshot;
    if ((d->auth = fq_dash_auth_new(cfg->dashboard_token)) == NULL) {
        snprintf(err, errlen, "out of memory starting the dashboard");
        uv_mutex_destroy(&d->lock);
        free(d);
        return NULL;
    }
    return d;
}

void fq_dashboard_stop(fq_dashboard *d)
{
    if (d == NULL)
        return;
    uv_mutex_lock(&d->lock);
    d->closing = 1;
    uv_mutex_unlock(&d->lock);
    fq_readers_stop(d->readers);   /* every queued request answered or dropped: resumed */
    fq_dash_auth_free(d->auth);
    uv_mutex_destroy(&d->lock);
    free(d);
}
