"""eXpand's simple lists driven with Python `requests` as the vendor's document writes its
examples: the same headers (its `Authorization: Basic` value, `Content-Type: application/json`),
the same paths and bodies.

Usage: seed.py <base url>
Prints one JSON summary line last.
"""
import json
import sys

import requests

base = sys.argv[1]
headers = {
    "Authorization": "Basic ZXh0ZXJuYWxfdXNlcjoxZGVEOTljZjk=",
    "Content-Type": "application/json",
}
lists = f"{base}/expandweb3/api/external/lists/simple"
out = {}

# Obtener Listas
r = requests.get(lists, headers=headers)
out["lists"] = [r.status_code, r.json()]
# Obtener elementos de una lista
r = requests.get(f"{lists}/cartera/elements", headers=headers)
out["elements_before"] = [r.status_code, r.json()]
# Agregar un elemento a una lista
body = '{ \n    "key": "27126666", \n    "value": "112" \n} \n'
r = requests.post(f"{lists}/cartera/elements", headers=headers, data=body)
out["post"] = [r.status_code, r.json()]
r = requests.post(f"{lists}/cartera/elements", headers=headers, data=body)
out["post_again"] = [r.status_code, r.json()]
# Actualizar un elemento de una lista
body = '{ \n    "value": "valor nuevo" \n} \n'
r = requests.put(f"{lists}/cartera/elements/27126666", headers=headers, data=body)
out["put"] = [r.status_code, r.json()]
r = requests.get(f"{lists}/cartera/elements/27126666", headers=headers)
out["get"] = [r.status_code, r.json()]
r = requests.get(f"{lists}/cartera/elements", headers=headers)
out["elements_after"] = [r.status_code, r.json()]
r = requests.get(f"{lists}/cartera", headers=headers)
out["one"] = [r.status_code, r.json()]
r = requests.get(lists)
out["no_auth"] = r.status_code
print(json.dumps(out))
