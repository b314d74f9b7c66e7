#!/usr/bin/env python3
"""What the lab's carrier heard on a call: the G.711 mu-law RTP that Asterisk sent to one UDP
port, taken from a tcpdump capture, laid out on the capture's own clock (gaps stay silent), as
headerless mu-law 8 kHz.

    rtp-heard.py CAPTURE.pcap DST_PORT OUT.ulaw

Standard library only. Exit 1 when no RTP to that port was captured.
"""
import struct
import sys

SILENCE = 0xFF  # mu-law zero


def packets(path):
    with open(path, "rb") as f:
        head = f.read(24)
        if len(head) < 24:
            return
        magic = struct.unpack("<I", head[:4])[0]
        if magic in (0xA1B2C3D4, 0xA1B23C4D):
            endian = "<"
        elif magic in (0xD4C3B2A1, 0x4D3CB2A1):
            endian = ">"
        else:
            raise SystemExit("not a pcap file")
        nano = magic in (0xA1B23C4D, 0x4D3CB2A1)
        link = struct.unpack(endian + "I", head[20:24])[0]
        offset = {0: 4, 1: 14, 113: 16, 276: 20, 101: 0}.get(link)
        if offset is None:
            raise SystemExit(f"unsupported link type {link}")
        while True:
            rec = f.read(16)
            if len(rec) < 16:
                return
            sec, frac, incl, _orig = struct.unpack(endian + "IIII", rec)
            data = f.read(incl)
            if len(data) < incl:
                return
            yield sec + frac / (1e9 if nano else 1e6), data[offset:]


def main():
    capture, port, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    chunks = []
    for t, ip in packets(capture):
        if len(ip) < 20 or ip[0] >> 4 != 4 or ip[9] != 17:
            continue
        ihl = (ip[0] & 0x0F) * 4
        udp = ip[ihl:]
        if len(udp) < 8 or struct.unpack(">H", udp[2:4])[0] != port:
            continue
        rtp = udp[8:]
        if len(rtp) < 12 or rtp[0] >> 6 != 2:
            continue
        pt = rtp[1] & 0x7F
        if pt != 0:  # PCMU only (telephone-event and comfort noise are not audio)
            continue
        start = 12 + 4 * (rtp[0] & 0x0F)
        if rtp[0] & 0x10 and len(rtp) >= start + 4:
            start += 4 + 4 * struct.unpack(">H", rtp[start + 2:start + 4])[0]
        payload = rtp[start:]
        if rtp[0] & 0x20 and payload:
            payload = payload[: len(payload) - payload[-1]]
        chunks.append((t, payload))
    if not chunks:
        print("no RTP captured toward port", port, file=sys.stderr)
        return 1
    t0 = chunks[0][0]
    buf = bytearray()
    for t, payload in chunks:
        at = int(round((t - t0) * 8000))
        # a packet lands where the clock puts it, or right after the previous one when it is
        # early (jitter), so nothing heard is overwritten
        if at > len(buf):
            buf.extend([SILENCE] * (at - len(buf)))
        buf.extend(payload)
    with open(out, "wb") as f:
        f.write(buf)
    return 0


if __name__ == "__main__":
    sys.exit(main())
