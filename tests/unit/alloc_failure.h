/* Allocation-failure injection for the unit tests. The unit test binaries are linked with
 * -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=strdup, so every such call made by
 * weir's own code (not by libraries) goes through a counter that can make one of them fail. */
#ifndef WEIR_TESTS_ALLOC_FAILURE_H
#define WEIR_TESTS_ALLOC_FAILURE_H

#include <stdbool.h>

/* The allocation `countdown` calls from now (0: the next one) returns NULL, once. */
void alloc_failure_arm(unsigned long countdown);
void alloc_failure_disarm(void);
/* Whether the armed failure happened since the last arm. */
bool alloc_failure_fired(void);

#endif
