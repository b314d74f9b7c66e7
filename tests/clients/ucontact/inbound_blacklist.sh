#!/bin/sh
# The inbound blacklist with curl: adds (or deletes) entries that refuse callers before the
# campaign's queue. Prints one "name=value" line per answer.
# usage: inbound_blacklist.sh BASE_URL USER PASSWORD CAMPAIGN add|delete P_QUEUE P_ALL P_OUT P_EXPIRED
#   P_QUEUE    blacklisted for inbound calls of CAMPAIGN (direction I)
#   P_ALL      blacklisted for every campaign, both directions
#   P_OUT      blacklisted for outbound calls only (its inbound calls are answered)
#   P_EXPIRED  blacklisted for inbound calls until a day that is past
set -eu
BASE=$1 USER=$2 PASSWORD=$3 CAMPAIGN=$4 ACTION=$5 PQ=$6 PALL=$7 POUT=$8 PEXP=$9
API="$BASE/Integra/resources"
CT='Content-Type: application/x-www-form-urlencoded; charset=UTF-8'

answer=$(curl -sS -H "$CT" --data-urlencode "user=$USER" --data-urlencode "password=$PASSWORD" "$API/auth/getUserToken")
token=$(printf '%s' "$answer" | sed -e 's/.*,"\([^"]*\)"\]$/\1/')
post() { # op json
  curl -sS -o /dev/stdout -w ' %{http_code}' -H "$CT" -H "Authorization: Basic $token" \
    --data-urlencode "black=$2" "$API/$1"
}
case "$ACTION" in
add)
  echo "addblack=$(post admin/addblack "{\"phone\": \"$PQ\", \"campaign\": \"$CAMPAIGN\", \"username\": \"$USER\", \"direction\": \"I\"}")"
  echo "addblackbulk=$(post admin/addblackbulk "[{\"phone\": \"$PALL\", \"campaign\": \"*\", \"direction\": \"IO\"}, {\"phone\": \"$POUT\", \"campaign\": \"$CAMPAIGN\", \"direction\": \"O\"}, {\"phone\": \"$PEXP\", \"campaign\": \"$CAMPAIGN\", \"direction\": \"I\", \"expire_date\": \"2020-01-31\"}]")"
  ;;
delete)
  echo "deleteblack=$(post admin/deleteblack "{\"phone\": \"$PQ\", \"campaign\": \"$CAMPAIGN\"}")"
  echo "deleteblackbulk=$(post admin/deleteblackbulk "[{\"phone\": \"$PALL\", \"campaign\": \"*\"}, {\"phone\": \"$POUT\", \"campaign\": \"$CAMPAIGN\"}, {\"phone\": \"$PEXP\", \"campaign\": \"$CAMPAIGN\"}]")"
  ;;
*) echo "unknown action $ACTION" >&2; exit 2 ;;
esac
echo "endsession=$(curl -sS -H "$CT" --data-urlencode "user=$USER" --data-urlencode "token=$token" "$API/auth/EndSession")"
