// CTandemBits is a header of inline functions (include/CTandemBits.h); a C target needs one source file.
#include "CTandemBits.h"
