#define _GNU_SOURCE
#include <errno.h>
#include <net/if.h>
#include <sched.h>
#include <string.h>
#include <time.h>
#include <pthread.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/capability.h>
#include <linux/icmp.h>
#include <netinet/icmp6.h>
#include <linux/filter.h>
#include <linux/sock_diag.h>
#include <sys/socket.h>
#include <sys/signalfd.h>
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

// Version 3 takes two data structs (capabilities 0...63); pid 0 is the calling thread.
int CTandemLinux_getCapabilities(uint32_t effective[2], uint32_t permitted[2], uint32_t inheritable[2]) {
    struct __user_cap_header_struct header = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct data[2];
    memset(data, 0, sizeof data);
    if (syscall(SYS_capget, &header, data) != 0) return -1;
    for (int i = 0; i < 2; i++) {
        effective[i] = data[i].effective;
        permitted[i] = data[i].permitted;
        inheritable[i] = data[i].inheritable;
    }
    return 0;
}

int CTandemLinux_setCapabilities(const uint32_t effective[2], const uint32_t permitted[2], const uint32_t inheritable[2]) {
    struct __user_cap_header_struct header = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct data[2];
    for (int i = 0; i < 2; i++) {
        data[i].effective = effective[i];
        data[i].permitted = permitted[i];
        data[i].inheritable = inheritable[i];
    }
    return (int)syscall(SYS_capset, &header, data);
}

int CTandemLinux_dropBoundingCapability(unsigned int capability) {
    return prctl(PR_CAPBSET_DROP, (unsigned long)capability, 0UL, 0UL, 0UL);
}

int CTandemLinux_boundingCapabilityIsSet(unsigned int capability) {
    return prctl(PR_CAPBSET_READ, (unsigned long)capability, 0UL, 0UL, 0UL);
}

int CTandemLinux_forbidNewPrivileges(void) { return prctl(PR_SET_NO_NEW_PRIVS, 1UL, 0UL, 0UL, 0UL); }

int CTandemLinux_newPrivilegesForbidden(void) { return prctl(PR_GET_NO_NEW_PRIVS, 0UL, 0UL, 0UL, 0UL); }

int CTandemLinux_tunSetPersist(int fd, int persist) { return ioctl(fd, TUNSETPERSIST, (unsigned long)persist); }

int CTandemLinux_signalDescriptor(const int *signals, int count) {
    sigset_t set;
    sigemptyset(&set);
    for (int i = 0; i < count; i++) sigaddset(&set, signals[i]);
    int error = pthread_sigmask(SIG_BLOCK, &set, NULL);
    if (error != 0) {
        errno = error;
        return -1;
    }
    return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}

int CTandemLinux_readSignal(int fd) {
    struct signalfd_siginfo info;
    ssize_t count = read(fd, &info, sizeof info);
    if (count < 0) return (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -1;
    if (count != sizeof info) {
        errno = EIO;
        return -1;
    }
    return (int)info.ssi_signo;
}

// The program, for a notification skb (one message: struct nlmsghdr, 16 bytes, then struct rtmsg):
//   ldb [20]  rtm_table;   accept only `table` (or 252 for a table above 255: the real one is in RTA_TABLE)
//   ldb [21]  rtm_protocol; accept only one of `protocols`
int CTandemLinux_filterRouteNotifications(int fd, unsigned int table, const unsigned char *protocols, int count) {
    if (count < 1 || count > 16) {
        errno = EINVAL;
        return -1;
    }
    struct sock_filter program[4 + 16 + 2];
    int n = 0;
    unsigned int shownTable = table > 255 ? 252 : table;
    program[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 20);
    // Match: skip the drop; no match: fall to the drop below the protocol checks.
    program[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, shownTable, 1, 0);
    program[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, 0);
    program[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 21);
    for (int i = 0; i < count; i++) {
        // Equal: jump over the remaining checks and the drop to the accept.
        int remaining = count - 1 - i;
        program[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, protocols[i], remaining + 1, 0);
    }
    program[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, 0);
    program[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, 0xFFFFFFFF);
    struct sock_fprog filter = {.len = (unsigned short)n, .filter = program};
    return setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &filter, sizeof filter);
}

int CTandemLinux_peerProcess(int fd) {
    struct ucred credentials;
    socklen_t size = sizeof credentials;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &credentials, &size) != 0) return -1;
    return credentials.pid;
}

int CTandemLinux_setThreadName(const char *name) { return pthread_setname_np(pthread_self(), name); }

int CTandemLinux_threadName(char *buffer, size_t size) { return pthread_getname_np(pthread_self(), buffer, size); }

int CTandemLinux_socketDrops(int fd, uint32_t *drops) {
    uint32_t info[SK_MEMINFO_VARS] = {0};
    socklen_t length = sizeof(info);
    if (getsockopt(fd, SOL_SOCKET, SO_MEMINFO, info, &length) != 0) return -1;
    if (length < (socklen_t)((SK_MEMINFO_DROPS + 1) * sizeof(uint32_t))) {
        errno = EINVAL;
        return -1;
    }
    *drops = info[SK_MEMINFO_DROPS];
    return 0;
}

const char *CTandemLinux_errnoName(int code) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
    return strerrorname_np(code);
#else
    (void)code;
    return NULL;
#endif
}

int CTandemLinux_passOnlyEchoReplies(int fd, int ipv6) {
    if (ipv6) {
        struct icmp6_filter filter;
        ICMP6_FILTER_SETBLOCKALL(&filter);
        ICMP6_FILTER_SETPASS(ICMP6_ECHO_REPLY, &filter);
        return setsockopt(fd, IPPROTO_ICMPV6, ICMP6_FILTER, &filter, sizeof filter);
    }
    // A set bit blocks its type (0...31); only ICMP_ECHOREPLY (0) passes.
    struct icmp_filter filter = {.data = ~(1U << ICMP_ECHOREPLY)};
    return setsockopt(fd, SOL_RAW, ICMP_FILTER, &filter, sizeof filter);
}

int CTandemLinux_enableReceiveTimestamps(int fd) {
    int on = 1;
    return setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on);
}

long CTandemLinux_receiveStamped(
    int fd, void *buffer, unsigned long length, void *from, unsigned int *fromLength, int64_t *arrived) {
    struct iovec part = {.iov_base = buffer, .iov_len = length};
    // Room for the timestamp and one more message (nothing else is turned on; a truncated control part only loses
    // what does not fit).
    union {
        char bytes[CMSG_SPACE(sizeof(struct timespec)) * 2];
        struct cmsghdr alignment;
    } control;
    struct msghdr message = {
        .msg_name = from,
        .msg_namelen = *fromLength,
        .msg_iov = &part,
        .msg_iovlen = 1,
        .msg_control = control.bytes,
        .msg_controllen = sizeof control.bytes,
    };
    *arrived = 0;
    ssize_t received = recvmsg(fd, &message, 0);
    if (received < 0) return received;
    *fromLength = message.msg_namelen;
    for (struct cmsghdr *header = CMSG_FIRSTHDR(&message); header != NULL; header = CMSG_NXTHDR(&message, header)) {
        if (header->cmsg_level != SOL_SOCKET || header->cmsg_type != SCM_TIMESTAMPNS) continue;
        if (header->cmsg_len < CMSG_LEN(sizeof(struct timespec))) continue;
        struct timespec stamp;
        memcpy(&stamp, CMSG_DATA(header), sizeof stamp);
        *arrived = (int64_t)stamp.tv_sec * 1000000000 + stamp.tv_nsec;
    }
    return received;
}
