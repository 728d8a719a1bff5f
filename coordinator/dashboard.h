/* dashboard.h -- the web dashboard, served by the coordinator's HTTP
 * server (http.c) beside /health and /metrics, when FLEETQ_DASHBOARD_TOKEN
 * is set (without it every path below is 404).
 *
 *   GET  /, /tasks, /task, /dead, /flows, /flow   the page (index.html;
 *                                 app.js draws each view from /api)
 *   GET  /assets/NAME             the page's script, style and icon
 *   GET  /login, POST /login      the login form (field token)
 *   POST /logout                  ends the session
 *   GET  /api/session             who is asking, and the session's CSRF token
 *   /api/...                      dashboard_api.h
 *
 * Every path but /login and /assets needs the token (dashboard_auth.h);
 * pages without it go to /login, /api answers 401. Every asset is compiled
 * into the binary (coordinator/web), so nothing is fetched from elsewhere,
 * and every answer carries a Content-Security-Policy that lets the page
 * run only its own script and talk only to its own origin.
 */
#ifndef FQ_DASHBOARD_H
#define FQ_DASHBOARD_H

#include <stddef.h>

#include <microhttpd.h>

#include "config.h"
#include "snapshot.h"

typedef struct fq_dashboard fq_dashboard;
typedef struct fq_dash_request fq_dash_request;

/* Starts the dashboard's threads when cfg->dashboard_token is set; NULL
 * with err[0] == '\0' when it is not, NULL with the reason otherwise. */
fq_dashboard *fq_dashboard_start(const fq_config *cfg, fq_snapshot *snapshot, char *err,
                                 size_t errlen);

/* 1 when url is one of the dashboard's paths. */
int fq_dashboard_owns(const char *url);

/* A request to a dashboard path: begun at its headers, continued at each
 * call of the access handler (upload data, then the answer; an answer
 * that needs the store or Redis suspends the connection until a dashboard
 * thread has it), ended when MHD is done with it. */
fq_dash_request *fq_dashboard_begin(fq_dashboard *d, struct MHD_Connection *conn,
                                    const char *url, const char *method);
enum MHD_Result fq_dashboard_continue(fq_dash_request *r, const char *upload,
                                      size_t *upload_size, unsigned *status);
void fq_dashboard_end(fq_dash_request *r);

/* Answers what is queued (or drops it with 503) and stops the threads; the
 * HTTP server stops after this. NULL is accepted. */
void fq_dashboard_stop(fq_dashboard *d);

#endif
