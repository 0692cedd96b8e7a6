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
# shellcheck source-path=SCRIPTDIR source=lib/service.sh
. "$ROOT/scripts/lib/service.sh"
MAIN_CLASS=org.apache.kafka.connect.cli.ConnectDistributed
SVC_NAME=connect
SVC_WHAT="Connect worker"
SVC_MATCH=$MAIN_CLASS

default_state() { printf '%s\n' "${TRIBUTARY_CONNECT_STATE:-${TMPDIR:-/tmp}/tributary-connect-$(id -u)}"; }

find_java() { svc_find_java CONNECT_JAVA 17 "Kafka Connect 4.3"; }

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
    jars=$(svc_jar_dir connect "the Kafka Connect jars are not fetched")
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
    svc_keep_prev_log "$state"

    local jvm_opts=()
    if [[ -n ${CONNECT_JVM_OPTS:-} ]]; then
        read -r -a jvm_opts <<<"$CONNECT_JVM_OPTS"
    fi
    cd "$state"
    exec "$java" "-Xmx$heap" -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
        "-Dlog4j2.configurationFile=$state/log4j2.properties" \
        ${jvm_opts[@]+"${jvm_opts[@]}"} -cp "$jars/*" "$MAIN_CLASS" "$props"
}

cmd_start() {
    [[ $# -le 1 ]] || die "usage: scripts/kafka-connect.sh start [PORT]"
    local port=${1:-8083}
    check_port PORT "$port"
    export CONNECT_REST_PORT=$port
    export CONNECT_BOOTSTRAP=${CONNECT_BOOTSTRAP:-127.0.0.1:9092}
    local state
    state=$(default_state)
    svc_start_checks "$state" CONNECT_REST_PORT
    find_java >/dev/null
    svc_fetch_missing connect "the Kafka Connect jars are missing: fetching them first"
    svc_keep_prev_log "$state"
    svc_launch "$state" "${CONNECT_START_TIMEOUT:-60}" "did not answer on port $port" "Connect worker ready" \
        http_ok "$port" /connectors
    printf 'http://127.0.0.1:%s\n' "$port"
}

cmd_stop() { svc_stop "${CONNECT_STOP_TIMEOUT:-30}" "$@"; }

svc_main "$@"
