/*
 * observe.h - looking at a running vsetd from outside: the stats survey
 * (stats_survey.c, an nng RESPONDENT socket) and Prometheus /metrics
 * (stats_http.c).  Both read the workers' counters through
 * vsd_stats_snapshot() (server.h); main.c starts and stops them.
 */
#ifndef VSD_OBSERVE_H
#define VSD_OBSERVE_H

struct vsd_server;

/* stats_survey.c: answer StatsRequest surveys on a RESPONDENT socket. */
int vsd_survey_start(struct vsd_server *srv, const char *url);
void vsd_survey_stop(struct vsd_server *srv);

/* stats_http.c: serve Prometheus text at http://.../metrics. */
int vsd_metrics_start(struct vsd_server *srv, const char *url);
void vsd_metrics_stop(struct vsd_server *srv);

#endif
