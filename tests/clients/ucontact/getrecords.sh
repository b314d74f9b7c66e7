#!/bin/sh
# getrecords with curl, as a CRM's nightly export does: opens a session, asks for today's
# recorded calls from SOURCE, prints the JSON answer on one line, ends the session.
# usage: getrecords.sh BASE_URL USER PASSWORD SOURCE
set -eu
BASE=$1 USER=$2 PASSWORD=$3 SOURCE=$4
API="$BASE/Integra/resources"
CT='Content-Type: application/x-www-form-urlencoded; charset=UTF-8'
answer=$(curl -sS -H "$CT" --data-urlencode "user=$USER" --data-urlencode "password=$PASSWORD" "$API/auth/getUserToken")
token=$(printf '%s' "$answer" | sed -e 's/.*,"\([^"]*\)"\]$/\1/')
filter="{\"source\": \"$SOURCE\", \"type\": \"record\"}"
curl -sS -f -H "$CT" -H "Authorization: Basic $token" --data-urlencode "lastrow=0" \
    --data-urlencode "searchLimit=50" --data-urlencode "filter=$filter" --data-urlencode "Random=1" \
    "$API/Cdr/getrecords"
echo
curl -sS -H "$CT" --data-urlencode "user=$USER" --data-urlencode "token=$token" "$API/auth/EndSession" >/dev/null
