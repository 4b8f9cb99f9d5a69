FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
RUN useradd --create-home --uid 1000 forumq

COPY pyproject.toml README.md ./
COPY forumq ./forumq
COPY api ./api
COPY schemas ./schemas
COPY workers ./workers
COPY forum ./forum
RUN pip install --no-cache-dir . \
    && mkdir -p /data/uploads && chown forumq:forumq /data/uploads

USER forumq
EXPOSE 4567
# Overridden per service in docker-compose.yml (serve / worker / migrate).
CMD ["forumq", "serve", "--host", "0.0.0.0", "--port", "4567"]
