#!/usr/bin/env bash
# Runs a single-node Apache Kafka 4.4.0 broker (KRaft: broker and controller in one JVM) on
# 127.0.0.1, for tests and for trying things by hand.
#
#   scripts/kafka-broker.sh run STATE_DIR
#       In the foreground: writes STATE_DIR/server.properties, formats STATE_DIR/data on first use
#       (a later `run` on the same STATE_DIR keeps the data), then ends with `exec java`, so the
#       caller's child process is the broker JVM itself and SIGTERM stops it cleanly.
#       Never downloads anything: run `scripts/fetch-jars.sh kafka` first.
#       Readiness is the caller's business (e.g. a metadata request, or the line
#       "Kafka Server started" in STATE_DIR/broker.log: each run moves the previous broker.log to
#       broker.log.prev, but only once it gets going, so a caller that watches the log across a
#       restart should move or delete broker.log itself before launching). After SIGTERM the JVM
#       exits with status 143.
#   scripts/kafka-broker.sh start [PORT]
#       For people: starts `run` in the background in the state folder
#       ${TRIBUTARY_KAFKA_STATE:-${TMPDIR:-/tmp}/tributary-kafka-$(id -u)}, PLAINTEXT on PORT
#       (default 9092), controller on PORT+1 unless KAFKA_CONTROLLER_PORT is set; waits until
#       the broker is up (at most KAFKA_START_TIMEOUT seconds, default 60) and prints
#       `127.0.0.1:PORT` on stdout. The pid goes to STATE/broker.pid. Fetches the jars first
#       (scripts/fetch-jars.sh kafka) when they are missing. The other KAFKA_* variables below
#       apply as for `run`.
#   scripts/kafka-broker.sh stop
#       Sends SIGTERM to the broker of STATE/broker.pid and waits for it to exit (at most
#       KAFKA_STOP_TIMEOUT seconds, default 30, then SIGKILL and an error). A no-op when none runs.
#
# Environment (for `run`; `start` sets the first two itself):
#   KAFKA_PORT             PLAINTEXT listener port (required)
#   KAFKA_CONTROLLER_PORT  KRaft controller listener port, plaintext (required; keep it the same
#                          when running again on the same STATE_DIR: the quorum remembers it)
#   KAFKA_SSL_PORT         optional SSL listener (server certificate only)
#   KAFKA_SASL_SSL_PORT    optional SASL_SSL listener, mechanisms PLAIN and SCRAM-SHA-512 only
#                          (SCRAM-SHA-256 is deliberately not enabled)
#   KAFKA_MTLS_PORT        optional SSL listener that requires a client certificate
#                          (listener name MTLS, ssl.client.auth=required)
#   KAFKA_TLS_DIR          folder made by scripts/test-certs.sh; required with any TLS port
#   KAFKA_PLAIN_USERS      PLAIN users of the SASL_SSL listener: name:password[,name:password…]
#   KAFKA_SCRAM_USERS      SCRAM-SHA-512 users, same syntax; created when the storage is
#                          formatted (first run of a STATE_DIR only)
#   KAFKA_HEAP             -Xmx of the broker (default 256m)
#   KAFKA_EXTRA_PROPERTIES lines appended to server.properties (a repeated key wins)
#   KAFKA_JVM_OPTS         extra JVM options, split on spaces
#   KAFKA_CLUSTER_ID       cluster id for the first format (default: StorageTool random-uuid)
#   KAFKA_LOG_STDOUT=1     also copy the broker log to stdout
#   KAFKA_JAVA             java to use (default $JAVA_HOME/bin/java, else java on PATH; 17+)
# Inter-broker and controller traffic stay plaintext.
#
# Files in STATE_DIR: server.properties, log4j2.properties, data/ (the log and metadata),
# tls/keystore.pem and tls/truststore.pem (with TLS), broker.log (the broker's log; the previous
# run's is kept as broker.log.prev), cluster.id, controller.port; with `start` also broker.pid and
# broker.out (the JVM's own stdout and stderr).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SELF=$ROOT/scripts/kafka-broker.sh
# shellcheck source-path=SCRIPTDIR source=lib/service.sh
. "$ROOT/scripts/lib/service.sh"
SVC_NAME=broker
SVC_WHAT=broker
SVC_MATCH='kafka\.Kafka'

default_state() { printf '%s\n' "${TRIBUTARY_KAFKA_STATE:-${TMPDIR:-/tmp}/tributary-kafka-$(id -u)}"; }

find_java() { svc_find_java KAFKA_JAVA 17 "Kafka 4.4"; }

# "name:pw,name:pw" → one "name<TAB>pw" line each, validated. $1 is the variable's name.
parse_users() {
    local var=$1 list=$2 entry name pw
    local IFS=,
    for entry in $list; do
        [[ -n $entry ]] || continue
        [[ $entry == *:* ]] || die "$var: '$entry' is not name:password"
        name=${entry%%:*}
        pw=${entry#*:}
        [[ $name =~ ^[A-Za-z0-9._-]+$ ]] || die "$var: user name '$name' may only use letters, digits, '.', '_' and '-'"
        [[ $pw =~ ^[A-Za-z0-9._~!@%^\&*()+:\;/?-]+$ ]] ||
            die "$var: the password of '$name' is empty or has characters other than letters, digits and ._~!@%^&*()+:;/?-"
        printf '%s\t%s\n' "$name" "$pw"
    done
}

write_log_config() { # STATE
    local state=$1
    {
        echo "status = warn"
        echo "name = tributary-kafka-broker"
        echo "appender.file.type = File"
        echo "appender.file.name = FILE"
        echo "appender.file.fileName = $state/broker.log"
        echo "appender.file.append = true"
        echo "appender.file.layout.type = PatternLayout"
        echo "appender.file.layout.pattern = [%d] %p %m (%c)%n"
        echo "rootLogger.level = INFO"
        echo "rootLogger.appenderRef.file.ref = FILE"
        echo "logger.request.name = kafka.request.logger"
        echo "logger.request.level = WARN"
        if [[ ${KAFKA_LOG_STDOUT:-} == 1 ]]; then
            echo "appender.out.type = Console"
            echo "appender.out.name = STDOUT"
            echo "appender.out.target = SYSTEM_OUT"
            echo "appender.out.layout.type = PatternLayout"
            echo "appender.out.layout.pattern = [%d] %p %m (%c)%n"
            echo "rootLogger.appenderRef.out.ref = STDOUT"
        fi
    } >"$state/log4j2.properties"
}

# Runs a short-lived command in the background (so that a signal to this shell can stop it),
# its output into the file $1.
TOOL_PID=
run_tool() {
    local out=$1 rc=0
    shift
    "$@" >"$out" 2>&1 &
    TOOL_PID=$!
    wait "$TOOL_PID" || rc=$?
    TOOL_PID=
    return "$rc"
}

cmd_run() {
    [[ $# -eq 1 && -n $1 ]] || die "usage: scripts/kafka-broker.sh run STATE_DIR"
    local state=$1
    [[ -n ${KAFKA_PORT:-} ]] || die "KAFKA_PORT is not set (the PLAINTEXT listener's port)"
    [[ -n ${KAFKA_CONTROLLER_PORT:-} ]] || die "KAFKA_CONTROLLER_PORT is not set (the KRaft controller's port)"
    check_port KAFKA_PORT "$KAFKA_PORT"
    check_port KAFKA_CONTROLLER_PORT "$KAFKA_CONTROLLER_PORT"
    local ssl=${KAFKA_SSL_PORT:-} sasl=${KAFKA_SASL_SSL_PORT:-} mtls=${KAFKA_MTLS_PORT:-}
    [[ -z $ssl ]] || check_port KAFKA_SSL_PORT "$ssl"
    [[ -z $sasl ]] || check_port KAFKA_SASL_SSL_PORT "$sasl"
    [[ -z $mtls ]] || check_port KAFKA_MTLS_PORT "$mtls"
    local plain_users scram_users
    plain_users=$(parse_users KAFKA_PLAIN_USERS "${KAFKA_PLAIN_USERS:-}")
    scram_users=$(parse_users KAFKA_SCRAM_USERS "${KAFKA_SCRAM_USERS:-}")
    local heap=${KAFKA_HEAP:-256m}
    [[ $heap =~ ^[0-9]+[kKmMgG]?$ ]] || die "KAFKA_HEAP must look like 256m (got '$heap')"

    local java jars
    java=$(find_java)
    jars=$(svc_jar_dir kafka "the Kafka jars are not fetched")

    mkdir -p "$state" || die "cannot create $state"
    state=$(cd "$state" && pwd)

    local tls=
    if [[ -n $ssl$sasl$mtls ]]; then
        tls=${KAFKA_TLS_DIR:-}
        [[ -n $tls ]] || die "KAFKA_TLS_DIR is not set (needed by the SSL/SASL_SSL/MTLS listeners): make one with scripts/test-certs.sh DIR"
        local f
        for f in ca.crt server.crt server.key; do
            [[ -s $tls/$f ]] || die "KAFKA_TLS_DIR=$tls has no $f: make it with scripts/test-certs.sh $tls"
        done
        mkdir -p "$state/tls"
        # PEM keystore: PKCS#8 key, then the certificate chain.
        cat "$tls/server.key" "$tls/server.crt" "$tls/ca.crt" >"$state/tls/keystore.pem"
        cp "$tls/ca.crt" "$state/tls/truststore.pem"
        chmod 600 "$state/tls/keystore.pem"
    fi

    # The quorum of a formatted state dir remembers the controller's address.
    if [[ -f $state/data/meta.properties && -f $state/controller.port ]]; then
        local formatted
        formatted=$(<"$state/controller.port")
        [[ $formatted == "$KAFKA_CONTROLLER_PORT" ]] ||
            die "$state was formatted with KAFKA_CONTROLLER_PORT=$formatted; use that port again (or a new STATE_DIR)"
    fi

    local listeners advertised map
    listeners="PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT"
    advertised="PLAINTEXT://127.0.0.1:$KAFKA_PORT"
    map="PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"
    if [[ -n $ssl ]]; then
        listeners+=",SSL://127.0.0.1:$ssl"
        advertised+=",SSL://127.0.0.1:$ssl"
        map+=",SSL:SSL"
    fi
    if [[ -n $sasl ]]; then
        listeners+=",SASL_SSL://127.0.0.1:$sasl"
        advertised+=",SASL_SSL://127.0.0.1:$sasl"
        map+=",SASL_SSL:SASL_SSL"
    fi
    if [[ -n $mtls ]]; then
        listeners+=",MTLS://127.0.0.1:$mtls"
        advertised+=",MTLS://127.0.0.1:$mtls"
        map+=",MTLS:SSL"
    fi

    local props=$state/server.properties name pw
    {
        echo "# Written by scripts/kafka-broker.sh on every run; edits are lost."
        echo "process.roles=broker,controller"
        echo "node.id=1"
        echo "controller.quorum.bootstrap.servers=127.0.0.1:$KAFKA_CONTROLLER_PORT"
        echo "controller.listener.names=CONTROLLER"
        echo "inter.broker.listener.name=PLAINTEXT"
        echo "listeners=$listeners"
        echo "advertised.listeners=$advertised"
        echo "listener.security.protocol.map=$map"
        echo "log.dirs=$state/data"
        echo "num.partitions=1"
        echo "default.replication.factor=1"
        echo "min.insync.replicas=1"
        echo "offsets.topic.replication.factor=1"
        echo "offsets.topic.num.partitions=1"
        echo "transaction.state.log.replication.factor=1"
        echo "transaction.state.log.min.isr=1"
        echo "transaction.state.log.num.partitions=1"
        echo "share.coordinator.state.topic.replication.factor=1"
        echo "share.coordinator.state.topic.min.isr=1"
        echo "share.coordinator.state.topic.num.partitions=1"
        echo "group.initial.rebalance.delay.ms=0"
        echo "log.cleaner.backoff.ms=500"
        echo "log.cleaner.dedupe.buffer.size=8388608"
        if [[ -n $tls ]]; then
            echo "ssl.keystore.type=PEM"
            echo "ssl.keystore.location=$state/tls/keystore.pem"
            echo "ssl.truststore.type=PEM"
            echo "ssl.truststore.location=$state/tls/truststore.pem"
        fi
        if [[ -n $mtls ]]; then
            echo "listener.name.mtls.ssl.client.auth=required"
        fi
        if [[ -n $sasl ]]; then
            echo "sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-512"
            echo "listener.name.sasl_ssl.sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-512"
            printf 'listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required'
            while IFS=$'\t' read -r name pw; do
                if [[ -n $name ]]; then
                    printf ' user_%s="%s"' "$name" "$pw"
                fi
            done <<<"$plain_users"
            printf ';\n'
            echo "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;"
        fi
        if [[ -n ${KAFKA_EXTRA_PROPERTIES:-} ]]; then
            echo "# KAFKA_EXTRA_PROPERTIES"
            printf '%s\n' "$KAFKA_EXTRA_PROPERTIES"
        fi
    } >"$props"

    write_log_config "$state"
    svc_keep_prev_log "$state"

    # SIGTERM/SIGINT before the exec below also stop a storage tool that is running.
    trap 'if [[ -n $TOOL_PID ]]; then kill -TERM "$TOOL_PID" 2>/dev/null || true; fi; exit 143' TERM INT
    local tool_opts=(-Xmx128m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC
        "-Dlog4j2.configurationFile=$state/log4j2.properties" -cp "$jars/*")
    if [[ ! -f $state/data/meta.properties ]]; then
        local cluster_id=${KAFKA_CLUSTER_ID:-}
        if [[ -z $cluster_id && -s $state/cluster.id ]]; then
            cluster_id=$(<"$state/cluster.id")
        fi
        if [[ -z $cluster_id ]]; then
            run_tool "$state/tool.out" "$java" "${tool_opts[@]}" kafka.tools.StorageTool random-uuid ||
                die "StorageTool random-uuid failed: $(cat "$state/tool.out")"
            cluster_id=$(tail -n 1 "$state/tool.out")
        fi
        [[ $cluster_id =~ ^[A-Za-z0-9_-]{22}$ ]] || die "not a Kafka cluster id: '$cluster_id'"
        printf '%s\n' "$cluster_id" >"$state/cluster.id"
        local format=(kafka.tools.StorageTool format -t "$cluster_id" -c "$props" --standalone)
        while IFS=$'\t' read -r name pw; do
            if [[ -n $name ]]; then
                format+=(--add-scram "SCRAM-SHA-512=[name=$name,password=$pw]")
            fi
        done <<<"$scram_users"
        if ! run_tool "$state/tool.out" "$java" "${tool_opts[@]}" "${format[@]}"; then
            cat "$state/tool.out" >&2
            rm -rf "$state/data"
            die "formatting $state/data failed (output above)"
        fi
        printf '%s\n' "$KAFKA_CONTROLLER_PORT" >"$state/controller.port"
        cat "$state/tool.out" >>"$state/broker.log"
    elif [[ -n $scram_users ]]; then
        note "note: $state is already formatted; KAFKA_SCRAM_USERS only applies to a new STATE_DIR"
    fi

    local jvm_opts=()
    if [[ -n ${KAFKA_JVM_OPTS:-} ]]; then
        read -r -a jvm_opts <<<"$KAFKA_JVM_OPTS"
    fi
    rm -f "$state/tool.out"
    trap - TERM INT
    cd "$state"
    exec "$java" "-Xmx$heap" -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
        "-Dlog4j2.configurationFile=$state/log4j2.properties" \
        ${jvm_opts[@]+"${jvm_opts[@]}"} -cp "$jars/*" kafka.Kafka "$props"
}

# Up: the broker JVM still runs, its log says so, and PORT ($2) accepts connections.
broker_up() {
    kill -0 "$SVC_PID" 2>/dev/null &&
        grep -q 'Kafka Server started' "$1/broker.log" 2>/dev/null && port_open "$2"
}

cmd_start() {
    [[ $# -le 1 ]] || die "usage: scripts/kafka-broker.sh start [PORT]"
    local port=${1:-9092}
    check_port PORT "$port"
    export KAFKA_PORT=$port
    export KAFKA_CONTROLLER_PORT=${KAFKA_CONTROLLER_PORT:-$((port + 1))}
    check_port KAFKA_CONTROLLER_PORT "$KAFKA_CONTROLLER_PORT"
    local state
    state=$(default_state)
    svc_start_checks "$state" KAFKA_PORT KAFKA_CONTROLLER_PORT KAFKA_SSL_PORT KAFKA_SASL_SSL_PORT KAFKA_MTLS_PORT
    find_java >/dev/null
    svc_fetch_missing kafka "the Kafka jars are missing: fetching them first"
    svc_keep_prev_log "$state"
    svc_launch "$state" "${KAFKA_START_TIMEOUT:-60}" "did not start" "broker started" broker_up "$state" "$port"
    printf '127.0.0.1:%s\n' "$port"
}

cmd_stop() { svc_stop "${KAFKA_STOP_TIMEOUT:-30}" "$@"; }

svc_main "$@"
