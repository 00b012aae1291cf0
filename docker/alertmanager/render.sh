#!/bin/sh
# Entry point of the deployment's Alertmanager (docker-compose.yaml): renders
# ops/alertmanager/alertmanager.yml.tmpl like the local stack does (python/soundlake/stack/services/
# monitoring.py), with the Telegram bot token and chat id from Compose secrets, then runs
# Alertmanager. Without the secrets (empty files) every route ends in the "null" receiver.
# POSIX sh + sed: the prom/alertmanager image is busybox-based.
set -eu
template=${ALERTMANAGER_TEMPLATE:-/etc/alertmanager/alertmanager.yml.tmpl}
out=${ALERTMANAGER_CONFIG:-/alertmanager/alertmanager.yml}
token_file=${TELEGRAM_BOT_TOKEN_FILE:-/run/secrets/telegram_bot_token}
chat_file=${TELEGRAM_CHAT_ID_FILE:-/run/secrets/telegram_chat_id}

read_secret() { [ -s "$1" ] && tr -d ' \r\n' < "$1" || true; }
token=$(read_secret "$token_file")
chat=$(read_secret "$chat_file")

if [ -n "$token" ] && [ -n "$chat" ]; then
    case "$chat" in
        -[0-9]*|[0-9]*) ;;
        *) echo "render.sh: the Telegram chat id must be a number, got '$chat'" >&2; exit 2 ;;
    esac
    critical=telegram-critical
    warning=telegram-warning
    drop_telegram=''
else
    echo "render.sh: no Telegram bot token and chat id ($token_file, $chat_file): alerts go to the null receiver" >&2
    critical='"null"'
    warning='"null"'
    drop_telegram='/# telegram:begin/,/# telegram:end/d'
fi
# sed replacement text: escape \, & and the | delimiter; YAML double-quoted string: \ and "
escape() { printf '%s' "$1" | sed -e 's/[\\&|]/\\&/g'; }
yaml_string() { printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g'; }
umask 077
sed -e "$drop_telegram" \
    -e "s|\${telegram_template}|$(escape "${TELEGRAM_TEMPLATE:-/etc/alertmanager/telegram.tmpl}")|g" \
    -e "s|\${critical_receiver}|$(escape "$critical")|g" \
    -e "s|\${warning_receiver}|$(escape "$warning")|g" \
    -e "s|\${telegram_bot_token}|\"$(escape "$(yaml_string "$token")")\"|g" \
    -e "s|\${telegram_chat_id}|$(escape "${chat:-0}")|g" \
    "$template" > "$out"
if [ "${RENDER_ONLY:-0}" = 1 ]; then
    exit 0
fi
exec /bin/alertmanager --config.file="$out" --storage.path=/alertmanager "$@"
