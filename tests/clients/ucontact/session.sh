#!/bin/sh
# A session with curl, one step per run (so that the engine can restart between steps).
# Prints one "name=value" line.
# usage: session.sh BASE_URL open USER PASSWORD   -> token=<token>
#        session.sh BASE_URL use TOKEN            -> queuesummary=<http status>
#        session.sh BASE_URL end USER TOKEN       -> endsession=<answer>
set -eu
BASE=$1 STEP=$2
API="$BASE/Integra/resources"
CT='Content-Type: application/x-www-form-urlencoded; charset=UTF-8'
case "$STEP" in
open)
  answer=$(curl -sS -H "$CT" --data-urlencode "user=$3" --data-urlencode "password=$4" "$API/auth/getUserToken")
  echo "token=$(printf '%s' "$answer" | sed -e 's/.*,"\([^"]*\)"\]$/\1/')"
  ;;
use)
  echo "queuesummary=$(curl -sS -o /dev/null -w '%{http_code}' -X POST -H "$CT" -H "Authorization: Basic $3" "$API/Supervisor/queuesummary")"
  ;;
end)
  echo "endsession=$(curl -sS -H "$CT" --data-urlencode "user=$3" --data-urlencode "token=$4" "$API/auth/EndSession")"
  ;;
*) echo "unknown step $STEP" >&2; exit 2 ;;
esac
