# syntax=docker/dockerfile:1
#
# The `tributary` image: docker build -t tributary .
#
# Stage 1 compiles the binary; stage 2 is debian:bookworm-slim with only what the binary links
# at run time. See deploy/README.md for running it, and scripts/image-smoke.sh for what is checked
# without a container daemon.

############################################################################ build
FROM rust:1-bookworm AS build

# rdkafka is built with features ["tokio", "ssl"] and its default `libz`: librdkafka is compiled
# from the bundled sources with its own ./configure and make (cmake only for rdkafka's
# `cmake-build` feature, which is off), against the system OpenSSL and zlib. No libsasl2 (that
# is the `gssapi` feature: Kerberos is not supported) and no libcurl (OAUTHBEARER tokens are
# fetched by Tributary itself). reqwest and tokio-tungstenite use native-tls, i.e. OpenSSL too.
# (The rust image has most of these already; they are listed so the stage says what it needs.)
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      build-essential bash pkg-config libssl-dev zlib1g-dev \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /src
# The whole workspace: every member's manifest (connectors/*, simulators/*, tests/support) and
# every target Cargo.toml declares (benches/) must exist for Cargo to load the workspace.
# .dockerignore keeps target/ and .git/ out.
COPY . .

# Cache mounts keep the crate downloads and compiled dependencies between builds (BuildKit).
# The release profile carries line tables (debug = 1); the copy in the image drops them, which
# takes it from ~125 MB to ~22 MB while keeping symbol names in backtraces.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin tributary \
 && mkdir -p /out \
 && objcopy --strip-debug target/release/tributary /out/tributary \
 && /out/tributary --version

########################################################################## runtime
FROM debian:bookworm-slim

# What `ldd tributary` lists, as Debian packages: libssl.so.3 and libcrypto.so.3 (libssl3),
# libz.so.1 (zlib1g), libgcc_s.so.1 (libgcc-s1), libm.so.6, libc.so.6 and ld-linux (libc6).
# zlib1g, libgcc-s1 and libc6 are in the base image already; they are named so that the list
# stays complete. ca-certificates: the system CAs, trusted for Kafka TLS, the schema registry and
# Genesys Cloud. busybox (~0.8 MB, needs only libc6): its `wget` applet runs the HEALTHCHECK
# below; the slim image has neither curl nor wget, and curl would add a dozen libraries.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates libssl3 zlib1g libgcc-s1 busybox \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 tributary \
 && useradd --system --uid 10001 --gid 10001 --home-dir /nonexistent --no-create-home \
      --shell /usr/sbin/nologin tributary

COPY --from=build /out/tributary /usr/local/bin/tributary

# The Avro schemas. A relative `schemas_dir` resolves against the config file's directory, and
# the config lives in /etc/tributary, a volume that a mounted config replaces. So the schemas
# live outside it and every config for this image says `schemas_dir: /opt/tributary/schemas`
# (deploy/container/config.yaml and deploy/kubernetes/configmap.yaml do).
COPY schemas/ /opt/tributary/schemas/

# The example config: the self-contained demo (embedded Kafka and registry, a simulated Genesys
# org) with the REST API on 0.0.0.0:8083, reachable through `-p 8083:8083`. Mount a directory
# with your own config.yaml (and the files its `${file:...}` placeholders name) over
# /etc/tributary to replace it.
COPY deploy/container/config.yaml /etc/tributary/config.yaml

WORKDIR /opt/tributary
# The binary's default for --config.
ENV TRIBUTARY_CONFIG=/etc/tributary/config.yaml
VOLUME /etc/tributary
USER 10001:10001
EXPOSE 8083

# /health needs no token even when `api.token` is set. The port is the example config's: a
# config listening elsewhere needs `--health-cmd` (docker run) or its own probe (Kubernetes
# ignores HEALTHCHECK and uses deploy/kubernetes/deployment.yaml's probes).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["busybox", "wget", "-q", "-T", "4", "-O", "/dev/null", "http://127.0.0.1:8083/health"]

# SIGTERM (docker stop, Kubernetes) stops the connectors, flushes and commits their offsets.
ENTRYPOINT ["tributary"]
CMD ["run"]
