#!/bin/sh
# A supervisor's campaignstatus with curl: opens a session, asks for one campaign's objects
# (the campaign, its agents, its ACD calls), prints the JSON answer on one line, ends the session.
# usage: campaignstatus.sh BASE_URL USER PASSWORD CAMPAIGN
set -eu
BASE=$1 USER=$2 PASSWORD=$3 CAMPAIGN=$4
API="$BASE/Integra/resources"
CT='Content-Type: application/x-www-form-urlencoded; charset=UTF-8'
answer=$(curl -sS -H "$CT" --data-urlencode "user=$USER" --data-urlencode "password=$PASSWORD" "$API/auth/getUserToken")
token=$(printf '%s' "$answer" | sed -e 's/.*,"\([^"]*\)"\]$/\1/')
curl -sS -f -H "$CT" -H "Authorization: Basic $token" --data-urlencode "queue=$CAMPAIGN" "$API/Supervisor/campaignstatus"
echo
curl -sS -H "$CT" --data-urlencode "user=$USER" --data-urlencode "token=$token" "$API/auth/EndSession" >/dev/null
