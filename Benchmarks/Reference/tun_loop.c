/*
 * tun_loop.c: the cheapest userspace forwarder there is on TUN, as the baseline of Tandem's userspace mode in
 * tools/bench-forwarding. It makes the same devices Tandem's userspace mode makes (Sources/TandemDaemon/
 * Daemon+Devices.swift, Sources/TandemLinux/TunDevice.swift): an ingress device and an egress device, IFF_TUN |
 * IFF_NO_PI, the same number of queues on both (IFF_MULTI_QUEUE when more than one), non-blocking, and with --vnet
 * a 10-byte virtio_net_hdr and the offloads Tandem asks for (TUNSETOFFLOAD csum, tso4, tso6, uso4, uso6; without
 * the UDP ones on a kernel that refuses them). Then one thread per queue, like Tandem's pipeline threads, waits on
 * queue N of both devices (epoll) and copies every packet from one device's queue N to the other's: no parsing, no
 * lookup, no TTL, no checksum. With --vnet the header read with a packet is written with it, so a TCP super-packet
 * crosses whole (GSO pass-through), as Tandem passes it on.
 *
 * The kernel side (links up, MTU 65535, transmit queue 2048, rp_filter and accept_local, the rules and routes that
 * send the remote prefixes into the ingress device and what comes out of the egress device to the tunnel's
 * interface) is the script's job, as it is Tandem's netlink layer's: tools/bench-forwarding sets it up as Tandem
 * does. The devices are not persistent: they go when this process ends, with their routes.
 *
 * Usage: tun_loop [--vnet] [--napi] [--queues N] INGRESS EGRESS
 *   --vnet    vnet headers and offloads (what Tandem does with linux.offloads: true, its default)
 *   --napi    IFF_NAPI: what is written to a device goes through a NAPI context (threaded if
 *             /sys/class/net/DEV/threaded is 1) instead of the writer's own netif_rx
 *   --queues  queues per device and threads (1)
 * Prints "tun_loop: ready" once the devices exist and the threads run; on SIGTERM or SIGINT prints what each
 * thread forwarded and exits 0. Built and run by tools/bench-forwarding.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#ifndef TUN_F_USO4 /* Linux 6.2 */
#define TUN_F_USO4 0x20
#define TUN_F_USO6 0x40
#endif

#define MAX_QUEUES 64
#define VNET_HEADER_SIZE 10     /* struct virtio_net_hdr, as Tandem's default (TunDevice.VnetHeaderSize.basic) */
#define PACKET_CAPACITY 65535   /* the largest packet (a super-packet with offloads), as Tandem's slots */

static int vnet;                /* --vnet */
static int napi;                /* --napi */
static int queue_count = 1;     /* --queues */
static volatile sig_atomic_t stopping;

struct device {
    const char *name;
    int queues[MAX_QUEUES];     /* one file descriptor per queue */
};

/* One thread's work: queue `index` of both devices, and what it forwarded. */
struct worker {
    pthread_t thread;
    int index;
    struct device *devices[2];  /* [0] ingress, [1] egress: a packet read from one is written to the other */
    uint64_t forwarded[2];      /* packets written, by the device they were read from */
    uint64_t dropped[2];        /* packets the other device did not take (queue full, link down) */
};

static _Noreturn void die(const char *what, const char *device) {
    fprintf(stderr, "tun_loop: %s %s: %s\n", what, device, strerror(errno));
    exit(1);
}

/* Opens one queue of `device`, making the device with the first (TUNSETIFF); the flags are Tandem's. */
static int open_queue(struct device *device) {
    int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) die("opening /dev/net/tun for", device->name);
    struct ifreq request;
    memset(&request, 0, sizeof request);
    strncpy(request.ifr_name, device->name, IFNAMSIZ - 1);
    request.ifr_flags = IFF_TUN | IFF_NO_PI;
    if (queue_count > 1) request.ifr_flags |= IFF_MULTI_QUEUE;
    if (vnet) request.ifr_flags |= IFF_VNET_HDR;
    if (napi) request.ifr_flags |= IFF_NAPI;
    if (ioctl(fd, TUNSETIFF, &request) != 0) die("TUNSETIFF", device->name);
    return fd;
}

/* The device's queues; with --vnet the header size and offloads, set once for the device (on its first queue). */
static void make_device(struct device *device) {
    for (int i = 0; i < queue_count; i++) device->queues[i] = open_queue(device);
    if (!vnet) return;
    int size = VNET_HEADER_SIZE;
    if (ioctl(device->queues[0], TUNSETVNETHDRSZ, &size) != 0) die("TUNSETVNETHDRSZ", device->name);
    unsigned long offloads = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_USO4 | TUN_F_USO6;
    if (ioctl(device->queues[0], TUNSETOFFLOAD, offloads) != 0) {
        /* Before Linux 6.2 the UDP segmentation offloads are unknown (EINVAL): Tandem asks again without them. */
        offloads &= ~(unsigned long)(TUN_F_USO4 | TUN_F_USO6);
        if (errno != EINVAL || ioctl(device->queues[0], TUNSETOFFLOAD, offloads) != 0)
            die("TUNSETOFFLOAD", device->name);
    }
}

/*
 * Reads queue `index` of devices[from] until it is empty, writing each packet to the same queue of the other
 * device. One read and one write a packet, as Tandem does (readv per slot, write per forwarded packet); the header
 * and the packet are read into one buffer and written from it as they came.
 */
static void drain(struct worker *w, int from, unsigned char *buffer) {
    int in = w->devices[from]->queues[w->index];
    int out = w->devices[1 - from]->queues[w->index];
    for (;;) {
        ssize_t length = read(in, buffer, PACKET_CAPACITY + VNET_HEADER_SIZE);
        if (length < 0) {
            if (errno == EINTR) continue;
            return; /* EAGAIN: empty; anything else (the device is gone) ends this wakeup too */
        }
        if (write(out, buffer, (size_t)length) == length) {
            w->forwarded[from]++;
        } else {
            w->dropped[from]++; /* EAGAIN (queue full) or EIO (link down): dropped, as Tandem drops it */
        }
    }
}

static void *run(void *argument) {
    struct worker *w = argument;
    unsigned char *buffer = malloc(PACKET_CAPACITY + VNET_HEADER_SIZE);
    int poll = epoll_create1(EPOLL_CLOEXEC);
    if (!buffer || poll < 0) die("setting up thread for", w->devices[0]->name);
    for (int side = 0; side < 2; side++) {
        struct epoll_event event = { .events = EPOLLIN, .data.u32 = (uint32_t)side };
        if (epoll_ctl(poll, EPOLL_CTL_ADD, w->devices[side]->queues[w->index], &event) != 0)
            die("epoll_ctl on", w->devices[side]->name);
    }
    while (!stopping) {
        struct epoll_event events[2];
        /* A timeout, as Tandem's threads have one, so that a stop request is seen. */
        int ready = epoll_wait(poll, events, 2, 100);
        for (int i = 0; i < ready; i++) drain(w, (int)events[i].data.u32, buffer);
    }
    close(poll);
    free(buffer);
    return NULL;
}

static void stop(int signal) { (void)signal; stopping = 1; }

int main(int argc, char **argv) {
    int i = 1;
    for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
        if (strcmp(argv[i], "--vnet") == 0) vnet = 1;
        else if (strcmp(argv[i], "--napi") == 0) napi = 1;
        else if (strcmp(argv[i], "--queues") == 0 && i + 1 < argc) queue_count = atoi(argv[++i]);
        else break;
    }
    if (argc - i != 2 || queue_count < 1 || queue_count > MAX_QUEUES) {
        fprintf(stderr, "usage: tun_loop [--vnet] [--napi] [--queues N] INGRESS EGRESS\n");
        return 2;
    }
    struct device ingress = { .name = argv[i] }, egress = { .name = argv[i + 1] };
    make_device(&ingress);
    make_device(&egress);

    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = stop;
    sigaction(SIGTERM, &action, NULL);
    sigaction(SIGINT, &action, NULL);

    static struct worker workers[MAX_QUEUES];
    for (int q = 0; q < queue_count; q++) {
        workers[q] = (struct worker){ .index = q, .devices = { &ingress, &egress } };
        errno = pthread_create(&workers[q].thread, NULL, run, &workers[q]);
        if (errno != 0) die("starting a thread for", ingress.name);
    }
    printf("tun_loop: ready: %s -> %s and back, %d queue(s)%s%s\n", ingress.name, egress.name, queue_count,
           vnet ? ", vnet headers and offloads" : "", napi ? ", IFF_NAPI" : "");
    fflush(stdout);

    for (int q = 0; q < queue_count; q++) {
        pthread_join(workers[q].thread, NULL);
        printf("tun_loop: queue %d: %s -> %s %llu (dropped %llu), back %llu (dropped %llu)\n", q, ingress.name,
               egress.name, (unsigned long long)workers[q].forwarded[0], (unsigned long long)workers[q].dropped[0],
               (unsigned long long)workers[q].forwarded[1], (unsigned long long)workers[q].dropped[1]);
    }
    return 0;
}
