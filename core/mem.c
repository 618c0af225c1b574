/* SPDX-License-Identifier: MIT OR Apache-2.0 */
#include "core/mem.h"
#include "core/limits.h"

#include <stdlib.h> /* defines __GLIBC__ on glibc */
#ifdef __GLIBC__
#include <malloc.h>
#endif

size_t mem_trim(bool force)
{
#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 33)
	struct mallinfo2 mi = mallinfo2();

	if (force || mi.fordblks > MEM_TRIM_FREE_BYTES)
		malloc_trim(0);
	return mi.fordblks;
#elif defined(__GLIBC__)
	malloc_trim(0);
	(void)force;
	return 0;
#else
	(void)force;
	return 0;
#endif
}
