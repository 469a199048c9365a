# The API image: FastAPI, the store and the queue client. No torch (docs/design.md §1): the API never trains, it
# enqueues run ids by task name, so this image stays small and needs no GPU.
FROM python:3.11-slim

# `rblock-pilot backup` and `restore` run pg_dump and pg_restore here, which must be at least as new as the
# server: the client of the `postgres:16` image in docker-compose.yml, from the PostgreSQL project's Debian
# repository (Debian 12's own client is 15). Change both together.
ARG PG_MAJOR=16

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN apt-get update \
    && apt-get install -y --no-install-recommends postgresql-common ca-certificates \
    && /usr/share/postgresql-common/pgdg/apt.postgresql.org.sh -y \
    && apt-get install -y --no-install-recommends "postgresql-client-${PG_MAJOR}" \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
# Sources only (no .venv, no var/): every package is listed so that setuptools finds what pyproject names.
COPY pyproject.toml README.md ./
COPY rblock ./rblock
COPY backend ./backend
COPY frontend ./frontend
COPY worker ./worker
COPY pilot_cli ./pilot_cli
RUN pip install ".[api]" \
    && python -c "import importlib.util, sys; sys.exit(importlib.util.find_spec('torch') is not None)"

# An unprivileged user; /data is owned by it so that named volumes mounted there start writable.
RUN useradd --create-home --uid 1000 pilot \
    && mkdir -p /data/artifacts /data/datasets /data/backups \
    && chown -R pilot:pilot /data
USER pilot

ENV ARTIFACT_DIR=/data/artifacts \
    DATA_ROOT=/data/datasets

EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD python -c "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/api/v1/health', timeout=2).status != 200)"

# Migrates the schema, then execs uvicorn.
CMD ["rblock-pilot", "api", "--host", "0.0.0.0", "--port", "8000"]
