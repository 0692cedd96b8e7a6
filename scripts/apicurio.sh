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
# shellcheck source-path=SCRIPTDIR source=lib/service.sh
. "$ROOT/scripts/lib/service.sh"
JVM_DIR=${TRIBUTARY_JVM_DIR:-/usr/lib/jvm}
SVC_NAME=apicurio
SVC_WHAT=registry
SVC_MATCH='quarkus-run\.jar'

default_state() { printf '%s\n' "${TRIBUTARY_APICURIO_STATE:-${TMPDIR:-/tmp}/tributary-apicurio-$(id -u)}"; }

find_java() { svc_find_newest_java APICURIO_JAVA 21 "Apicurio Registry 3" "$JVM_DIR"; }

# The unpacked registry (the folder of quarkus-run.jar), on stdout; never downloads.
find_app() {
    local dir
    dir=$(svc_jar_dir apicurio "Apicurio Registry is not fetched") || exit 1
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

# Ready: the management port ($1) says so and the http(s) port ($2) accepts connections.
registry_ready() { http_ok "$1" /health/ready && port_open "$2"; }

cmd_start() {
    [[ $# -le 1 ]] || die "usage: scripts/apicurio.sh start [PORT]"
    local port=${1:-8080}
    check_port PORT "$port"
    export APICURIO_PORT=$port
    export APICURIO_MGMT_PORT=${APICURIO_MGMT_PORT:-$((port + 1))}
    check_port APICURIO_MGMT_PORT "$APICURIO_MGMT_PORT"
    local state
    state=$(default_state)
    svc_start_checks "$state" APICURIO_PORT APICURIO_MGMT_PORT APICURIO_SSL_PORT
    find_java >/dev/null
    svc_fetch_missing apicurio "Apicurio Registry is missing: fetching it first"
    local url=http://127.0.0.1:$port/apis/ccompat/v7 main_port=$port
    if [[ -n ${APICURIO_TLS_DIR:-} && -n ${APICURIO_SSL_PORT:-} ]]; then
        url=https://127.0.0.1:$APICURIO_SSL_PORT/apis/ccompat/v7
        main_port=$APICURIO_SSL_PORT
    fi
    svc_launch "$state" "${APICURIO_START_TIMEOUT:-90}" "was not ready" "registry ready" \
        registry_ready "$APICURIO_MGMT_PORT" "$main_port"
    printf '%s\n' "$url"
}

cmd_stop() { svc_stop "${APICURIO_STOP_TIMEOUT:-30}" "$@"; }

svc_main "$@"
