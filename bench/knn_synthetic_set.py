#!/usr/bin/python3
"""A synthetic illustration set with hash-like codes, to try the index tools without a model.

Each image is a circle, a square or a triangle in one hue; its 4,096-bit code is the sign of a
fixed random projection of (hue on the colour wheel, shape) plus noise, so codes of similar
pictures are near in Hamming distance — as the i2v hash model's are meant to be. Writes, in
OUT: img/NNNN.png, images.txt (one path per line), codes.npy (uint8 N x 512, np.packbits
order), ids.npy (int64), shapes.npy (int64: 0 circle, 1 square, 2 triangle).

usage: /usr/bin/python3 bench/knn_synthetic_set.py OUT [--n 600] [--seed 0]
then:  i2v index build --codes OUT/codes.npy --ids OUT/ids.npy --paths OUT/images.txt -o OUT/set.i2vcodes
       (run the tools from OUT, or give them --image-root OUT)
"""
import argparse
import colorsys
import os

import numpy as np
from PIL import Image, ImageDraw

parser = argparse.ArgumentParser()
parser.add_argument("out")
parser.add_argument("--n", type=int, default=600)
parser.add_argument("--seed", type=int, default=0)
args = parser.parse_args()

rng = np.random.default_rng(args.seed)
bits = 4096
hues = rng.random(args.n)
shapes = rng.integers(0, 3, args.n)
features = np.stack([np.cos(2 * np.pi * hues), np.sin(2 * np.pi * hues),
                     0.8 * (shapes == 0), 0.8 * (shapes == 1), 0.8 * (shapes == 2)], axis=1)
projection = rng.normal(size=(features.shape[1], bits))
offset = 0.3 * rng.normal(size=bits)
codes = features @ projection + offset + 0.35 * rng.normal(size=(args.n, bits)) > 0

os.makedirs(os.path.join(args.out, "img"), exist_ok=True)
np.save(os.path.join(args.out, "codes.npy"), np.packbits(codes, axis=1))
np.save(os.path.join(args.out, "ids.npy"), 1000 + 10 * np.arange(args.n, dtype=np.int64))
np.save(os.path.join(args.out, "shapes.npy"), shapes.astype(np.int64))
with open(os.path.join(args.out, "images.txt"), "w") as listing:
    for i in range(args.n):
        colour = tuple(int(255 * c) for c in colorsys.hsv_to_rgb(hues[i], 0.8, 0.9))
        image = Image.new("RGB", (96, 96), "white")
        draw = ImageDraw.Draw(image)
        if shapes[i] == 0:
            draw.ellipse((12, 12, 84, 84), fill=colour)
        elif shapes[i] == 1:
            draw.rectangle((16, 16, 80, 80), fill=colour)
        else:
            draw.polygon([(48, 8), (88, 88), (8, 88)], fill=colour)
        name = f"img/{i:04d}.png"
        image.save(os.path.join(args.out, name))
        listing.write(name + "\n")
print(f"wrote {args.n} images, codes.npy, ids.npy, shapes.npy and images.txt to {args.out}")
