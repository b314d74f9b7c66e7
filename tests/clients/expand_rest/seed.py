"""The eXpand REST dialer module driven with Python `requests`, as the vendor's document
shows it: HTTP Basic, JSON bodies, filters in the query string.

Usage: seed.py <base url> <user> <password> <campaign id>
Prints one JSON summary line last.
"""
import json
import sys

import requests

base, user, password, campaign = sys.argv[1:5]
api = f"{base}/expandweb3/api/campaign/external"
auth = (user, password)
out = {}

r = requests.get(f"{api}/campaigns")
out["no_auth"] = [r.status_code, r.json(), r.headers.get("WWW-Authenticate", "")]
r = requests.get(f"{api}/campaigns", auth=(user, "wrong"))
out["wrong_auth"] = r.status_code

r = requests.get(f"{api}/campaigns", auth=auth)
out["campaigns"] = [r.status_code, [c["name"] for c in r.json()]]
r = requests.get(f"{api}/campaigns", params={"State": "Active", "order": "desc", "order_by": "name"}, auth=auth)
out["active"] = [c["state"] for c in r.json()]
r = requests.get(f"{api}/campaigns/{campaign}", auth=auth)
out["campaign"] = r.json()

# Agregar contacto: name, numcall, enable 'true', info a string holding JSON.
contacts = f"{api}/campaigns/{campaign}/contacts"
r = requests.post(contacts, json={"name": "Rodrigo", "numcall": "5558001",
                                  "enable": "true", "info": json.dumps({"plan": "ADSL"})}, auth=auth)
out["add"] = [r.status_code, r.json()]
cid = r.json()["id"]
r = requests.post(contacts, json={"name": "Ana", "numcall": "5558002", "enable": True}, auth=auth)
out["add2"] = r.status_code
r = requests.post(contacts, data="{not json", headers={"Content-Type": "application/json"}, auth=auth)
out["add_bad"] = [r.status_code, r.json()]
r = requests.get(f"{contacts}/{cid}", auth=auth)
out["get"] = [r.status_code, r.json()]
r = requests.get(f"{contacts}/999999", auth=auth)
out["get_missing"] = r.status_code
r = requests.put(f"{contacts}/{cid}", json={"name": "Rodrigo P", "numcall": "5558001",
                                           "enable": "false"}, auth=auth)
out["put"] = [r.status_code, r.json()]
r = requests.put(f"{contacts}/{cid}", json={"enable": True}, auth=auth)
out["put_enable"] = r.json()["state"]

r = requests.get(contacts, params={"start": 0, "limit": 10, "order": "asc", "order_by": "name"}, auth=auth)
out["list"] = [r.status_code, r.json()["recordsTotal"], [c["name"] for c in r.json()["data"]]]
r = requests.get(contacts, params={"like": "Rodrigo"}, auth=auth)
out["like"] = [c["name"] for c in r.json()["data"]]
r = requests.get(contacts, params={"state": "Pending"}, auth=auth)
out["pending"] = r.json()["recordsTotal"]

# The two activity examples, as written in the document.
r = requests.get(f"{contacts}/activity?order_by=name&order_asc&state=Pending", auth=auth)
out["activity"] = [r.status_code, r.json()["recordsTotal"], [c["name"] for c in r.json()["data"]]]
r = requests.get(f"{contacts}/activity?saddtimestamp='2019-02-01'&eaddtimestamp='2019-02-28\u2019", auth=auth)
out["activity_2019"] = [r.status_code, r.json()["recordsTotal"]]
r = requests.get(f"{api}/campaigns/424242/contacts", auth=auth)
out["unknown_campaign"] = r.status_code
print(json.dumps(out))
