#define _GNU_SOURCE
#include <errno.h>
#include <net/if.h>
#include <sched.h>
#include <string.h>
#include <sys/ioctl.h>
#include "CTandemLinux.h"

_Static_assert(IFNAMSIZ == 16, "CTandemLinux_interfaceNameSize must be IFNAMSIZ");

int CTandemLinux_enterNetworkNamespace(int fd) { return setns(fd, CLONE_NEWNET); }

int CTandemLinux_tunAttach(int fd, const char *name, int flags, char *actualName) {
    size_t length = strlen(name);
    if (length >= IFNAMSIZ) {
        errno = ENAMETOOLONG;
        return -1;
    }
    struct ifreq request;
    memset(&request, 0, sizeof request);
    memcpy(request.ifr_name, name, length);
    request.ifr_flags = (short)flags;
    if (ioctl(fd, TUNSETIFF, &request) != 0) return -1;
    memcpy(actualName, request.ifr_name, IFNAMSIZ);
    actualName[IFNAMSIZ - 1] = 0;
    return 0;
}

int CTandemLinux_tunSetOffload(int fd, unsigned int flags) { return ioctl(fd, TUNSETOFFLOAD, (unsigned long)flags); }

int CTandemLinux_tunSetVnetHeaderSize(int fd, int size) { return ioctl(fd, TUNSETVNETHDRSZ, &size); }
