# The ticketing service as a container image (docs/deploy.md).
#
#   docker build -t ticketing .            or   docker-compose build
#
# Stage `build`: Debian bookworm with the build packages of scripts/install-deps, then the same
# scripts/build that scripts/run and scripts/test use (Release). Stage `runtime`: bookworm-slim with
# only the shared libraries the binary links, the binary at /app/bin/ticketing and config/ at
# /app/config (the binary looks for config/application.yml next to its parent directories, and
# the working directory is /app as well). Runs as the unprivileged user `ticketing` (uid 10001).
#
# Default profile: prod, which refuses to start without TICKETING_SECURITY_TOKEN_SECRET and
# TICKETING_PAYMENT_GATEWAY_SECRET. Commands: serve (default), migrate, seed (see README.md).

ARG DEBIAN_IMAGE=debian:bookworm-slim

# ---------------------------------------------------------------------------------------------
FROM ${DEBIAN_IMAGE} AS build

# The build part of the package list in scripts/install-deps (shared/MACHINE.md); the servers
# (mariadb-server, redis-server, prometheus), kcat, wrk and docker-compose are not needed here.
# The test libraries are: scripts/build configures the whole project, tests included.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      build-essential cmake ninja-build ccache pkg-config \
      libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev libboost-program-options1.81-dev libboost-system1.81-dev \
      libmariadb-dev libhiredis-dev librdkafka-dev \
      prometheus-cpp-dev libspdlog-dev libfmt-dev libyaml-cpp-dev libcli11-dev nlohmann-json3-dev \
      libgtest-dev libgmock-dev libbenchmark-dev libssl-dev libsodium-dev \
      nodejs npm \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /src
# .dockerignore keeps build/, .run/, .tools/ and .git out of the context.
COPY . .
# Only the server target: the test suite needs MariaDB, Redis and Kafka and runs with scripts/test.
# The web app (web/ → web/dist, npm packages pinned by web/package-lock.json) is served at /.
RUN BUILD_TYPE=Release scripts/build ticketing \
 && scripts/build web \
 && install -D -m 0755 build/ticketing /out/bin/ticketing \
 && strip --strip-unneeded /out/bin/ticketing \
 && cp -r config /out/config \
 && cp -r web/dist /out/web

# ---------------------------------------------------------------------------------------------
FROM ${DEBIAN_IMAGE} AS runtime

# The packages of the shared libraries the binary links (dpkg -S over its NEEDED entries;
# tests/integration/observability_stack_test.cpp fails when one is missing here), Boost.URL's
# runtime (linked only when its compiled part is used), and curl for the health check.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libboost-json1.81.0 libboost-url1.81.0 libmariadb3 libhiredis0.14 librdkafka1 librdkafka++1 \
      libspdlog1.10 libfmt9 libyaml-cpp0.7 libprometheus-cpp-core1.0 libssl3 libsodium23 \
      ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 ticketing \
 && useradd --system --uid 10001 --gid ticketing --home-dir /app --no-create-home \
      --shell /usr/sbin/nologin ticketing

COPY --from=build /out/bin/ticketing /app/bin/ticketing
COPY --from=build /out/config /app/config
COPY --from=build /out/web /app/web/dist
# Fails the image build if a shared library is missing from the list above.
RUN ["/app/bin/ticketing", "--help"]

WORKDIR /app
USER ticketing:ticketing
ENV TICKETING_PROFILE=prod \
    TICKETING_HTTP_ADDRESS=0.0.0.0 \
    TICKETING_HTTP_PORT=8080
EXPOSE 8080

# 200 only when the database, Redis and Kafka answer (503 otherwise). Worker-role processes
# serve /actuator/* too, so the same check fits every role.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD curl -fsS -o /dev/null "http://127.0.0.1:${TICKETING_HTTP_PORT:-8080}/actuator/health/liveness" || exit 1

# SIGTERM (docker stop) drains in-flight requests within http.shutdown-timeout (10 s).
STOPSIGNAL SIGTERM
ENTRYPOINT ["/app/bin/ticketing"]
CMD ["serve"]
