"""The kernel trace (`--trace FILE`, I2V_TRACE=FILE; kernels/trace.h) and its readers (`i2v trace
summary|picture|chrome`): every launch recorded with its name, device, shape and time on cpu and
sim, the same layers on both devices, layer spans for forward and backward, a summary that adds
up, a timeline picture, and a Chrome trace that follows the trace-event format (complete events
properly nested on every track). Run by ctest with I2V_TOOL set.
"""
import json
import os
import re
import subprocess
import tempfile
import unittest

import numpy as np

TOOL = os.environ["I2V_TOOL"]
INPUT_SIZE = 32
KERNEL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_:]*(<[A-Za-z0-9_:, ]*>)?$")


def run(*args, env=None, check=True):
    return subprocess.run([TOOL, *args], capture_output=True, text=True, check=check,
                          env=dict(os.environ, **(env or {})))


def read_trace(path):
    events, summary, layer_summary = [], [], []
    with open(path) as f:
        for line in f:
            record = json.loads(line)
            {"summary": summary, "layer_summary": layer_summary}.get(record["type"], events).append(record)
    return events, summary, layer_summary


class TraceTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="i2v-trace-")
        rng = np.random.default_rng(1)
        np.save(os.path.join(cls.dir, "x.npy"), rng.standard_normal((2, 3, INPUT_SIZE, INPUT_SIZE)).astype(np.float32))
        targets = (rng.random((2, 1539)) < 0.01).astype(np.float32)
        np.save(os.path.join(cls.dir, "t.npy"), targets)
        cls.runs = {}
        for device in ("cpu", "sim"):
            trace = os.path.join(cls.dir, f"forward-{device}.jsonl")
            # cpu through the environment variable, sim through the option: both ways work.
            option = [] if device == "cpu" else ["--trace", trace]
            result = run("forward", "--model", "i2v-tag", "--input-size", str(INPUT_SIZE), "--width", "0.25", "--input",
                         os.path.join(cls.dir, "x.npy"), "-o", os.path.join(cls.dir, f"y-{device}.npy"),
                         "--device", device, *option, env={"I2V_TRACE": trace} if device == "cpu" else None)
            cls.runs[device] = (read_trace(trace), result.stderr, trace)

    def test_every_launch_has_its_name_device_shape_and_time(self):
        for device in ("cpu", "sim"):
            (events, _, _), _, _ = self.runs[device]
            first_layer = min(e["start_us"] for e in events if e["type"] == "layer")
            # A model is initialised on the cpu, then moved: those launches come before any layer.
            initialisation = [e for e in events if e["type"] == "launch" and e["device"] != device]
            self.assertTrue(all(e["device"] == "cpu" and e["start_us"] < first_layer for e in initialisation))
            launches = [e for e in events if e["type"] == "launch" and e["device"] == device]
            self.assertGreaterEqual(len(launches), 29, device)  # at least one per layer
            for e in launches:
                self.assertEqual(e["device"], device)
                self.assertRegex(e["name"], KERNEL_NAME)
                self.assertGreaterEqual(e["us"], 0)
                self.assertGreaterEqual(e["start_us"], 0)
                if device == "cpu":
                    self.assertIsNone(e["grid"])
                    self.assertEqual(e["op"], e["name"])  # on the cpu the op is the kernel
                else:
                    self.assertEqual(len(e["grid"]), 3)
                    self.assertEqual(len(e["block"]), 3)
                    self.assertTrue(all(d >= 1 for d in e["grid"] + e["block"]), e)
                    self.assertLessEqual(e["block"][0] * e["block"][1] * e["block"][2], 1024)
                    self.assertGreaterEqual(e["shared_bytes"], 0)
                    self.assertNotEqual(e["op"], "")
            names = {e["name"] for e in launches}
            self.assertIn("relu_forward", {e["op"] for e in launches})
            if device == "sim":  # the GPU kernels behind the ops
                self.assertTrue(any(n.startswith("conv_forward_tc") or n.startswith("gemm") for n in names), names)

    def test_cpu_and_sim_run_the_same_layers_and_every_layer_launches_kernels(self):
        (cpu, _, _), _, _ = self.runs["cpu"]
        (sim, _, _), _, _ = self.runs["sim"]
        layers = [e["name"] for e in cpu if e["type"] == "layer"]
        self.assertEqual(layers, [e["name"] for e in sim if e["type"] == "layer"])
        self.assertEqual(len(layers), 29)  # i2v-tag's layers, each one forward
        for events in (cpu, sim):  # a convolution runs kernels of its own on either device
            conv = next(e for e in events if e["name"] == "conv2_1.forward")
            inside = [e for e in events if e["type"] == "launch" and conv["start_us"] <= e["start_us"] <=
                      conv["start_us"] + conv["us"]]
            self.assertTrue(any("conv" in e["name"] or "gemm" in e["name"] for e in inside), inside)

    def test_launches_lie_inside_their_op_and_layer_spans(self):
        (events, _, _), _, _ = self.runs["sim"]
        ops = [e for e in events if e["type"] == "op"]
        layers = [e for e in events if e["type"] == "layer"]
        self.assertEqual([e["name"] for e in layers][:4], ["conv1_1.forward", "relu1_1.forward", "pool1.forward",
                                                            "conv2_1.forward"])

        def inside(inner, outer):
            return outer["start_us"] - 1e-3 <= inner["start_us"] and \
                inner["start_us"] + inner["us"] <= outer["start_us"] + outer["us"] + 1e-3

        for launch in (e for e in events if e["type"] == "launch" and e["device"] == "sim"):
            self.assertTrue(any(inside(launch, op) and op["name"] == launch["op"] for op in ops), launch)
            self.assertTrue(any(inside(launch, layer) for layer in layers), launch)

    def test_the_summary_adds_up_and_is_printed(self):
        for device in ("cpu", "sim"):
            (events, summary, layer_summary), stderr, trace = self.runs[device]
            launches = [e for e in events if e["type"] == "launch"]
            self.assertEqual(sum(s["launches"] for s in summary), len(launches))
            self.assertAlmostEqual(sum(s["total_us"] for s in summary), sum(e["us"] for e in launches), delta=1e-3)
            self.assertEqual({s["layer"] for s in layer_summary}, {e["name"] for e in events if e["type"] == "layer"})
            self.assertIn(f"trace: {len(launches)} kernel launches", stderr)
            # The table read back from the file is the one printed at the end of the run (its top 12).
            table = run("trace", "summary", trace, "--top", "12").stdout
            self.assertEqual(table, stderr[stderr.index("trace: "):])
            top = max(summary, key=lambda s: s["total_us"])
            self.assertIn(top["kernel"], table.splitlines()[2])

    def test_backward_traces_the_backward_of_every_layer(self):
        trace = os.path.join(self.dir, "backward.jsonl")
        run("backward", "--model", "i2v-tag", "--input-size", str(INPUT_SIZE), "--width", "0.25", "--input",
            os.path.join(self.dir, "x.npy"), "--target", os.path.join(self.dir, "t.npy"), "-o",
            os.path.join(self.dir, "grads.safetensors"), "--trace", trace)
        events, _, _ = read_trace(trace)
        layers = [e["name"] for e in events if e["type"] == "layer"]
        forward = [n[:-len(".forward")] for n in layers if n.endswith(".forward")]
        backward = [n[:-len(".backward")] for n in layers if n.endswith(".backward")]
        self.assertEqual(backward, forward[::-1])
        kernels = {e["name"] for e in events if e["type"] == "launch"}
        self.assertTrue(any(name.startswith("conv_weight_grad") for name in kernels), kernels)

    def test_chrome_trace_follows_the_trace_event_format(self):
        (events, _, _), _, trace = self.runs["sim"]
        output = os.path.join(self.dir, "sim.trace.json")
        printed = run("trace", "chrome", trace, "-o", output).stdout
        self.assertIn("ui.perfetto.dev", printed)
        with open(output) as f:
            document = json.load(f)
        self.assertEqual(document["displayTimeUnit"], "ms")
        complete = [e for e in document["traceEvents"] if e["ph"] == "X"]
        metadata = [e for e in document["traceEvents"] if e["ph"] == "M"]
        self.assertEqual(len(complete), len(events))
        self.assertEqual(len(complete) + len(metadata), len(document["traceEvents"]))
        tracks = set()
        for e in complete:
            for key, kind in (("name", str), ("cat", str), ("pid", int), ("tid", int), ("args", dict)):
                self.assertIsInstance(e[key], kind, e)
            self.assertIsInstance(e["ts"], (int, float))
            self.assertGreaterEqual(e["dur"], 0)
            tracks.add((e["pid"], e["tid"]))
        named = {(e["pid"], e["tid"], e["name"]) for e in metadata}
        for pid, tid in tracks:  # every track is named
            self.assertIn((pid, tid, "process_name"), named)
            self.assertIn((pid, tid, "thread_name"), named)
        self.assertGreaterEqual(len({pid for pid, _ in tracks}), 2)  # the host and the sim launches
        # Complete events on one track must nest (a viewer draws them as a flame chart).
        for track in tracks:
            spans = sorted((e for e in complete if (e["pid"], e["tid"]) == track), key=lambda e: (e["ts"], -e["dur"]))
            open_ends = []
            for e in spans:
                while open_ends and open_ends[-1] <= e["ts"] + 1e-3:
                    open_ends.pop()
                if open_ends:
                    self.assertLessEqual(e["ts"] + e["dur"], open_ends[-1] + 1e-3, e)
                open_ends.append(e["ts"] + e["dur"])

    def test_picture_draws_the_whole_trace_or_one_span(self):
        from PIL import Image
        (events, _, _), _, trace = self.runs["sim"]
        whole = os.path.join(self.dir, "whole.png")
        self.assertIn("the whole trace", run("trace", "picture", trace, "-o", whole, "--width", "900").stdout)
        with Image.open(whole) as picture:
            self.assertEqual(picture.width, 900)
            self.assertGreater(len(picture.convert("RGB").getcolors(1 << 20)), 20)  # bars of many colours
        layer = os.path.join(self.dir, "layer.png")
        printed = run("trace", "picture", trace, "--span", "conv2_1.forward", "-o", layer).stdout
        conv = next(e for e in events if e["name"] == "conv2_1.forward")
        self.assertIn(f"conv2_1.forward 1 of 1, {conv['us'] / 1000:.3f} ms", printed)
        missing = run("trace", "picture", trace, "--span", "nothing", "-o", layer, check=False)
        self.assertEqual(missing.returncode, 1)
        self.assertIn("no span named nothing", missing.stderr)
        beyond = run("trace", "picture", trace, "--span", "conv2_1.forward", "--occurrence", "2", "-o", layer,
                     check=False)
        self.assertEqual(beyond.returncode, 1)
        self.assertIn("1 span(s) named conv2_1.forward", beyond.stderr)

    def test_a_file_that_is_not_a_trace_is_never_replaced(self):
        weights = os.path.join(self.dir, "precious.safetensors")
        with open(weights, "wb") as f:
            f.write(b"\x08\x00\x00\x00\x00\x00\x00\x00{}      ")
        result = run("forward", "--model", "i2v-tag", "--input-size", str(INPUT_SIZE), "--input",
                     os.path.join(self.dir, "x.npy"), "-o", os.path.join(self.dir, "y.npy"), "--trace", weights,
                     check=False)
        self.assertEqual(result.returncode, 1)
        self.assertIn("is not a trace", result.stderr)
        with open(weights, "rb") as f:
            self.assertEqual(f.read(), b"\x08\x00\x00\x00\x00\x00\x00\x00{}      ")
        bad = os.path.join(self.dir, "bad.jsonl")
        with open(bad, "w") as f:
            f.write('{"type": "launch", "name": "x"}\n')
        result = run("trace", "summary", bad, check=False)
        self.assertEqual(result.returncode, 1)
        self.assertIn("bad.jsonl:1", result.stderr)


if __name__ == "__main__":
    unittest.main()
