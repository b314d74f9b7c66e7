"""The eXpand REST pending outgoing calls panel (`expandweb3/api/external/outgoingcalls/call`)
driven with Python `requests`, as the vendor's document shows it: HTTP Basic, JSON bodies,
filters in the query string (and as headers).

Usage: outgoing_calls.py <base url> <user> <password>
Needs a campaign (or queue) named `tecnologia` and agents `pperez` and `daguirre`.
Prints one JSON summary line last.
"""
import json
import sys

import requests

base, user, password = sys.argv[1:4]
api = f"{base}/expandweb3/api/external/outgoingcalls/call"
auth = (user, password)
out = {}

# "Agregar una llamada", the document's body (its missing quote before tecnologia restored).
SEED_POST = """{
  "queue": "tecnologia",
  "phone": ["21232322","099999999"],
  "contact": "Pedro",
  "subject": "Confirmacion contrato ADSL",
  "calldate" : "2016-11-10 15:00",
  "expiration" : 0,
  "agent" : "pperez",
  "link": {
       "nombre de link": "http://www.link.com"
  }
}"""
SEED_PUT = SEED_POST.replace('"expiration" : 0', '"expiration" : 86400')
JSON = {"Content-Type": "application/json"}

r = requests.post(api, data=SEED_POST, headers=JSON)
out["no_auth"] = [r.status_code, r.json(), r.headers.get("WWW-Authenticate", "")]
r = requests.get(api, auth=(user, "wrong"))
out["wrong_auth"] = r.status_code

r = requests.post(api, data=SEED_POST, headers=JSON, auth=auth)
out["add"] = [r.status_code, r.json()]
callid = r.json()["callid"]
r = requests.post(api, json={
    "queue": "tecnologia", "phone": ["3344343", "0991878"], "contact": "Pepe",
    "subject": "Problema ADSL", "calldate": "2036-11-10T15:00:00", "expiration": 3600,
    "agent": "daguirre", "link": {"CRM": "http://crm.example/ticket?id=7;x=1"}}, auth=auth)
out["add2"] = [r.status_code, r.json()]
other = r.json()["callid"]

r = requests.get(f"{api}/{callid}", auth=auth)
out["get"] = [r.status_code, r.json()]
r = requests.get(f"{api}/", params={"queue": "tecnologia"}, auth=auth)
out["list"] = [r.status_code, [c["id"] for c in r.json()["data"]]]
r = requests.get(api, params={"queue": "tecnologia", "phone": "3344343"}, auth=auth)
out["by_phone"] = [c["id"] for c in r.json()["data"]]
r = requests.get(api, params={"queue": "tecnologia", "startdate": "2036-11-10T00:00:00-03:00",
                              "enddate": "2036-11-10"}, auth=auth)
out["by_dates"] = [c["id"] for c in r.json()["data"]]
r = requests.get(api, params={"agent": "pperez", "status": "PENDING"}, auth=auth)
out["by_agent"] = [c["id"] for c in r.json()["data"]]
r = requests.get(api, headers={"queue": "tecnologia", "agent": "daguirre"}, auth=auth)
out["by_headers"] = [c["id"] for c in r.json()["data"]]
r = requests.get(api, params={"queue": "tecnologia", "phone": "3344343"}, auth=auth)
out["other"] = r.json()["data"][0]

# "Modificar datos de una llamada en base a su ID": the document's body, expiration 86400.
r = requests.put(f"{api}/{callid}", data=SEED_PUT, headers=JSON, auth=auth)
out["put"] = [r.status_code, r.json()]
r = requests.get(f"{api}/{callid}", auth=auth)
out["after_put"] = r.json()

# "Eliminar una llamada pendiente dado su ID".
r = requests.delete(f"{api}/{callid}", auth=auth)
out["delete"] = [r.status_code, r.json()]
r = requests.get(api, params={"queue": "tecnologia", "status": "CANCELED"}, auth=auth)
out["canceled"] = [c["id"] for c in r.json()["data"]]

bad = json.loads(SEED_POST)
bad["calldate"] = "2016-11-31 15:00"
r = requests.post(api, json=bad, auth=auth)
out["bad_date"] = [r.status_code, r.json()]
bad = json.loads(SEED_POST)
bad["queue"] = "no-such-queue"
r = requests.post(api, json=bad, auth=auth)
out["bad_queue"] = [r.status_code, r.json()]
bad = json.loads(SEED_POST)
bad["agent"] = "nobody"
r = requests.post(api, json=bad, auth=auth)
out["bad_agent"] = [r.status_code, r.json()]
r = requests.get(f"{api}/999999", auth=auth)
out["missing"] = [r.status_code, r.json()]
r = requests.get(api, params={"status": "DONE"}, auth=auth)
out["bad_filter"] = [r.status_code, r.json()]
out["ids"] = [callid, other]
print(json.dumps(out))
