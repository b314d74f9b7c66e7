"""A second consumer for `cargo bench --bench ami_events`: panoramisk, the Python asyncio AMI
client, logged in to the bench's fake AMI, counting the events of each storm.

Usage: panoramisk_count.py HOST PORT EVENTS RUNS. Prints `ready` once logged in and before
each run (the bench then asks the fake for a storm of EVENTS events on this connection), and
`done N` once N >= EVENTS events were dispatched to the callback registered for every event.
"""

import asyncio
import sys

from panoramisk import Manager


def main():
    host, port, events, runs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    manager = Manager(
        loop=loop,
        host=host,
        port=port,
        username="bench",
        secret="bench",
        ping_delay=3600,
        ping_interval=3600,
    )
    state = {"count": 0, "done": None}

    def on_event(_manager, _message):
        state["count"] += 1
        done = state["done"]
        if state["count"] >= events and done is not None and not done.done():
            done.set_result(None)

    manager.register_event("*", on_event)
    logged_in = loop.create_future()

    def on_login(_manager):
        if not logged_in.done():
            logged_in.set_result(None)

    manager.on_login = on_login

    async def run():
        await manager.connect()
        await asyncio.wait_for(logged_in, 10)
        for _ in range(runs):
            state["count"] = 0
            state["done"] = loop.create_future()
            print("ready", flush=True)
            await state["done"]
            print("done", state["count"], flush=True)

    loop.run_until_complete(run())
    manager.close()


if __name__ == "__main__":
    main()
