# Dockerfile - bilhetagemd as a container image (docs/quality.md, issue 7).
#
#   docker build -t bilhetagem .
#   docker run -p 8080:8080 -e BILHETAGEM_JWT_SECRET=... -e BILHETAGEM_PAYMENT_WEBHOOK_SECRET=... \
#       -v bh-data:/var/lib/bilhetagem bilhetagem            # the embedded default (SQLite)
#   docker run ... bilhetagem -c /etc/bilhetagem/production.json   # PostgreSQL, Cognito, X-Ray
#
# Stage 1 builds on debian:12 with the -dev packages and installs into /out;
# stage 2 is debian:12-slim with only the shared libraries bilhetagemd and
# its plugins load, running as an unprivileged user.  Configuration comes
# from the environment: BILHETAGEM_LISTEN, BILHETAGEM_DATA_DIR and every
# ${VAR} the config file names (secrets such as BILHETAGEM_JWT_SECRET or a
# PostgreSQL DSN: on ECS they come from Secrets Manager through the task
# definition's "secrets", never from the image).  Another config file:
# mount it and pass `-c FILE` as the command.

# ---- build -------------------------------------------------------------------
FROM debian:12 AS build
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        build-essential autoconf automake pkg-config \
        libevent-dev libjansson-dev libpcre2-dev libjwt-dev libcunit1-dev \
        libsqlite3-dev libssl-dev libcurl4-openssl-dev libpq-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . /src
RUN autoreconf -fi \
    && ./configure --prefix=/usr --sysconfdir=/etc --enable-werror \
    && make -j"$(nproc)" \
    && make install DESTDIR=/out

# ---- runtime -----------------------------------------------------------------
FROM debian:12-slim AS runtime
# Runtime libraries only: no compiler, no -dev package.  curl is the health
# probe: it adds little, since libcurl4 is already here for the auth
# plugin's JWKS fetches, and bilhetagemd has no probe mode of its own.
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        libevent-2.1-7 libevent-pthreads-2.1-7 libjansson4 libpcre2-8-0 libjwt0 \
        libsqlite3-0 libpq5 libcurl4 libssl3 ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --user-group --home-dir /var/lib/bilhetagem \
        --shell /usr/sbin/nologin bilhetagem \
    && install -d -o bilhetagem -g bilhetagem -m 0750 /var/lib/bilhetagem
COPY --from=build /out/usr/bin/bilhetagemd /out/usr/bin/bilhetagemctl /usr/bin/
COPY --from=build /out/usr/lib/bilhetagem /usr/lib/bilhetagem
COPY --from=build /out/etc/bilhetagem /etc/bilhetagem

ENV BILHETAGEM_LISTEN=0.0.0.0:8080 \
    BILHETAGEM_DATA_DIR=/var/lib/bilhetagem
VOLUME ["/var/lib/bilhetagem"]
WORKDIR /var/lib/bilhetagem
USER bilhetagem:bilhetagem
EXPOSE 8080
# The port is read from BILHETAGEM_LISTEN, so moving the server keeps the check
# true.  No --start-period: bilhetagemd answers /healthz within milliseconds of
# starting (dockerfilelint 1.8 also misreads that option).  ECS runs the task
# definition's own health check, with a start period (deploy/ecs/).
HEALTHCHECK --interval=15s --timeout=3s --retries=3 \
    CMD curl -fsS --max-time 2 -o /dev/null "http://127.0.0.1:${BILHETAGEM_LISTEN##*:}/healthz" || exit 1
# SIGTERM drains in-flight requests (server.drain_timeout_ms), then exits 0.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/bin/bilhetagemd"]
CMD ["-c", "/etc/bilhetagem/bilhetagem.json"]
