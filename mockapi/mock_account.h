/* mock_account.h -- the one account behind the mock's key.
 *
 * Refusals about the account name it: xAI's words by its team id (a uuid),
 * OpenAI's by its organisation id, "org-" and the same 32 hex digits. Both
 * are drawn once per process from the seeded generator.
 */
#ifndef MOCK_ACCOUNT_H
#define MOCK_ACCOUNT_H

/* "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx" */
const char *mock_account_team(void);

/* "org-" and the team id's hex digits */
const char *mock_account_org(void);

#endif
