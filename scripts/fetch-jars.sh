#!/usr/bin/env bash
# Fetches the Java services the integration tests run locally, through Maven, into a cache
# outside the clone.
#
#   scripts/fetch-jars.sh [kafka|connect|apicurio|all]   (default: all)
#       Fetches what is missing and prints one line `NAME DIR` per name on stdout
#       (progress and errors go to stderr). Safe to run again: a complete folder is reused.
#   scripts/fetch-jars.sh --dir NAME
#       Prints DIR only when NAME is already fetched completely; exits 1 otherwise.
#       Never downloads (for scripts that must not).
#
# What DIR holds:
#   kafka     the jars of Apache Kafka 4.4.0 (broker, storage tool, admin tools), java/kafka/pom.xml
#   connect   the jars of a Kafka Connect 4.3.0 worker with the test plugins, java/connect/pom.xml
#   apicurio  Apicurio Registry 3.3.3 unpacked (DIR/quarkus-run.jar), java/apicurio/pom.xml
#
# Cache: ${TRIBUTARY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tributary}/jars/NAME-HASH, where HASH is
# the first 12 hex digits of the sha256 of java/NAME/pom.xml: a version change in a pom fetches
# into a new folder. A folder is complete once it has a `.complete` file; an interrupted fetch
# is started over. Maven keeps its own copy of the downloads in its local repository (~/.m2).
#
# Needs `mvn` (Debian package: maven) and `java` (Debian package: openjdk-17-jre-headless) only
# when something has to be fetched.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${TRIBUTARY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tributary}
JARS=$CACHE/jars
NAMES=(kafka connect apicurio)
# shellcheck source-path=SCRIPTDIR source=lib/service.sh
. "$ROOT/scripts/lib/service.sh"

known_name() {
    local n
    for n in "${NAMES[@]}"; do
        [[ $1 == "$n" ]] && return 0
    done
    return 1
}

# The cache folder of NAME for the current contents of its pom.
cache_dir() {
    local pom=$ROOT/java/$1/pom.xml hash
    [[ -f $pom ]] || die "missing $pom"
    hash=$(sha256sum "$pom" | cut -c1-12)
    printf '%s/%s-%s\n' "$JARS" "$1" "$hash"
}

# A file that must be in a complete folder of NAME.
probe_ok() {
    local name=$1 dir=$2
    case $name in
        kafka) compgen -G "$dir/kafka_2.13-*.jar" >/dev/null && compgen -G "$dir/kafka-storage-*.jar" >/dev/null ;;
        connect) compgen -G "$dir/connect-runtime-*.jar" >/dev/null && compgen -G "$dir/connect-test-plugins-*.jar" >/dev/null ;;
        apicurio) [[ -f $dir/quarkus-run.jar ]] ;;
    esac
}

need_tools() {
    command -v mvn >/dev/null 2>&1 ||
        die "mvn not found: install Maven (Debian package: maven), e.g. apt-get install -y maven"
    if [[ -n ${JAVA_HOME:-} && -x $JAVA_HOME/bin/java ]]; then
        return 0
    fi
    command -v java >/dev/null 2>&1 ||
        die "java not found: install a Java runtime (Debian package: openjdk-17-jre-headless), e.g. apt-get install -y openjdk-17-jre-headless"
}

fetch_one() {
    local name=$1 dir work log start rc=0
    dir=$(cache_dir "$name")
    if [[ -f $dir/.complete ]]; then
        printf '%s %s\n' "$name" "$dir"
        return 0
    fi
    need_tools
    mkdir -p "$JARS"
    # One fetch per folder at a time: a second caller waits for the first, then finds it done.
    local lock_fd
    exec {lock_fd}>"$dir.lock"
    if command -v flock >/dev/null 2>&1; then
        flock "$lock_fd"
    fi
    if [[ -f $dir/.complete ]]; then
        exec {lock_fd}>&-
        printf '%s %s\n' "$name" "$dir"
        return 0
    fi
    note "fetching $name into $dir (through Maven; the first time takes a while) ..."
    start=$SECONDS
    rm -rf "$dir"
    mkdir -p "$dir"
    # Maven runs on a copy of the pom so that nothing (target/, markers) is written into the clone.
    work=$(mktemp -d "$dir.work.XXXXXX")
    cp "$ROOT/java/$name/pom.xml" "$work/pom.xml"
    log=$work/mvn.log
    case $name in
        kafka | connect)
            mvn -q -B -f "$work/pom.xml" dependency:copy-dependencies \
                -DoutputDirectory="$dir" >"$log" 2>&1 || rc=$?
            ;;
        apicurio)
            mvn -q -B -f "$work/pom.xml" dependency:unpack \
                -DoutputDirectory="$dir" -DmarkersDirectory="$work/markers" >"$log" 2>&1 || rc=$?
            ;;
    esac
    if ((rc != 0)); then
        sed 's/\x1b\[[0-9;]*m//g' "$log" | grep -v '^[[:space:]]*$' | tail -n 30 >&2 || true
        rm -rf "$work"
        die "fetching $name failed (mvn exit $rc; its last lines are above). Is Maven Central reachable?"
    fi
    rm -rf "$work"
    probe_ok "$name" "$dir" || die "fetching $name left $dir without the expected files"
    printf 'pom sha256 prefix: %s\nfetched: %s\n' "${dir##*-}" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" >"$dir/.complete"
    exec {lock_fd}>&-
    note "fetched $name in $((SECONDS - start)) s ($(du -sh "$dir" | cut -f1))"
    printf '%s %s\n' "$name" "$dir"
}

main() {
    if [[ ${1:-} == --dir ]]; then
        [[ $# -eq 2 ]] || {
            usage
            die "--dir takes one name: ${NAMES[*]}"
        }
        known_name "$2" || die "unknown name '$2' (expected one of: ${NAMES[*]})"
        local dir
        dir=$(cache_dir "$2")
        if [[ -f $dir/.complete ]]; then
            printf '%s\n' "$dir"
            return 0
        fi
        note "error: $2 is not fetched yet (no $dir/.complete): run scripts/fetch-jars.sh $2"
        return 1
    fi
    [[ $# -le 1 ]] || {
        usage
        die "too many arguments"
    }
    local what=${1:-all} n
    case $what in
        -h | --help)
            usage
            return 0
            ;;
        all)
            for n in "${NAMES[@]}"; do
                fetch_one "$n"
            done
            ;;
        *)
            known_name "$what" || {
                usage
                die "unknown name '$what' (expected one of: ${NAMES[*]} all)"
            }
            fetch_one "$what"
            ;;
    esac
}

main "$@"
