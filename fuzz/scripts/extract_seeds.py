#!/usr/bin/env python3
"""Builds the committed seed corpora under fuzz/seeds/<target>/ from real
captures (pcap or pcapng) plus a few hand-made edge cases.

Usage: python3 fuzz/scripts/extract_seeds.py [PCAP_DIR] [SEEDS_DIR]
  PCAP_DIR   default testdata/corpus/pcap (any directory of captures)
  SEEDS_DIR  default fuzz/seeds next to this script

pcapng files are converted with `tcpdump -r F -w -` (or `editcap -F pcap`);
protocol stacks from `tshark -T fields -e frame.protocols`, when tshark is
installed, pick frames of distinct shapes. Input formats are described in
fuzz/src/lib.rs. The output is deterministic for the same captures.
"""

import hashlib
import os
import shutil
import struct
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
PCAP_DIR = sys.argv[1] if len(sys.argv) > 1 else "testdata/corpus/pcap"
SEEDS = sys.argv[2] if len(sys.argv) > 2 else os.path.join(HERE, "..", "seeds")
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))

MAX_DECODE = 120
PER_FILE_DECODE = 3
MAX_FLOW = 30
MAX_PIPELINE = 8

# LinkType order of fuzz/src/lib.rs LINKS.
ETHERNET, NULL, LOOP, RAW, IPV4, IPV6, SLL, SLL2, HDLC = range(9)
DLT_TO_LINK = {1: ETHERNET, 0: NULL, 108: LOOP, 12: RAW, 14: RAW, 101: RAW,
               228: IPV4, 229: IPV6, 113: SLL, 276: SLL2, 104: HDLC}

FLOW_PORTS = [0, 53, 80, 443, 3478, 3479, 5061, 8057, 50000, 50001, 50123,
              1024, 123, 22, 40000, 65535]
FLOW_PROTOS = {6: 0, 17: 1, 1: 2, 58: 3, 132: 4, 47: 5}


def as_classic_pcap(path):
    with open(path, "rb") as f:
        head = f.read(4)
        if head != b"\x0a\x0d\x0d\x0a":
            f.seek(0)
            return f.read()
    for cmd in (["tcpdump", "-r", path, "-w", "-"],
                ["editcap", "-F", "pcap", path, "-"]):
        try:
            out = subprocess.run(cmd, capture_output=True, check=True).stdout
            if out:
                return out
        except (OSError, subprocess.CalledProcessError):
            continue
    return None


def read_pcap(raw):
    """(dlt, [(ts_us, wire_len, bytes)]) of a classic pcap."""
    magic = raw[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        e = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        e = ">"
    else:
        return None, []
    nano = magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
    dlt = struct.unpack(e + "I", raw[20:24])[0] & 0x0FFFFFFF
    frames, off = [], 24
    while off + 16 <= len(raw):
        sec, frac, incl, orig = struct.unpack(e + "IIII", raw[off:off + 16])
        off += 16
        data = raw[off:off + incl]
        off += incl
        if len(data) < incl:
            break
        frames.append((sec * 1_000_000 + (frac // 1000 if nano else frac),
                       max(orig, incl), data))
    return dlt, frames


def shapes(path, n):
    try:
        out = subprocess.run(["tshark", "-r", path, "-T", "fields", "-e",
                              "frame.protocols"], capture_output=True,
                             check=True, text=True).stdout.splitlines()
    except (OSError, subprocess.CalledProcessError):
        out = []
    return out if len(out) == n else [None] * n


def ip_offset(link, f):
    """Offset of the IP header (following VLAN tags), or None."""
    def eth_chain(et, at):
        for _ in range(4):
            if et in (0x0800, 0x86DD):
                return at
            if et in (0x8100, 0x88A8, 0x9100) and len(f) >= at + 4:
                et, at = struct.unpack(">H", f[at + 2:at + 4])[0], at + 4
                continue
            return None
        return None
    if link == ETHERNET and len(f) >= 14:
        return eth_chain(struct.unpack(">H", f[12:14])[0], 14)
    if link in (NULL, LOOP):
        return 4
    if link in (RAW, IPV4, IPV6):
        return 0
    if link == SLL and len(f) >= 16:
        return eth_chain(struct.unpack(">H", f[14:16])[0], 16)
    if link == SLL2 and len(f) >= 20:
        return eth_chain(struct.unpack(">H", f[0:2])[0], 20)
    if link == HDLC and len(f) >= 4:
        return eth_chain(struct.unpack(">H", f[2:4])[0], 4)
    return None


def parse_ip(ip):
    """(src, dst, proto, sport, dport, flags_or_type, code, ip_len, payload_len,
    is_later_fragment) or None."""
    if not ip:
        return None
    v = ip[0] >> 4
    if v == 4 and len(ip) >= 20:
        ihl = (ip[0] & 15) * 4
        ip_len = struct.unpack(">H", ip[2:4])[0]
        proto, src, dst = ip[9], ip[12:16], ip[16:20]
        later = struct.unpack(">H", ip[6:8])[0] & 0x1FFF != 0
        body = ip[ihl:]
    elif v == 6 and len(ip) >= 40:
        ip_len = 40 + struct.unpack(">H", ip[4:6])[0]
        proto, src, dst, body, later = ip[6], ip[8:24], ip[24:40], ip[40:], False
        ihl = 40
    else:
        return None
    sport = dport = flags = code = 0
    hl = 0
    if proto in (6, 17, 132) and not later and len(body) >= 4:
        sport, dport = struct.unpack(">HH", body[:4])
        hl = {6: 20, 17: 8, 132: 12}[proto]
        if proto == 6 and len(body) >= 14:
            flags = body[13]
            hl = max(20, (body[12] >> 4) * 4)
    elif proto in (1, 58) and len(body) >= 2:
        flags, code, hl = body[0], body[1], 8
    return (src, dst, proto, sport, dport, flags, code, ip_len,
            max(0, ip_len - ihl - hl), later)


def write(dirname, data, prefix):
    os.makedirs(dirname, exist_ok=True)
    name = "%s-%s" % (prefix, hashlib.sha1(data).hexdigest()[:12])
    with open(os.path.join(dirname, name), "wb") as f:
        f.write(data)


def flow_seed(link, frames, header):
    addrs, ports_seen = {}, {}
    dyn = [8, 9, 10, 14, 11, 15]
    out = bytearray(header)
    prev = None
    for i, (ts, _wire, f) in enumerate(frames):
        off = ip_offset(link, f)
        p = parse_ip(f[off:]) if off is not None else None
        if p is None:
            continue
        src, dst, proto, sport, dport, flags, code, ip_len, plen, _ = p

        def addr(a):
            return addrs.setdefault(a, len(addrs) % 8)

        def port(x):
            if x in FLOW_PORTS:
                return FLOW_PORTS.index(x)
            return ports_seen.setdefault(x, dyn[len(ports_seen) % len(dyn)])
        step = 0 if prev is None else max(-128, min(127, (ts - prev) // 1000))
        prev = ts
        tick = 0x80 if i % 8 == 7 else 0
        ends = addr(src) | (addr(dst) << 3) | tick
        kind = FLOW_PROTOS.get(proto, 5)
        if proto in (1, 58):
            b4, b7 = flags, code
        else:
            b4, b7 = flags & 0xFF, min(plen, 255)
        out += struct.pack(">bBBBBHB", step, ends,
                           port(sport) | (port(dport) << 4), kind, b4,
                           min(ip_len, 65535), b7)
    return bytes(out)


def main():
    if os.path.isdir(SEEDS):
        for t in ("decode", "flow_table", "port_rules", "pipeline"):
            shutil.rmtree(os.path.join(SEEDS, t), ignore_errors=True)
    names = sorted(n for n in os.listdir(PCAP_DIR)
                   if n.endswith((".pcap", ".pcapng", ".cap")))
    captures = []
    for n in names:
        path = os.path.join(PCAP_DIR, n)
        raw = as_classic_pcap(path)
        if raw is None:
            continue
        dlt, frames = read_pcap(raw)
        link = DLT_TO_LINK.get(dlt)
        if link is None or not frames:
            continue
        captures.append((n, path, link, frames))

    # decode: frames of distinct protocol stacks, a few per capture.
    ddir = os.path.join(SEEDS, "decode")
    count, seen = 0, set()
    v4_ip = v6_ip = None
    for n, path, link, frames in captures:
        taken = 0
        for (ts, wire, f), shape in zip(frames, shapes(path, len(frames))):
            if count >= MAX_DECODE or taken >= PER_FILE_DECODE:
                break
            key = (link, shape if shape is not None else len(f) // 200)
            if key in seen:
                continue
            seen.add(key)
            sel = link if wire <= len(f) else link | 0x50
            write(ddir, bytes([sel]) + f, "real")
            taken += 1
            count += 1
            off = ip_offset(link, f)
            if off is not None and len(f) > off:
                p = parse_ip(f[off:])
                if p and p[2] in (6, 17):
                    if f[off] >> 4 == 4 and v4_ip is None:
                        v4_ip = f[off:off + max(20, p[7])]
                    if f[off] >> 4 == 6 and v6_ip is None:
                        v6_ip = f[off:off + p[7]]
    # Edge cases: link types and shims the captures lack, snap cuts.
    macs = bytes.fromhex("020000000001020000000002")
    if v4_ip:
        edge = [
            (LOOP, b"\x00\x00\x00\x02" + v4_ip),
            (IPV4, v4_ip),
            (SLL2, b"\x08\x00" + bytes(18) + v4_ip),
            (ETHERNET, macs + b"\x88\xa8\x00\xc8\x81\x00\x00\x64\x08\x00" + v4_ip),
            (ETHERNET, macs + b"\x88\x47\x00\x01\x00\x40\x00\x02\x01\x40" + v4_ip),
            (ETHERNET, macs + b"\x88\x64\x11\x00\x00\x01\x00\x10\x00\x21" + v4_ip),
            (ETHERNET | 0x30, macs + b"\x08\x00" + v4_ip[:40]),
            (RAW | 0xF0, v4_ip),
        ]
        # The same datagram as a first and a later IPv4 fragment.
        first = bytearray(v4_ip)
        first[6:8] = b"\x20\x00"
        later = bytearray(v4_ip)
        later[6:8] = b"\x00\x03"
        edge += [(RAW, bytes(first)), (RAW, bytes(later))]
        for sel, f in edge:
            write(ddir, bytes([sel]) + f, "edge")
    if v6_ip:
        write(ddir, bytes([IPV6]) + v6_ip, "edge")
        write(ddir, bytes([NULL]) + b"\x1e\x00\x00\x00" + v6_ip, "edge")
        # IPv6 with a fragment header (first fragment, more follow).
        frag = bytearray(v6_ip[:40])
        nxt = frag[6]
        frag[6] = 44
        frag[4:6] = struct.pack(">H", len(v6_ip) - 40 + 8)
        frag += bytes([nxt, 0, 0, 1]) + b"\x00\x00\x12\x34" + v6_ip[40:]
        write(ddir, bytes([IPV6]) + bytes(frag), "edge")
    write(ddir, bytes([ETHERNET]) + macs + b"\x08\x06" + bytes(28), "edge")
    write(ddir, bytes([ETHERNET]) + macs[:10], "edge")

    # flow_table: the first packets of the captures with the most flows.
    fdir = os.path.join(SEEDS, "flow_table")
    headers = [bytes([3, 10, 25, 20, 4, 0]), bytes([1, 2, 5, 0, 1, 3]),
               bytes([7, 255, 255, 255, 255, 2])]
    fc = 0
    for i, (n, path, link, frames) in enumerate(captures):
        if fc >= MAX_FLOW:
            break
        seed = flow_seed(link, frames[:48], headers[i % len(headers)])
        if len(seed) > 6 + 8 * 4:
            write(fdir, seed, "real")
            fc += 1

    # pipeline: runs of frames of a few captures.
    pdir = os.path.join(SEEDS, "pipeline")
    pc = 0
    for i, (n, path, link, frames) in enumerate(captures):
        if pc >= MAX_PIPELINE or i % 6:
            continue
        out = bytearray([link | (0x10 if pc % 2 else 0)])
        prev = frames[0][0]
        for ts, wire, f in frames[:24]:
            step = max(0, min(255, (ts - prev) // 1000))
            prev = ts
            out += struct.pack(">BBH", step, min(255, wire - len(f)), len(f)) + f
        write(pdir, bytes(out), "real")
        pc += 1

    # port_rules: the shipped rules and a few small files, good and bad.
    rdir = os.path.join(SEEDS, "port_rules")
    os.makedirs(rdir, exist_ok=True)
    shutil.copy(os.path.join(REPO, "signatures", "ports.toml"),
                os.path.join(rdir, "ports.toml"))
    small = [
        "[[port]]\ntransport = 'tcp'\nports = ['443']\napp_protocol = 'https'\n",
        "[[port]]\ntransport = 'both'\nports = ['3478-3481', '50000']\n"
        "app_protocol = 'stun_turn'\ntraffic_type = 'media'\nservice = 'x'\n",
        "[[port]]\ntransport = 'sctp'\nports = ['80']\napp_protocol = 'http'\n",
        "[[port]]\ntransport = 'tcp'\nports = ['90-70']\napp_protocol = 'http'\n",
        "[[port]]\ntransport = 'udp'\nports = []\napp_protocol = 'dns'\n",
        "[[port]\n",
        "port = 5\n",
    ]
    for s in small:
        write(rdir, s.encode(), "small")

    total = 0
    for root, _, files in os.walk(SEEDS):
        for f in files:
            total += os.path.getsize(os.path.join(root, f))
    print("seeds: decode %d, flow_table %d, pipeline %d, port_rules %d; %d bytes"
          % (len(os.listdir(ddir)), len(os.listdir(fdir)),
             len(os.listdir(pdir)), len(os.listdir(rdir)), total))


if __name__ == "__main__":
    main()
