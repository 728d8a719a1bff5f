/* ctl_follow.h -- `fleetqctl result --follow`: a streamed task's answer
 * printed as it arrives (see ctl_follow.c).
 */
#ifndef FQ_CTL_FOLLOW_H
#define FQ_CTL_FOLLOW_H

#include "ctl.h"

/* Prints the answer of task id as its stream brings it, until the task
 * ends, and returns the exit code of `result`: 0 done, 4 ended not done,
 * 1 unknown (with a line on stderr), or what Redis failures recorded. The
 * connection must be open (fq_ctl_connect). */
int fq_ctl_result_follow(fq_ctl *ctl, const char *id);

#endif
