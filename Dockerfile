# Worker image: `touchpoint worker` against the cluster in TOUCHPOINT_BROKER.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY streams ./streams
COPY agents ./agents
COPY schemas ./schemas
RUN pip install --no-cache-dir . && useradd --create-home touchpoint
USER touchpoint
ENV TOUCHPOINT_WEB_HOST=0.0.0.0 TOUCHPOINT_DATA_DIR=/home/touchpoint/state
EXPOSE 6066
ENTRYPOINT ["touchpoint"]
CMD ["worker"]
