"""`i2v serve` over loopback: every endpoint against the CLI on the same pictures, hostile input
(non-pictures, bombs, oversize, traversal, slow clients), 50 concurrent clients with every answer
checked, SIGTERM draining the requests in flight, and the page in headless Chromium
(tests/serve_page_test.js). Run by ctest with I2V_TOOL, I2V_NODE_MODULES and I2V_ARTIFACTS set.
"""
import http.client
import io
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import zlib

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))
import safetensors_reference  # noqa: E402

TOOL = os.environ["I2V_TOOL"]
HERE = os.path.dirname(os.path.abspath(__file__))
TAGS = [("red", "general"), ("round", "general"), ("square", "general"), ("box", "character"),
        ("alpha", "copyright"), ("safe", "rating"), ("questionable", "rating"), ("explicit", "rating")]
PICTURES = 40


def tool(*args):
    return subprocess.run([TOOL, *args], check=True, capture_output=True, text=True).stdout


def bomb_png(width, height):
    """A valid PNG header claiming width x height pixels, with almost no data."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 16)) + chunk(b"IEND", b"")


class Server:
    """An `i2v serve` process on a free loopback port."""

    def __init__(self, *args):
        self.process = subprocess.Popen([TOOL, "serve", "--port", "0", *args], stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True)
        self.lines = []
        for line in self.process.stdout:
            self.lines.append(line)
            if line.startswith("listening on http://"):
                self.port = int(line.split(":")[2].split("/")[0])
                break
        else:
            raise RuntimeError("i2v serve did not start: " + self.process.stderr.read())

    def request(self, method, path, body=None, headers=None, timeout=60):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            return response.status, response.getheader("Content-Type", ""), response.read()
        finally:
            connection.close()

    def json(self, method, path, body=None, expect=200, headers=None):
        status, content_type, data = self.request(method, path, body, headers)
        answer = json.loads(data)
        if status != expect:
            raise AssertionError(f"{method} {path}: {status} {answer}, expected {expect}")
        assert content_type.startswith("application/json"), content_type
        return answer

    def stop(self, sig=signal.SIGTERM):
        self.process.send_signal(sig)
        _, err = self.process.communicate(timeout=60)
        return self.process.returncode, err


class ServeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="i2v_serve_")
        site = os.path.join(cls.dir, "site")
        cls.pictures = os.path.join(site, "pictures")
        os.makedirs(cls.pictures)
        rng = np.random.default_rng(int(os.environ.get("I2V_TEST_SEED", "7")) % 2**32)
        cls.tagger = os.path.join(cls.dir, "tagger.safetensors")
        tool("weights", "init", "--model", "i2v-tag", "--input-size", "32", "--width", "0.125", "--outputs",
             str(len(TAGS)), "--seed", "3", "-o", cls.tagger)
        tensors, metadata = safetensors_reference.read(cls.tagger)
        metadata.update({
            "i2v.outputs": json.dumps([{"index": i, "name": n, "category": c} for i, (n, c) in enumerate(TAGS)]),
            "i2v.preprocess": json.dumps({"preset": "i2v", "size": 32}),
            "i2v.target": "multi_label"})
        safetensors_reference.write(cls.tagger, tensors, metadata)
        cls.hasher = os.path.join(cls.dir, "feature.safetensors")
        tool("weights", "init", "--model", "i2v-feature", "--input-size", "32", "--width", "0.125", "--outputs", "5",
             "-o", cls.hasher)
        # Pictures of smooth colour fields (neighbours by colour), PNG and JPEG.
        cls.files = []
        for i in range(PICTURES):
            base = rng.integers(0, 256, size=3)
            gradient = np.linspace(0, 1, 48)[None, :, None] * rng.integers(-80, 80, size=3)
            pixels = np.clip(base + gradient + rng.normal(0, 8, size=(40, 48, 3)), 0, 255).astype(np.uint8)
            name = os.path.join(cls.pictures, f"{i:03d}.{'jpg' if i % 4 == 3 else 'png'}")
            Image.fromarray(pixels).save(name)
            cls.files.append(name)
        # A picture outside the site, reached through a link inside it: never served.
        outside = os.path.join(cls.dir, "outside")
        os.makedirs(outside)
        Image.fromarray(np.zeros((20, 20, 3), np.uint8)).save(os.path.join(outside, "secret.png"))
        os.symlink(os.path.join(outside, "secret.png"), os.path.join(cls.pictures, "zz-link.png"))
        cls.store = os.path.join(site, "store.i2vcodes")
        tool("hash", cls.pictures, "--weights", cls.hasher, "-o", cls.store)
        cls.graph = os.path.join(site, "store.i2vgraph")
        tool("index", "graph", "--store", cls.store, "--k", "5", "-o", cls.graph)
        cls.map = os.path.join(site, "map.csv")
        tool("tsne", "--store", cls.store, "--csv", cls.map, "--perplexity", "5", "--iterations", "250")
        cls.server = Server("--weights", cls.tagger, "--hasher", cls.hasher, "--store", cls.store, "--graph",
                            cls.graph, "--map", cls.map, "--max-upload-mb", "1", "--max-pixels", "1000000",
                            "--timeout", "2")
        # The store's ids: hash numbers a folder's files by position, in name order.
        cls.ids = {os.path.basename(f): i for i, f in enumerate(sorted(cls.files + [os.path.join(cls.pictures, "zz-link.png")]))}

    @classmethod
    def tearDownClass(cls):
        if cls.server.process.poll() is None:
            cls.server.stop()
        shutil.rmtree(cls.dir)

    def read(self, path):
        with open(path, "rb") as f:
            return f.read()

    # --- every endpoint against the CLI --------------------------------------------------------

    def test_tag_answers_what_i2v_tag_answers(self):
        by_tool = json.loads(tool("tag", *self.files[:6], "--weights", self.tagger, "--threshold", "0.3", "--top", "2",
                                  "--format", "json"))
        for file, theirs in zip(self.files[:6], by_tool):
            for mine in (self.server.json("POST", "/tag?threshold=0.3&top=2", self.read(file)),
                         self.server.json("GET", f"/tag?threshold=0.3&top=2&id={self.ids[os.path.basename(file)]}")):
                for category in ("general", "character", "copyright", "rating"):
                    self.assertEqual([t for t, _ in mine[category]], [t for t, _ in theirs[category]])
                    np.testing.assert_allclose([p for _, p in mine[category]], [p for _, p in theirs[category]],
                                               rtol=1e-6, atol=1e-7)
        # A form upload names its file.
        boundary = "i2vboundary"
        form = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"picture\"; filename=\"a.png\"\r\n"
                f"Content-Type: image/png\r\n\r\n").encode() + self.read(self.files[0]) + f"\r\n--{boundary}--\r\n".encode()
        answer = self.server.json("POST", "/tag", form, headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
        self.assertEqual(answer["image"], "a.png")
        self.assertEqual(sorted(t for t, _ in answer["rating"]), ["explicit", "questionable", "safe"])

    def test_similar_finds_the_stored_picture_and_matches_i2v_search(self):
        for file in self.files[:5]:
            found = self.server.json("POST", "/similar?k=3", self.read(file))
            self.assertEqual(found["bits"], 4096)
            self.assertEqual(found["results"][0]["id"], self.ids[os.path.basename(file)])
            self.assertEqual(found["results"][0]["distance"], 0)
        by_tool = json.loads(tool("search", "4", "--store", self.store, "--k", "6"))
        mine = self.server.json("GET", "/similar?id=4&k=6")
        self.assertEqual([(r["id"], r["distance"]) for r in mine["results"]],
                         [(r["id"], r["distance"]) for r in by_tool["results"]])
        self.assertEqual(mine["query"]["id"], 4)

    def test_items_thumbnails_and_images(self):
        item = self.server.json("GET", "/items/3")
        self.assertEqual((item["id"], item["name"]), (3, "003.jpg"))
        status, content_type, data = self.server.request("GET", item["thumbnail"])
        self.assertEqual((status, content_type), (200, "image/png"))
        thumb = Image.open(io.BytesIO(data))
        self.assertLessEqual(max(thumb.size), 160)
        status, content_type, data = self.server.request("GET", item["image"])
        self.assertEqual((status, content_type, data), (200, "image/jpeg", self.read(self.files[3])))

    def test_morph_and_map_as_the_cli_writes_them(self):
        out = os.path.join(self.dir, "morph.json")
        try:
            tool("morph", "0", "7", "--store", self.store, "--graph", self.graph, "--alternatives", "2", "--json", out)
        except subprocess.CalledProcessError:
            self.server.json("GET", "/morph?from=0&to=7", expect=404)  # not connected: said so
        else:
            with open(out) as f:
                by_tool = json.load(f)
            mine = self.server.json("GET", "/morph?from=0&to=7&alternatives=2")
            self.assertEqual([[(s["id"], s["distance_so_far"]) for s in p["steps"]] for p in mine["paths"]],
                             [[(s["id"], s["distance_so_far"]) for s in p["steps"]] for p in by_tool["paths"]])
        points = self.server.json("GET", "/map")
        with open(self.map) as f:
            rows = [line.split(",") for line in f.read().splitlines()[1:]]
        self.assertEqual(points["count"], len(rows))
        for point, row in zip(points["items"], rows):
            self.assertEqual(point["id"], int(row[1]))
            self.assertAlmostEqual(point["x"], float(row[2]), places=4)

    def test_cam_health_and_page(self):
        status, content_type, data = self.server.request("POST", "/cam?tag=red", self.read(self.files[0]))
        self.assertEqual((status, content_type), (200, "image/png"))
        self.assertEqual(Image.open(io.BytesIO(data)).size[0], 256)
        self.server.json("POST", "/cam?tag=no_such_tag", self.read(self.files[0]), expect=404)
        health = self.server.json("GET", "/health")
        self.assertEqual((health["status"], health["store"]["items"], health["map"]), ("ok", PICTURES + 1, PICTURES + 1))
        for path, kind in (("/", "text/html"), ("/app.js", "text/javascript"), ("/style.css", "text/css")):
            status, content_type, data = self.server.request("GET", path)
            self.assertEqual(status, 200)
            self.assertTrue(content_type.startswith(kind), content_type)
            self.assertGreater(len(data), 500)

    # --- hostile input -------------------------------------------------------------------------

    def test_bad_uploads_are_refused_with_a_reason(self):
        picture = self.read(self.files[0])
        cases = [
            ("POST", "/tag", b"", 400, "no picture"),
            ("POST", "/tag", b"this is not a picture" * 10, 415, "unsupported image format"),
            ("POST", "/tag", picture[: len(picture) // 2], 400, "truncated"),
            ("POST", "/tag", bomb_png(30000, 30000), 413, "pixels"),
            ("POST", "/tag", os.urandom(2 << 20), 413, "larger than the limit"),
            ("POST", "/tag?threshold=abc", picture, 400, "threshold"),
            ("POST", "/tag?top=-1", picture, 400, "top"),
            ("POST", "/similar?k=0", picture, 400, "k="),
            ("GET", "/similar?id=999999", None, 404, "no item"),
            ("GET", "/similar?id=abc", None, 400, "not an item id"),
            ("GET", "/morph?from=1", None, 400, "from"),
            ("GET", "/items/123456", None, 404, "no item"),
            ("DELETE", "/tag", None, 404, "no such endpoint"),
            ("GET", "/no/such/thing", None, 404, "no such endpoint"),
        ]
        for method, path, body, status, reason in cases:
            with self.subTest(path=path, status=status):
                got, content_type, data = self.server.request(method, path, body)
                self.assertEqual(got, status, data[:200])
                answer = json.loads(data)
                self.assertIn(reason, answer["error"])
                self.assertEqual(answer["status"], status)
        self.assertIsNone(self.server.process.poll(), "the server died")

    def test_no_request_reaches_outside_the_image_root(self):
        link = self.ids["zz-link.png"]
        self.server.json("GET", f"/items/{link}/image", expect=403)
        self.server.json("GET", f"/items/{link}/thumbnail", expect=403)
        self.server.json("GET", f"/tag?id={link}", expect=403)
        for path in ("/../../../../etc/passwd", "/items/../../etc/passwd", "/items/1/../../../etc/passwd",
                     "/%2e%2e/%2e%2e/etc/passwd", "/items/..%2f..%2fetc%2fpasswd/image", "/app.js/../../etc/passwd",
                     "/items/-1/image", "/items/99999999999999999999999/image"):
            with self.subTest(path=path):
                status, _, data = self.server.request("GET", path)
                self.assertIn(status, (400, 403, 404))
                self.assertNotIn(b"root:", data)

    def test_slow_clients_do_not_starve_others(self):
        slow = []
        for _ in range(8):  # half a request each, then silence
            s = socket.create_connection(("127.0.0.1", self.server.port))
            s.sendall(b"POST /tag HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n" + b"\x89PNG")
            slow.append(s)
        start = time.monotonic()
        self.server.json("POST", "/tag", self.read(self.files[1]))
        self.assertLess(time.monotonic() - start, 1.5)
        for s in slow:  # cut off after --timeout 2
            s.settimeout(10)
            try:
                self.assertEqual(s.recv(1 << 16)[:0], b"")
            except ConnectionResetError:
                pass
            s.close()

    # --- many clients at once --------------------------------------------------------------------

    def test_fifty_concurrent_clients_each_get_their_own_answer(self):
        expected_tags, expected_similar = {}, {}
        for file in self.files:
            data = self.read(file)
            expected_tags[file] = self.server.json("POST", "/tag?threshold=0", data)
            expected_similar[file] = self.server.json("POST", "/similar?k=4", data)
        before = self.server.json("GET", "/health")["tagger"]["queue"]
        failures, answers = [], []

        def client(index):
            try:
                for r in range(4):
                    file = self.files[(index * 7 + r) % len(self.files)]
                    data = self.read(file)
                    tags = self.server.json("POST", "/tag?threshold=0", data)
                    similar = self.server.json("POST", "/similar?k=4", data)
                    for got, want in ((tags, expected_tags[file]), (similar, expected_similar[file])):
                        if json.dumps(got, sort_keys=True) != json.dumps(want, sort_keys=True):
                            failures.append(f"{file}: {got} != {want}")
                    answers.append(file)
            except Exception as e:  # noqa: BLE001 - reported below
                failures.append(repr(e))

        threads = [threading.Thread(target=client, args=(i,)) for i in range(50)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(failures, [])
        self.assertEqual(len(answers), 200)
        after = self.server.json("GET", "/health")["tagger"]["queue"]
        self.assertEqual(after["pictures"] - before["pictures"], 200)
        self.assertLess(after["batches"] - before["batches"], 200, "requests arriving together share forward passes")

    # --- the page in a real browser ----------------------------------------------------------------

    def test_page_in_headless_chromium(self):
        artifacts = os.environ.get("I2V_ARTIFACTS", self.dir)
        os.makedirs(artifacts, exist_ok=True)
        screenshot = os.path.join(artifacts, "serve-page.png")
        env = dict(os.environ, NODE_PATH=os.environ["I2V_NODE_MODULES"])
        run = subprocess.run(["node", os.path.join(HERE, "serve_page_test.js"), f"http://127.0.0.1:{self.server.port}/",
                              self.files[0], screenshot], capture_output=True, text=True, env=env, timeout=300)
        self.assertEqual(run.returncode, 0, run.stdout + run.stderr)
        report = json.loads(run.stdout.strip().splitlines()[-1])
        self.assertGreater(report["tags"], 0)
        self.assertGreater(report["neighbours"], 0)
        self.assertGreaterEqual(report["morph_steps"], 2)
        self.assertGreater(report["map_pixels"], 100)
        self.assertEqual(report["console_errors"], [])
        # Only the picture behind the link out of the image root is refused (its dot on the map).
        link = self.ids["zz-link.png"]
        self.assertLessEqual(set(report["failed_responses"]), {f"403 /items/{link}/thumbnail"})
        # The screenshot shows something: many colours, not a blank page.
        shot = np.asarray(Image.open(screenshot).convert("RGB"))
        self.assertGreater(shot.shape[0], 500)
        self.assertGreater(len(np.unique(shot.reshape(-1, 3), axis=0)), 200)

    # --- stopping ------------------------------------------------------------------------------------

    def test_sigterm_drains_requests_in_flight_and_exits_0(self):
        server = Server("--weights", self.tagger, "--max-wait-ms", "400", "--batch", "64")
        data = self.read(self.files[0])
        results = []

        def client():
            try:
                results.append(server.request("POST", "/tag", data)[0])
            except OSError as e:  # arrived after the server stopped listening
                results.append(type(e).__name__)

        threads = [threading.Thread(target=client) for _ in range(12)]
        for t in threads:
            t.start()
        time.sleep(0.15)  # the requests now wait in the batch queue
        code, err = server.stop(signal.SIGTERM)
        for t in threads:
            t.join()
        self.assertEqual(code, 0, err)
        self.assertIn("stopped after the requests in flight", err)
        self.assertGreater(results.count(200), 0, results)
        self.assertTrue(all(r == 200 or r in ("ConnectionRefusedError", "ConnectionResetError") for r in results), results)


if __name__ == "__main__":
    unittest.main()
