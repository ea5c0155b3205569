// i2v serve's page: everything it shows comes from the server's JSON endpoints (apps/serve_api.h).
//   a picture (uploaded, or an item picked from a strip or the map) -> POST /tag, /similar, /cam
//   two items -> GET /morph;   the whole store -> GET /map, drawn on a canvas with thumbnails
"use strict";

const $ = (id) => document.getElementById(id);
const state = { health: null, picture: null, from: null, to: null };

// The server's JSON, or an Error carrying its {"error": reason}.
async function api(path, options) {
  const response = await fetch(path, options);
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.error || `${response.status} ${response.statusText}`);
  return body;
}

// Where a picture's requests go: an item of the store by id, or the uploaded file as the body.
function pictureRequest(path, params) {
  const picture = state.picture;
  const query = new URLSearchParams(params);
  if (picture.id !== undefined) {
    query.set("id", picture.id);
    return [`${path}?${query}`, { method: "GET" }];
  }
  return [`${path}?${query}`, { method: "POST", body: picture.file }];
}

function showError(element, error) {
  element.textContent = error ? String(error.message || error) : "";
  element.hidden = !error;
}

function itemTile(item, onClick, caption) {
  const tile = document.createElement("div");
  tile.className = "item";
  tile.dataset.id = item.id;
  const img = document.createElement("img");
  img.src = item.thumbnail;
  img.alt = item.name || String(item.id);
  img.loading = "lazy";
  const label = document.createElement("div");
  label.textContent = caption !== undefined ? caption : `${item.id}`;
  tile.append(img, label);
  tile.title = item.name || "";
  tile.addEventListener("click", () => onClick(item));
  return tile;
}

// --- one picture: tags, class activation map, neighbours ----------------------------------

async function showPicture(picture) {
  state.picture = picture;
  $("picture").hidden = false;
  $("cam-image").hidden = true;
  $("cam-hide").hidden = true;
  $("ends").hidden = true;  // until the neighbours say which item this picture is
  $("picture-image").src = picture.id !== undefined ? `/items/${picture.id}/image` : URL.createObjectURL(picture.file);
  $("picture-name").textContent = picture.id !== undefined ? `item ${picture.id} (${picture.name || ""})` : picture.file.name;
  showError($("picture-error"), null);
  $("tags").textContent = "tagging…";
  try {
    const [tagsRequest, tagsOptions] = pictureRequest("/tag", { threshold: 0.1, top: 8 });
    showTags(await api(tagsRequest, tagsOptions));
  } catch (error) {
    $("tags").textContent = "";
    showError($("picture-error"), error);
    return;
  }
  await showNeighbours();
}

function showTags(tags) {
  const box = $("tags");
  box.textContent = "";
  const select = $("cam-tag");
  select.textContent = "";
  for (const category of ["general", "character", "copyright", "rating"]) {
    const row = document.createElement("div");
    row.className = "category";
    const name = document.createElement("b");
    name.textContent = category;
    row.append(name);
    for (const [tag, probability] of tags[category]) {
      const span = document.createElement("span");
      span.className = "tag";
      span.style.setProperty("--p", `${(probability * 100).toFixed(1)}%`);
      span.textContent = `${tag.replace(/_/g, " ")} ${probability.toFixed(2)}`;
      row.append(span);
      if (category !== "rating") select.add(new Option(tag.replace(/_/g, " "), tag));
    }
    if (tags[category].length === 0) row.append(" —");
    box.append(row);
  }
  $("cam-show").disabled = select.options.length === 0 || !state.health.tagger.cam;
}

async function showCam() {
  const [request, options] = pictureRequest("/cam", { tag: $("cam-tag").value });
  try {
    const response = await fetch(request, options);
    if (!response.ok) throw new Error((await response.json()).error);
    $("cam-image").src = URL.createObjectURL(await response.blob());
    $("cam-image").hidden = false;
    $("cam-hide").hidden = false;
  } catch (error) {
    showError($("picture-error"), error);
  }
}

async function showNeighbours() {
  const strip = $("neighbours");
  const health = state.health;
  const picture = state.picture;
  if (!health.store || (picture.id === undefined && !health.hasher)) {
    strip.innerHTML = '<p class="hint">Start i2v serve with --store and --hasher to find neighbours of an upload.</p>';
    $("ends").hidden = picture.id === undefined;
    return;
  }
  strip.textContent = "searching…";
  try {
    const [request, options] = pictureRequest("/similar", { k: 12 });
    const found = await api(request, options);
    strip.textContent = "";
    for (const item of found.results) strip.append(itemTile(item, (it) => showPicture({ id: it.id, name: it.name }),
                                                           `${item.id} · ${item.distance}`));
    // An upload is not in the store: its morphs start or end at its nearest item.
    picture.item = picture.id !== undefined ? found.query : found.results[0];
    const ownItem = picture.id !== undefined;
    $("morph-from").textContent = ownItem ? "Morph from this" : `Morph from its nearest (${picture.item.id})`;
    $("morph-to").textContent = ownItem ? "Morph to this" : `Morph to its nearest (${picture.item.id})`;
    $("ends").hidden = !health.graph || !picture.item;
  } catch (error) {
    strip.textContent = "";
    showError($("picture-error"), error);
  }
}

// --- morphing ------------------------------------------------------------------------------

function setEnd(which, item) {
  state[which] = item;
  const box = $(`${which}-item`);
  box.textContent = "";
  const img = document.createElement("img");
  img.src = item.thumbnail;
  img.alt = "";
  box.append(img, `${item.id}`);
  $("morph-run").disabled = !(state.from && state.to);
}

async function runMorph() {
  const paths = $("morph-paths");
  paths.textContent = "finding the path…";
  showError($("morph-error"), null);
  try {
    const query = new URLSearchParams({ from: state.from.id, to: state.to.id, alternatives: $("alternatives").value });
    const morph = await api(`/morph?${query}`);
    paths.textContent = "";
    morph.paths.forEach((path, index) => {
      const block = document.createElement("div");
      block.className = "path";
      const title = document.createElement("h4");
      title.textContent = `${index === 0 ? "Shortest" : `Alternative ${index}`}: ${path.steps.length} pictures, Hamming length ${path.length}`;
      const strip = document.createElement("div");
      strip.className = "strip";
      path.steps.forEach((step, s) => {
        const tile = itemTile(step, (it) => showPicture({ id: it.id, name: it.name }), s === 0 ? `${step.id}` : `+${step.distance_from_previous}`);
        if (s === 0 || s === path.steps.length - 1) tile.classList.add("end");
        strip.append(tile);
      });
      block.append(title, strip);
      paths.append(block);
    });
  } catch (error) {
    paths.textContent = "";
    showError($("morph-error"), error);
  }
}

// --- the map ---------------------------------------------------------------------------------

const map = { points: [], order: [], scale: 1, x: 0, y: 0, thumbnails: new Map(), redraw: 0 };

function mapToScreen(point) {
  return [(point.x - map.x) * map.scale, (point.y - map.y) * map.scale];
}

function drawMap() {
  const canvas = $("map");
  const context = canvas.getContext("2d");
  context.fillStyle = "#fafafa";
  context.fillRect(0, 0, canvas.width, canvas.height);
  const visible = [];
  context.fillStyle = "#1e88e5";
  for (const point of map.order) {
    const [sx, sy] = mapToScreen(point);
    if (sx < 0 || sy < 0 || sx >= canvas.width || sy >= canvas.height) continue;
    visible.push([point, sx, sy]);
    context.fillRect(sx - 1.5, sy - 1.5, 3, 3);
  }
  // Thumbnails on a grid of cells, one per cell: the first point (in a fixed random order) to land
  // in a cell shows there, as `i2v tsne --png` draws them; zooming in gives every point its own.
  const size = 44;
  const columns = Math.ceil(canvas.width / size);
  const taken = new Set();
  for (const [point, sx, sy] of visible) {
    const cell = Math.floor(sy / size) * columns + Math.floor(sx / size);
    if (taken.has(cell)) continue;
    taken.add(cell);
    let image = map.thumbnails.get(point.id);
    if (!image) {
      image = new Image();
      image.onload = () => { if (!map.redraw) map.redraw = requestAnimationFrame(() => { map.redraw = 0; drawMap(); }); };
      image.src = `/items/${point.id}/thumbnail`;
      map.thumbnails.set(point.id, image);
    }
    if (image.complete && image.naturalWidth > 0) context.drawImage(image, sx - size / 2, sy - size / 2, size, size);
  }
}

async function loadMap() {
  const canvas = $("map");
  try {
    const loaded = await api("/map");
    map.points = loaded.items;
    // A fixed shuffle (a small linear congruential generator): which point shows in a crowded cell.
    map.order = map.points.slice();
    let seed = 1;
    for (let i = map.order.length - 1; i > 0; i--) {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      const j = seed % (i + 1);
      [map.order[i], map.order[j]] = [map.order[j], map.order[i]];
    }
  } catch (error) {
    $("map-panel").hidden = true;
    return;
  }
  const xs = map.points.map((p) => p.x), ys = map.points.map((p) => p.y);
  const [minX, maxX, minY, maxY] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  map.scale = 0.95 * Math.min(canvas.width / (maxX - minX || 1), canvas.height / (maxY - minY || 1));
  map.x = (minX + maxX) / 2 - canvas.width / 2 / map.scale;
  map.y = (minY + maxY) / 2 - canvas.height / 2 / map.scale;
  $("map-note").textContent = `${map.points.length} items: a dot each, and a thumbnail where there is room.`;
  drawMap();

  const toCanvas = (event) => {
    const box = canvas.getBoundingClientRect();
    return [(event.clientX - box.left) * canvas.width / box.width, (event.clientY - box.top) * canvas.height / box.height];
  };
  canvas.addEventListener("wheel", (event) => {
    event.preventDefault();
    const [cx, cy] = toCanvas(event);
    const factor = event.deltaY < 0 ? 1.25 : 0.8;
    map.x += cx / map.scale - cx / (map.scale * factor);
    map.y += cy / map.scale - cy / (map.scale * factor);
    map.scale *= factor;
    drawMap();
  }, { passive: false });
  let drag = null;
  canvas.addEventListener("pointerdown", (event) => { drag = { start: toCanvas(event), moved: false }; });
  canvas.addEventListener("pointermove", (event) => {
    if (!drag) return;
    const [cx, cy] = toCanvas(event);
    const [dx, dy] = [cx - drag.start[0], cy - drag.start[1]];
    if (Math.abs(dx) + Math.abs(dy) > 3) drag.moved = true;
    if (!drag.moved) return;
    map.x -= dx / map.scale;
    map.y -= dy / map.scale;
    drag.start = [cx, cy];
    drawMap();
  });
  canvas.addEventListener("pointerup", (event) => {
    const clicked = drag && !drag.moved;
    drag = null;
    if (!clicked) return;
    const [cx, cy] = toCanvas(event);
    let best = null, bestDistance = 12 * 12;
    for (const point of map.points) {
      const [sx, sy] = mapToScreen(point);
      const distance = (sx - cx) ** 2 + (sy - cy) ** 2;
      if (distance < bestDistance) [best, bestDistance] = [point, distance];
    }
    if (best) showPicture({ id: best.id });
  });
}

// --- start ----------------------------------------------------------------------------------

async function start() {
  try {
    state.health = await api("/health");
  } catch (error) {
    $("status").textContent = `the server does not answer: ${error.message}`;
    return;
  }
  const h = state.health;
  $("status").textContent = `${h.tagger.model}, ${h.tagger.tags} tags` +
    (h.store ? ` · store of ${h.store.items} items, ${h.store.bits}-bit codes` : " · no store") +
    (h.graph ? " · graph" : "") + (h.map ? ` · map of ${h.map}` : "");
  $("morph-panel").hidden = !h.graph;

  const upload = $("upload"), drop = $("drop");
  upload.addEventListener("change", () => upload.files[0] && showPicture({ file: upload.files[0] }));
  drop.addEventListener("dragover", (event) => { event.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    drop.classList.remove("over");
    if (event.dataTransfer.files[0]) showPicture({ file: event.dataTransfer.files[0] });
  });
  $("cam-show").addEventListener("click", showCam);
  $("cam-hide").addEventListener("click", () => { $("cam-image").hidden = true; $("cam-hide").hidden = true; });
  $("morph-from").addEventListener("click", () => setEnd("from", state.picture.item));
  $("morph-to").addEventListener("click", () => setEnd("to", state.picture.item));
  $("morph-run").addEventListener("click", runMorph);
  await loadMap();
}

start();
