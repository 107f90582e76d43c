/*
 * vs_file.h - small file helpers.
 */
#ifndef VS_FILE_H
#define VS_FILE_H

/* The whole file (< 1 MiB) as a NUL-terminated string, e.g. a PEM
 * certificate.  NULL if it cannot be read.  The caller frees it. */
char *vs_read_file(const char *path);

#endif
