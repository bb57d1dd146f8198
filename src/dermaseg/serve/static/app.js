// The dermaseg page: send the image to /v1/segment and /v1/classify, draw what comes back.
// Plain JavaScript, no external files: the page works offline.
"use strict";

const $ = (id) => document.getElementById(id);
const LABELS = {
  area: "Area", perimeter: "Perimeter", equivalent_diameter: "Equivalent diameter",
  max_feret_diameter: "Largest diameter", major_axis_length: "Major axis", minor_axis_length: "Minor axis",
  centroid_x: "Centre x", centroid_y: "Centre y", asymmetry_major: "Asymmetry (long axis)",
  asymmetry_minor: "Asymmetry (short axis)", asymmetry_shape_score: "Asymmetry (shape) score", border_irregularity:
  "Border irregularity", colours_present: "Colours", n_colours: "Number of colours", tds_partial: "Partial dermoscopy score (A+C)",
};
const HIDDEN = new Set(["lesion_index", "tds_parts"]);
const CLASS_NAMES = {
  akiec: "actinic keratosis / intraepithelial carcinoma", bcc: "basal cell carcinoma",
  bkl: "benign keratosis", df: "dermatofibroma", mel: "melanoma", nv: "melanocytic nevus", vasc: "vascular lesion",
};

let current = null;   // {file, imageId, segment, classify}

function setStatus(text, isError = false) {
  $("status").textContent = text;
  $("status").classList.toggle("error", isError);
}

async function post(path, file) {
  const body = new FormData();
  body.append("file", file, file.name);
  const response = await fetch(path, { method: "POST", body });
  if (!response.ok) {
    let message = `${response.status} ${response.statusText}`;
    let body = null;
    try { body = await response.json(); message = body.error.message; } catch (_) { /* not JSON */ }
    const error = new Error(message);
    error.status = response.status;
    error.body = body;   // e.g. {error, image_kind: "other", image_kind_score}
    throw error;
  }
  return response;
}

function label(name) {
  const base = name.replace(/_(px|mm|mm2)$/, "");
  const text = LABELS[base] || LABELS[name] || name.replace(/_/g, " ");
  return name.endsWith("_mm") || name.endsWith("_mm2") ? `${text} (mm)` : text;
}

function formatValue(value) {
  if (value === null || value === undefined) return "—";
  if (Array.isArray(value)) return value.length ? value.join(", ").replace(/_/g, " ") : "none";
  if (typeof value === "number") {
    if (Number.isInteger(value)) return value.toLocaleString("en");
    const digits = Math.abs(value) >= 100 ? 1 : Math.abs(value) >= 1 ? 2 : 3;
    return value.toLocaleString("en", { minimumFractionDigits: digits, maximumFractionDigits: digits });
  }
  return String(value);
}

function drawOutline(seg) {
  const svg = $("outline");
  svg.setAttribute("viewBox", `0 0 ${seg.width} ${seg.height}`);
  svg.replaceChildren();
  for (const polygon of seg.outline) {
    const shape = document.createElementNS("http://www.w3.org/2000/svg", "polygon");
    shape.setAttribute("points", polygon.map(([x, y]) => `${x},${y}`).join(" "));
    svg.appendChild(shape);
  }
}

function fillMeasurements(seg) {
  const body = $("measurements").querySelector("tbody");
  body.replaceChildren();
  const n = seg.lesions.length;
  $("lesion-note").textContent = n === 0 ? "No lesion found in this image."
    : n === 1 ? "One lesion found." : `${n} lesions found; the largest is measured below (all in the JSON).`;
  if (!n) return;
  const lesion = seg.lesions[0];
  for (const [name, value] of Object.entries(lesion)) {
    if (HIDDEN.has(name)) continue;
    const info = seg.fields[name] || { unit: "", description: "" };
    const row = document.createElement("tr");
    row.dataset.field = name;
    for (const [text, cls] of [[label(name), "name"], [formatValue(value), "value"], [info.unit, "unit"],
                               [info.description, "about"]]) {
      const cell = document.createElement("td");
      cell.className = cls;
      cell.textContent = text;
      row.appendChild(cell);
    }
    body.appendChild(row);
  }
}

function drawClasses(result) {
  const box = $("classes");
  box.replaceChildren();
  const entries = Object.entries(result.probabilities).sort((a, b) => b[1] - a[1]);
  for (const [name, p] of entries) {
    const row = document.createElement("div");
    row.className = "bar-row" + (name === result.predicted ? " predicted" : "");
    row.dataset.class = name;
    row.title = CLASS_NAMES[name] || name;
    row.innerHTML = '<span class="name"></span><span class="track"><span class="fill"></span></span>' +
                    '<span class="value"></span>';
    row.querySelector(".name").textContent = name;
    row.querySelector(".fill").style.width = `${(100 * p).toFixed(1)}%`;
    row.querySelector(".fill").style.display = "block";
    row.querySelector(".value").textContent = `${(100 * p).toFixed(1)}%`;
    box.appendChild(row);
  }
  $("class-note").textContent = `Predicted: ${result.predicted} (${CLASS_NAMES[result.predicted] || result.predicted}),` +
    ` model ${result.model.name} ${result.model.version}.`;
}

const KIND_TEXT = {
  dermoscopy: "dermoscopy",
  clinical: "a clinical photograph (no dermatoscope)",
  other: "not a skin-lesion photograph",
};

function showKind(answer) {
  // The image's kind, from any answer (success or the 422 refusal); returns true when refused.
  const note = $("kind-note");
  const kind = answer && answer.image_kind;
  note.className = "notice";
  note.hidden = true;
  $("figure").classList.remove("refused");
  if (kind === "other") {
    note.textContent = "This does not look like a skin-lesion photograph: no outline, measurements or " +
      "diagnosis are given for it (the models were made for dermoscopic images of skin lesions).";
    note.classList.add("refused");
    note.hidden = false;
    $("figure").classList.add("refused");
    return true;
  }
  if (kind === "clinical") {
    note.textContent = "This looks like a clinical photograph, not dermoscopy: the outline, measurements " +
      "and diagnosis below come from models made for and measured on dermoscopic images. Treat them with care.";
    note.hidden = false;
  }
  return false;
}

function showOutlineQuality(seg) {
  const note = $("outline-note");
  note.hidden = !seg.check_outline;
  if (seg.check_outline) {
    note.textContent = `Check this outline: the model is unsure where the border runs (outline quality ` +
      `${formatValue(seg.mask_quality)} of 1). Look at it before using the measurements.`;
  }
}

function showDecisions(result) {
  const triage = $("triage");
  triage.hidden = !result.triage;
  triage.className = result.triage || "";
  if (result.triage === "refer") {
    triage.textContent = "Refer: the melanoma probability is above this model's triage point " +
      "(set to catch 90% of melanomas). A research tool's flag, not a diagnosis.";
  } else if (result.triage === "routine") {
    triage.textContent = "Routine: below this model's melanoma triage point. Not a statement that the lesion " +
      "is benign.";
  }
  const set = $("prediction-set");
  const classes = result.prediction_set || [];
  set.hidden = !classes.length;
  set.textContent = classes.length ? `Prediction set (holds the true class 9 times in 10 on the test images): ` +
    classes.map((c) => `${c} (${CLASS_NAMES[c] || c})`).join(", ") + "." : "";
}

function download(blob, filename) {
  const url = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = filename;
  document.body.appendChild(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

function scaleQuery() {
  const v = parseFloat($("mm-per-pixel").value);
  return v > 0 ? `&mm_per_pixel=${v}` : "";
}

async function analyse(file) {
  if (!file) return;
  const imageId = file.name.replace(/\.[^.]+$/, "") || "image";
  current = { file, imageId, segment: null, classify: null };
  $("download-mask").disabled = $("download-json").disabled = true;
  $("result").hidden = false;
  $("panels").hidden = false;
  $("outline").replaceChildren();
  $("measurements").querySelector("tbody").replaceChildren();
  $("classes").replaceChildren();
  $("lesion-note").textContent = $("class-note").textContent = $("image-info").textContent = "";
  $("kind-note").hidden = $("outline-note").hidden = $("triage").hidden = $("prediction-set").hidden = true;
  $("figure").classList.remove("refused");
  const photo = $("photo");
  photo.onerror = async () => {   // e.g. TIFF, which browsers do not display: show the server's overlay
    try { photo.src = URL.createObjectURL(await (await post("/v1/segment?overlay=1", file)).blob()); }
    catch (_) { /* the status line already says what went wrong */ }
    photo.onerror = null;
  };
  photo.src = URL.createObjectURL(file);
  setStatus(`Analysing ${file.name} …`);
  const mine = current;

  // Both requests go out at once; each part of the page is drawn as soon as its answer arrives.
  const seg = post(`/v1/segment?format=json${scaleQuery()}`, file).then((r) => r.json()).then((s) => {
    if (mine !== current) return;   // another image was chosen meanwhile
    current.segment = s;
    showKind(s);
    drawOutline(s);
    fillMeasurements(s);
    showOutlineQuality(s);
    $("image-info").textContent = `${s.width} × ${s.height} px · ${KIND_TEXT[s.image_kind] || s.image_kind}` +
      ` (${formatValue(s.image_kind_score)}) · outline quality ${formatValue(s.mask_quality)}` +
      ` · segmentation ${s.model.name} ${s.model.version}` +
      ` (${s.model.backend}) · ${Math.round(Object.values(s.timings_ms).reduce((a, b) => a + b, 0))} ms`;
    $("download-mask").disabled = $("download-json").disabled = false;
  });
  const cls = post("/v1/classify", file).then((r) => r.json()).then((c) => {
    if (mine !== current) return;
    current.classify = c;
    drawClasses(c);
    showDecisions(c);
  });
  const [segResult, clsResult] = await Promise.allSettled([seg, cls]);
  if (mine !== current) return;
  if (segResult.status === "rejected" && showKind(segResult.reason.body)) {
    $("panels").hidden = true;   // nothing to show beside the refusal
    setStatus(`Not analysed: ${file.name} does not look like a skin-lesion photograph.`);
  } else if (segResult.status === "rejected") {
    $("result").hidden = true;
    setStatus(`Could not analyse ${file.name}: ${segResult.reason.message}`, true);
  } else if (clsResult.status === "rejected") {
    $("class-note").textContent = `Classification unavailable: ${clsResult.reason.message}`;
    setStatus(`Done: ${file.name} (without classification).`);
  } else {
    setStatus(`Done: ${file.name}.`);
  }
}

function init() {
  const drop = $("drop");
  $("file").addEventListener("change", (e) => analyse(e.target.files[0]));
  for (const type of ["dragenter", "dragover"]) {
    drop.addEventListener(type, (e) => { e.preventDefault(); drop.classList.add("over"); });
  }
  for (const type of ["dragleave", "drop"]) {
    drop.addEventListener(type, (e) => { e.preventDefault(); drop.classList.remove("over"); });
  }
  drop.addEventListener("drop", (e) => analyse(e.dataTransfer.files[0]));
  drop.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") $("file").click(); });

  $("download-mask").addEventListener("click", async () => {
    if (!current || !current.segment) return;
    try {
      const response = await post("/v1/segment?format=png", current.file);
      download(await response.blob(), `${current.imageId}_segmentation.png`);
    } catch (error) {
      setStatus(`Could not download the mask: ${error.message}`, true);
    }
  });
  $("download-json").addEventListener("click", () => {
    if (!current || !current.segment) return;
    const { outline, fields, ...segment } = current.segment;
    const payload = { segmentation: segment, outline, fields, classification: current.classify };
    download(new Blob([JSON.stringify(payload, null, 2)], { type: "application/json" }),
             `${current.imageId}_dermaseg.json`);
  });
}

init();
