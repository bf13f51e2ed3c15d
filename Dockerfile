FROM python:3.12-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
# The share cards (polls/sharing.py): FriBiDi lets Pillow's libraqm shape and order Arabic and
# Hebrew; Droid Sans Fallback draws Chinese and Japanese (Korean falls back to empty boxes).
RUN apt-get update \
 && apt-get install -y --no-install-recommends libfribidi0 fonts-droid-fallback \
 && rm -rf /var/lib/apt/lists/*
COPY . .
RUN pip install --no-cache-dir . \
 && SECRET_KEY=collectstatic ALLOWED_HOSTS=build DATABASE_URL=postgres://build/none \
    python manage.py collectstatic --no-input -v0 \
 && useradd --system pollsite
USER pollsite
EXPOSE 8000
CMD ["gunicorn", "--config", "python:pollsite.gunicorn_conf", "pollsite.wsgi"]
