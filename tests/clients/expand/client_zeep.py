"""eXpand webservice client over zeep, built from the served WSDL.

Usage: python client_zeep.py WSDL_URL
Reads one JSON request per line on stdin ({"op": "...", "args": [...], "kwargs": {...}}, arguments
in the WSDL's order, keyword arguments optional) and writes one JSON line per request: {"ok": true, "value": ..., "type": "..."} or
{"ok": false, "fault": "...", "error": "..."}.
"""
import json
import sys

import zeep
from zeep.exceptions import Fault

client = zeep.Client(sys.argv[1])
print(json.dumps({"ok": True, "value": len(client.service._operations), "type": "ready"}), flush=True)
for line in sys.stdin:
    line = line.strip()
    if not line:
        continue
    req = json.loads(line)
    try:
        value = getattr(client.service, req["op"])(*req["args"], **req.get("kwargs", {}))
        out = {"ok": True, "value": value, "type": type(value).__name__}
    except Fault as f:
        out = {"ok": False, "fault": str(f.code), "error": f.message}
    except Exception as e:  # the client refused the call itself (e.g. a missing part)
        out = {"ok": False, "fault": "client", "error": "%s: %s" % (type(e).__name__, e)}
    print(json.dumps(out, ensure_ascii=False), flush=True)
