# The gateway's image: `docker build -t sovereign-gateway .`
# Stage 1 builds every wheel (the gateway's and its dependencies'); stage 2 installs them into a
# clean slim image without compilers, and runs as an unprivileged user.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
# A compiler only for dependencies without a prebuilt wheel for the target platform.
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY gateway ./gateway
COPY backends ./backends
# `ner` adds spaCy and its small French model, for person and place names in PII redaction
# (docs/pii.md); build with --build-arg EXTRAS= for an image without it.
ARG EXTRAS=ner
RUN if [ -n "$EXTRAS" ]; then target=".[$EXTRAS]"; else target="."; fi \
    && pip wheel --wheel-dir /wheels "$target"

FROM ${PYTHON_IMAGE}
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    GATEWAY_CONFIG=/etc/gateway/gateway.yaml
RUN groupadd --system --gid 10001 gateway \
    && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/gateway --shell /usr/sbin/nologin gateway \
    && install -d -o 10001 -g 10001 -m 0750 /var/lib/gateway
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-index /wheels/*.whl
# Default policies next to the default configuration path; Kubernetes mounts its own over them.
COPY policies /etc/gateway/policies
# The embedded store's relative data/ path lands here (the Helm chart uses Redis instead).
WORKDIR /var/lib/gateway
USER 10001:10001
EXPOSE 8080
ENTRYPOINT ["gateway", "serve"]
