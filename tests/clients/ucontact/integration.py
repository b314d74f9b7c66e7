"""A uContact Integra client written the way integrations are: Python `requests`, form-urlencoded
POSTs, `Authorization: Basic <token>`.

Walks one integration against the engine and prints a JSON summary of what it saw on its last
line; exits 1 (with the reason on stderr) when an answer is not the documented one.

DESTINATION answers and hangs up by itself after a few seconds (the lab carrier's 5551NNN);
HANGUP_DESTINATION is called afterwards to hang the agent's phone up with HangupPhone.

TRUNK_CAMPAIGN is a campaign whose calls leave through another trunk: a call for it shows that
trunk in its getrecords row.

usage: integration.py BASE_URL USER PASSWORD AGENT PHONE CAMPAIGN DESTINATION MP3_OUT HANGUP_DESTINATION TRUNK_CAMPAIGN
"""

import datetime
import json
import re
import sys
import time
import zoneinfo

import requests

BASE, USER, PASSWORD, AGENT, PHONE, CAMPAIGN, DEST, MP3_OUT, HANGUP_DEST, TRUNK_CAMPAIGN = sys.argv[1:11]
API = BASE + "/Integra/resources/"
FORM = {"Content-Type": "application/x-www-form-urlencoded; charset=UTF-8"}
GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
summary = {}


def fail(why):
    print(json.dumps(summary), file=sys.stderr)
    sys.exit(f"FAILED: {why}")


def post(op, data, token=None, expect=200):
    headers = dict(FORM)
    if token is not None:
        headers["Authorization"] = "Basic " + token
    r = requests.post(API + op, data=data, headers=headers, timeout=30)
    if r.status_code != expect:
        fail(f"{op}: HTTP {r.status_code} {r.text!r}, expected {expect}")
    return r


def poll(what, fn, within=40.0):
    deadline = time.time() + within
    while True:
        got = fn()
        if got:
            return got
        if time.time() > deadline:
            fail(f"timed out waiting for {what}")
        time.sleep(0.5)


# Refused without a token.
summary["no_token_status"] = post("Supervisor/queuesummary", {}, None, expect=401).status_code

# Session.
answer = post("auth/getUserToken", {"user": USER, "password": "wrong"}).text
if answer != "0":
    fail(f"a wrong password must answer 0, got {answer!r}")
session = post("auth/getUserToken", {"user": USER, "password": PASSWORD}).json()
token = session[-1]
summary["token_length"] = len(token)

# The agent's phone is idle in its campaign (status 1, NOT_INUSE).
location = "PJSIP/" + PHONE


def idle():
    st = post("Supervisor/campaignstatus", {"queue": CAMPAIGN}, token).json()
    return st.get(location, {}).get("status") == 1


poll("the agent's phone idle", idle)

# The two-step call, with data for the workflow and a popup form.
data = json.dumps({"idcliente": "77", "origen": "crm"})
guid = post(
    "Agents/AgentCallwithData",
    {
        "callerid": "26003000",
        "agent": AGENT,
        "phone": PHONE,
        "tech": "SIP",
        "context": "from-internal",
        "outqueue": CAMPAIGN,
        "destination": DEST,
        "data": data,
        "form": "https://crm.example/ficha?id=77",
    },
    token,
).text
if not GUID.match(guid):
    fail(f"AgentCallwithData must answer a GUID, got {guid!r}")
summary["guid"] = guid

# The agent shows busy in its campaign.
def busy():
    st = post("Supervisor/campaignstatus", {"queue": CAMPAIGN}, token).json()
    agent = st.get(location)
    # 2 INUSE, or 3 BUSY for phones that take one call at a time (device_state_busy_at = 1).
    if agent and agent["status"] in (2, 3) and st[CAMPAIGN]["busy"] >= 1:
        return st
    return None


status = poll("the agent busy in campaignstatus", busy)
summary["campaign_busy"] = status[CAMPAIGN]["busy"]
summary["agent_status"] = status[location]["status"]
summary["agent_name"] = status[location]["name"]
summary["agent_incall"] = status[location]["incall"]
all_campaigns = post("Supervisor/campaignstatus", {}, token).json()
summary["campaignstatus_all_has_campaign"] = CAMPAIGN in all_campaigns
summary["campaignstatus_all_has_agents"] = any(k.startswith("PJSIP/") for k in all_campaigns)
qs = post("Supervisor/queuesummary", {}, token).json()
mine = [q for q in qs if q.get("queue") == CAMPAIGN]
if len(mine) != 1:
    fail(f"queuesummary must list {CAMPAIGN}: {qs}")
summary["queuesummary_logged_in"] = mine[0]["loggedIn"]
summary["queuesummary_last_is_marker"] = set(qs[-1]) == {"internalActionId", "dateReceived"}

# The customer hangs up; the agent is idle again.
poll("the agent idle after the call", idle)

# The customer asks not to be called again.
r = post(
    "api/DispositionCall",
    {
        "campaign": CAMPAIGN,
        "agent": AGENT,
        "callerid": DEST,
        "guid": guid,
        "l1": "No llamar",
        "l2": "Pidio",
        "l3": "",
        "comment": "pidio no ser llamado",
        "tag": "",
    },
    token,
)
summary["disposition"] = r.json()
r = post(
    "api/DispositionCall",
    {"campaign": CAMPAIGN, "agent": AGENT, "callerid": DEST, "guid": guid, "l1": ""},
    token,
    expect=400,
)
summary["disposition_empty_l1"] = r.text

# A new call to that number is refused.
summary["call_blacklisted"] = post(
    "Agents/AgentCall",
    {
        "callerid": "26003000",
        "agent": AGENT,
        "phone": PHONE,
        "tech": "SIP",
        "context": "from-internal",
        "outqueue": CAMPAIGN,
        "destination": DEST,
    },
    token,
).text

# Another call, hung up from the API: the agent's phone goes back to not in use.
other = post(
    "Agents/AgentCall",
    {
        "callerid": "",
        "agent": AGENT,
        "phone": PHONE,
        "tech": "SIP",
        "context": "from-internal",
        "outqueue": CAMPAIGN,
        "destination": HANGUP_DEST,
    },
    token,
).text
if not GUID.match(other):
    fail(f"AgentCall must answer a GUID, got {other!r}")
poll("the agent busy with the second call", busy)
summary["hangup"] = post("Agents/HangupPhone", {"phone": PHONE}, token).text
poll("the agent idle after HangupPhone", idle)
summary["hangup_again"] = post("Agents/HangupPhone", {"phone": PHONE}, token).text

# A call for a campaign with its own trunk is dialed through that trunk.
trunk_guid = post(
    "Agents/AgentCall",
    {"agent": AGENT, "phone": PHONE, "outqueue": TRUNK_CAMPAIGN, "destination": HANGUP_DEST},
    token,
).text
if not GUID.match(trunk_guid):
    fail(f"AgentCall ({TRUNK_CAMPAIGN}) must answer a GUID, got {trunk_guid!r}")

# The call's recording row.
tz = zoneinfo.ZoneInfo("America/Montevideo")
today = datetime.datetime.now(tz).strftime("%Y-%m-%d")
flt = {
    "calldatei": today + " 00:00:00",
    "calldatef": today + " 23:59:59",
    "agent": "",
    "campaign": CAMPAIGN,
    "source": "",
    "destination": DEST,
    "data": "",
    "range": "",
    "rating": "",
    "mindur": "",
    "exclude": "",
    "type": "record",
    "cont": "",
}


def find_row():
    rows = post(
        "Cdr/getrecords",
        {"lastrow": 0, "searchLimit": 50, "filter": json.dumps(flt), "Random": 1},
        token,
    ).json()
    return next((r for r in rows if r["guid"] == guid), None)


row = poll("the call in getrecords", find_row, within=60)
summary["row"] = row


def find_trunk_row():
    f = dict(flt, campaign=TRUNK_CAMPAIGN, destination="")
    rows = post("Cdr/getrecords", {"lastrow": 0, "searchLimit": 50, "filter": json.dumps(f)}, token).json()
    return next((r for r in rows if r["guid"] == trunk_guid), None)


summary["trunk_row"] = poll("the other campaign's call in getrecords", find_trunk_row, within=60)
poll("the agent idle after the other campaign's call", idle)

# The MP3, in the day folder and flat.
folder = row["calldate"][:10].replace("-", "")
auth = {"Authorization": "Basic " + token}
r = requests.get(f"{BASE}/records/{folder}/{guid}.mp3", headers=auth, timeout=60)
if r.status_code != 200:
    fail(f"records/{folder}/{guid}.mp3: HTTP {r.status_code}")
with open(MP3_OUT, "wb") as f:
    f.write(r.content)
summary["mp3_content_type"] = r.headers.get("Content-Type")
summary["mp3_bytes"] = len(r.content)
flat = requests.get(f"{BASE}/records/{guid}.mp3", headers=auth, timeout=60)
summary["flat_same"] = flat.status_code == 200 and flat.content == r.content
summary["mp3_no_token_status"] = requests.get(f"{BASE}/records/{guid}.mp3", timeout=30).status_code
summary["convert"] = post("Supervisor/convert", {"guid": guid, "folder": folder}, token).text

# The row's signed links open the recording without Authorization (as an <audio src> does).
summary["record_url"] = row.get("record_url")
summary["record_url_gsm"] = row.get("record_url_gsm")
summary["record_url_expires"] = row.get("record_url_expires")
linked = requests.get(row["record_url"], timeout=60)
summary["link_status"] = linked.status_code
summary["link_same"] = linked.content == r.content
gsm = requests.get(row["record_url_gsm"], timeout=60)
summary["gsm_status"] = gsm.status_code
summary["gsm_content_type"] = gsm.headers.get("Content-Type")
summary["gsm_bytes"] = len(gsm.content)
day_link = f"{BASE}/records/{folder}/{guid}.gsm?" + row["record_url_gsm"].split("?", 1)[1]
summary["gsm_day_link_status"] = requests.get(day_link, timeout=60).status_code
summary["gsm_authorized_status"] = requests.get(f"{BASE}/records/{guid}.gsm", headers=auth, timeout=60).status_code

# Tag the recording, then find it by the tag.
summary["tag_answer"] = post("Agents/TagRecord", {"phone": DEST, "guid": guid, "data": "promesa-de-pago"}, token).text
flt["data"] = "promesa-de-pago"
summary["found_by_tag"] = find_row() is not None

# End the session: the token is refused afterwards.
summary["end_session"] = post("auth/EndSession", {"user": USER, "token": token}).text
summary["after_end_status"] = post("Cdr/getrecords", {"lastrow": 0}, token, expect=401).status_code
print(json.dumps(summary))
