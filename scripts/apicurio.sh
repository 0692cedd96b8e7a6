#!/usr/bin/env bash
# Runs Apicurio Registry 3.3.3 (a schema registry with a Confluent-compatible API at
# /apis/ccompat/v7) on 127.0.0.1, over http or https, storage in memory.
#
#   scripts/apicurio.sh run STATE_DIR
#       In the foreground: ends with `exec java … -jar quarkus-run.jar` (working directory
#       STATE_DIR), so the caller's child process is the registry JVM itself and SIGTERM stops
#       it. Never downloads anything: run `scripts/fetch-jars.sh apicurio` first. Readiness is
#       the caller's business: GET http://127.0.0.1:APICURIO_MGMT_PORT/health/ready answers 200.
#   scripts/apicurio.sh start [PORT]
#       For people: starts `run` in the background in the state folder
#       ${TRIBUTARY_APICURIO_STATE:-${TMPDIR:-/tmp}/tributary-apicurio-$(id -u)}, http on PORT
#       (default 8080), management on PORT+1 unless APICURIO_MGMT_PORT is set; waits until it is
#       ready (at most APICURIO_START_TIMEOUT seconds, default 90) and prints the Confluent API's
#       URL on stdout: `http://127.0.0.1:PORT/apis/ccompat/v7`, or with TLS
#       `https://127.0.0.1:APICURIO_SSL_PORT/apis/ccompat/v7`. The pid goes to STATE/apicurio.pid.
#       Fetches the registry first (scripts/fetch-jars.sh apicurio) when it is missing.
#   scripts/apicurio.sh stop
#       SIGTERM to the registry of STATE/apicurio.pid, waits for it to exit (at most
#       APICURIO_STOP_TIMEOUT seconds, default 30, then SIGKILL and an error). A no-op when none
#       runs.
#
# Environment (for `run`; `start` sets the first two itself):
#   APICURIO_PORT           http port (required without TLS; with TLS no http port is opened)
#   APICURIO_MGMT_PORT      management port: /health/ready, /health/live, /metrics (required;
#                           plain http; Quarkus would otherwise listen on 0.0.0.0:9000)
#   APICURIO_TLS_DIR        folder made by scripts/test-certs.sh (server.crt, server.key)
#   APICURIO_SSL_PORT       https port; with APICURIO_TLS_DIR it turns https on and plain http off
#                           (quarkus.http.insecure-requests=disabled)
#   APICURIO_COMPATIBILITY  global compatibility rule (default BACKWARD; Apicurio's own is NONE)
#   APICURIO_HEAP           -Xmx (default 256m)
#   APICURIO_JVM_OPTS       extra JVM options, split on spaces (e.g. more -Dquarkus… settings)
#   APICURIO_LOG_STDOUT=1   also log to stdout
#   APICURIO_JAVA           java to use; it needs Java 21 or newer. Default: $JAVA_HOME/bin/java
#                           when that is 21+, else the newest JDK/JRE 21+ under /usr/lib/jvm.
#
# Files in STATE_DIR: apicurio.log (the registry's log, rotated by Quarkus); with `start` also
# apicurio.pid and apicurio.out (the JVM's stdout and stderr).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SELF=$ROOT/scripts/apicurio.sh
JVM_DIR=${TRIBUTARY_JVM_DIR:-/usr/lib/jvm}

die() {
    printf 'error: %s\n' "$*" >&2
    exit 1
}
note() { printf '%s\n' "$*" >&2; }

usage() {
    sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' "${BASH_SOURCE[0]}" >&2
}

default_state() { printf '%s\n' "${TRIBUTARY_APICURIO_STATE:-${TMPDIR:-/tmp}/tributary-apicurio-$(id -u)}"; }

check_port() { # NAME VALUE
    if [[ ! $2 =~ ^[0-9]{1,5}$ ]] || ((10#$2 < 1 || 10#$2 > 65535)); then
        die "$1 must be a TCP port number (got '$2')"
    fi
}

# 0 when something accepts TCP connections on 127.0.0.1:$1.
port_open() {
    # shellcheck disable=SC2016 # expanded by the inner bash
    timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"' _ "$1" 2>/dev/null
}

# 0 when GET http://127.0.0.1:$1$2 answers 200.
http_ok() {
    local code
    if command -v curl >/dev/null 2>&1; then
        code=$(curl -s -o /dev/null -m 2 -w '%{http_code}' "http://127.0.0.1:$1$2" 2>/dev/null) || return 1
    else
        # shellcheck disable=SC2016 # expanded by the inner bash
        code=$(timeout 3 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"
            printf "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n" "$2" >&3
            head -n 1 <&3' _ "$1" "$2" 2>/dev/null | cut -d' ' -f2) || return 1
    fi
    [[ $code == 200 ]]
}

# The major version of the java $1 (empty when it does not run).
java_major() {
    "$1" -version 2>&1 | sed -n '1s/^[^"]*"\([0-9]*\).*/\1/p'
}

# The java to run (21 or newer), on stdout.
find_java() {
    local java version
    if [[ -n ${APICURIO_JAVA:-} ]]; then
        [[ -x $APICURIO_JAVA ]] || die "APICURIO_JAVA='$APICURIO_JAVA' is not an executable file"
        version=$(java_major "$APICURIO_JAVA")
        if [[ -z $version ]] || ((version < 21)); then
            die "APICURIO_JAVA=$APICURIO_JAVA is Java ${version:-?}; Apicurio Registry 3 needs Java 21 or newer"
        fi
        printf '%s\n' "$APICURIO_JAVA"
        return 0
    fi
    if [[ -n ${JAVA_HOME:-} && -x $JAVA_HOME/bin/java ]]; then
        version=$(java_major "$JAVA_HOME/bin/java")
        if [[ -n $version ]] && ((version >= 21)); then
            printf '%s\n' "$JAVA_HOME/bin/java"
            return 0
        fi
    fi
    local best='' best_version=0 candidate real seen=" "
    for candidate in "$JVM_DIR"/*/bin/java; do
        [[ -x $candidate ]] || continue
        real=$(readlink -f "$candidate")
        [[ $seen == *" $real "* ]] && continue
        seen+="$real "
        version=$(java_major "$real")
        if [[ -n $version ]] && ((version >= 21 && version > best_version)); then
            best=$real
            best_version=$version
        fi
    done
    [[ -n $best ]] ||
        die "Apicurio Registry 3 needs Java 21 or newer and none was found (APICURIO_JAVA, JAVA_HOME, $JVM_DIR/*): install a JDK 21+ there or point APICURIO_JAVA at its bin/java"
    printf '%s\n' "$best"
}

# The unpacked registry (the folder of quarkus-run.jar), on stdout; never downloads.
find_app() {
    local dir
    dir=$("$ROOT/scripts/fetch-jars.sh" --dir apicurio 2>/dev/null) ||
        die "Apicurio Registry is not fetched: run scripts/fetch-jars.sh apicurio"
    [[ -f $dir/quarkus-run.jar ]] || die "$dir has no quarkus-run.jar: remove it and run scripts/fetch-jars.sh apicurio"
    printf '%s\n' "$dir"
}

cmd_run() {
    [[ $# -eq 1 && -n $1 ]] || die "usage: scripts/apicurio.sh run STATE_DIR"
    local state=$1
    [[ -n ${APICURIO_MGMT_PORT:-} ]] || die "APICURIO_MGMT_PORT is not set (the management port: /health/ready)"
    check_port APICURIO_MGMT_PORT "$APICURIO_MGMT_PORT"
    local http_opts=()
    if [[ -n ${APICURIO_PORT:-} ]]; then
        check_port APICURIO_PORT "$APICURIO_PORT"
        http_opts=("-Dquarkus.http.port=$APICURIO_PORT")
    elif [[ -z ${APICURIO_TLS_DIR:-} ]]; then
        die "APICURIO_PORT is not set (the http port)"
    fi
    local heap=${APICURIO_HEAP:-256m}
    [[ $heap =~ ^[0-9]+[kKmMgG]?$ ]] || die "APICURIO_HEAP must look like 256m (got '$heap')"
    local compat=${APICURIO_COMPATIBILITY:-BACKWARD}
    case $compat in
        NONE | BACKWARD | BACKWARD_TRANSITIVE | FORWARD | FORWARD_TRANSITIVE | FULL | FULL_TRANSITIVE) ;;
        *) die "APICURIO_COMPATIBILITY must be NONE, BACKWARD, BACKWARD_TRANSITIVE, FORWARD, FORWARD_TRANSITIVE, FULL or FULL_TRANSITIVE (got '$compat')" ;;
    esac

    local tls_opts=()
    if [[ -n ${APICURIO_TLS_DIR:-} || -n ${APICURIO_SSL_PORT:-} ]]; then
        [[ -n ${APICURIO_TLS_DIR:-} ]] || die "APICURIO_SSL_PORT is set but APICURIO_TLS_DIR is not: make one with scripts/test-certs.sh DIR"
        [[ -n ${APICURIO_SSL_PORT:-} ]] || die "APICURIO_TLS_DIR is set but APICURIO_SSL_PORT is not"
        check_port APICURIO_SSL_PORT "$APICURIO_SSL_PORT"
        local tls f
        tls=$(cd "$APICURIO_TLS_DIR" 2>/dev/null && pwd) || die "APICURIO_TLS_DIR=$APICURIO_TLS_DIR is not a folder"
        for f in server.crt server.key; do
            [[ -s $tls/$f ]] || die "APICURIO_TLS_DIR=$tls has no $f: make it with scripts/test-certs.sh $tls"
        done
        tls_opts=("-Dquarkus.http.ssl-port=$APICURIO_SSL_PORT"
            "-Dquarkus.http.ssl.certificate.files=$tls/server.crt"
            "-Dquarkus.http.ssl.certificate.key-files=$tls/server.key"
            "-Dquarkus.http.insecure-requests=disabled")
    fi

    local java app
    java=$(find_java)
    app=$(find_app)
    mkdir -p "$state" || die "cannot create $state"
    state=$(cd "$state" && pwd)

    local console=false
    [[ ${APICURIO_LOG_STDOUT:-} == 1 ]] && console=true
    local jvm_opts=()
    if [[ -n ${APICURIO_JVM_OPTS:-} ]]; then
        read -r -a jvm_opts <<<"$APICURIO_JVM_OPTS"
    fi
    cd "$state"
    exec "$java" "-Xmx$heap" -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
        -Dquarkus.http.host=127.0.0.1 ${http_opts[@]+"${http_opts[@]}"} \
        -Dquarkus.management.host=127.0.0.1 "-Dquarkus.management.port=$APICURIO_MGMT_PORT" \
        "-Dapicurio.rules.global.compatibility=$compat" \
        ${tls_opts[@]+"${tls_opts[@]}"} \
        -Dquarkus.log.file.enabled=true "-Dquarkus.log.file.path=$state/apicurio.log" \
        -Dquarkus.log.file.json.enabled=false \
        "-Dquarkus.log.console.enabled=$console" \
        ${jvm_opts[@]+"${jvm_opts[@]}"} -jar "$app/quarkus-run.jar"
}

# 0 when PID is a live registry JVM (and not some other process that got the pid later).
is_registry() {
    local pid=$1
    [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null &&
        tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'quarkus-run\.jar'
}

# 0 while PID exists and is not a zombie (an exited child of this shell not yet reaped).
alive() {
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    stat=${stat##*) }
    [[ ${stat:0:1} != Z ]]
}

# SIGTERM, then wait up to $2 seconds; SIGKILL and fail after that.
stop_pid() {
    local pid=$1 timeout=$2 deadline
    kill -TERM "$pid" 2>/dev/null || return 0
    deadline=$((SECONDS + timeout))
    while alive "$pid"; do
        if ((SECONDS >= deadline)); then
            kill -KILL "$pid" 2>/dev/null || true
            return 1
        fi
        sleep 0.1
    done
}

# Seconds since $1 (an EPOCHREALTIME value), with one decimal.
elapsed() {
    local now=${EPOCHREALTIME/./} then=${1/./}
    local ms=$(((now - then) / 1000))
    printf '%d.%d' $((ms / 1000)) $((ms % 1000 / 100))
}

show_logs() {
    local state=$1
    if [[ -s $state/apicurio.out ]]; then
        note "--- last lines of $state/apicurio.out ---"
        tail -n 15 "$state/apicurio.out" >&2
    fi
    if [[ -s $state/apicurio.log ]]; then
        note "--- last 30 lines of $state/apicurio.log ---"
        tail -n 30 "$state/apicurio.log" >&2
    fi
}

cmd_start() {
    [[ $# -le 1 ]] || die "usage: scripts/apicurio.sh start [PORT]"
    local port=${1:-8080}
    check_port PORT "$port"
    export APICURIO_PORT=$port
    export APICURIO_MGMT_PORT=${APICURIO_MGMT_PORT:-$((port + 1))}
    check_port APICURIO_MGMT_PORT "$APICURIO_MGMT_PORT"
    local state pid
    state=$(default_state)
    mkdir -p "$state" || die "cannot create $state"
    if [[ -f $state/apicurio.pid ]]; then
        pid=$(<"$state/apicurio.pid")
        if is_registry "$pid"; then
            die "a registry from $state is already running (pid $pid): scripts/apicurio.sh stop first"
        fi
        rm -f "$state/apicurio.pid"
    fi
    local var p
    for var in APICURIO_PORT APICURIO_MGMT_PORT APICURIO_SSL_PORT; do
        p=${!var:-}
        [[ -z $p ]] && continue
        check_port "$var" "$p"
        ! port_open "$p" || die "port $p ($var) on 127.0.0.1 is already in use"
    done
    find_java >/dev/null
    if ! "$ROOT/scripts/fetch-jars.sh" --dir apicurio >/dev/null 2>&1; then
        note "Apicurio Registry is missing: fetching it first (scripts/fetch-jars.sh apicurio)"
        "$ROOT/scripts/fetch-jars.sh" apicurio >/dev/null
    fi
    local url=http://127.0.0.1:$port/apis/ccompat/v7 main_port=$port
    if [[ -n ${APICURIO_TLS_DIR:-} && -n ${APICURIO_SSL_PORT:-} ]]; then
        url=https://127.0.0.1:$APICURIO_SSL_PORT/apis/ccompat/v7
        main_port=$APICURIO_SSL_PORT
    fi

    local start=$EPOCHREALTIME timeout=${APICURIO_START_TIMEOUT:-90}
    nohup "$SELF" run "$state" >"$state/apicurio.out" 2>&1 </dev/null &
    pid=$!
    printf '%s\n' "$pid" >"$state/apicurio.pid"
    # shellcheck disable=SC2064 # the pid is fixed now
    trap "kill -TERM $pid 2>/dev/null; rm -f '$state/apicurio.pid'; exit 130" INT TERM

    local deadline=$((SECONDS + timeout))
    until http_ok "$APICURIO_MGMT_PORT" /health/ready && port_open "$main_port"; do
        if ! kill -0 "$pid" 2>/dev/null; then
            local rc=0
            wait "$pid" || rc=$?
            rm -f "$state/apicurio.pid"
            show_logs "$state"
            die "the registry exited during start-up (exit status $rc); see $state/apicurio.log"
        fi
        if ((SECONDS >= deadline)); then
            show_logs "$state"
            stop_pid "$pid" 10 || true
            rm -f "$state/apicurio.pid"
            die "the registry was not ready within $timeout s (it was stopped); see $state/apicurio.log"
        fi
        sleep 0.2
    done
    trap - INT TERM
    note "registry ready in $(elapsed "$start") s: pid $pid, state $state, log $state/apicurio.log"
    printf '%s\n' "$url"
}

cmd_stop() {
    [[ $# -eq 0 ]] || die "usage: scripts/apicurio.sh stop"
    local state pid start
    state=$(default_state)
    if [[ ! -f $state/apicurio.pid ]]; then
        note "no registry running (no $state/apicurio.pid)"
        return 0
    fi
    pid=$(<"$state/apicurio.pid")
    if ! is_registry "$pid"; then
        rm -f "$state/apicurio.pid"
        note "no registry running (stale pid file $state/apicurio.pid removed)"
        return 0
    fi
    start=$EPOCHREALTIME
    local timeout=${APICURIO_STOP_TIMEOUT:-30}
    if ! stop_pid "$pid" "$timeout"; then
        rm -f "$state/apicurio.pid"
        die "the registry (pid $pid) did not stop within $timeout s after SIGTERM; it was killed (SIGKILL)"
    fi
    rm -f "$state/apicurio.pid"
    note "registry stopped (pid $pid) in $(elapsed "$start") s"
}

main() {
    local cmd=${1:-}
    [[ $# -gt 0 ]] && shift
    case $cmd in
        run) cmd_run "$@" ;;
        start) cmd_start "$@" ;;
        stop) cmd_stop "$@" ;;
        -h | --help | help)
            usage
            ;;
        *)
            usage
            die "unknown command '${cmd}' (expected run, start or stop)"
            ;;
    esac
}

main "$@"
