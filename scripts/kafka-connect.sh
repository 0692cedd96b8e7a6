#!/usr/bin/env bash
# Runs a Kafka Connect 4.3.0 worker in distributed mode on 127.0.0.1, as a reference next to
# which the project's own runtime is tested (the test plugins, e.g.
# org.apache.kafka.connect.tools.VerifiableSourceConnector, are on its class path).
#
#   scripts/kafka-connect.sh run STATE_DIR
#       In the foreground: writes STATE_DIR/worker.properties, then ends with `exec java …
#       org.apache.kafka.connect.cli.ConnectDistributed`, so the caller's child process is the
#       worker JVM itself and SIGTERM stops it. Never downloads anything: run
#       `scripts/fetch-jars.sh connect` first. Readiness is the caller's business (the REST API
#       answering GET /connectors).
#   scripts/kafka-connect.sh start [PORT]
#       For people: starts `run` in the background in the state folder
#       ${TRIBUTARY_CONNECT_STATE:-${TMPDIR:-/tmp}/tributary-connect-$(id -u)} with the REST API on
#       PORT (default 8083) and CONNECT_BOOTSTRAP defaulting to 127.0.0.1:9092; waits until
#       GET /connectors answers (at most CONNECT_START_TIMEOUT seconds, default 60) and prints
#       `http://127.0.0.1:PORT` on stdout. The pid goes to STATE/connect.pid. Fetches the jars
#       first (scripts/fetch-jars.sh connect) when they are missing.
#   scripts/kafka-connect.sh stop
#       SIGTERM to the worker of STATE/connect.pid, waits for it to exit (at most
#       CONNECT_STOP_TIMEOUT seconds, default 30, then SIGKILL and an error). A no-op when none runs.
#
# Environment (for `run`; `start` sets the first two itself):
#   CONNECT_BOOTSTRAP        bootstrap.servers of the Kafka cluster (required)
#   CONNECT_REST_PORT        REST API port, listeners=http://127.0.0.1:PORT (required)
#   CONNECT_GROUP            group.id of the worker (default connect-cluster)
#   CONNECT_OFFSETS_TOPIC    offset.storage.topic (default connect-offsets)
#   CONNECT_CONFIGS_TOPIC    config.storage.topic (default connect-configs)
#   CONNECT_STATUS_TOPIC     status.storage.topic (default connect-status)
#   CONNECT_KEY_CONVERTER    key.converter (default org.apache.kafka.connect.json.JsonConverter)
#   CONNECT_VALUE_CONVERTER  value.converter (default org.apache.kafka.connect.json.JsonConverter)
#   CONNECT_SCHEMAS_ENABLE   key/value.converter.schemas.enable (default true, as in Connect)
#   CONNECT_HEAP             -Xmx of the worker (default 256m)
#   CONNECT_EXTRA_PROPERTIES lines appended to worker.properties (a repeated key wins), e.g.
#                            security settings for a TLS broker
#   CONNECT_JVM_OPTS         extra JVM options, split on spaces
#   CONNECT_LOG_STDOUT=1     also copy the worker log to stdout
#   CONNECT_JAVA             java to use (default $JAVA_HOME/bin/java, else java on PATH; 17+)
# Fixed: plugin.discovery=service_load (class path only, no plugin.path scan),
# scheduled.rebalance.max.delay.ms=0, replication factor 1 for the three storage topics (Connect's
# default partition counts: offsets 25, status 5), offset.flush.interval.ms=1000. Connect's
# internal records (offsets, configs, status) are always JSON without schemas.
#
# Files in STATE_DIR: worker.properties, log4j2.properties, connect.log (the worker's log; the
# previous run's is kept as connect.log.prev); with `start` also connect.pid and connect.out (the
# JVM's stdout and stderr: the test connectors print a line per record there).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SELF=$ROOT/scripts/kafka-connect.sh
MAIN_CLASS=org.apache.kafka.connect.cli.ConnectDistributed

die() {
    printf 'error: %s\n' "$*" >&2
    exit 1
}
note() { printf '%s\n' "$*" >&2; }

usage() {
    sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' "${BASH_SOURCE[0]}" >&2
}

default_state() { printf '%s\n' "${TRIBUTARY_CONNECT_STATE:-${TMPDIR:-/tmp}/tributary-connect-$(id -u)}"; }

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

# The java to run (17 or newer), on stdout.
find_java() {
    local java
    if [[ -n ${CONNECT_JAVA:-} ]]; then
        java=$CONNECT_JAVA
    elif [[ -n ${JAVA_HOME:-} && -x $JAVA_HOME/bin/java ]]; then
        java=$JAVA_HOME/bin/java
    else
        java=$(command -v java 2>/dev/null) ||
            die "java not found: install Java 17+ (Debian package: openjdk-17-jre-headless) or set CONNECT_JAVA"
    fi
    [[ -x $java ]] || die "java '$java' is not an executable file"
    local version
    version=$("$java" -version 2>&1 | sed -n '1s/^[^"]*"\([0-9]*\).*/\1/p')
    [[ -n $version ]] || die "could not tell the version of $java"
    ((version >= 17)) || die "$java is Java $version; Kafka Connect 4.3 needs Java 17 or newer"
    printf '%s\n' "$java"
}

# The folder of the Connect jars, on stdout; never downloads.
find_jars() {
    local dir
    dir=$("$ROOT/scripts/fetch-jars.sh" --dir connect 2>/dev/null) ||
        die "the Kafka Connect jars are not fetched: run scripts/fetch-jars.sh connect"
    printf '%s\n' "$dir"
}

cmd_run() {
    [[ $# -eq 1 && -n $1 ]] || die "usage: scripts/kafka-connect.sh run STATE_DIR"
    local state=$1
    [[ -n ${CONNECT_BOOTSTRAP:-} ]] || die "CONNECT_BOOTSTRAP is not set (bootstrap.servers of the Kafka cluster, e.g. 127.0.0.1:9092)"
    [[ -n ${CONNECT_REST_PORT:-} ]] || die "CONNECT_REST_PORT is not set (the port of the REST API)"
    check_port CONNECT_REST_PORT "$CONNECT_REST_PORT"
    local heap=${CONNECT_HEAP:-256m}
    [[ $heap =~ ^[0-9]+[kKmMgG]?$ ]] || die "CONNECT_HEAP must look like 256m (got '$heap')"
    local schemas=${CONNECT_SCHEMAS_ENABLE:-true}
    [[ $schemas == true || $schemas == false ]] || die "CONNECT_SCHEMAS_ENABLE must be true or false (got '$schemas')"

    local java jars
    java=$(find_java)
    jars=$(find_jars)
    mkdir -p "$state" || die "cannot create $state"
    state=$(cd "$state" && pwd)

    local json=org.apache.kafka.connect.json.JsonConverter port=$CONNECT_REST_PORT
    local props=$state/worker.properties
    {
        echo "# Written by scripts/kafka-connect.sh on every run; edits are lost."
        echo "bootstrap.servers=$CONNECT_BOOTSTRAP"
        echo "group.id=${CONNECT_GROUP:-connect-cluster}"
        echo "key.converter=${CONNECT_KEY_CONVERTER:-$json}"
        echo "value.converter=${CONNECT_VALUE_CONVERTER:-$json}"
        echo "key.converter.schemas.enable=$schemas"
        echo "value.converter.schemas.enable=$schemas"
        echo "offset.storage.topic=${CONNECT_OFFSETS_TOPIC:-connect-offsets}"
        echo "offset.storage.replication.factor=1"
        echo "config.storage.topic=${CONNECT_CONFIGS_TOPIC:-connect-configs}"
        echo "config.storage.replication.factor=1"
        echo "status.storage.topic=${CONNECT_STATUS_TOPIC:-connect-status}"
        echo "status.storage.replication.factor=1"
        echo "offset.flush.interval.ms=1000"
        echo "listeners=http://127.0.0.1:$port"
        echo "rest.advertised.host.name=127.0.0.1"
        echo "rest.advertised.port=$port"
        echo "rest.advertised.listener=http"
        echo "plugin.discovery=service_load"
        echo "scheduled.rebalance.max.delay.ms=0"
        if [[ -n ${CONNECT_EXTRA_PROPERTIES:-} ]]; then
            echo "# CONNECT_EXTRA_PROPERTIES"
            printf '%s\n' "$CONNECT_EXTRA_PROPERTIES"
        fi
    } >"$props"

    {
        echo "status = warn"
        echo "name = tributary-kafka-connect"
        echo "appender.file.type = File"
        echo "appender.file.name = FILE"
        echo "appender.file.fileName = $state/connect.log"
        echo "appender.file.append = true"
        echo "appender.file.layout.type = PatternLayout"
        echo "appender.file.layout.pattern = [%d] %p %X{connector.context}%m (%c)%n"
        echo "rootLogger.level = INFO"
        echo "rootLogger.appenderRef.file.ref = FILE"
        if [[ ${CONNECT_LOG_STDOUT:-} == 1 ]]; then
            echo "appender.out.type = Console"
            echo "appender.out.name = STDOUT"
            echo "appender.out.target = SYSTEM_OUT"
            echo "appender.out.layout.type = PatternLayout"
            echo "appender.out.layout.pattern = [%d] %p %X{connector.context}%m (%c)%n"
            echo "rootLogger.appenderRef.out.ref = STDOUT"
        fi
    } >"$state/log4j2.properties"
    if [[ -f $state/connect.log ]]; then
        mv -f "$state/connect.log" "$state/connect.log.prev"
    fi

    local jvm_opts=()
    if [[ -n ${CONNECT_JVM_OPTS:-} ]]; then
        read -r -a jvm_opts <<<"$CONNECT_JVM_OPTS"
    fi
    cd "$state"
    exec "$java" "-Xmx$heap" -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
        "-Dlog4j2.configurationFile=$state/log4j2.properties" \
        ${jvm_opts[@]+"${jvm_opts[@]}"} -cp "$jars/*" "$MAIN_CLASS" "$props"
}

# 0 when PID is a live worker JVM (and not some other process that got the pid later).
is_worker() {
    local pid=$1
    [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null &&
        tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "$MAIN_CLASS"
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
    if [[ -s $state/connect.out ]]; then
        note "--- last lines of $state/connect.out ---"
        tail -n 15 "$state/connect.out" >&2
    fi
    if [[ -s $state/connect.log ]]; then
        note "--- last 30 lines of $state/connect.log ---"
        tail -n 30 "$state/connect.log" >&2
    fi
}

cmd_start() {
    [[ $# -le 1 ]] || die "usage: scripts/kafka-connect.sh start [PORT]"
    local port=${1:-8083}
    check_port PORT "$port"
    export CONNECT_REST_PORT=$port
    export CONNECT_BOOTSTRAP=${CONNECT_BOOTSTRAP:-127.0.0.1:9092}
    local state pid
    state=$(default_state)
    mkdir -p "$state" || die "cannot create $state"
    if [[ -f $state/connect.pid ]]; then
        pid=$(<"$state/connect.pid")
        if is_worker "$pid"; then
            die "a Connect worker from $state is already running (pid $pid): scripts/kafka-connect.sh stop first"
        fi
        rm -f "$state/connect.pid"
    fi
    ! port_open "$port" || die "port $port (CONNECT_REST_PORT) on 127.0.0.1 is already in use"
    find_java >/dev/null
    if ! "$ROOT/scripts/fetch-jars.sh" --dir connect >/dev/null 2>&1; then
        note "the Kafka Connect jars are missing: fetching them first (scripts/fetch-jars.sh connect)"
        "$ROOT/scripts/fetch-jars.sh" connect >/dev/null
    fi

    if [[ -f $state/connect.log ]]; then
        mv -f "$state/connect.log" "$state/connect.log.prev"
    fi
    local start=$EPOCHREALTIME timeout=${CONNECT_START_TIMEOUT:-60}
    nohup "$SELF" run "$state" >"$state/connect.out" 2>&1 </dev/null &
    pid=$!
    printf '%s\n' "$pid" >"$state/connect.pid"
    # shellcheck disable=SC2064 # the pid is fixed now
    trap "kill -TERM $pid 2>/dev/null; rm -f '$state/connect.pid'; exit 130" INT TERM

    local deadline=$((SECONDS + timeout))
    while ! http_ok "$port" /connectors; do
        if ! kill -0 "$pid" 2>/dev/null; then
            local rc=0
            wait "$pid" || rc=$?
            rm -f "$state/connect.pid"
            show_logs "$state"
            die "the Connect worker exited during start-up (exit status $rc); see $state/connect.log"
        fi
        if ((SECONDS >= deadline)); then
            show_logs "$state"
            stop_pid "$pid" 10 || true
            rm -f "$state/connect.pid"
            die "the Connect worker did not answer on port $port within $timeout s (it was stopped); see $state/connect.log"
        fi
        sleep 0.2
    done
    trap - INT TERM
    note "Connect worker ready in $(elapsed "$start") s: pid $pid, state $state, log $state/connect.log"
    printf 'http://127.0.0.1:%s\n' "$port"
}

cmd_stop() {
    [[ $# -eq 0 ]] || die "usage: scripts/kafka-connect.sh stop"
    local state pid start
    state=$(default_state)
    if [[ ! -f $state/connect.pid ]]; then
        note "no Connect worker running (no $state/connect.pid)"
        return 0
    fi
    pid=$(<"$state/connect.pid")
    if ! is_worker "$pid"; then
        rm -f "$state/connect.pid"
        note "no Connect worker running (stale pid file $state/connect.pid removed)"
        return 0
    fi
    start=$EPOCHREALTIME
    local timeout=${CONNECT_STOP_TIMEOUT:-30}
    if ! stop_pid "$pid" "$timeout"; then
        rm -f "$state/connect.pid"
        die "the Connect worker (pid $pid) did not stop within $timeout s after SIGTERM; it was killed (SIGKILL)"
    fi
    rm -f "$state/connect.pid"
    note "Connect worker stopped (pid $pid) in $(elapsed "$start") s"
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
