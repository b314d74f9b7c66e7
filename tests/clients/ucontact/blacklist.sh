#!/bin/sh
# A shell integration with curl: a session, the blacklist (single and bulk, add and delete) and
# the end of the session. Prints one "name=value" line per answer.
# A number blacklisted for outbound calls of the campaign is refused by AgentCall; one
# blacklisted for inbound calls only is not.
# usage: blacklist.sh BASE_URL USER PASSWORD CAMPAIGN AGENT_PHONE PHONE1 PHONE2
set -eu
BASE=$1 USER=$2 PASSWORD=$3 CAMPAIGN=$4 PHONE=$5 P1=$6 P2=$7
API="$BASE/Integra/resources"
CT='Content-Type: application/x-www-form-urlencoded; charset=UTF-8'

answer=$(curl -sS -H "$CT" --data-urlencode "user=$USER" --data-urlencode "password=$PASSWORD" "$API/auth/getUserToken")
token=$(printf '%s' "$answer" | sed -e 's/.*,"\([^"]*\)"\]$/\1/')
echo "token_length=${#token}"
post() { # op field json
  curl -sS -o /dev/stdout -w ' %{http_code}' -H "$CT" -H "Authorization: Basic $token" \
    --data-urlencode "$2=$3" "$API/$1"
}
echo "addblack=$(post admin/addblack black "{\"phone\": \"$P1\", \"campaign\": \"$CAMPAIGN\", \"username\": \"$USER\", \"name\": \"Ana\", \"expire_date\": \"2099-12-31\", \"direction\": \"O\"}")"
echo "addblackbulk=$(post admin/addblackbulk black "[{\"phone\": \"$P2\", \"campaign\": \"*\", \"direction\": \"I\"}, {\"phone\": \"$P1\", \"campaign\": \"*\", \"direction\": \"I\"}]")"
call() { # destination
  curl -sS -H "$CT" -H "Authorization: Basic $token" --data-urlencode "callerid=26003000" \
    --data-urlencode "agent=$USER" --data-urlencode "phone=$PHONE" --data-urlencode "tech=SIP" \
    --data-urlencode "outqueue=$CAMPAIGN" --data-urlencode "destination=$1" "$API/Agents/AgentCall"
}
echo "call_outbound_blacklisted=$(call "$P1")"
echo "call_inbound_only_blacklisted=$(call "$P2")"
echo "addblack_bad=$(post admin/addblack black "{\"campaign\": \"$CAMPAIGN\"}")"
echo "deleteblack=$(post admin/deleteblack black "{\"phone\": \"$P1\", \"campaign\": \"$CAMPAIGN\"}")"
echo "deleteblackbulk=$(post admin/deleteblackbulk black "[{\"phone\": \"$P2\", \"campaign\": \"*\"}, {\"phone\": \"$P1\", \"campaign\": \"*\"}]")"
echo "endsession=$(curl -sS -H "$CT" --data-urlencode "user=$USER" --data-urlencode "token=$token" "$API/auth/EndSession")"
echo "after_end=$(post admin/addblack black "{\"phone\": \"$P1\", \"campaign\": \"*\"}")"
