/*
 * vb_agent.h - `vset-bench agent`: a load agent answering a coordinator's
 * surveys (see vset_bench.proto for the PREPARE / RUN / BYE sequence).
 */
#ifndef VB_AGENT_H
#define VB_AGENT_H

/* argv[0] is "agent".  Returns the process exit status. */
int vb_agent_main(int argc, char **argv);

#endif
