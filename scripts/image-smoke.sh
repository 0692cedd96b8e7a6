#!/usr/bin/env bash
# Checks, without a container daemon, what the Dockerfile's runtime image relies on: that the
# `tributary` binary runs in a root filesystem holding nothing but the binary, the shared
# libraries `ldd` names, the dynamic loader, the Avro schemas at /opt/tributary/schemas, the
# example config at /etc/tributary/config.yaml and a non-root user (uid 10001).
#
#   scripts/image-smoke.sh [BINARY]        BINARY defaults to target/release/tributary
#
# What it does:
#   1. Assembles that root filesystem in a temporary directory (the binary with its debug info
#      stripped, as the Dockerfile does, when objcopy is present).
#   2. Picks a way to run it (SMOKE_RUNNER=auto|podman|chroot|unshare, default auto, tried in
#      that order):
#        podman   builds an image FROM scratch out of the directory and runs it as uid 10001,
#                 on the host network;
#        chroot   (root only) runs the binary in the directory as uid 10001;
#        unshare  runs it in the directory as root of a new user namespace (no root needed).
#   3. Checks, in the root filesystem:
#        - the binary starts (loader and libraries complete): `tributary --version`;
#        - `tributary validate --config /etc/tributary/config.yaml` passes, and so does plain
#          `tributary validate` with only TRIBUTARY_CONFIG set, as the image's ENV does;
#        - the Kubernetes ConfigMap's config (deploy/kubernetes/configmap.yaml) validates there,
#          with a dummy file for each `${file:secrets/X}`, and each X is a key of
#          deploy/kubernetes/secret.example.yaml (needs python3 with PyYAML, else skipped);
#        - `tributary run` of the example config comes up, answers /health and /metrics on
#          127.0.0.1 (the chroot and `podman --network host` share the host's network), keeps
#          running for SMOKE_RUN_SECONDS (default 8), and stops cleanly on SIGTERM.
#          SMOKE_SKIP_RUN=1 leaves this out. When port 8083 is taken on this host, the run uses
#          a copy of the config listening on a free port.
#
# Prints one line per check; exits 1 when any check fails. Removes its temporary directory (and,
# with podman, its container and image) on exit. Only the processes it started are stopped.

set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)

binary=${1:-$repo/target/release/tributary}
runner_wanted=${SMOKE_RUNNER:-auto}
run_seconds=${SMOKE_RUN_SECONDS:-8}
skip_run=${SMOKE_SKIP_RUN:-0}
uid=10001

passed=0
failed=0
skipped=0
pass() { echo "PASS  $*"; passed=$((passed + 1)); }
fail() { echo "FAIL  $*"; failed=$((failed + 1)); }
skip() { echo "SKIP  $*"; skipped=$((skipped + 1)); }
say() { echo "....  $*"; }
die() { echo "error: $*" >&2; exit 1; }

[[ -x $binary ]] || die "no executable at $binary (build it with: cargo build --release --bin tributary)"
binary=$(cd "$(dirname "$binary")" && pwd)/$(basename "$binary")
[[ -f $repo/deploy/container/config.yaml ]] || die "missing $repo/deploy/container/config.yaml"
[[ -d $repo/schemas ]] || die "missing $repo/schemas"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tributary-image-smoke.XXXXXX")
rootfs=$tmp/rootfs
image=localhost/tributary-image-smoke:$$
container=tributary-image-smoke-$$
run_pid=
image_built=0

cleanup() {
    local rc=$?
    if [[ -n $run_pid ]] && kill -0 "$run_pid" 2>/dev/null; then
        kill -KILL "$run_pid" 2>/dev/null || true
        wait "$run_pid" 2>/dev/null || true
    fi
    if [[ $image_built == 1 ]]; then
        podman rm -f "$container" >/dev/null 2>&1 || true
        podman rmi -f "$image" >/dev/null 2>&1 || true
    fi
    rm -rf "$tmp"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ------------------------------------------------------------------------------------ rootfs
say "binary: $binary"
say "root filesystem: $rootfs"
mkdir -p "$rootfs"/{usr/local/bin,etc/tributary,opt/tributary,tmp}
chmod 1777 "$rootfs/tmp"

if command -v objcopy >/dev/null; then
    objcopy --strip-debug "$binary" "$rootfs/usr/local/bin/tributary"
    say "binary copied with its debug info stripped (as the Dockerfile does)"
else
    cp "$binary" "$rootfs/usr/local/bin/tributary"
fi
chmod 0755 "$rootfs/usr/local/bin/tributary"

# Every library ldd resolves, at the same path, plus the loader (which ldd lists by path).
ldd_out=$(ldd "$binary") || die "ldd failed on $binary (a static binary needs no libraries, but this script expects a dynamic one)"
if grep -q "not found" <<<"$ldd_out"; then
    die "ldd cannot resolve every library: $(grep 'not found' <<<"$ldd_out" | tr -s ' \t' ' ')"
fi
libs=()
while read -r line; do
    path=
    if [[ $line =~ =\>\ (/[^ ]+) ]]; then
        path=${BASH_REMATCH[1]}
    elif [[ $line =~ ^(/[^ ]+) ]]; then
        path=${BASH_REMATCH[1]}
    fi
    [[ -n $path ]] || continue # linux-vdso: in the kernel, not a file
    mkdir -p "$rootfs$(dirname "$path")"
    cp -L "$path" "$rootfs$path"
    libs+=("$path")
done <<<"$ldd_out"
say "libraries (${#libs[@]}): ${libs[*]}"

# What the image's Debian base provides besides: users, name resolution for localhost, CAs.
cat >"$rootfs/etc/passwd" <<EOF
root:x:0:0:root:/root:/usr/sbin/nologin
tributary:x:$uid:$uid::/nonexistent:/usr/sbin/nologin
EOF
cat >"$rootfs/etc/group" <<EOF
root:x:0:
tributary:x:$uid:
EOF
printf 'passwd: files\ngroup: files\nhosts: files dns\n' >"$rootfs/etc/nsswitch.conf"
printf '127.0.0.1 localhost\n::1 localhost\n' >"$rootfs/etc/hosts"
if [[ -f /etc/ssl/certs/ca-certificates.crt ]]; then
    mkdir -p "$rootfs/etc/ssl/certs"
    cp /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/"
fi

cp -r "$repo/schemas" "$rootfs/opt/tributary/schemas"
cp "$repo/deploy/container/config.yaml" "$rootfs/etc/tributary/config.yaml"

# The Kubernetes config, laid out as the Deployment mounts it (config.yaml with secrets/ beside
# it), in a directory of its own so the image's /etc/tributary stays as the Dockerfile has it.
k8s_config=
k8s_note=
configmap=$repo/deploy/kubernetes/configmap.yaml
secret_example=$repo/deploy/kubernetes/secret.example.yaml
if [[ ! -f $configmap ]]; then
    k8s_note="no $configmap"
elif ! python3 -c 'import yaml' 2>/dev/null; then
    k8s_note="python3 with PyYAML is needed to read the ConfigMap"
else
    mkdir -p "$rootfs/etc/tributary-k8s/secrets"
    if k8s_note=$(python3 - "$configmap" "$secret_example" "$rootfs/etc/tributary-k8s" <<'PY'
import os, re, sys, yaml

configmap, secret_example, out = sys.argv[1:4]
with open(configmap) as f:
    text = yaml.safe_load(f)["data"]["config.yaml"]
with open(os.path.join(out, "config.yaml"), "w") as f:
    f.write(text)
with open(secret_example) as f:
    secret = yaml.safe_load(f)
keys = set((secret.get("stringData") or {}).keys()) | set((secret.get("data") or {}).keys())
names = sorted(set(re.findall(r"\$\{file:secrets/([^}]+)\}", text)))
missing = [n for n in names if n not in keys]
if missing:
    print("secret.example.yaml lacks the keys " + ", ".join(missing))
    sys.exit(1)
for n in names:
    with open(os.path.join(out, "secrets", n), "w") as f:
        f.write("dummy-" + n + "\n")
print("secrets referenced: " + ", ".join(names))
PY
    ); then
        k8s_config=/etc/tributary-k8s/config.yaml
    fi
fi

# A port for `run`: the image's 8083 when free here, else a copy of the config on a free port.
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
run_port=8083
run_config=/etc/tributary/config.yaml
if [[ $skip_run != 1 ]] && port_in_use 8083; then
    for p in $(seq 18083 18183); do
        if ! port_in_use "$p"; then run_port=$p; break; fi
    done
    [[ $run_port != 8083 ]] || die "no free port for the run check"
    mkdir -p "$rootfs/etc/tributary-run"
    sed "s/^\(  listen: \).*/\1127.0.0.1:$run_port/" "$rootfs/etc/tributary/config.yaml" \
        >"$rootfs/etc/tributary-run/config.yaml"
    run_config=/etc/tributary-run/config.yaml
    say "port 8083 is taken on this host: the run check listens on $run_port instead"
fi

chmod -R a+rX "$rootfs"

# ------------------------------------------------------------------------------------ runner
# rootfs_command [ENV=VALUE...] -- ARGS...: sets `cmd` to the command that runs tributary ARGS in
# the root filesystem with only the given environment (the image's ENV is not implied). Run it
# directly, not through a function, so that `$!` of `"${cmd[@]}" &` is the process that holds
# tributary: env and chroot exec into it, and podman forwards signals to the container.
podman_opts=()
chroot_bin=$(command -v chroot || true)
unshare_bin=$(command -v unshare || true)
cmd=()
rootfs_command() {
    local envs=()
    while [[ $1 != -- ]]; do envs+=("$1"); shift; done
    shift
    case $runner in
        podman)
            local e penv=()
            for e in "${envs[@]}"; do penv+=(--env "$e"); done
            cmd=(podman run --rm --name "$container" --network host "${podman_opts[@]}"
                "${penv[@]}" "$image" "$@")
            ;;
        chroot)
            cmd=(env -i PATH=/usr/local/bin HOME=/nonexistent "${envs[@]}"
                "$chroot_bin" "--userspec=$uid:$uid" "$rootfs" /usr/local/bin/tributary "$@")
            ;;
        unshare)
            cmd=(env -i PATH=/usr/local/bin HOME=/nonexistent "${envs[@]}"
                "$unshare_bin" --user --map-root-user "$chroot_bin" "$rootfs" /usr/local/bin/tributary "$@")
            ;;
    esac
}
in_rootfs() {
    rootfs_command "$@"
    "${cmd[@]}"
}

try_podman() {
    command -v podman >/dev/null || { say "podman: not installed"; return 1; }
    cat >"$tmp/Containerfile" <<EOF
FROM scratch
COPY rootfs/ /
USER $uid:$uid
WORKDIR /opt/tributary
EXPOSE 8083
ENTRYPOINT ["/usr/local/bin/tributary"]
CMD ["run"]
EOF
    say "podman: building $image FROM scratch out of the root filesystem"
    if ! podman build --quiet --file "$tmp/Containerfile" --tag "$image" "$tmp" >"$tmp/podman-build.log" 2>&1; then
        say "podman: build failed: $(tail -n 3 "$tmp/podman-build.log" | tr '\n' ' ')"
        return 1
    fi
    image_built=1
    # Containers need not start with the defaults on every host: a host whose hard limits are
    # below podman's defaults refuses them, and crun refuses hosts whose cgroup v2 hierarchy
    # holds controllers next to v1 (hybrid mode) where runc does not.
    local hard_nofile
    hard_nofile=$(ulimit -Hn)
    [[ $hard_nofile =~ ^[0-9]+$ ]] || hard_nofile=65536
    local limits=(--ulimit "nofile=$hard_nofile:$hard_nofile" --ulimit nproc=4096:4096)
    local candidates=("" "${limits[*]}")
    command -v runc >/dev/null && candidates+=("--runtime runc ${limits[*]}")
    local c
    for c in "${candidates[@]}"; do
        read -r -a podman_opts <<<"$c"
        if podman run --rm --network host "${podman_opts[@]}" "$image" --version >"$tmp/podman-run.log" 2>&1; then
            say "podman: containers start with options: ${c:-(none)}"
            return 0
        fi
        say "podman: a container with options '${c:-(none)}' did not start: $(tail -n 1 "$tmp/podman-run.log")"
    done
    return 1
}

try_chroot() {
    [[ -n $chroot_bin ]] || { say "chroot: not installed"; return 1; }
    [[ $(id -u) == 0 ]] || { say "chroot: needs root"; return 1; }
    env -i "$chroot_bin" --userspec=$uid:$uid "$rootfs" /usr/local/bin/tributary --version >/dev/null 2>"$tmp/chroot.log" \
        || { say "chroot: $(tail -n 1 "$tmp/chroot.log")"; return 1; }
}

try_unshare() {
    [[ -n $chroot_bin && -n $unshare_bin ]] || { say "unshare: unshare or chroot not installed"; return 1; }
    env -i "$unshare_bin" --user --map-root-user "$chroot_bin" "$rootfs" /usr/local/bin/tributary --version >/dev/null 2>"$tmp/unshare.log" \
        || { say "unshare: $(tail -n 1 "$tmp/unshare.log")"; return 1; }
}

runner=
case $runner_wanted in
    auto) order=(podman chroot unshare) ;;
    podman | chroot | unshare) order=("$runner_wanted") ;;
    *) die "SMOKE_RUNNER must be auto, podman, chroot or unshare" ;;
esac
for r in "${order[@]}"; do
    if "try_$r"; then runner=$r; break; fi
done
[[ -n $runner ]] || die "no way to run the root filesystem here (tried: ${order[*]})"
case $runner in
    podman) say "runner: podman (image FROM scratch, uid $uid, host network)" ;;
    chroot) say "runner: chroot as uid $uid" ;;
    unshare) say "runner: unshare --user --map-root-user chroot (root of a user namespace)" ;;
esac

# ------------------------------------------------------------------------------------ checks
if out=$(in_rootfs -- --version 2>&1); then
    pass "the binary starts in the root filesystem (loader and libraries complete): $out"
else
    fail "the binary does not start in the root filesystem: $out"
fi

if out=$(in_rootfs -- validate --config /etc/tributary/config.yaml 2>&1); then
    pass "tributary validate --config /etc/tributary/config.yaml: $out"
else
    fail "tributary validate --config /etc/tributary/config.yaml:"$'\n'"$out"
fi

if out=$(in_rootfs TRIBUTARY_CONFIG=/etc/tributary/config.yaml -- validate 2>&1); then
    pass "tributary validate with TRIBUTARY_CONFIG=/etc/tributary/config.yaml: $out"
else
    fail "tributary validate with TRIBUTARY_CONFIG=/etc/tributary/config.yaml:"$'\n'"$out"
fi

if [[ -n $k8s_config ]]; then
    if out=$(in_rootfs -- validate --config "$k8s_config" 2>&1); then
        pass "the Kubernetes ConfigMap's config validates with schemas_dir in the image ($k8s_note): $out"
    else
        fail "the Kubernetes ConfigMap's config does not validate:"$'\n'"$out"
    fi
elif [[ $k8s_note == secret.example.yaml* ]]; then
    fail "the Kubernetes ConfigMap's config: $k8s_note"
else
    skip "the Kubernetes ConfigMap's config: $k8s_note"
fi

# http_get PATH: prints "<status> <body>" for http://127.0.0.1:$run_port$PATH, or fails.
http_get() {
    if command -v curl >/dev/null; then
        local body status
        body=$(curl -sS -m 3 -w '\n%{http_code}' "http://127.0.0.1:$run_port$1" 2>/dev/null) || return 1
        status=${body##*$'\n'}
        echo "$status ${body%$'\n'*}"
    else
        local response
        response=$(
            exec 3<>"/dev/tcp/127.0.0.1/$run_port" || exit 1
            printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' "$1" >&3
            timeout 3 cat <&3
        ) || return 1
        local status_line=${response%%$'\r'*}
        echo "$(awk '{print $2}' <<<"$status_line") ${response#*$'\r\n\r\n'}"
    fi
}

if [[ $skip_run == 1 ]]; then
    skip "tributary run (SMOKE_SKIP_RUN=1)"
else
    log=$tmp/run.log
    # The image's CMD: `run`, with the config from TRIBUTARY_CONFIG.
    rootfs_command TRIBUTARY_CONFIG="$run_config" -- run
    "${cmd[@]}" >"$log" 2>&1 &
    run_pid=$!
    say "tributary run started (pid $run_pid), REST API on 127.0.0.1:$run_port"

    healthy=0
    for _ in $(seq 1 60); do
        if ! kill -0 "$run_pid" 2>/dev/null; then break; fi
        if r=$(http_get /health) && [[ ${r%% *} == 200 ]]; then healthy=1; break; fi
        sleep 0.5
    done
    if [[ $healthy == 1 ]]; then
        pass "tributary run answers GET /health: ${r#* }"
        sleep "$run_seconds"
        if ! kill -0 "$run_pid" 2>/dev/null; then
            fail "tributary run exited within $run_seconds s of starting; its log:"$'\n'"$(tail -n 20 "$log")"
        else
            if r=$(http_get /health) && [[ ${r%% *} == 200 ]]; then
                pass "still healthy after $run_seconds s"
            else
                fail "no longer healthy after $run_seconds s: ${r:-no answer}"
            fi
            if r=$(http_get /metrics) && [[ ${r%% *} == 200 ]] \
                && grep -q '^tributary_connector_state{' <<<"$r" \
                && grep -q '^genesys_channels_open{' <<<"$r"; then
                pass "GET /metrics serves tributary_* and genesys_* metrics ($(grep -c '^[a-z]' <<<"$r") samples)"
            else
                fail "GET /metrics lacks tributary_connector_state or genesys_channels_open"
            fi
            if r=$(http_get /connectors/genesys-demo/status) && [[ $r == 200* && $r == *'"state":"RUNNING"'* ]]; then
                pass "the connector genesys-demo is RUNNING"
            else
                fail "the connector genesys-demo is not RUNNING: ${r:0:300}"
            fi
        fi
        # podman forwards the signal to the container (--sig-proxy is on by default).
        kill -TERM "$run_pid" 2>/dev/null || true
        stopped=0
        for _ in $(seq 1 60); do
            if ! kill -0 "$run_pid" 2>/dev/null; then stopped=1; break; fi
            sleep 0.5
        done
        if [[ $stopped == 1 ]]; then
            rc=0
            wait "$run_pid" || rc=$?
            run_pid=
            if [[ $rc == 0 ]] && grep -q "final offsets committed" "$log"; then
                pass "SIGTERM stopped it cleanly (exit 0, final offsets committed)"
            else
                fail "after SIGTERM: exit status $rc; the log's end:"$'\n'"$(tail -n 10 "$log")"
            fi
        else
            fail "tributary run did not stop within 30 s of SIGTERM"
        fi
    else
        fail "tributary run did not answer /health within 30 s; its log:"$'\n'"$(tail -n 20 "$log")"
    fi
fi

echo "runner: $runner; $passed passed, $failed failed, $skipped skipped"
[[ $failed == 0 ]]
