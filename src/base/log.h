/*
 * log.h - one line per event on stderr: "2026-11-23T19:40:00.123Z INFO msg".
 * Thread-safe (one write(2) per line).  The level is process-wide.
 */
#ifndef VSD_LOG_H
#define VSD_LOG_H

enum vsd_log_level { VSD_LOG_ERROR, VSD_LOG_WARN, VSD_LOG_INFO, VSD_LOG_DEBUG };

/* Parse "error|warn|info|debug"; -1 if unknown. */
int vsd_log_parse_level(const char *s);
void vsd_log_set_level(int level);
int vsd_log_enabled(int level);
void vsd_log(int level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define vsd_err(...)   vsd_log(VSD_LOG_ERROR, __VA_ARGS__)
#define vsd_warn(...)  vsd_log(VSD_LOG_WARN, __VA_ARGS__)
#define vsd_info(...)  vsd_log(VSD_LOG_INFO, __VA_ARGS__)
#define vsd_debug(...) \
	do { if (vsd_log_enabled(VSD_LOG_DEBUG)) vsd_log(VSD_LOG_DEBUG, __VA_ARGS__); } while (0)

#endif
