# Worker image: `touchpoint worker` against the cluster in TOUCHPOINT_BROKER (docker-compose.yml, deploy/k8s/).

# Build stage: the per-record core compiled to C extensions (setup.py) with this image's gcc, into a wheel,
# beside the wheels of every dependency. The runtime image below has no compiler and needs no index.
FROM python:3.11-bookworm AS build
WORKDIR /src
COPY pyproject.toml setup.py README.md ./
# build-wheels compiles through compile-core (profile-guided with GCC), which clears builds with remove-build.
COPY scripts/build-wheels scripts/compile-core scripts/remove-build ./scripts/
COPY streams ./streams
COPY agents ./agents
COPY schemas ./schemas
RUN ./scripts/build-wheels /wheels

FROM python:3.11-slim-bookworm
WORKDIR /app
COPY --from=build /wheels /wheels
# The state directory exists, owned by the worker's user, so a volume mounted there inherits that owner.
RUN pip install --no-cache-dir --no-index --find-links /wheels touchpoint \
    && rm -rf /wheels \
    && useradd --create-home --uid 10001 touchpoint \
    && mkdir -p /home/touchpoint/state \
    && chown touchpoint:touchpoint /home/touchpoint/state
USER 10001
ENV TOUCHPOINT_WEB_HOST=0.0.0.0 TOUCHPOINT_DATA_DIR=/home/touchpoint/state
EXPOSE 6066
ENTRYPOINT ["touchpoint"]
CMD ["worker"]
