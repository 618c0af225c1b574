/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * Giving freed memory back to the kernel (docs/DESIGN.md "Buffer ownership"). glibc keeps
 * freed memory for reuse, and buffers of 128 KiB and more end up inside its heap (its
 * mmap threshold rises after the first one is freed), where they fragment it: after a
 * burst of traffic an idle tunnel stayed at several times its start size. The pools give
 * buffers back when idle (frameq_trim, the HTTP layers' trim); mem_trim() then hands the
 * free pages to the kernel.
 */
#ifndef HTTUN_CORE_MEM_H
#define HTTUN_CORE_MEM_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Return free heap pages to the kernel (malloc_trim) when force is set or more than
 * MEM_TRIM_FREE_BYTES are free; costs about the length of malloc's free lists. Returns
 * the free bytes malloc held before (0 where the C library cannot tell).
 */
size_t mem_trim(bool force);

#endif
