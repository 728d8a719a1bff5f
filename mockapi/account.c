/* account.c -- the team and organisation ids, made on first use. */
#include "mock_account.h"

#include <pthread.h>
#include <stdio.h>

#include "mock_faults.h"

static pthread_once_t account_once = PTHREAD_ONCE_INIT;
static char team_id[37];
static char org_id[40];

static void make_ids(void)
{
    mock_rand_uuid(team_id);
    size_t n = (size_t)snprintf(org_id, sizeof(org_id), "org-");
    for (const char *p = team_id; *p && n + 1 < sizeof(org_id); p++)
        if (*p != '-') org_id[n++] = *p;
    org_id[n] = '\0';
}

const char *mock_account_team(void)
{
    pthread_once(&account_once, make_ids);
    return team_id;
}

const char *mock_account_org(void)
{
    pthread_once(&account_once, make_ids);
    return org_id;
}
