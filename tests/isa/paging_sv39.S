/* paging_sv39: Sv39 translation (see paging_body.h for the list of checks). */
#define PT_LEVELS 3
#include "paging_body.h"
