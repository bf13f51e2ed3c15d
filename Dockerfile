FROM python:3.12-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY . .
RUN pip install --no-cache-dir . \
 && SECRET_KEY=collectstatic ALLOWED_HOSTS=build DATABASE_URL=postgres://build/none \
    python manage.py collectstatic --no-input -v0 \
 && useradd --system pollsite
USER pollsite
EXPOSE 8000
CMD ["gunicorn", "--config", "python:pollsite.gunicorn_conf", "pollsite.wsgi"]
