# bench-lib.sh: what the benchmark scripts share (sourced, not run):
# shellcheck shell=bash
# starting Redis servers and vsetd routers on free loopback ports, and
# stopping every one of them on exit.  Needs $out, $redis, $cli, $vsetd
# and say(); vsetd_args (an array) adds options to every vsetd started.
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
	/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# start_redis NAME -> sets port_NAME, pid_NAME
start_redis() {
	local name=$1 port i
	port=$(free_port)
	"$redis" --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
		>"$out/redis-$name.log" 2>&1 &
	pids+=($!)
	eval "pid_$name=$!; port_$name=$port"
	for i in $(seq 100); do
		"$cli" -p "$port" ping >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	say "redis $name did not start"; exit 1
}

# start_vsetd NAME SHARD_PORT... -> sets url_NAME, vpid_NAME
start_vsetd() {
	local name=$1 i url args=()
	shift
	for i in "$@"; do args+=(--shard "127.0.0.1:$i"); done
	"$vsetd" --listen tcp://127.0.0.1:0 "${args[@]}" ${vsetd_args[@]+"${vsetd_args[@]}"} \
		>"$out/vsetd-$name.log" 2>&1 &
	pids+=($!)
	eval "vpid_$name=$!"
	for i in $(seq 100); do
		url=$(grep -o 'listening on tcp://[0-9.]*:[0-9]*' "$out/vsetd-$name.log" | head -1 | sed 's/listening on //') || true
		[ -n "$url" ] && { eval "url_$name=$url"; return 0; }
		sleep 0.1
	done
	say "vsetd $name did not start"; cat "$out/vsetd-$name.log" >&2; exit 1
}

