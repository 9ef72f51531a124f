#!/bin/sh
# Shorthands for the image's roles; anything else runs as given.
set -e
case "$1" in
  web)     shift; exec gunicorn config.wsgi:application --bind 0.0.0.0:8000 --workers 3 "$@" ;;
  worker)  shift; exec celery -A config.celery_app worker -l info "$@" ;;
  beat)    shift; exec celery -A config.celery_app beat -l info --schedule /tmp/celerybeat-schedule "$@" ;;
  migrate) shift; exec python manage.py migrate_schemas --noinput "$@" ;;
  *)       exec "$@" ;;
esac
