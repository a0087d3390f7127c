// What Swift cannot import from the Linux headers by itself: calls and constants behind _GNU_SOURCE, the TUN
// ioctls with their struct ifreq, and the headers Glibc's module map leaves out (epoll, if_tun, virtio_net).
// Only thin wrappers live here; the logic is in TandemLinux.
#ifndef C_TANDEM_LINUX_H
#define C_TANDEM_LINUX_H

// epoll_create1, epoll_ctl, epoll_wait, struct epoll_event, EPOLL*.
#include <sys/epoll.h>
// IFF_TUN, IFF_NO_PI, IFF_MULTI_QUEUE, IFF_VNET_HDR and TUN_F_CSUM, TUN_F_TSO4, TUN_F_TSO6 come from here.
#include <linux/if_tun.h>
// struct virtio_net_hdr and its VIRTIO_NET_HDR_* flags: the header before each packet of a vnet-header TUN device.
#include <linux/virtio_net.h>
#include <stdint.h>

// UDP segmentation offload (Linux 6.2); older headers lack the flags, the kernel answers EINVAL if it lacks them.
#ifndef TUN_F_USO4
#define TUN_F_USO4 0x20
#endif
#ifndef TUN_F_USO6
#define TUN_F_USO6 0x40
#endif

/// setns(fd, CLONE_NEWNET): moves the calling thread into the network namespace `fd` refers to.
/// Returns 0, or -1 with errno set.
int CTandemLinux_enterNetworkNamespace(int fd);

/// ioctl(fd, TUNSETIFF) with a struct ifreq holding `name` and `flags`: creates the TUN device `name` (or attaches
/// another queue to it) in the network namespace `fd` was opened in. An empty `name` lets the kernel choose one.
/// Writes the name the device has (at most IFNAMSIZ bytes with the terminating zero) to `actualName`.
/// Returns 0, or -1 with errno set (ENAMETOOLONG if `name` does not fit in IFNAMSIZ; nothing is truncated).
int CTandemLinux_tunAttach(int fd, const char *name, int flags, char *actualName);

/// ioctl(fd, TUNSETOFFLOAD, flags): the offloads (TUN_F_*) the reader of the device can handle.
/// Returns 0, or -1 with errno set (EINVAL for a flag the kernel does not know).
int CTandemLinux_tunSetOffload(int fd, unsigned int flags);

/// ioctl(fd, TUNSETVNETHDRSZ, &size): the length of the virtio_net_hdr before each packet (10 or 12).
/// Returns 0, or -1 with errno set.
int CTandemLinux_tunSetVnetHeaderSize(int fd, int size);

/// capget for the calling thread (_LINUX_CAPABILITY_VERSION_3: two 32-bit words per set, capability n is bit n % 32
/// of word n / 32). Writes the effective, permitted and inheritable sets. Returns 0, or -1 with errno set.
int CTandemLinux_getCapabilities(uint32_t effective[2], uint32_t permitted[2], uint32_t inheritable[2]);

/// capset for the calling thread only (the raw system call, not libcap; glibc does not broadcast it to other
/// threads). Returns 0, or -1 with errno set (EPERM for a capability not in the permitted or bounding set).
int CTandemLinux_setCapabilities(const uint32_t effective[2], const uint32_t permitted[2], const uint32_t inheritable[2]);

/// prctl(PR_CAPBSET_DROP, capability): removes it from the calling thread's bounding set (needs CAP_SETPCAP).
/// Returns 0, or -1 with errno set (EINVAL for a capability this kernel does not know).
int CTandemLinux_dropBoundingCapability(unsigned int capability);

/// prctl(PR_CAPBSET_READ, capability): 1 if it is in the calling thread's bounding set, 0 if not, -1 with errno set
/// (EINVAL for a capability this kernel does not know). Needs no privilege.
int CTandemLinux_boundingCapabilityIsSet(unsigned int capability);

/// Lets only echo replies through a raw ICMP (ipv6 == 0) or ICMPv6 (ipv6 != 0) socket: ICMP_FILTER or ICMP6_FILTER.
/// 0, or -1 with errno.
int CTandemLinux_passOnlyEchoReplies(int fd, int ipv6);

/// pthread_setname_np(pthread_self(), name) (behind _GNU_SOURCE): 0 or an error number.
int CTandemLinux_setThreadName(const char *name);

/// pthread_getname_np(pthread_self(), buffer, size): 0 or an error number.
int CTandemLinux_threadName(char *buffer, size_t size);

/// getsockopt(fd, SOL_SOCKET, SO_PEERCRED): the pid of a connected unix socket's peer, or -1 with errno set.
int CTandemLinux_peerProcess(int fd);

/// prctl(PR_SET_NO_NEW_PRIVS, 1): the calling thread (and those it makes) can gain no privilege by exec.
/// Returns 0, or -1 with errno set.
int CTandemLinux_forbidNewPrivileges(void);

/// prctl(PR_GET_NO_NEW_PRIVS): 1 if set on the calling thread, 0 if not, -1 with errno set.
int CTandemLinux_newPrivilegesForbidden(void);

/// ioctl(fd, TUNSETPERSIST, persist): whether the device outlives its last open queue.
/// Returns 0, or -1 with errno set.
int CTandemLinux_tunSetPersist(int fd, int persist);

/// signalfd(-1, set of `signals`, SFD_NONBLOCK | SFD_CLOEXEC) after blocking `signals` in the calling thread
/// (pthread_sigmask), so that they are read from the descriptor instead of being delivered. Threads made
/// afterwards inherit the blocked mask. Returns the descriptor, or -1 with errno set.
int CTandemLinux_signalDescriptor(const int *signals, int count);

/// Reads one pending signal from a signalfd descriptor: its number, 0 if none is pending, or -1 with errno set.
int CTandemLinux_readSignal(int fd);

/// Attaches a classic BPF filter (SO_ATTACH_FILTER) to a route notification socket: the kernel queues only route
/// messages of `table` (or of RT_TABLE_COMPAT, 252, which stands for every table above 255) whose rtm_protocol
/// is one of the `count` `protocols` (at most 16). Everything else is dropped before it takes room in the
/// socket's queue. Returns 0, or -1 with errno set.
int CTandemLinux_filterRouteNotifications(int fd, unsigned int table, const unsigned char *protocols, int count);

/// The count of messages the kernel dropped on socket `fd` for want of room (sk_drops, through
/// getsockopt(SO_MEMINFO)): a netlink socket reports ENOBUFS once per congestion, this counts every drop.
/// Returns 0, or -1 with errno set.
int CTandemLinux_socketDrops(int fd, uint32_t *drops);

/// The symbolic name of an errno value ("ENETDOWN"), or NULL if the C library does not know it (strerrorname_np,
/// glibc 2.32).
const char *CTandemLinux_errnoName(int code);

/// Turns on the kernel's receive timestamps (SO_TIMESTAMPNS) on a socket: each datagram then carries the time it
/// arrived, which CTandemLinux_receiveStamped reads. 0, or -1 with errno.
int CTandemLinux_enableReceiveTimestamps(int fd);

/// recvmsg of one datagram into `buffer` (at most `length` bytes), its sender into `from` (a struct
/// sockaddr_storage; `*fromLength` in: its size, out: the sender's length), and the kernel's receive time
/// (CLOCK_REALTIME, nanoseconds) into `*arrived`, or 0 when the datagram carries none. Returns the datagram's
/// length, or -1 with errno (EAGAIN when none is queued). (Plain C types: <sys/socket.h> here would hide Glibc's
/// socket constants from Swift.)
long CTandemLinux_receiveStamped(
    int fd, void *buffer, unsigned long length, void *from, unsigned int *fromLength, int64_t *arrived);

/// IFNAMSIZ: the size of a device name with its terminating zero.
static const int CTandemLinux_interfaceNameSize = 16;

#endif
