"""docs/tour.md cannot go stale: every command in its ```console blocks runs here, and its output
must read as the pasted one with the numbers masked (weights, timings and data differ; shapes,
layers, kernels and words do not). A block after `<!-- tour: output varies -->` (tags, timings
sorted by time) only has to run. A `...` line ends the part of an output that is compared.

  tests/tour_test.py            the check (ctest Tour.EveryCommandRuns, I2V_TOOL set): the tour's
                                commands against a stand-in of the demo's outputs made here (a
                                small emoji-like dump, its vocabulary, a tagger trained 2 steps)
  tests/tour_test.py --update   from the project root after ./run.sh demo: runs the commands on
                                the real demo-out/ and pastes their output into docs/tour.md
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
TOUR = os.path.join(ROOT, "docs", "tour.md")
VARIES = "<!-- tour: output varies -->"
NUMBER = re.compile(r"[-+]?\d[\d,]*(\.\d+)?([eE][-+]?\d+)?")


def parse(text):
    """The console blocks: [(first line index, last line index, varies, [(command, its lines as written,
    [output lines])])]."""
    lines = text.split("\n")
    blocks, i = [], 0
    while i < len(lines):
        if lines[i].strip() != "```console":
            i += 1
            continue
        previous = next((lines[j] for j in range(i - 1, -1, -1) if lines[j].strip()), "")
        start, i = i, i + 1
        steps = []
        while lines[i].strip() != "```":
            line = lines[i]
            if line.startswith("$ "):
                written = [line]
                while written[-1].endswith("\\"):
                    i += 1
                    written.append(lines[i])
                command = " ".join(part.rstrip("\\").strip() for part in written)[2:]
                steps.append((command, written, []))
            elif line.strip():
                steps[-1][2].append(line)
            i += 1
        blocks.append((start, i, previous.strip() == VARIES, steps))
        i += 1
    return blocks


def masked(lines):
    return [" ".join(NUMBER.sub("#", line).split()) for line in lines]


def run(command, cwd, tool):
    """Runs a tour command with `i2v` on the PATH; returns (status, output lines)."""
    bin_dir = os.path.join(tempfile.gettempdir(), f"i2v-tour-bin-{os.getpid()}")
    if not os.path.exists(bin_dir):
        os.makedirs(bin_dir)
        os.symlink(os.path.abspath(tool), os.path.join(bin_dir, "i2v"))
    env = dict(os.environ, PATH=bin_dir + os.pathsep + os.environ["PATH"], OMP_WAIT_POLICY="passive")
    # stdout and stderr in the order the command wrote them (i2v's stdout, a pipe here, is flushed at exit).
    result = subprocess.run(["bash", "-c", command], cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    output = [line for line in result.stdout.split("\n") if line.strip()]
    return result.returncode, output


def make_stand_in(root, tool):
    """What ./run.sh demo leaves that the tour reads, small: an emoji-like dump (coloured shapes,
    Danbooru-style metadata), its vocabulary, and i2v-tag trained 2 steps by the demo's config."""
    shutil.copytree(os.path.join(ROOT, "configs"), os.path.join(root, "configs"))
    dump = os.path.join(root, "demo-out", "emoji-dump")
    rng = np.random.default_rng(5)
    words = ["face", "cat", "animal-mammal", "smileys_and_emotion", "food", "heart"]
    with_records = []
    ids = [12448] + [10001 + i for i in range(47)]
    for n, post in enumerate(ids):
        tags = [{"name": w, "category": "0"} for w in words if rng.random() < 0.4] or [{"name": "face", "category": "0"}]
        tags.append({"name": f"emoji_{n % 6}", "category": "4"})
        tags.append({"name": "twitter" if n % 2 else "google", "category": "3"})
        folder = os.path.join(dump, "original", f"{post % 1000:04d}")
        os.makedirs(folder, exist_ok=True)
        pixels = np.full((64, 64, 3), 255, np.uint8)
        y, x = np.ogrid[:64, :64]
        colour = rng.integers(0, 256, 3)
        pixels[(y - 32) ** 2 + (x - 32) ** 2 < int(rng.integers(100, 900))] = colour
        Image.fromarray(pixels).save(os.path.join(folder, f"{post}.png"))
        with_records.append('{"id":"%d","rating":"s","file_ext":"png","tags":[%s],"image_width":"64",'
                            '"image_height":"64"}' % (post, ",".join(
                                '{"name":"%s","category":"%s"}' % (t["name"], t["category"]) for t in tags)))
    with open(os.path.join(dump, "metadata.jsonl"), "w") as f:
        f.write("\n".join(with_records) + "\n")
    for args in (["vocab", "build", "--metadata", "demo-out/emoji-dump/metadata.jsonl", "-o", "demo-out/emoji-vocab.json"],
                 ["train", "--config", "configs/emoji-i2v-tag.json", "--set", "max_steps=2"]):
        subprocess.run([tool, *args], cwd=root, check=True, capture_output=True)


class TourTest(unittest.TestCase):
    def test_every_command_runs_and_reads_as_pasted(self):
        tool = os.environ["I2V_TOOL"]
        with open(TOUR) as f:
            blocks = parse(f.read())
        self.assertGreater(sum(len(steps) for _, _, _, steps in blocks), 10)  # the tour was read
        root = tempfile.mkdtemp(prefix="i2v-tour-")
        try:
            make_stand_in(root, tool)
            for _, _, varies, steps in blocks:
                for command, _, expected in steps:
                    with self.subTest(command=command):
                        status, output = run(command, root, tool)
                        self.assertEqual(status, 0, "\n".join(output))
                        if varies:
                            continue
                        compared = expected[:expected.index("...")] if "..." in expected else expected
                        self.assertEqual(masked(output[:len(compared)]), masked(compared))
                        if "..." not in expected:
                            self.assertEqual(len(output), len(expected), "\n".join(output))
        finally:
            shutil.rmtree(root)


def update(tool):
    """Runs every command from the project root (on the real demo-out/) and pastes the output."""
    with open(TOUR) as f:
        text = f.read()
    shutil.rmtree(os.path.join(ROOT, "tour-out"), ignore_errors=True)
    blocks = parse(text)
    outputs = {}
    for start, _, _, steps in blocks:  # in the tour's order: a command may read what one before wrote
        for command, _, _ in steps:
            status, output = run(command, ROOT, tool)
            if status != 0:
                sys.exit(f"tour: `{command}` failed ({status}):\n" + "\n".join(output))
            outputs[(start, command)] = output
    lines = text.split("\n")
    for start, end, _, steps in reversed(blocks):
        body = []
        for command, written, expected in steps:
            output = outputs[(start, command)]
            if "..." in expected:
                output = output[:expected.index("...")] + ["..."]
            body += written + output
        lines[start + 1:end] = body
    with open(TOUR, "w") as f:
        f.write("\n".join(lines))


if __name__ == "__main__":
    if sys.argv[1:] == ["--update"]:
        update(os.environ.get("I2V_TOOL", os.path.join(ROOT, "build", "apps", "i2v")))
    else:
        unittest.main()
