# The gateway's image: `docker build -t sovereign-gateway .`
# Stage 1 installs the locked runtime environment (requirements/runtime.lock: every package pinned,
# every file's hash checked, nothing resolved) and the gateway into /opt/gateway, then writes its
# CycloneDX SBOM; stage 2 copies both into a clean slim image without compilers, run by an
# unprivileged user. The SBOM is at /opt/gateway/sbom.cdx.json (docs/operations.md).
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
# A compiler only for dependencies without a prebuilt wheel for the target platform.
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
# The release tools (pip, pip-tools, the SBOM generator), locked like the rest, kept in this stage.
COPY requirements ./requirements
RUN python -m venv /opt/tools \
    && /opt/tools/bin/pip install --require-hashes --no-deps -r requirements/tools.lock
# The runtime environment has no pip of its own: nothing in the image installs anything.
RUN python -m venv --without-pip /opt/gateway \
    && /opt/tools/bin/pip --python /opt/gateway/bin/python install --require-hashes --no-deps \
        -r requirements/runtime.lock
COPY pyproject.toml README.md ./
COPY gateway ./gateway
COPY backends ./backends
RUN /opt/tools/bin/pip wheel --no-deps --no-build-isolation -w /wheels . \
    && /opt/tools/bin/pip --python /opt/gateway/bin/python install --no-deps /wheels/*.whl \
    && /opt/tools/bin/cyclonedx-py environment --output-reproducible --of JSON \
        -o /opt/gateway/sbom.cdx.json /opt/gateway

FROM ${PYTHON_IMAGE}
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/gateway/bin:$PATH \
    GATEWAY_CONFIG=/etc/gateway/gateway.yaml
RUN groupadd --system --gid 10001 gateway \
    && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/gateway --shell /usr/sbin/nologin gateway \
    && install -d -o 10001 -g 10001 -m 0750 /var/lib/gateway
COPY --from=build /opt/gateway /opt/gateway
# Default policies next to the default configuration path; Kubernetes mounts its own over them.
COPY policies /etc/gateway/policies
# The embedded store's relative data/ path lands here (the Helm chart uses Redis instead).
WORKDIR /var/lib/gateway
USER 10001:10001
EXPOSE 8080
ENTRYPOINT ["gateway", "serve"]
