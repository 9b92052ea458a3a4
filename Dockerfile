# One image for web, worker and beat (see docker-compose.yml).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

COPY pyproject.toml requirements.lock README.md ./
RUN python -m pip install -c requirements.lock -e . \
    && useradd --create-home --uid 1000 app

COPY . .
# collectstatic needs settings that import; these throwaway values never reach a running container.
RUN python bin/compile_messages.py \
    && DEBUG=0 SECRET_KEY=build-only-secret-key-not-used-at-runtime-0123456789 \
       FIELD_ENCRYPTION_KEYS=yDpX8v1G0s5xTKXf3zg1lqWqDkqkNZgmTg2hD9yXhQ4= ALLOWED_HOSTS=localhost \
       KSEF_ENVIRONMENT=test ENV_FILE=/dev/null python manage.py collectstatic --noinput \
    && mkdir -p /app/var && chown -R app:app /app/var

USER app
EXPOSE 8000
# gunicorn takes its number of workers from WEB_CONCURRENCY: 4 sync workers on 2 cores is what docs/QUALITY.md
# measures (bench/bench_webload.py); set it to about twice the cores the container gets.
ENV WEB_CONCURRENCY=4
CMD ["gunicorn", "ksefportal.wsgi", "--bind", "0.0.0.0:8000", "--access-logfile", "-"]
