// CTandemBits is mostly a header of inline functions (include/CTandemBits.h); what is here runs once.
#include "CTandemBits.h"

int CTandemBits_cpuHasPopulationCount(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("popcnt") ? 1 : 0;
#else
    return 1;
#endif
}
