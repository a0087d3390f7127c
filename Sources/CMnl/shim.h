#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>
#include <linux/fib_rules.h>
// Nexthop objects (RTM_NEWNEXTHOP, struct nhmsg, NHA_*, struct nexthop_grp): Linux 5.3, resilient groups 5.13.
#include <linux/nexthop.h>
