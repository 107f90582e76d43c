/*
 * vb_floor.h - `vset-bench floor`: the fixed cost of one request through
 * nng and through vsetd, with no shard work, so the benchmarks can say how
 * much of vsetd's overhead is the RPC hop itself (docs/benchmarks.md).
 */
#ifndef VB_FLOOR_H
#define VB_FLOOR_H

/* argv[0] is "floor".  Returns the process exit status. */
int vb_floor_main(int argc, char **argv);

#endif
