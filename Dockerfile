# Worker image: `touchpoint worker` against the cluster in TOUCHPOINT_BROKER (docker-compose.yml, deploy/k8s/).
FROM python:3.11-slim-bookworm
WORKDIR /app
COPY pyproject.toml README.md ./
COPY streams ./streams
COPY agents ./agents
COPY schemas ./schemas
# The state directory exists, owned by the worker's user, so a volume mounted there inherits that owner.
RUN pip install --no-cache-dir . \
    && useradd --create-home --uid 10001 touchpoint \
    && mkdir -p /home/touchpoint/state \
    && chown touchpoint:touchpoint /home/touchpoint/state
USER 10001
ENV TOUCHPOINT_WEB_HOST=0.0.0.0 TOUCHPOINT_DATA_DIR=/home/touchpoint/state
EXPOSE 6066
ENTRYPOINT ["touchpoint"]
CMD ["worker"]
