# mailbot-sandbox: the API on 8025, the SMTP sink on 1025, the data in the /data volume.
#
#   docker build -t mailbot-sandbox .
#   docker run -p 8025:8025 -p 1025:1025 -p 1465:1465 mailbot-sandbox
#
# Configure it with MAILBOT_* variables (docker run -e MAILBOT_RETENTION_DAYS=7 ...); see the
# README's configuration table. Plain Dockerfile syntax: the classic builder builds it too.
ARG BASE_IMAGE=python:3.12-slim

# -- build: a virtual environment with the package and its dependencies ----------------------------
FROM ${BASE_IMAGE} AS build
LABEL mailbot-sandbox.stage=build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN python3 -m venv /opt/mailbot-sandbox
WORKDIR /src
# Dependencies first, in a layer of their own that only pyproject.toml invalidates: changing the
# code (or the README) does not fetch them again.
COPY pyproject.toml ./
RUN mkdir mailbot_sandbox pytest_mailbot \
    && echo '__version__ = "0"' > mailbot_sandbox/__init__.py \
    && touch README.md pytest_mailbot/__init__.py \
    && /opt/mailbot-sandbox/bin/pip install --quiet "setuptools>=68" wheel . \
    && /opt/mailbot-sandbox/bin/pip uninstall --quiet --yes mailbot-sandbox \
    && rm -rf README.md mailbot_sandbox pytest_mailbot build *.egg-info
COPY README.md ./
COPY mailbot_sandbox ./mailbot_sandbox
COPY pytest_mailbot ./pytest_mailbot
# No pip in the result: the image runs the sandbox, it installs nothing.
RUN /opt/mailbot-sandbox/bin/pip install --quiet --no-deps --no-build-isolation . \
    && /opt/mailbot-sandbox/bin/pip uninstall --quiet --yes pip setuptools wheel

# -- runtime: the base image, the environment, a user without privileges -------------------------
FROM ${BASE_IMAGE}
LABEL org.opencontainers.image.title="mailbot-sandbox" \
      org.opencontainers.image.description="Local stand-in for the mailbot programmable-inbox API: REST on 8025, SMTP on 1025" \
      org.opencontainers.image.licenses="MIT" \
      mailbot-sandbox.stage=runtime
RUN groupadd --system --gid 10001 mailbot \
    && useradd --system --uid 10001 --gid mailbot --home-dir /data --no-create-home \
        --shell /usr/sbin/nologin mailbot \
    && mkdir /data && chown mailbot:mailbot /data
COPY --from=build /opt/mailbot-sandbox /opt/mailbot-sandbox
# Inside a container the sandbox must listen on every interface, or no published port reaches it.
ENV PATH=/opt/mailbot-sandbox/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    MAILBOT_HOST=0.0.0.0 \
    MAILBOT_PORT=8025 \
    MAILBOT_SMTP_PORT=1025 \
    MAILBOT_SMTPS_PORT=1465 \
    MAILBOT_DB=/data/mailbot.db
VOLUME ["/data"]
WORKDIR /data
USER mailbot
# 1465: SMTP with implicit TLS; the sandbox CA is /data/tls/ca.pem and GET /sandbox/v1/tls/ca.pem.
EXPOSE 8025 1025 1465
# The sandbox stops on SIGTERM (docker stop): SMTP first, so every message answered 250 is stored.
STOPSIGNAL SIGTERM
# Healthy = ready: the database answers and SMTP listens (compose's service_healthy waits for it).
HEALTHCHECK --interval=5s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python3", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('MAILBOT_PORT', '8025') + '/ready', timeout=2)"]
ENTRYPOINT ["mailbot-sandbox"]
CMD ["serve"]
