# The troubleticket server on the embedded SQLite store; data lives in the /data volume.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY openapi ./openapi
COPY src ./src
RUN pip install . \
    && useradd --system --uid 10001 --no-create-home --home-dir /data troubleticket \
    && mkdir -p /data \
    && chown troubleticket /data

USER troubleticket
ENV TT_HOST=0.0.0.0 \
    TT_PORT=8080 \
    TT_STORE=/data/troubleticket.sqlite3
EXPOSE 8080
VOLUME ["/data"]
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/tmf-api/troubleTicket/v5/troubleTicket?limit=0', timeout=2)"]
CMD ["troubleticket", "serve"]
