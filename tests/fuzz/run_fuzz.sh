#!/bin/sh
# run_fuzz.sh - one bounded libFuzzer campaign (docs/fuzzing.md).
#
#   run_fuzz.sh FUZZER SEED_DIR WORK_DIR SECONDS [extra libFuzzer flags]
#
# New inputs go to WORK_DIR/corpus and crash/leak/timeout inputs to
# WORK_DIR/artifacts, never into SEED_DIR (the committed corpus): libFuzzer
# writes into its first corpus directory, so that one is WORK_DIR/corpus.
# Exit status is libFuzzer's: 0 = no crash, leak, timeout or OOM.
set -eu
if [ $# -lt 4 ]; then
	echo "usage: $0 FUZZER SEED_DIR WORK_DIR SECONDS [flags...]" >&2
	exit 2
fi
fuzzer=$1 seeds=$2 work=$3 secs=$4
shift 4
mkdir -p "$work/corpus" "$work/artifacts"
# -timeout: one input taking >10 s is a hang.  -rss_limit_mb and
# -malloc_limit_mb: an input may not make the process grow past 1 GiB
# (bounded memory for inputs claiming huge lengths).
exec "$fuzzer" \
	-max_total_time="$secs" \
	-rss_limit_mb=1024 -malloc_limit_mb=1024 \
	-timeout=10 \
	-print_final_stats=1 \
	-artifact_prefix="$work/artifacts/" \
	"$@" \
	"$work/corpus" "$seeds"
