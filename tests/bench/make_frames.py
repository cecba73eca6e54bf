#!/usr/bin/python3
"""Synthetic camera frames for the QR decoder: PGM files plus manifest.tsv.

Each code frame holds one QR code (qrencode draws the modules; the geometry is
ours) at 20-60 % of the frame height, rotated, tilted in perspective, blurred,
with sensor noise, uneven light and sometimes low contrast. Frames without a
code are plain noisy scenes, barcode-like stripes (bait for 1-D decoders) and
blocky textures. The manifest lists "file<TAB>expected payload<TAB>what" with
an empty payload for frames without a code. Standard library only.

  make_frames.py OUT [--sizes 640x480,1280x720] [--codes N] [--empty N]
                     [--seed S] [--payload TEXT] [--jobs N]
"""
import argparse
import math
import os
import random
import subprocess
import sys
import uuid
from multiprocessing import Pool

CLAMP = bytes(range(256))


def clamp(v):
    return 0 if v < 0 else 255 if v > 255 else int(v)


def qr_modules(payload):
    out = subprocess.run(["qrencode", "-t", "ASCII", "-m", "0", "-l", "M", payload],
                         check=True, capture_output=True, text=True).stdout
    rows = [line[0::2] for line in out.splitlines() if line]
    return [[c == "#" for c in row] for row in rows]


def payloads(rng, n):
    out = []
    for i in range(n):
        k = i % 4
        if k == 0:
            out.append("https://www.gosuslugi.ru/covid-cert/verify/%016d?lang=ru&ck=%s"
                       % (rng.randrange(10**15, 10**16), "%032x" % rng.getrandbits(128)))
        elif k == 1:
            out.append("https://www.gosuslugi.ru/covid-cert/status/%s?lang=ru"
                       % uuid.UUID(int=rng.getrandbits(128)))
        elif k == 2:
            out.append("TICKET-%d" % rng.randrange(1, 10**6))
        else:
            out.append("TKT-%04d-%08d" % (rng.randrange(2024, 2030), rng.randrange(10**8)))
    return out


def solve(a, b):
    """Gaussian elimination for the 8x8 homography system."""
    n = len(b)
    m = [row[:] + [b[i]] for i, row in enumerate(a)]
    for c in range(n):
        p = max(range(c, n), key=lambda r: abs(m[r][c]))
        m[c], m[p] = m[p], m[c]
        for r in range(n):
            if r != c and m[r][c]:
                f = m[r][c] / m[c][c]
                m[r] = [x - f * y for x, y in zip(m[r], m[c])]
    return [m[i][n] / m[i][i] for i in range(n)]


def homography(src, dst):
    """H mapping src points to dst points (4 each)."""
    a, b = [], []
    for (x, y), (u, v) in zip(src, dst):
        a.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        b.append(u)
        a.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        b.append(v)
    h = solve(a, b)
    return h + [1.0]


def background(rng, w, h):
    """Uneven light: a linear gradient, rows as bytearrays."""
    base = rng.uniform(70, 170)
    gx, gy = rng.uniform(-60, 60) / w, rng.uniform(-60, 60) / h
    return [bytearray(clamp(base + gx * x + gy * y) for x in range(w)) for y in range(h)]


def box_blur(img, x0, y0, x1, y1, r):
    """Separable box blur of radius r inside the rectangle."""
    if r <= 0:
        return
    k = 2 * r + 1
    for y in range(y0, y1):
        row = img[y]
        seg = row[x0:x1]
        n = len(seg)
        pad = [seg[0]] * r + list(seg) + [seg[-1]] * r
        s = sum(pad[:k])
        out = bytearray(n)
        for i in range(n):
            out[i] = s // k
            s += pad[min(i + k, n + 2 * r - 1)] - pad[i]
        row[x0:x1] = out
    for x in range(x0, x1):
        col = [img[y][x] for y in range(y0, y1)]
        n = len(col)
        pad = [col[0]] * r + col + [col[-1]] * r
        s = sum(pad[:k])
        for i in range(n):
            img[y0 + i][x] = s // k
            s += pad[min(i + k, n + 2 * r - 1)] - pad[i]


def add_noise(rng, img, sigma):
    if sigma <= 0:
        return
    w = len(img[0])
    pool = [int(rng.gauss(0, sigma)) for _ in range(w * 8 + 997)]
    for y, row in enumerate(img):
        off = rng.randrange(len(pool) - w)
        img[y] = bytearray(CLAMP[min(255, max(0, a + n))] for a, n in
                           zip(row, pool[off:off + w]))


def draw_code(rng, img, w, h, payload, opts):
    mods = qr_modules(payload)
    n = len(mods)
    quiet = 4
    side = rng.uniform(0.2, 0.6) * h
    theta = math.radians(rng.uniform(-opts["rot"], opts["rot"]))
    half = side / 2 * (n + 2 * quiet) / n
    # Keep the whole code in the frame even when rotated.
    reach = half * 1.45
    cx = rng.uniform(reach, max(reach + 1, w - reach))
    cy = rng.uniform(reach, max(reach + 1, h - reach))
    corners = []
    for px, py in ((-1, -1), (1, -1), (1, 1), (-1, 1)):
        tilt = opts["tilt"]
        px2 = px * half * (1 + rng.uniform(-tilt, tilt))
        py2 = py * half * (1 + rng.uniform(-tilt, tilt))
        corners.append((cx + px2 * math.cos(theta) - py2 * math.sin(theta),
                        cy + px2 * math.sin(theta) + py2 * math.cos(theta)))
    lo, hi = -quiet, n + quiet
    src = [(lo, lo), (hi, lo), (hi, hi), (lo, hi)]
    hinv = homography(corners, src)  # frame pixel -> module coordinates
    x0 = max(0, int(min(c[0] for c in corners)) - 1)
    x1 = min(w, int(max(c[0] for c in corners)) + 2)
    y0 = max(0, int(min(c[1] for c in corners)) - 1)
    y1 = min(h, int(max(c[1] for c in corners)) + 2)
    dark, light = opts["dark"], opts["light"]
    h0, h1, h2, h3, h4, h5, h6, h7, _ = hinv
    for y in range(y0, y1):
        row = img[y]
        yc = y + 0.5
        for x in range(x0, x1):
            xc = x + 0.5
            d = h6 * xc + h7 * yc + 1.0
            u = (h0 * xc + h1 * yc + h2) / d
            if u < lo or u >= hi:
                continue
            v = (h3 * xc + h4 * yc + h5) / d
            if v < lo or v >= hi:
                continue
            iu, iv = int(math.floor(u)), int(math.floor(v))
            on = 0 <= iu < n and 0 <= iv < n and mods[iv][iu]
            row[x] = dark if on else light
    return x0, y0, x1, y1


def draw_empty(rng, img, w, h, kind):
    if kind == "stripes":
        # Barcode-like bars over a wide band: what phantom 1-D reads come from.
        y0, y1 = int(h * rng.uniform(0.2, 0.4)), int(h * rng.uniform(0.6, 0.8))
        x = int(w * rng.uniform(0.05, 0.2))
        end = int(w * rng.uniform(0.8, 0.95))
        unit = rng.choice([2, 3, 4])
        dark = True
        while x < end:
            bw = unit * rng.choice([1, 1, 2, 3, 4])
            if dark:
                for y in range(y0, y1):
                    img[y][x:x + bw] = bytes([30]) * len(img[y][x:x + bw])
            else:
                for y in range(y0, y1):
                    img[y][x:x + bw] = bytes([220]) * len(img[y][x:x + bw])
            x += bw
            dark = not dark
    elif kind == "blocks":
        cell = rng.choice([8, 12, 16, 24])
        bx0, by0 = rng.randrange(w // 4), rng.randrange(h // 4)
        bx1, by1 = bx0 + w // 2, by0 + h // 2
        for by in range(by0, by1, cell):
            for bx in range(bx0, bx1, cell):
                v = rng.choice([30, 220])
                for y in range(by, min(by + cell, h)):
                    img[y][bx:bx + cell] = bytes([v]) * len(img[y][bx:bx + cell])
    return 0, 0, w, h


def render(job):
    path, w, h, payload, kind, seed = job
    rng = random.Random(seed)
    img = background(rng, w, h)
    low = kind == "code" and rng.random() < 0.2
    opts = {"rot": 180 if rng.random() < 0.3 else 25, "tilt": rng.uniform(0.0, 0.12),
            "dark": rng.randint(95, 115) if low else rng.randint(20, 50),
            "light": rng.randint(150, 170) if low else rng.randint(190, 235)}
    if kind == "code":
        box = draw_code(rng, img, w, h, payload, opts)
    else:
        box = draw_empty(rng, img, w, h, kind)
    blur = rng.choice([0, 1, 1, 2])
    box_blur(img, *box, blur)
    sigma = rng.choice([2, 4, 6, 9])
    add_noise(rng, img, sigma)
    with open(path, "wb") as f:
        f.write(b"P5\n%d %d\n255\n" % (w, h))
        for row in img:
            f.write(row)
    what = "%s %dx%d blur=%d noise=%d%s" % (kind, w, h, blur, sigma, " low-contrast" if low else "")
    return os.path.basename(path), payload, what


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--sizes", default="640x480,1280x720")
    ap.add_argument("--codes", type=int, default=40, help="code frames per size")
    ap.add_argument("--empty", type=int, default=10, help="frames without a code per size")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--payload", help="the same payload in every code frame")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    rng = random.Random(a.seed)
    jobs = []
    for size in a.sizes.split(","):
        w, h = (int(v) for v in size.split("x"))
        texts = [a.payload] * a.codes if a.payload else payloads(rng, a.codes)
        for i, text in enumerate(texts):
            jobs.append((os.path.join(a.out, "%dx%d-code-%04d.pgm" % (w, h, i)), w, h, text,
                         "code", rng.getrandbits(64)))
        for i in range(a.empty):
            kind = ("stripes", "blocks", "plain")[i % 3]
            jobs.append((os.path.join(a.out, "%dx%d-none-%04d.pgm" % (w, h, i)), w, h, "",
                         kind, rng.getrandbits(64)))
    if a.jobs > 1:
        with Pool(a.jobs) as pool:
            rows = pool.map(render, jobs)
    else:
        rows = [render(j) for j in jobs]
    with open(os.path.join(a.out, "manifest.tsv"), "w") as f:
        for name, payload, what in rows:
            f.write("%s\t%s\t%s\n" % (name, payload, what))
    return 0


if __name__ == "__main__":
    sys.exit(main())
