#!/bin/sh
# Shorthands for the image's roles; anything else runs as given.
set -e
# Compose passes optional variables through as empty strings; Gunicorn reads WEB_CONCURRENCY
# before its config file does and refuses an empty one. Empty means unset.
[ -n "${WEB_CONCURRENCY:-}" ] || unset WEB_CONCURRENCY
case "$1" in
  web)     shift; exec gunicorn config.wsgi:application -c deploy/gunicorn.conf.py "$@" ;;
  worker)  shift; exec celery -A config.celery_app worker -l info "$@" ;;
  beat)    shift; exec celery -A config.celery_app beat -l info --schedule /tmp/celerybeat-schedule "$@" ;;
  migrate) shift; exec python manage.py migrate_schemas --noinput "$@" ;;
  *)       exec "$@" ;;
esac
