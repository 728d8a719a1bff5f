/* redis_url.c -- REDIS_URL, "redis://[user:password@]host[:port][/db]",
 * parsed into the redis fields of an fq_config (see config.h).
 *
 * The authority is split at the last '@' before the path, so a password
 * may hold '@' or ':' as they are; '/', '?' and '#' must be written as %XX
 * because they end the authority, and an '@' found after the host is
 * reported with that advice. User and password are percent-decoded (a
 * decoded NUL is refused). The host is a name of letters, digits, '.', '-'
 * and '_', or an IPv6 address in brackets; the port defaults to 6379 and
 * the database to 0. rediss:// is the same over TLS (redis_tls.h).
 * A user without a password (user@host) is kept for REDIS_PASSWORD_FILE
 * to complete; config.c refuses it when that is not set. Query
 * parameters are refused with a line saying what to use instead.
 *
 * Error lines show the URL through fq_config_show_url() (config.c), which
 * hides user:password and, while the configuration loads, the API key.
 * cfg is only written once the whole URL is valid, and then the decoded
 * password's copy on the stack is wiped.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "text.h"

#define DEFAULT_REDIS_URL "redis://127.0.0.1:6379/0"

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Percent-decodes s[0..len) into out; -1 on a bad escape, a NUL, or when
 * it does not fit. */
static int pct_decode(const char *s, size_t len, char *out, size_t outlen)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '%') {
            if (i + 2 >= len)
                return -1;
            int h = hexval(s[i + 1]), l = hexval(s[i + 2]);
            if (h < 0 || l < 0)
                return -1;
            c = (char)(h * 16 + l);
            if (c == '\0')
                return -1;
            i += 2;
        }
        if (o + 1 >= outlen)
            return -1;
        out[o++] = c;
    }
    out[o] = '\0';
    return 0;
}

#define REDIS_URL_SHAPE "redis[s]://[user:password@]host[:port][/db]"

int fq_config_parse_redis_url(fq_config *cfg, const char *url, char *err, size_t errlen)
{
    char host[sizeof(cfg->redis_host)] = "";
    char user[sizeof(cfg->redis_user)] = "";
    char pass[sizeof(cfg->redis_password)] = "";
    int64_t port = 6379, db = 0;
    fq_text_shown sh;

    if (url == NULL || url[0] == '\0')
        url = DEFAULT_REDIS_URL;
    int tls = strncasecmp(url, "rediss://", 9) == 0;
    if (!tls && strncasecmp(url, "redis://", 8) != 0)
        return fq_text_fail(err, errlen, "REDIS_URL: must look like " REDIS_URL_SHAPE ", got %s",
                            fq_config_show_url(&sh, url));

    const char *a = url + (tls ? 9 : 8);
    size_t alen = strcspn(a, "/?#");
    const char *rest = a + alen;
    const char *hp = a;
    size_t hplen = alen;
    if (strchr(rest, '@') != NULL)
        return fq_text_fail(err, errlen,
                            "REDIS_URL: '@' after the host; write special characters of the "
                            "user and password as %%XX (/ is %%2F, @ is %%40, ? is %%3F, "
                            "# is %%23)");
    const char *at = memrchr(a, '@', alen);
    if (at != NULL) {
        size_t uilen = (size_t)(at - a);
        const char *colon = memchr(a, ':', uilen);
        if (colon == NULL)
            colon = at;   /* user@host: the password comes from REDIS_PASSWORD_FILE */
        if (pct_decode(a, (size_t)(colon - a), user, sizeof(user)) != 0)
            return fq_text_fail(err, errlen,
                                "REDIS_URL: the user has a bad %%-escape or is longer than "
                                "%zu bytes", sizeof(user) - 1);
        if (colon < at && pct_decode(colon + 1, (size_t)(at - colon - 1), pass, sizeof(pass)) != 0)
            return fq_text_fail(err, errlen,
                                "REDIS_URL: the password has a bad %%-escape or is longer "
                                "than %zu bytes; escape special characters as %%XX",
                                sizeof(pass) - 1);
        hp = at + 1;
        hplen = alen - uilen - 1;
    }

    const char *portp = NULL;
    size_t portlen = 0;
    if (hplen > 0 && hp[0] == '[') {
        const char *close = memchr(hp, ']', hplen);
        if (close == NULL)
            return fq_text_fail(err, errlen,
                                "REDIS_URL: the IPv6 address has no closing ']'; write it "
                                "as redis://[::1]:6379");
        size_t hl = (size_t)(close - hp - 1);
        if (hl == 0 || hl >= sizeof(host))
            return fq_text_fail(err, errlen,
                                "REDIS_URL: bad IPv6 address; write it as redis://[::1]:6379");
        for (size_t i = 0; i < hl; i++) {
            char c = hp[1 + i];
            if (!(hexval(c) >= 0 || c == ':' || c == '.'))
                return fq_text_fail(err, errlen,
                                    "REDIS_URL: bad IPv6 address; write it as "
                                    "redis://[::1]:6379");
        }
        memcpy(host, hp + 1, hl);
        host[hl] = '\0';
        const char *after = close + 1;
        size_t afterlen = hplen - (size_t)(after - hp);
        if (afterlen > 0) {
            if (after[0] != ':')
                return fq_text_fail(err, errlen,
                                    "REDIS_URL: expected ':port' after the IPv6 address");
            portp = after + 1;
            portlen = afterlen - 1;
        }
    } else {
        const char *colon = memchr(hp, ':', hplen);
        size_t hl = colon ? (size_t)(colon - hp) : hplen;
        if (colon != NULL) {
            portp = colon + 1;
            portlen = hplen - hl - 1;
            if (memchr(portp, ':', portlen) != NULL)
                return fq_text_fail(err, errlen,
                                    "REDIS_URL: put an IPv6 address in brackets, like "
                                    "redis://[::1]:6379");
        }
        if (hl >= sizeof(host))
            return fq_text_fail(err, errlen, "REDIS_URL: the host is longer than %zu bytes",
                                sizeof(host) - 1);
        for (size_t i = 0; i < hl; i++) {
            char c = hp[i];
            if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '-' || c == '_'))
                return fq_text_fail(err, errlen,
                                    "REDIS_URL: the host may only hold letters, digits, "
                                    ". - and _, got %s",
                                    fq_config_show_url(&sh, url));
        }
        memcpy(host, hp, hl);
        host[hl] = '\0';
    }
    if (host[0] == '\0')
        return fq_text_fail(err, errlen, "REDIS_URL: no host; use " REDIS_URL_SHAPE);

    if (portp != NULL) {
        char *pbuf = strndup(portp, portlen);
        if (pbuf == NULL)
            return fq_text_fail(err, errlen, "REDIS_URL: out of memory");
        int bad = fq_text_parse_int64(pbuf, portlen, &port) != 0 || port < 1 || port > 65535;
        if (bad)
            fq_text_fail(err, errlen, "REDIS_URL: the port must be from 1 to 65535, got %s",
                         fq_config_show(&sh, pbuf));
        free(pbuf);
        if (bad)
            return -1;
    }

    if (rest[0] == '?' || rest[0] == '#')
        return fq_text_fail(err, errlen,
                            "REDIS_URL: query parameters are not supported; use " REDIS_URL_SHAPE);
    if (rest[0] == '/') {
        const char *d = rest + 1;
        if (d[0] != '\0' &&
            (fq_text_parse_int64(d, strlen(d), &db) != 0 || db < 0 || db > 0x7fffffff))
            return fq_text_fail(err, errlen,
                                "REDIS_URL: the database must be a non-negative integer "
                                "(like /0), got %s",
                                fq_config_show(&sh, d));
    }

    snprintf(cfg->redis_host, sizeof(cfg->redis_host), "%s", host);
    snprintf(cfg->redis_user, sizeof(cfg->redis_user), "%s", user);
    snprintf(cfg->redis_password, sizeof(cfg->redis_password), "%s", pass);
    cfg->redis_port = (int)port;
    cfg->redis_db = (int)db;
    cfg->redis_tls = tls;
    explicit_bzero(pass, sizeof(pass));
    return 0;
}
