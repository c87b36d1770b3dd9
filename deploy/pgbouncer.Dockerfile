# PgBouncer for docker-compose.yml's `pooled` profile: Debian 12's package (1.18), the build the
# tests run (tests/infra.py), and pg_isready for the healthcheck. It runs as `postgres` (PgBouncer
# refuses root); the command and the ini come from docker-compose.yml and deploy/pgbouncer.ini.
FROM debian:bookworm-slim
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
       pgbouncer postgresql-client \
    && rm -rf /var/lib/apt/lists/*
USER postgres
CMD ["pgbouncer", "/etc/pgbouncer/pgbouncer.ini"]
