# The troubleticket server. Run alone it keeps its tickets in a SQLite file in the /data volume;
# TT_STORE=mongodb://... points it at MongoDB instead (docker-compose.yml does that).
FROM python:3.11-slim

# PIP_NO_CACHE_DIR also covers the pip subprocess that installs the build backend.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# The dependencies come from pyproject.toml alone, so this layer is rebuilt when they change,
# not on every source edit.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install --no-cache-dir -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

# The package itself; src/troubleticket/openapi links to ../../openapi, so the spec comes along.
COPY README.md ./
COPY openapi ./openapi
COPY src ./src
RUN pip install --no-cache-dir --no-deps . \
    && rm -rf build src/*.egg-info \
    && groupadd --system --gid 10001 troubleticket \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /data troubleticket \
    && mkdir -p /data \
    && chown 10001:10001 /data

# Numeric, so that a runtime (e.g. Kubernetes runAsNonRoot) can tell the user is not root.
USER 10001:10001
ENV TT_HOST=0.0.0.0 \
    TT_PORT=8080 \
    TT_STORE=/data/troubleticket.sqlite3
EXPOSE 8080
VOLUME ["/data"]
# Ready: the store can be read and written and the background loops run (no token needed).
HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/health/ready', timeout=4)"]
CMD ["troubleticket", "serve"]
