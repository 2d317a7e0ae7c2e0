/* paging_sv57: Sv57 translation (see paging_body.h for the list of checks). */
#define PT_LEVELS 5
#include "paging_body.h"
