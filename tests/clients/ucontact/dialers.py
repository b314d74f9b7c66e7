"""The uContact Integra dialer operations (`Dialers/*`) written the way integrations use them:
Python `requests`, form-urlencoded POSTs whose JSON objects are the seed's examples (only the
campaign name changed to the lab's), `Authorization: Basic <token>`.

Respool (twice: the second is refused, the destination is in the spool), ScheduleDialerCall,
DialerTask in its four modes (the click-to-call one from a supervisor's session naming no agent:
refused, nothing rings), RemoveContact, RemoveScheduleDialerCall, uploadbase and
uploadbasewithtimezone followed with the engine's uploadstatus until done, a DispositionCall
whose rule is RESPOOL; unknown campaigns, hostile JSON and an agent on a supervisor operation.

Prints a JSON summary of every answer on its last line; exits 1 (the reason on stderr) when an
answer is not the documented one. The caller checks the effects in the engine's store.

usage: dialers.py BASE_URL AGENT_USER AGENT_PASSWORD SUP_USER SUP_PASSWORD CAMPAIGN
"""

import base64
import json
import sys
import time

import requests

BASE, AGENT, AGENT_PW, SUP, SUP_PW, CAMPAIGN = sys.argv[1:7]
API = BASE + "/Integra/resources/"
FORM = {"Content-Type": "application/x-www-form-urlencoded; charset=UTF-8"}
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
    return r.text


def expect(name, got, want):
    summary[name] = got
    if got != want:
        fail(f"{name}: {got!r}, expected {want!r}")


def login(user, password):
    r = requests.post(
        API + "auth/getUserToken",
        data={"user": user, "password": password},
        headers=FORM,
        timeout=30,
    )
    if r.status_code != 200:
        fail(f"getUserToken {user}: HTTP {r.status_code}")
    return r.json()[-1]


agent = login(AGENT, AGENT_PW)
sup = login(SUP, SUP_PW)

# Respool, the seed's object.
respool = {
    "campaign": CAMPAIGN,
    "destination": "098344484",
    "dialerbase": "basetest",
    "status": 1,
    "data": "Par1=Val1:Par2=Val2",
    "alternatives": "098124484",
    "contact": 222,
    "retries": 0,
    "priority": 9999,
    "agentphone": "1001",
}
expect("respool", post("Dialers/Respool", {"callspool": json.dumps(respool)}, agent), "1")
expect("respool_again", post("Dialers/Respool", {"callspool": json.dumps(respool)}, agent), "0")
expect(
    "respool_unknown_campaign",
    post("Dialers/Respool", {"callspool": json.dumps(dict(respool, campaign="Nadie->"))}, agent),
    "0",
)

# ScheduleDialerCall, the seed's object.
schedule = {
    "calldate": "2015-10-11 15:00:00",
    "campaign": CAMPAIGN,
    "destination": "098344400",
    "alternatives": "099124484:099121212",
    "agentphone": "1001",
    "data": "Par1=Val1:Par2=Val2",
}
expect("schedule", post("Dialers/ScheduleDialerCall", {"callschedule": json.dumps(schedule)}, agent), "1")

# DialerTask, the four modes of the seed.
def task(**fields):
    call = {
        "calldate": None,
        "campaign": CAMPAIGN,
        "destination": "12-345-678",
        "alternatives": "",
        "agent": "",
        "data": "idcustomer=7",
        "source": "source",
        "bulk": False,
        "automatic": False,
    }
    call.update(fields)
    return {"call": json.dumps(call)}


expect("task_now", post("Dialers/DialerTask", task(automatic=True, data="idcustomer=7:name=Seba"), sup), "1")
expect("task_click_to_call_no_agent", post("Dialers/DialerTask", task(destination="12-345-671"), sup), "0")
expect("task_bulk_by_name", post("Dialers/DialerTask", task(destination="12-345-679", agent="Agente1", bulk=True), sup), "1")
expect("task_bulk_by_phone", post("Dialers/DialerTask", task(destination="12-345-679", agent="1001", bulk=True), sup), "1")
expect(
    "task_dated",
    post(
        "Dialers/DialerTask",
        task(calldate="2015-10-11 15:00:00", destination="12-345-670", agent="Agente1", bulk=True),
        sup,
    ),
    "1",
)

# Hostile JSON: the documented 0.
for i, bad in enumerate(["", "{", "[" * 500 + "]" * 500, json.dumps({"campaign": CAMPAIGN, "destination": "x" * 100000})]):
    expect(f"hostile_{i}", post("Dialers/DialerTask", {"call": bad}, sup), "0")

# RemoveContact (a supervisor operation) and RemoveScheduleDialerCall.
summary["remove_contact_agent"] = post(
    "Dialers/RemoveContact", {"campaign": CAMPAIGN, "number": "12345679"}, agent, expect=403
)
expect("remove_contact", post("Dialers/RemoveContact", {"campaign": CAMPAIGN, "number": "12345679"}, sup), "1")
expect(
    "remove_schedule",
    post(
        "Dialers/RemoveScheduleDialerCall",
        {
            "campaign": CAMPAIGN,
            "destination": "12345670",
            "from": "2015-10-11 00:00:00",
            "to": "2015-10-11 23:59:59",
        },
        sup,
    ),
    "1",
)
expect(
    "remove_unknown_campaign",
    post("Dialers/RemoveContact", {"campaign": "Nadie->", "number": "12345679"}, sup),
    "0",
)


# uploadbase and uploadbasewithtimezone, followed until done.
def upload(op, filename, text, **extra):
    data = {
        "filename": filename,
        "fileb64": base64.b64encode(text.encode()).decode(),
        "campaign": CAMPAIGN,
        "cant": str(len(text.splitlines())),
        "username": SUP,
    }
    data.update(extra)
    return post(op, data, sup)


def status(filename):
    deadline = time.time() + 20
    while time.time() < deadline:
        text = post("Dialers/uploadstatus", {"campaign": CAMPAIGN, "filename": filename}, sup)
        if text != "0":
            s = json.loads(text)
            if s["done"]:
                return s
        time.sleep(0.2)
    fail(f"upload {filename} never ended")


base = (
    f"{CAMPAIGN};098344484;var1=val1:var2=val2;099124484:099111111;9999;1001\n"
    f"{CAMPAIGN};098500001\n"
    f"{CAMPAIGN};098500001\n"
    "prueba1;098500002\n"
)
expect("uploadbase", upload("Dialers/uploadbase", "base1.txt", base), "1")
s = status("base1.txt")
expect("uploadbase_status", [s["read"], s["imported"], s["duplicates"], s["rejected"], s["failed"]], [4, 2, 1, 1, False])
expect("uploadbase_again", upload("Dialers/uploadbase", "base1.txt", base), "1")
s = status("base1.txt")
expect("uploadbase_again_status", [s["imported"], s["duplicates"]], [0, 3])
expect(
    "uploadbase_bad_zone",
    upload("Dialers/uploadbasewithtimezone", "base2.txt", f"{CAMPAIGN};098600001\n", timezone="Mars/Olympus"),
    "0",
)
expect(
    "uploadbasewithtimezone",
    upload("Dialers/uploadbasewithtimezone", "base2.txt", f"{CAMPAIGN};098600001\n", timezone="America/Bogota"),
    "1",
)
s = status("base2.txt")
expect("uploadbasewithtimezone_status", s["imported"], 1)

# A disposition whose rule is RESPOOL puts the customer's number back into the spool.
r = requests.post(
    API + "api/DispositionCall",
    data={
        "campaign": CAMPAIGN,
        "agent": AGENT,
        "callerid": "5551234",
        "guid": "7e4e7db9-f080-494e-b04b-7c8e47711558",
        "l1": "Otra vez",
    },
    headers=dict(FORM, Authorization="Basic " + agent),
    timeout=30,
)
if r.status_code != 200:
    fail(f"DispositionCall: HTTP {r.status_code} {r.text!r}")
expect("disposition_respool", r.json()["txtcode"], "RP")

print(json.dumps(summary))
