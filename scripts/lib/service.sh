# shellcheck shell=bash
# What the scripts that run the local Java services (kafka-broker.sh, kafka-connect.sh,
# apicurio.sh) have in common; fetch-jars.sh uses its die, note and usage. Sourced after
# `set -euo pipefail`, never run: sourcing only sets SVC_SCRIPTS and defines the functions below.
#
# The functions for `start` and `stop` read four variables that the service script sets:
#   SELF       the service script (`start` runs `"$SELF" run STATE` in the background)
#   SVC_NAME   the stem of its files in the state folder: NAME.pid, NAME.out, NAME.log
#   SVC_WHAT   what messages call the service, e.g. "broker"
#   SVC_MATCH  a grep pattern that the command line of the service's JVM matches
# svc_main and svc_stop also call the script's functions cmd_run, cmd_start, cmd_stop and
# default_state (the state folder of `start` and `stop`, on stdout).

# The folder of the scripts (the parent of this file's folder).
SVC_SCRIPTS=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# Prints `error: MESSAGE` on stderr and exits with status 1.
die() {
    printf 'error: %s\n' "$*" >&2
    exit 1
}

# Prints MESSAGE on stderr.
note() { printf '%s\n' "$*" >&2; }

# Prints the comment block at the top of the script that was run (from line 2 up to the line
# `set -euo …`), without the leading "# ", on stderr.
usage() {
    sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' "${BASH_SOURCE[-1]}" >&2
}

# check_port NAME VALUE: dies unless VALUE is a TCP port number (1 to 65535); the message calls
# it NAME.
check_port() {
    if [[ ! $2 =~ ^[0-9]{1,5}$ ]] || ((10#$2 < 1 || 10#$2 > 65535)); then
        die "$1 must be a TCP port number (got '$2')"
    fi
}

# port_open PORT: succeeds when something accepts TCP connections on 127.0.0.1:PORT (gives up
# after 2 s).
port_open() {
    # shellcheck disable=SC2016 # expanded by the inner bash
    timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"' _ "$1" 2>/dev/null
}

# http_ok PORT PATH: succeeds when GET http://127.0.0.1:PORT PATH answers 200 (with curl when
# there is one, else through bash's /dev/tcp).
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

# java_major JAVA: the major version of the java JAVA on stdout (nothing when it does not run
# or does not say).
java_major() {
    "$1" -version 2>&1 | sed -n '1s/^[^"]*"\([0-9]*\).*/\1/p'
}

# svc_find_java VAR MIN PRODUCT: the java to run on stdout: the one named by the variable VAR
# when set, else $JAVA_HOME/bin/java, else java on PATH. Dies unless it is Java MIN or newer;
# the message says that PRODUCT (e.g. "Kafka 4.4") needs it.
svc_find_java() {
    local var=$1 min=$2 product=$3 java
    if [[ -n ${!var:-} ]]; then
        java=${!var}
    elif [[ -n ${JAVA_HOME:-} && -x $JAVA_HOME/bin/java ]]; then
        java=$JAVA_HOME/bin/java
    else
        java=$(command -v java 2>/dev/null) ||
            die "java not found: install Java $min+ (Debian package: openjdk-$min-jre-headless) or set $var"
    fi
    [[ -x $java ]] || die "java '$java' is not an executable file"
    local version
    version=$(java_major "$java")
    [[ -n $version ]] || die "could not tell the version of $java"
    ((version >= min)) || die "$java is Java $version; $product needs Java $min or newer"
    printf '%s\n' "$java"
}

# svc_find_newest_java VAR MIN PRODUCT JVM_DIR: the java to run on stdout: the one named by the
# variable VAR when set (dies unless it is Java MIN or newer), else $JAVA_HOME/bin/java when that
# is MIN or newer, else the newest java of MIN or newer under JVM_DIR/*/bin. Dies when there is
# none; the messages say that PRODUCT needs it.
svc_find_newest_java() {
    local var=$1 min=$2 product=$3 jvm_dir=$4 version
    if [[ -n ${!var:-} ]]; then
        [[ -x ${!var} ]] || die "$var='${!var}' is not an executable file"
        version=$(java_major "${!var}")
        if [[ -z $version ]] || ((version < min)); then
            die "$var=${!var} is Java ${version:-?}; $product needs Java $min or newer"
        fi
        printf '%s\n' "${!var}"
        return 0
    fi
    if [[ -n ${JAVA_HOME:-} && -x $JAVA_HOME/bin/java ]]; then
        version=$(java_major "$JAVA_HOME/bin/java")
        if [[ -n $version ]] && ((version >= min)); then
            printf '%s\n' "$JAVA_HOME/bin/java"
            return 0
        fi
    fi
    local best='' best_version=0 candidate real seen=" "
    for candidate in "$jvm_dir"/*/bin/java; do
        [[ -x $candidate ]] || continue
        real=$(readlink -f "$candidate")
        [[ $seen == *" $real "* ]] && continue
        seen+="$real "
        version=$(java_major "$real")
        if [[ -n $version ]] && ((version >= min && version > best_version)); then
            best=$real
            best_version=$version
        fi
    done
    [[ -n $best ]] ||
        die "$product needs Java $min or newer and none was found ($var, JAVA_HOME, $jvm_dir/*): install a JDK $min+ there or point $var at its bin/java"
    printf '%s\n' "$best"
}

# svc_jar_dir NAME MISSING: the folder of the fetched jars of NAME (kafka, connect, apicurio) on
# stdout, as `scripts/fetch-jars.sh --dir NAME` finds it; never downloads. When NAME is not
# fetched, dies with "MISSING: run scripts/fetch-jars.sh NAME".
svc_jar_dir() {
    local dir
    dir=$("$SVC_SCRIPTS/fetch-jars.sh" --dir "$1" 2>/dev/null) ||
        die "$2: run scripts/fetch-jars.sh $1"
    printf '%s\n' "$dir"
}

# svc_fetch_missing NAME SAYING: when NAME is not fetched yet, says "SAYING
# (scripts/fetch-jars.sh NAME)" on stderr and runs that (its stdout dropped; dies when it fails).
svc_fetch_missing() {
    if ! "$SVC_SCRIPTS/fetch-jars.sh" --dir "$1" >/dev/null 2>&1; then
        note "$2 (scripts/fetch-jars.sh $1)"
        "$SVC_SCRIPTS/fetch-jars.sh" "$1" >/dev/null
    fi
}

# svc_keep_prev_log STATE: moves STATE/SVC_NAME.log to STATE/SVC_NAME.log.prev, if there is one.
svc_keep_prev_log() {
    if [[ -f $1/$SVC_NAME.log ]]; then
        mv -f "$1/$SVC_NAME.log" "$1/$SVC_NAME.log.prev"
    fi
}

# svc_is_running PID: succeeds when PID is a live JVM of the service (its command line matches
# SVC_MATCH), not some other process that got the pid later.
svc_is_running() {
    local pid=$1
    [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null &&
        tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "$SVC_MATCH"
}

# alive PID: succeeds while PID exists and is not a zombie (an exited child of this shell not
# yet reaped).
alive() {
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    stat=${stat##*) }
    [[ ${stat:0:1} != Z ]]
}

# stop_pid PID TIMEOUT: SIGTERM to PID, then waits up to TIMEOUT seconds for it to go; after
# that SIGKILL and fails. Succeeds at once when there is no such process.
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

# elapsed START: the seconds since START (an EPOCHREALTIME value), with one decimal, on stdout.
elapsed() {
    local now=${EPOCHREALTIME/./} then=${1/./}
    local ms=$(((now - then) / 1000))
    printf '%d.%d' $((ms / 1000)) $((ms % 1000 / 100))
}

# show_logs STATE: the last 15 lines of STATE/SVC_NAME.out and the last 30 of STATE/SVC_NAME.log
# (those that are not empty) on stderr, each under a heading.
show_logs() {
    local state=$1
    if [[ -s $state/$SVC_NAME.out ]]; then
        note "--- last lines of $state/$SVC_NAME.out ---"
        tail -n 15 "$state/$SVC_NAME.out" >&2
    fi
    if [[ -s $state/$SVC_NAME.log ]]; then
        note "--- last 30 lines of $state/$SVC_NAME.log ---"
        tail -n 30 "$state/$SVC_NAME.log" >&2
    fi
}

# svc_start_checks STATE VAR…: before `start`: creates the folder STATE; dies when the service of
# STATE/SVC_NAME.pid still runs, else removes that pid file; then, for each variable VAR that is
# set and not empty, dies unless its value is a port number that nothing on 127.0.0.1 listens on.
svc_start_checks() {
    local state=$1 pid
    shift
    mkdir -p "$state" || die "cannot create $state"
    if [[ -f $state/$SVC_NAME.pid ]]; then
        pid=$(<"$state/$SVC_NAME.pid")
        if svc_is_running "$pid"; then
            die "a $SVC_WHAT from $state is already running (pid $pid): scripts/${SELF##*/} stop first"
        fi
        rm -f "$state/$SVC_NAME.pid"
    fi
    local var p
    for var in "$@"; do
        p=${!var:-}
        [[ -z $p ]] && continue
        check_port "$var" "$p"
        ! port_open "$p" || die "port $p ($var) on 127.0.0.1 is already in use"
    done
}

# svc_launch STATE TIMEOUT LATE READY CHECK…: starts `"$SELF" run STATE` in the background (its
# pid in STATE/SVC_NAME.pid and in SVC_PID, its stdout and stderr in STATE/SVC_NAME.out), then
# runs the command CHECK… every 0.2 s until it succeeds, and says "READY in N s: pid, state, log"
# on stderr. When the service exits first, or is still not ready after TIMEOUT seconds (it is
# then stopped), shows the logs, removes the pid file and dies ("the SVC_WHAT LATE within
# TIMEOUT s" in the second case). SIGINT or SIGTERM meanwhile stop it and exit with 130.
svc_launch() {
    local state=$1 timeout=$2 late=$3 ready=$4 pid
    shift 4
    local pidfile=$state/$SVC_NAME.pid log=$state/$SVC_NAME.log start=$EPOCHREALTIME
    nohup "$SELF" run "$state" >"$state/$SVC_NAME.out" 2>&1 </dev/null &
    pid=$!
    # shellcheck disable=SC2034 # for the CHECK command of the service script
    SVC_PID=$pid
    printf '%s\n' "$pid" >"$pidfile"
    # shellcheck disable=SC2064 # the pid is fixed now
    trap "kill -TERM $pid 2>/dev/null; rm -f '$pidfile'; exit 130" INT TERM

    local deadline=$((SECONDS + timeout))
    while ! "$@"; do
        if ! kill -0 "$pid" 2>/dev/null; then
            local rc=0
            wait "$pid" || rc=$?
            rm -f "$pidfile"
            show_logs "$state"
            die "the $SVC_WHAT exited during start-up (exit status $rc); see $log"
        fi
        if ((SECONDS >= deadline)); then
            show_logs "$state"
            stop_pid "$pid" 10 || true
            rm -f "$pidfile"
            die "the $SVC_WHAT $late within $timeout s (it was stopped); see $log"
        fi
        sleep 0.2
    done
    trap - INT TERM
    note "$ready in $(elapsed "$start") s: pid $pid, state $state, log $log"
}

# svc_stop TIMEOUT [ARG…]: `stop`: dies with the usage when there is an ARG; otherwise SIGTERM to
# the service of STATE/SVC_NAME.pid (STATE from default_state) and waits for it to exit, at most
# TIMEOUT seconds, then SIGKILL and dies. Says so on stderr and succeeds when none runs (a stale
# pid file is removed).
svc_stop() {
    local timeout=$1
    shift
    [[ $# -eq 0 ]] || die "usage: scripts/${SELF##*/} stop"
    local state pid start
    state=$(default_state)
    if [[ ! -f $state/$SVC_NAME.pid ]]; then
        note "no $SVC_WHAT running (no $state/$SVC_NAME.pid)"
        return 0
    fi
    pid=$(<"$state/$SVC_NAME.pid")
    if ! svc_is_running "$pid"; then
        rm -f "$state/$SVC_NAME.pid"
        note "no $SVC_WHAT running (stale pid file $state/$SVC_NAME.pid removed)"
        return 0
    fi
    start=$EPOCHREALTIME
    if ! stop_pid "$pid" "$timeout"; then
        rm -f "$state/$SVC_NAME.pid"
        die "the $SVC_WHAT (pid $pid) did not stop within $timeout s after SIGTERM; it was killed (SIGKILL)"
    fi
    rm -f "$state/$SVC_NAME.pid"
    note "$SVC_WHAT stopped (pid $pid) in $(elapsed "$start") s"
}

# svc_main ARG…: runs the command named by the first argument with the others: run, start or
# stop (the script's cmd_run, cmd_start, cmd_stop), or help (the usage); anything else prints
# the usage and dies.
svc_main() {
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
