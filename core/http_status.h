/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * HTTP reason phrases, shared by the standalone server and the FastCGI app so both answer
 * with the same ordinary words.
 */
#ifndef HTTUN_CORE_HTTP_STATUS_H
#define HTTUN_CORE_HTTP_STATUS_H

/* Reason phrase of a status code ("Not Found"); "Unknown" for codes it does not know. */
const char *http_status_reason(int status);

#endif
