/* mock_usage.h -- the text of fleetq-mockapi --help. */
#ifndef MOCK_USAGE_H
#define MOCK_USAGE_H

#include <stdio.h>

/* Writes the help text to out. */
void mock_usage_print(FILE *out);

#endif
