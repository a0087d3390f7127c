#define _GNU_SOURCE
#include <sched.h>
#include "CTandemLinux.h"

int CTandemLinux_enterNetworkNamespace(int fd) { return setns(fd, CLONE_NEWNET); }
