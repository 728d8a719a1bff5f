/* embedded.h -- files compiled into the binaries (Lua scripts, SQL
 * migrations, the coordinator's dashboard); see cmake/embed.cmake. Each table ends with {NULL, NULL}. */
#ifndef FQ_EMBEDDED_H
#define FQ_EMBEDDED_H

typedef struct fq_embedded {
    const char *name;   /* file name, e.g. "claim.lua", "001_init.sql" */
    const char *text;   /* NUL-terminated contents */
} fq_embedded;

extern const fq_embedded fq_lua_files[];
extern const fq_embedded fq_sql_files[];
extern const fq_embedded fq_web_files[];   /* coordinator/web: the coordinator only */

#endif
