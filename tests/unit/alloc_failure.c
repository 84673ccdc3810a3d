/* Allocation-failure injection (alloc_failure.h): the --wrap targets of the linker. */
#include "alloc_failure.h"

#include <stddef.h>
#include <string.h>

void *__real_malloc(size_t size);
void *__real_calloc(size_t count, size_t size);
void *__real_realloc(void *pointer, size_t size);
char *__real_strdup(const char *text);
void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t count, size_t size);
void *__wrap_realloc(void *pointer, size_t size);
char *__wrap_strdup(const char *text);

static bool armed, fired;
static unsigned long remaining;

void alloc_failure_arm(unsigned long countdown)
{
	remaining = countdown;
	fired = false;
	armed = true;
}

void alloc_failure_disarm(void)
{
	armed = false;
}

bool alloc_failure_fired(void)
{
	return fired;
}

/* Whether this allocation is the one to fail. */
static bool failing_now(void)
{
	if (!armed)
		return false;
	if (remaining > 0) {
		remaining--;
		return false;
	}
	armed = false;
	fired = true;
	return true;
}

void *__wrap_malloc(size_t size)
{
	return failing_now() ? NULL : __real_malloc(size);
}

void *__wrap_calloc(size_t count, size_t size)
{
	return failing_now() ? NULL : __real_calloc(count, size);
}

void *__wrap_realloc(void *pointer, size_t size)
{
	return failing_now() ? NULL : __real_realloc(pointer, size);
}

char *__wrap_strdup(const char *text)
{
	return failing_now() ? NULL : __real_strdup(text);
}
