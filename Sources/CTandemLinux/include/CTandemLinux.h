// What Swift cannot import from the Linux headers by itself: calls and constants behind _GNU_SOURCE, and
// (next) the TUN ioctls and struct ifreq. Only thin wrappers live here; the logic is in TandemLinux.
#ifndef C_TANDEM_LINUX_H
#define C_TANDEM_LINUX_H

/// setns(fd, CLONE_NEWNET): moves the calling thread into the network namespace `fd` refers to.
/// Returns 0, or -1 with errno set.
int CTandemLinux_enterNetworkNamespace(int fd);

#endif
