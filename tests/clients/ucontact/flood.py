"""A flood of wrong passwords against uContact's getUserToken, with Python requests.

usage: flood.py BASE_URL USER API_KEY CONNECTIONS PER_CONNECTION

CONNECTIONS threads, each with its own requests.Session (its own keep-alive connection), send
PER_CONNECTION wrong passwords for USER each. Meanwhile a probe measures /healthz and a call
made with an API key the engine has already verified (Bearer, Supervisor/queuesummary): first
alone (the baseline), then during the flood. Prints one JSON object: the answers the flood got,
the latencies (seconds) and how long the flood took.
"""

import json
import sys
import threading
import time

import requests

BASE, USER, KEY = sys.argv[1:4]
CONNECTIONS, PER_CONNECTION = int(sys.argv[4]), int(sys.argv[5])
API = BASE + "/Integra/resources/"
FORM = {"Content-Type": "application/x-www-form-urlencoded; charset=UTF-8"}


def timed(session, method, url, **kw):
    t = time.monotonic()
    r = session.request(method, url, timeout=30, **kw)
    return time.monotonic() - t, r


def probe_once(session):
    """(healthz seconds, keyed call seconds); both must answer 200."""
    h, r = timed(session, "GET", BASE + "/healthz")
    if r.status_code != 200:
        sys.exit(f"FAILED: /healthz answered {r.status_code} {r.text!r}")
    k, r = timed(
        session,
        "POST",
        API + "Supervisor/queuesummary",
        data={},
        headers={**FORM, "Authorization": "Bearer " + KEY},
    )
    if r.status_code != 200 or not r.text.startswith("["):
        sys.exit(f"FAILED: the keyed call answered {r.status_code} {r.text[:200]!r}")
    return h, k


probe = requests.Session()
# The key is verified once (Argon2) and then remembered: the calls measured use the fast path.
probe_once(probe)
baseline = [probe_once(probe) for _ in range(20)]

answers = {}
lock = threading.Lock()
done = threading.Event()


def flood(n):
    s = requests.Session()
    for i in range(PER_CONNECTION):
        r = s.post(
            API + "auth/getUserToken",
            data={"user": USER, "password": f"wrong-{n}-{i}"},
            headers=FORM,
            timeout=60,
        )
        key = f"{r.status_code} {r.text}"
        with lock:
            answers[key] = answers.get(key, 0) + 1


during = []


def probing():
    while not done.is_set():
        during.append(probe_once(probe))
        time.sleep(0.05)


threads = [threading.Thread(target=flood, args=(n,)) for n in range(CONNECTIONS)]
prober = threading.Thread(target=probing)
started = time.monotonic()
for t in threads:
    t.start()
prober.start()
for t in threads:
    t.join()
flood_seconds = time.monotonic() - started
done.set()
prober.join()

print(
    json.dumps(
        {
            "answers": answers,
            "flood_seconds": flood_seconds,
            "baseline_healthz": max(h for h, _ in baseline),
            "baseline_key": max(k for _, k in baseline),
            "during_healthz": max(h for h, _ in during),
            "during_key": max(k for _, k in during),
            "probes_during": len(during),
        }
    )
)
