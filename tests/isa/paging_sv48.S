/* paging_sv48: Sv48 translation (see paging_body.h for the list of checks). */
#define PT_LEVELS 4
#include "paging_body.h"
