"""eXpand webservice client over suds, built from the served WSDL.

Usage: python client_suds.py WSDL_URL
Same line protocol as client_zeep.py.
"""
import json
import sys

from suds import WebFault
from suds.cache import NoCache
from suds.client import Client

client = Client(sys.argv[1], cache=NoCache(), timeout=30)
methods = [m for p in client.wsdl.services[0].ports for m in p.methods]
print(json.dumps({"ok": True, "value": len(methods), "type": "ready"}), flush=True)
for line in sys.stdin:
    line = line.strip()
    if not line:
        continue
    req = json.loads(line)
    try:
        value = getattr(client.service, req["op"])(*req["args"], **req.get("kwargs", {}))
        if value is not None and not isinstance(value, (bool, int, float)):
            value = str(value)
        out = {"ok": True, "value": value, "type": type(value).__name__}
    except WebFault as f:
        out = {"ok": False, "fault": str(f.fault.faultcode), "error": str(f.fault.faultstring)}
    except Exception as e:  # the client refused the call itself
        out = {"ok": False, "fault": "client", "error": "%s: %s" % (type(e).__name__, e)}
    print(json.dumps(out, ensure_ascii=False), flush=True)
