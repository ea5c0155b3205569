#!/usr/bin/python3
"""PIL's side of bench/decode_bench.sh: decode + resize JPEGs (or WebPs) to 224x224, images/s on one thread.

    /usr/bin/python3 bench/decode_bench.py DIR [SECONDS]

The files are read into memory first (as decode_bench does), then decoded from BytesIO; time is
the thread's CPU time (time.thread_time), as in decode_bench:
  pil-full   Image.open + convert('RGB') + resize((224, 224), BILINEAR)  (full-size decode)
  pil-draft  the same after im.draft('RGB', (224, 224)): libjpeg's DCT-domain scaling
             (1/2 for a 500x500 source), PIL's fastest path
  pil-draft-decode  the draft decode alone (im.load()), to see decoding and resizing apart
BILINEAR in PIL is antialiased (its support grows with the shrink factor), comparable to the
area average of i2v's resize.
"""
import io
import os
import sys
import time

from PIL import Image


def images_per_second(blobs, seconds, decode):
    for blob in blobs:  # warm-up
        decode(blob)
    start = time.thread_time()
    done = 0
    elapsed = 0.0
    while elapsed < seconds:
        for blob in blobs:
            decode(blob)
        done += len(blobs)
        elapsed = time.thread_time() - start
    return done / elapsed


def full(blob):
    with Image.open(io.BytesIO(blob)) as im:
        return im.convert("RGB").resize((224, 224), Image.BILINEAR)


def draft(blob):
    with Image.open(io.BytesIO(blob)) as im:
        im.draft("RGB", (224, 224))
        return im.convert("RGB").resize((224, 224), Image.BILINEAR)


def draft_decode(blob):
    with Image.open(io.BytesIO(blob)) as im:
        im.draft("RGB", (224, 224))
        im.load()
        return im


def decode_alone(blob):
    with Image.open(io.BytesIO(blob)) as im:
        im.load()
        return im


def main():
    if len(sys.argv) < 2:
        sys.exit("usage: decode_bench.py DIR [SECONDS]")
    folder = sys.argv[1]
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 2.0
    names = sorted(n for n in os.listdir(folder) if n.endswith(".jpg") or n.endswith(".webp"))
    blobs = [open(os.path.join(folder, n), "rb").read() for n in names]
    webp = names[0].endswith(".webp")
    print(f"PIL {Image.__version__}, {len(blobs)} {'WebP' if webp else 'JPEG'}s from {folder}, one thread, to 224x224")
    # WebP has no DCT-domain shortcut (draft() does nothing): the full decode is PIL's only path.
    paths = (("pil-full", full), ("pil-decode", decode_alone)) if webp else (
        ("pil-full", full), ("pil-draft", draft), ("pil-draft-decode", draft_decode))
    for name, decode in paths:
        rates = sorted(images_per_second(blobs, seconds, decode) for _ in range(5))
        print(f"{name:<16} {rates[2]:8.1f} images/s  (median of 5 runs of {seconds:.0f} CPU-s)")


if __name__ == "__main__":
    main()
