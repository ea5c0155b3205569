"""`import i2v` (python/i2v_module.cpp) from Debian's python3: the module against the i2v tool on
the same pictures and weights. Run by ctest with PYTHONPATH at <build>/python and I2V_TOOL set.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

import numpy as np
from PIL import Image

import i2v

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))
import safetensors_reference  # noqa: E402

TOOL = os.environ["I2V_TOOL"]
TAGS = [("red", "general"), ("round", "general"), ("square", "general"), ("box", "character"),
        ("alpha", "copyright"), ("safe", "rating"), ("questionable", "rating"), ("explicit", "rating")]


def tool(*args):
    return subprocess.run([TOOL, *args], check=True, capture_output=True, text=True).stdout


def add_metadata(path, metadata):
    """Adds entries to a safetensors file's metadata (as i2v train writes them)."""
    tensors, old = safetensors_reference.read(path)
    safetensors_reference.write(path, tensors, {**old, **metadata})


class ModuleTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="i2v_python_")
        rng = np.random.default_rng(int(os.environ.get("I2V_TEST_SEED", "7")) % 2**32)
        cls.tagger_path = os.path.join(cls.dir, "tagger.safetensors")
        tool("weights", "init", "--model", "i2v-tag", "--input-size", "32", "--width", "0.125", "--outputs",
             str(len(TAGS)), "--seed", "3", "-o", cls.tagger_path)
        add_metadata(cls.tagger_path, {
            "i2v.outputs": json.dumps([{"index": i, "name": n, "category": c} for i, (n, c) in enumerate(TAGS)]),
            "i2v.preprocess": json.dumps({"preset": "i2v", "size": 32}),
            "i2v.target": "multi_label"})
        cls.feature_path = os.path.join(cls.dir, "feature.safetensors")
        tool("weights", "init", "--model", "i2v-feature", "--input-size", "32", "--width", "0.125", "--outputs", "5",
             "-o", cls.feature_path)
        cls.pictures = os.path.join(cls.dir, "pictures")
        os.makedirs(cls.pictures)
        cls.paths = []
        for i in range(5):
            # The last one with transparency: composited on white as i2v's decoder does.
            pixels = rng.integers(0, 256, size=(30 + 3 * i, 40, 4 if i == 4 else 3), dtype=np.uint8)
            path = os.path.join(cls.pictures, f"{i}.png")
            Image.fromarray(pixels).save(path)
            cls.paths.append(path)
        cls.tagger = i2v.load(cls.tagger_path)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir)

    def test_tags_as_the_tool_tags_them_from_any_kind_of_picture(self):
        self.assertEqual(self.tagger.tags, [n for n, _ in TAGS])
        by_tool = json.loads(tool("tag", *self.paths, "--weights", self.tagger_path, "--threshold", "0.25",
                                  "--format", "json"))
        pil = [Image.open(p) for p in self.paths]
        arrays = [np.asarray(p) for p in pil]
        for pictures in (self.paths, pil, arrays, [a.astype(np.float32) for a in arrays]):
            got = self.tagger.estimate_plausible_tags(pictures, threshold=0.25)
            self.assertEqual(len(got), len(self.paths))
            for mine, theirs in zip(got, by_tool):
                for category in ("general", "character", "copyright", "rating"):
                    self.assertEqual([t for t, _ in mine[category]], [t for t, _ in theirs[category]], category)
                    np.testing.assert_allclose([p for _, p in mine[category]], [p for _, p in theirs[category]],
                                               rtol=1e-6, atol=1e-7)
        # One at a time gives what the batch gives.
        alone = [self.tagger.estimate_plausible_tags([p], threshold=0.0)[0] for p in self.paths]
        self.assertEqual(alone, self.tagger.estimate_plausible_tags(self.paths, threshold=0.0))

    def test_top_and_specific_tags(self):
        top = self.tagger.estimate_top_tags(self.paths[:2], n_tag=1)
        everything = self.tagger.estimate_plausible_tags(self.paths[:2], threshold=0.0)
        for few, every in zip(top, everything):
            self.assertEqual(few["general"], every["general"][:1])
            self.assertEqual(len(few["rating"]), 3)
            specific = self.tagger.estimate_specific_tags(self.paths[:2], ["round", "box"])
        for asked, every in zip(specific, everything):
            self.assertEqual(asked["round"], dict(every["general"])["round"])
            self.assertEqual(asked["box"], dict(every["character"])["box"])

    def test_captions_are_those_of_i2v_caption(self):
        options = ["--general-threshold", "0.3", "--character-threshold", "0.4", "--rating", "--replace-underscores"]
        folder = os.path.join(self.dir, "captions")
        shutil.copytree(self.pictures, folder)
        tool("caption", folder, "--weights", self.tagger_path, *options)
        mine = self.tagger.caption(self.paths, general_threshold=0.3, character_threshold=0.4, rating=True,
                                   replace_underscores=True)
        for path, caption in zip(self.paths, mine):
            with open(os.path.join(folder, os.path.basename(path)[:-4] + ".txt")) as f:
                self.assertEqual(f.read(), caption + "\n")

    def test_features_codes_and_search(self):
        hasher = i2v.make_i2v_with_chainer(self.feature_path)
        feature = hasher.extract_feature(self.paths)
        self.assertEqual(feature.shape, (5, 4096))
        self.assertEqual(feature.dtype, np.float32)
        codes = hasher.extract_binary_feature(self.paths)
        self.assertEqual(codes.shape, (5, 512))
        np.testing.assert_array_equal(codes, np.packbits(feature > 0, axis=1))
        store_path = os.path.join(self.dir, "all.i2vcodes")
        tool("hash", self.pictures, "--weights", self.feature_path, "-o", store_path)
        store = i2v.CodeStore(store_path)
        self.assertEqual((len(store), store.bits), (5, 4096))
        ids, distances = store.search(codes, k=2)
        self.assertEqual(ids.shape, (5, 2))
        for picture, nearest, distance in zip(self.paths, ids[:, 0], distances[:, 0]):
            self.assertEqual(distance, 0)
            self.assertEqual(os.path.realpath(store.path(int(nearest))), os.path.realpath(picture))

    def test_errors_are_i2v_errors_with_the_reason(self):
        self.assertTrue(issubclass(i2v.Error, RuntimeError))
        with self.assertRaisesRegex(i2v.Error, "missing.safetensors"):
            i2v.load(os.path.join(self.dir, "missing.safetensors"))
        with self.assertRaisesRegex(i2v.Error, r"\[H, W\], \[H, W, 3\] or \[H, W, 4\]"):
            self.tagger.estimate_plausible_tags([np.zeros((4, 4, 2))])
        with self.assertRaisesRegex(i2v.Error, "not a tagger"):
            i2v.load(self.feature_path).estimate_plausible_tags(self.paths)
        with self.assertRaisesRegex(i2v.Error, "import-caffe"):
            i2v.make_i2v_with_chainer("illust2vec_tag_ver200.caffemodel", "tag_list.json")
        with self.assertRaisesRegex(i2v.Error, "no tag 'blue'"):
            self.tagger.estimate_specific_tags(self.paths[:1], ["blue"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
