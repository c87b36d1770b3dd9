# syntax=docker/dockerfile:1
# studentgraph API and worker image. One image, two commands:
#   studentgraph serve --host 0.0.0.0 [--workers N]    (the default CMD)
#   studentgraph worker
# It runs as an unprivileged user and defaults to ENVIRONMENT=production, which refuses to start
# without a real JWT_SECRET (or a public key / JWKS URL) and a DATABASE_URL you choose.

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
# The same pins as `make install`: requirements.lock constrains every transitive version.
COPY pyproject.toml requirements.lock README.md ./
COPY app ./app
RUN pip install -c requirements.lock .

FROM python:3.11-slim
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    ENVIRONMENT=production
RUN groupadd --system --gid 10001 studentgraph \
    && useradd --system --uid 10001 --gid studentgraph --home-dir /var/lib/studentgraph \
       --create-home --shell /usr/sbin/nologin studentgraph
# The code lives read-only in the virtualenv (owned by root); the user can write only its home,
# a place for a SQLite file if you run the image without PostgreSQL.
COPY --from=build /opt/venv /opt/venv
WORKDIR /var/lib/studentgraph
USER studentgraph:studentgraph
EXPOSE 8000
CMD ["studentgraph", "serve", "--host", "0.0.0.0", "--port", "8000"]
