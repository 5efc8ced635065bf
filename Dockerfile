# syntax=docker/dockerfile:1.7
# The webapp image: one static binary on distroless/static, running as uid
# 65532 with no shell, package manager or writable path in the image.
#
#   docker build --build-arg WEBAPP_REVISION="$(git rev-parse --short=12 HEAD)" -t webapp .
#
# The build stage runs scripts/build-service.sh, the same build `just image`
# runs on a host without a Docker engine.

ARG RUST_VERSION=1.95.0

FROM rust:${RUST_VERSION}-slim-bookworm AS build
WORKDIR /src
COPY . .
ARG WEBAPP_REVISION=unknown
# The registry and target directory are cache mounts: dependencies are
# downloaded and compiled once and reused until Cargo.lock changes, while
# --locked (in the script) refuses a lock file that does not match.
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/src/target,sharing=locked \
    WEBAPP_REVISION="${WEBAPP_REVISION}" scripts/build-service.sh /out/webapp

FROM gcr.io/distroless/static-debian12:nonroot
ARG WEBAPP_VERSION=0.1.0
ARG WEBAPP_REVISION=unknown
LABEL org.opencontainers.image.title="webapp" \
      org.opencontainers.image.description="Small hardened hyper web service: /, /configs, probes and Prometheus metrics" \
      org.opencontainers.image.version="${WEBAPP_VERSION}" \
      org.opencontainers.image.revision="${WEBAPP_REVISION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="gcr.io/distroless/static-debian12:nonroot"
COPY --from=build --chmod=0555 /out/webapp /usr/local/bin/webapp
USER 65532:65532
ENV PORT=8080
EXPOSE 8080
# Kubernetes uses the chart's probes; this serves plain Docker and compose.
HEALTHCHECK --interval=10s --timeout=3s --start-period=2s --retries=3 \
    CMD ["/usr/local/bin/webapp", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/webapp"]
