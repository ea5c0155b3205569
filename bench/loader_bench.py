#!/usr/bin/python3
"""The peer of bench/loader_bench.cpp: torchvision-style loading with PyTorch's DataLoader and
PIL over the same picture files, pictures/s by number of worker processes.

    /usr/bin/python3 bench/loader_bench.py DIR SECONDS WORKERS...

Each sample: PIL open, convert('RGB'), resize((224, 224), BILINEAR), a random horizontal flip,
to a float tensor minus the mean (what i2v's preprocessing does); batches of 64; wall-clock time.
"""
import os
import sys
import time

import numpy as np
import torch
from PIL import Image

MEAN = np.array([181.13838569, 167.47864617, 164.76139251], np.float32)  # RGB


class Pictures(torch.utils.data.Dataset):
    def __init__(self, files):
        self.files = files

    def __len__(self):
        return len(self.files)

    def __getitem__(self, index):
        with Image.open(self.files[index]) as im:
            im.draft("RGB", (224, 224))  # JPEG: DCT-domain downscaling (no effect on WebP)
            pixels = np.asarray(im.convert("RGB").resize((224, 224), Image.BILINEAR), np.float32)
        if np.random.rand() < 0.5:
            pixels = pixels[:, ::-1]
        return torch.from_numpy(np.ascontiguousarray((pixels - MEAN).transpose(2, 0, 1)))


def main():
    folder, seconds, workers = sys.argv[1], float(sys.argv[2]), [int(w) for w in sys.argv[3:]]
    files = sorted(os.path.join(folder, n) for n in os.listdir(folder) if n.endswith((".jpg", ".webp")))
    torch.set_num_threads(1)
    print(f"{len(files)} pictures from {folder} (PyTorch {torch.__version__}, PIL {Image.__version__})")
    for w in workers:
        loader = torch.utils.data.DataLoader(Pictures(files), batch_size=64, shuffle=True, num_workers=w,
                                             persistent_workers=w > 0)
        next(iter(loader))  # the workers started and warm
        pictures, start = 0, time.monotonic()
        while time.monotonic() - start < seconds:
            for batch in loader:
                pictures += batch.shape[0]
        elapsed = time.monotonic() - start
        print(f"workers {w}: {pictures / elapsed:8.1f} pictures/s ({pictures} in {elapsed:.1f} s)")


if __name__ == "__main__":
    main()
