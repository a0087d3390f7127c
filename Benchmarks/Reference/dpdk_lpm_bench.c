/*
 * dpdk_lpm_bench.c: a reference benchmark of DPDK's longest-prefix-match tables (rte_lpm,
 * rte_lpm6, rte_fib DIR24_8, rte_fib6 TRIE), loaded with the same table and looking up the
 * same addresses as Tandem's benchmarks (Benchmarks/Benchmarks/LPMBenchmarks), so that the
 * DPDK figures quoted in issue 2 can be measured on the machine that measures Tandem.
 *
 * Usage: dpdk_lpm_bench TABLE   (one CIDR prefix per line, IPv4 and IPv6 mixed, gzip or plain)
 * Built and run by tools/bench-dpdk-reference.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#define ALLOW_EXPERIMENTAL_API /* rte_vect_get_max_simd_bitwidth */
#include <rte_eal.h>
#include <rte_fib.h>
#include <rte_fib6.h>
#include <rte_lpm.h>
#include <rte_lpm6.h>
#include <rte_malloc.h>
#include <rte_vect.h>
#include <rte_version.h>

/* The address samples of Fixtures.swift / AddressSamples.swift: the same count and seeds. */
#define SAMPLES 1000000
#define HIT_SEED UINT64_C(0x7A4D0001)     /* hitSeed: addresses inside announced prefixes */
#define UNIFORM_SEED UINT64_C(0x7A4D0002) /* uniformSeed: IPv4 anywhere, IPv6 in 2000::/3 */
#define BATCH 256                          /* batchSize of the Tandem batch benchmarks */
#define RUNS 11                            /* timed runs per figure; the median is reported */
#define TBL8S (1u << 16)                   /* tbl8 groups (v4 uses ~450, rte_lpm6 ~38 K; see rte_fib6) */
#define FIB_MISS UINT64_C(0xFFFFFFF)       /* rte_fib default next hop, i.e. "no route" */

typedef unsigned __int128 u128;
struct v4prefix { uint32_t addr; uint8_t len; };
struct v6prefix { u128 addr; uint8_t bytes[16]; uint8_t len; };  /* bytes: addr for DPDK */

static struct v4prefix *v4; static size_t n4;
static struct v6prefix *v6; static size_t n6;
static uint32_t *a4_hit, *a4_uni;             /* IPv4 samples, host byte order as rte_lpm wants */
static uint8_t (*a6_hit)[16], (*a6_uni)[16];  /* IPv6 samples, network byte order */

/* The tables under test; one exists at a time, so the -m memory budget only holds one. */
static struct rte_lpm *lpm; static struct rte_lpm6 *lpm6;
static struct rte_fib *fib; static struct rte_fib6 *fib6;
static volatile uint64_t sink;  /* every run adds its next hops here, so nothing is elided */

static _Noreturn void die(const char *what) { fprintf(stderr, "dpdk_lpm_bench: %s\n", what); exit(1); }

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

/* SplitMix64 exactly as Sources/TandemDatasets/SplitMix64.swift. */
static uint64_t next(uint64_t *state) {
    uint64_t z = (*state += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

/* Two draws, the first one the high half (Swift's `UInt128(next()) << 64 | UInt128(next())`:
 * separate statements, since C leaves the order of operand evaluation unspecified). */
static u128 next128(uint64_t *state) {
    u128 high = next(state);
    return high << 64 | next(state);
}

static uint32_t mask4(int len) { return len == 0 ? 0 : ~UINT32_C(0) << (32 - len); }
static u128 mask6(int len) { return len == 0 ? 0 : ~(u128)0 << (128 - len); }
static void put6(uint8_t out[16], u128 a) { for (int i = 0; i < 16; i++) out[i] = (uint8_t)(a >> (120 - 8 * i)); }

static void *grow(void *array, size_t count, size_t size) {
    if (count & (count - 1)) return array;  /* reallocate only when count is 0 or a power of two */
    array = realloc(array, (count ? count * 2 : 1024) * size);
    if (!array) die("out of memory");
    return array;
}

/* Reads the table like RouteTableData.load: trims blanks and CR, skips blank and # lines,
 * clears host bits, keeps file order (IPv4 and IPv6 in separate lists). */
static void load_table(const char *path) {
    gzFile file = gzopen(path, "rb");
    if (!file) die("cannot open the table");
    char line[512];
    while (gzgets(file, line, sizeof line)) {
        char *s = line, *e = line + strlen(line);
        while (*s == ' ' || *s == '\t') s++;
        while (e > s && strchr(" \t\r\n", e[-1])) e--;
        *e = 0;
        if (!*s || *s == '#') continue;
        char *slash = strchr(s, '/');
        if (!slash) die("a line is not a CIDR prefix");
        *slash = 0;
        int len = atoi(slash + 1);
        uint8_t bytes[16];
        if (strchr(s, ':')) {
            if (inet_pton(AF_INET6, s, bytes) != 1 || len > 128) die("bad IPv6 prefix");
            u128 a = 0;
            for (int i = 0; i < 16; i++) a = a << 8 | bytes[i];
            v6 = grow(v6, n6, sizeof *v6);
            v6[n6] = (struct v6prefix){ .addr = a & mask6(len), .len = (uint8_t)len };
            put6(v6[n6].bytes, v6[n6].addr);
            n6++;
        } else {
            if (inet_pton(AF_INET, s, bytes) != 1 || len > 32) die("bad IPv4 prefix");
            uint32_t a = (uint32_t)bytes[0] << 24 | bytes[1] << 16 | bytes[2] << 8 | bytes[3];
            v4 = grow(v4, n4, sizeof *v4);
            v4[n4++] = (struct v4prefix){ a & mask4(len), (uint8_t)len };
        }
    }
    gzclose(file);
}

/* AddressSamples.inside / uniformIPv4 / uniformIPv6GlobalUnicast, draw for draw. */
static void make_samples(void) {
    a4_hit = malloc(SAMPLES * sizeof *a4_hit); a4_uni = malloc(SAMPLES * sizeof *a4_uni);
    a6_hit = malloc(SAMPLES * sizeof *a6_hit); a6_uni = malloc(SAMPLES * sizeof *a6_uni);
    if (!a4_hit || !a4_uni || !a6_hit || !a6_uni) die("out of memory");
    uint64_t s1 = HIT_SEED, s2 = UNIFORM_SEED, s3 = HIT_SEED, s4 = UNIFORM_SEED;
    for (size_t i = 0; i < SAMPLES; i++) {
        const struct v4prefix *p = &v4[next(&s1) % n4];
        a4_hit[i] = p->addr | ((uint32_t)next(&s1) & ~mask4(p->len));
        a4_uni[i] = (uint32_t)next(&s2);
        const struct v6prefix *q = &v6[next(&s3) % n6];
        put6(a6_hit[i], q->addr | (next128(&s3) & ~mask6(q->len)));
        put6(a6_uni[i], next128(&s4) >> 3 | (u128)1 << 125);
    }
}

/* Bytes allocated from DPDK's malloc heaps (all sockets); memzones and mempools come from them. */
static double heap_mib(void) {
    size_t total = 0;
    for (unsigned i = 0; i < rte_socket_count(); i++) {
        struct rte_malloc_socket_stats stats;
        if (rte_malloc_get_socket_stats(rte_socket_id_by_idx(i), &stats) == 0) total += stats.heap_allocsz_bytes;
    }
    return total / 1048576.0;
}

/* One run looks up all SAMPLES addresses of a set and returns how many found a route. */
typedef size_t (*run_fn)(const void *addresses);

static size_t lpm_single(const void *p) {
    const uint32_t *a = p; size_t hits = 0; uint64_t sum = 0;
    for (size_t i = 0; i < SAMPLES; i++) {
        uint32_t hop;
        if (rte_lpm_lookup(lpm, a[i], &hop) == 0) { hits++; sum += hop; }
    }
    sink += sum; return hits;
}

static size_t lpm_bulk(const void *p) {
    const uint32_t *a = p; size_t hits = 0; uint64_t sum = 0; uint32_t hops[BATCH];
    for (size_t i = 0; i < SAMPLES; i += BATCH) {
        unsigned n = SAMPLES - i < BATCH ? SAMPLES - i : BATCH;
        rte_lpm_lookup_bulk(lpm, a + i, hops, n);
        for (unsigned j = 0; j < n; j++)
            if (hops[j] & RTE_LPM_LOOKUP_SUCCESS) { hits++; sum += hops[j] & 0xFFFFFF; }
    }
    sink += sum; return hits;
}

/* rte_lpm_lookupx4 (SSE, four addresses per call), the one l3fwd uses. */
static size_t lpm_x4(const void *p) {
    const uint32_t *a = p; size_t hits = 0; uint64_t sum = 0; uint32_t hops[4];
    for (size_t i = 0; i < SAMPLES; i += 4) {  /* SAMPLES is a multiple of 4 */
        rte_lpm_lookupx4(lpm, _mm_loadu_si128((const __m128i *)(a + i)), hops, UINT32_MAX);
        for (int j = 0; j < 4; j++)
            if (hops[j] != UINT32_MAX) { hits++; sum += hops[j]; }
    }
    sink += sum; return hits;
}

static size_t fib_bulk(const void *p) {
    uint32_t *a = (uint32_t *)p; size_t hits = 0; uint64_t sum = 0, hops[BATCH];
    for (size_t i = 0; i < SAMPLES; i += BATCH) {
        int n = SAMPLES - i < BATCH ? (int)(SAMPLES - i) : BATCH;
        rte_fib_lookup_bulk(fib, a + i, hops, n);
        for (int j = 0; j < n; j++)
            if (hops[j] != FIB_MISS) { hits++; sum += hops[j]; }
    }
    sink += sum; return hits;
}

static size_t lpm6_single(const void *p) {
    const uint8_t (*a)[16] = p; size_t hits = 0; uint64_t sum = 0;
    for (size_t i = 0; i < SAMPLES; i++) {
        uint32_t hop;
        if (rte_lpm6_lookup(lpm6, a[i], &hop) == 0) { hits++; sum += hop; }
    }
    sink += sum; return hits;
}

static size_t lpm6_bulk(const void *p) {
    uint8_t (*a)[16] = (uint8_t (*)[16])p; size_t hits = 0; uint64_t sum = 0; int32_t hops[BATCH];
    for (size_t i = 0; i < SAMPLES; i += BATCH) {
        unsigned n = SAMPLES - i < BATCH ? SAMPLES - i : BATCH;
        rte_lpm6_lookup_bulk_func(lpm6, a + i, hops, n);
        for (unsigned j = 0; j < n; j++)
            if (hops[j] >= 0) { hits++; sum += (uint32_t)hops[j]; }
    }
    sink += sum; return hits;
}

static size_t fib6_bulk(const void *p) {
    uint8_t (*a)[16] = (uint8_t (*)[16])p; size_t hits = 0; uint64_t sum = 0, hops[BATCH];
    for (size_t i = 0; i < SAMPLES; i += BATCH) {
        int n = SAMPLES - i < BATCH ? (int)(SAMPLES - i) : BATCH;
        rte_fib6_lookup_bulk(fib6, a + i, hops, n);
        for (int j = 0; j < n; j++)
            if (hops[j] != FIB_MISS) { hits++; sum += hops[j]; }
    }
    sink += sum; return hits;
}

static int by_value(const void *x, const void *y) {
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

/* One untimed warm-up run, then RUNS timed runs; prints the median (and min, max) per lookup. */
static void measure(const char *name, run_fn run, const void *addresses) {
    double ns[RUNS];
    size_t hits = run(addresses);
    for (int r = 0; r < RUNS; r++) {
        double start = now();
        run(addresses);
        ns[r] = (now() - start) * 1e9 / SAMPLES;
    }
    qsort(ns, RUNS, sizeof *ns, by_value);
    printf("%-50s median %5.1f ns (%d runs, min %.1f, max %.1f; hits %.1f%%)\n",
           name, ns[RUNS / 2], RUNS, ns[0], ns[RUNS - 1], 100.0 * hits / SAMPLES);
    fflush(stdout);
}

/* The hit set ("inside"), then the other one. */
static void measure2(const char *api, const char *other, run_fn run, const void *hit, const void *uni) {
    char name[80];
    snprintf(name, sizeof name, "%s inside", api);
    measure(name, run, hit);
    snprintf(name, sizeof name, "%s %s", api, other);
    measure(name, run, uni);
}

/* Creates a table, adds every prefix (index i; `failed` counts the adds refused) and reports
 * the build time, creation (which allocates and zeroes the arrays) included, and the heap the
 * table uses once built, with how much of it the creation preallocated whatever the routes. */
#define BUILD(name, tbl8s, create, count, add) do {                                                \
        double heap0 = heap_mib(), t0 = now();                                                     \
        if (!(create)) die(name ": creation failed");                                              \
        double t1 = now(), heap1 = heap_mib();                                                     \
        failed = 0;                                                                                \
        for (size_t i = 0; i < (count); i++) failed += (add) < 0;                                  \
        printf("%-50s build %.3f s (create %.3f s + %zu adds, %zu refused); %u tbl8s;"             \
               " heap %.1f MiB (%.1f at create)\n", name, now() - t0, t1 - t0, (size_t)(count),   \
               failed, tbl8s, heap_mib() - heap0, heap1 - heap0);                                  \
        fflush(stdout);                                                                            \
    } while (0)

/* Rule / route capacity: the prefixes plus an eighth for updates, and at least `floor`. */
static unsigned capacity(size_t needed, unsigned floor) { return needed + needed / 8 > floor ? needed + needed / 8 : floor; }

int main(int argc, char **argv) {
    if (argc != 2) die("usage: dpdk_lpm_bench TABLE");

    /* Hugepages when enough are free and hugetlbfs is mounted; otherwise plain 4 KiB pages
     * (--no-huge) with a fixed 2 GiB budget. --force-max-simd-bitwidth=512 lets rte_fib and
     * rte_fib6 use their AVX-512 lookups (DPDK caps at 256 bits by default). */
    long free_pages = 0, page_kib = 0; char text[256]; int hugetlbfs = 0;
    FILE *f = fopen("/proc/meminfo", "r");
    while (f && fgets(text, sizeof text, f)) {
        sscanf(text, "HugePages_Free: %ld", &free_pages);
        sscanf(text, "Hugepagesize: %ld", &page_kib);
    }
    if (f) fclose(f);
    if ((f = fopen("/proc/mounts", "r"))) {
        while (fgets(text, sizeof text, f)) hugetlbfs |= strstr(text, " hugetlbfs ") != NULL;
        fclose(f);
    }
    int huge = hugetlbfs && free_pages * page_kib >= 1024 * 1024;
    /* --no-huge implies legacy memory, which --in-memory refuses: --no-shconf instead. */
    char *eal[] = { argv[0], "-l", "0", "--no-pci", "--no-telemetry", "--log-level=lib.*:error",
                    "--force-max-simd-bitwidth=512", huge ? "--in-memory" : "--no-shconf",
                    "--no-huge", "-m", "2048", NULL };
    if (rte_eal_init(huge ? 8 : 11, eal) < 0) die("rte_eal_init failed");
    printf("%s, %s, lcore 0, max SIMD %u bits\n", rte_version(),
           huge ? "hugepages" : "no hugepages (--no-huge -m 2048: 4 KiB pages)", rte_vect_get_max_simd_bitwidth());

    double t = now();
    load_table(argv[1]);
    if (!n4 || !n6) die("the table needs IPv4 and IPv6 prefixes");
    make_samples();
    printf("table %s: %zu IPv4 + %zu IPv6 prefixes (read in %.2f s)\n", argv[1], n4, n6, now() - t);
    printf("samples: %d per set, seeds hit 0x%llX and uniform 0x%llX (as Fixtures.swift); batches of %d;"
           " next hop = index %% 1024\n", SAMPLES, (unsigned long long)HIT_SEED, (unsigned long long)UNIFORM_SEED,
           BATCH);
    fflush(stdout);

    /* rte_lpm (DIR-24-8; rte_lpm_add rejects /0, the table has none) and rte_fib DIR24_8 with
     * 4-byte next hops, whose lookup is measured scalar, then AVX-512 where the CPU has it. */
    size_t failed;
    struct rte_lpm_config lc = { .max_rules = capacity(n4, 1100000), .number_tbl8s = TBL8S };
    BUILD("rte_lpm", TBL8S, lpm = rte_lpm_create("v4", SOCKET_ID_ANY, &lc), n4,
          rte_lpm_add(lpm, v4[i].addr, v4[i].len, i % 1024));
    measure2("rte_lpm lookup", "uniform", lpm_single, a4_hit, a4_uni);
    measure2("rte_lpm lookup_bulk 256", "uniform", lpm_bulk, a4_hit, a4_uni);
    measure2("rte_lpm lookupx4", "uniform", lpm_x4, a4_hit, a4_uni);
    rte_lpm_free(lpm);

    struct rte_fib_conf fc = { .type = RTE_FIB_DIR24_8, .default_nh = FIB_MISS, .max_routes = capacity(n4, 1100000),
                               .dir24_8 = { .nh_sz = RTE_FIB_DIR24_8_4B, .num_tbl8 = TBL8S } };
    BUILD("rte_fib DIR24_8", TBL8S, fib = rte_fib_create("v4", SOCKET_ID_ANY, &fc), n4,
          rte_fib_add(fib, v4[i].addr, v4[i].len, i % 1024));
    if (rte_fib_select_lookup(fib, RTE_FIB_LOOKUP_DIR24_8_SCALAR_MACRO) == 0)
        measure2("rte_fib lookup_bulk 256 scalar", "uniform", fib_bulk, a4_hit, a4_uni);
    if (rte_fib_select_lookup(fib, RTE_FIB_LOOKUP_DIR24_8_VECTOR_AVX512) == 0)
        measure2("rte_fib lookup_bulk 256 AVX-512", "uniform", fib_bulk, a4_hit, a4_uni);
    else printf("rte_fib: no AVX-512 lookup on this CPU or build\n");
    rte_fib_free(fib);

    /* rte_lpm6 (24-bit first level, then 8-bit levels; rules in a hash table) and rte_fib6
     * TRIE with 4-byte next hops, scalar then AVX-512. */
    struct rte_lpm6_config l6c = { .max_rules = capacity(n6, 200000), .number_tbl8s = TBL8S };
    BUILD("rte_lpm6", TBL8S, lpm6 = rte_lpm6_create("v6", SOCKET_ID_ANY, &l6c), n6,
          rte_lpm6_add(lpm6, v6[i].bytes, v6[i].len, i % 1024));
    measure2("rte_lpm6 lookup", "uniform 2000::/3", lpm6_single, a6_hit, a6_uni);
    measure2("rte_lpm6 lookup_bulk_func 256", "uniform 2000::/3", lpm6_bulk, a6_hit, a6_uni);
    rte_lpm6_free(lpm6);

    /* rte_fib6 reserves, per route longer than /24, the tbl8s it could need in the worst case
     * (over 2 for a /48 under a /32): rebuild with twice as many tbl8s until every add fits. */
    for (unsigned tbl8s = TBL8S; ; tbl8s *= 2) {
        struct rte_fib6_conf f6c = { .type = RTE_FIB6_TRIE, .default_nh = FIB_MISS, .max_routes = capacity(n6, 200000),
                                     .trie = { .nh_sz = RTE_FIB6_TRIE_4B, .num_tbl8 = tbl8s } };
        BUILD("rte_fib6 TRIE", tbl8s, fib6 = rte_fib6_create("v6", SOCKET_ID_ANY, &f6c), n6,
              rte_fib6_add(fib6, v6[i].bytes, v6[i].len, i % 1024));
        if (!failed || tbl8s >= (1u << 20)) break;
        rte_fib6_free(fib6);
    }
    if (rte_fib6_select_lookup(fib6, RTE_FIB6_LOOKUP_TRIE_SCALAR) == 0)
        measure2("rte_fib6 lookup_bulk 256 scalar", "uniform 2000::/3", fib6_bulk, a6_hit, a6_uni);
    if (rte_fib6_select_lookup(fib6, RTE_FIB6_LOOKUP_TRIE_VECTOR_AVX512) == 0)
        measure2("rte_fib6 lookup_bulk 256 AVX-512", "uniform 2000::/3", fib6_bulk, a6_hit, a6_uni);
    else printf("rte_fib6: no AVX-512 lookup on this CPU or build\n");
    rte_fib6_free(fib6);

    rte_eal_cleanup();
    return 0;
}
