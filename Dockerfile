# The production image: gunicorn serving Django (static files by whitenoise), and the same
# image runs the Celery worker and beat (see docker-compose.yml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app

COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .
RUN python scripts/vendor_assets.py \
 && DEBUG=false SECRET_KEY=build-only-not-secret python manage.py collectstatic --noinput \
 && useradd --system --home /app helpdesk && mkdir -p /app/var && chown -R helpdesk /app/var

USER helpdesk
EXPOSE 8000
CMD ["gunicorn", "helpdesk.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-"]
