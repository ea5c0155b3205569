"""A picture prepared as the WD-tagger tools prepare it (kohya-ss's tag_images_by_wd14_tagger.py,
SmilingWolf's demo, the WebUI/ComfyUI extensions), for tests/cli_test.cpp:

    wd_preprocess.py PICTURE SIZE OUT.png OUT.npy [WIDTH HEIGHT]

Alpha composited onto white, the picture padded to a centred white square, resized to SIZE x SIZE
(PIL's bicubic, as SmilingWolf's demo; kohya uses OpenCV's INTER_AREA), then as the model input
[1, SIZE, SIZE, 3] float32 BGR 0-255 (OUT.npy). OUT.png holds the same SIZE x SIZE pixels, for
i2v's own pipeline. With WIDTH HEIGHT the picture is first cropped to that box at its top left, so
that the padding is exercised on a non-square picture.
"""
import sys

import numpy as np
from PIL import Image


def main():
    picture, size, out_png, out_npy = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    image = Image.open(picture).convert("RGBA")
    if len(sys.argv) > 6:
        image = image.crop((0, 0, int(sys.argv[5]), int(sys.argv[6])))
    white = Image.new("RGBA", image.size, (255, 255, 255, 255))
    image = Image.alpha_composite(white, image).convert("RGB")
    side = max(image.size)
    square = Image.new("RGB", (side, side), (255, 255, 255))
    square.paste(image, ((side - image.size[0]) // 2, (side - image.size[1]) // 2))
    square = square.resize((size, size), Image.BICUBIC)
    square.save(out_png)
    pixels = np.asarray(square, dtype=np.float32)[:, :, ::-1]  # RGB -> BGR
    np.save(out_npy, np.ascontiguousarray(pixels[np.newaxis]))


if __name__ == "__main__":
    main()
