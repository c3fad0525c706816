"""Says whether a PNG screenshot shows something: decodes it with zlib alone
(8-bit RGB or RGBA, as Chromium writes) and prints the share of pixels that
are not the background (the top-left pixel's colour) and the number of
distinct colours; with colours given (#RRGGBB), also how many pixels have each.
Usage: check_png.py FILE.png [#RRGGBB ...]"""
import struct
import sys
import zlib

data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
pos, idat, ihdr = 8, b"", None
while pos < len(data):
    n, kind = struct.unpack(">I4s", data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + n]
    if kind == b"IHDR":
        ihdr = struct.unpack(">IIBBBBB", body)
    elif kind == b"IDAT":
        idat += body
    pos += 12 + n
width, height, depth, colour, _, _, interlace = ihdr
assert depth == 8 and colour in (2, 6) and interlace == 0, f"unsupported PNG {ihdr}"
bpp = 3 if colour == 2 else 4
raw = zlib.decompress(idat)
stride = width * bpp
prev = bytearray(stride)
pixels = []
for y in range(height):
    f = raw[y * (stride + 1)]
    line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
    for i in range(stride):
        a = line[i - bpp] if i >= bpp else 0
        b = prev[i]
        c = prev[i - bpp] if i >= bpp else 0
        if f == 1:
            line[i] = (line[i] + a) & 255
        elif f == 2:
            line[i] = (line[i] + b) & 255
        elif f == 3:
            line[i] = (line[i] + (a + b) // 2) & 255
        elif f == 4:
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    prev = line
    pixels.extend(bytes(line[i:i + 3]) for i in range(0, stride, bpp))
background = pixels[0]
ink = sum(1 for p in pixels if p != background) / len(pixels)
print(f"png {width}x{height} ink {ink:.4f} colours {len(set(pixels))}")
for hexcolour in sys.argv[2:]:
    want = bytes.fromhex(hexcolour.lstrip("#"))
    print(f"colour {hexcolour} {sum(1 for p in pixels if p == want)}")
