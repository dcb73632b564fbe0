// The page of `restore serve`: pick a photo, a pipeline and its settings, follow the
// job, compare before and after, download. Plain DOM code, no dependencies; every
// text that comes from the server goes in through textContent.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const TERMINAL = new Set(["succeeded", "failed", "canceled"]);
  // Parameters worth showing first; the rest of a node's settings fold away.
  const PRIMARY = /strength|threshold|amount|sigma|noise|level|intensity|weight|scale|saturation/i;
  const MAX_PRIMARY = 2;

  const state = {
    pipelines: [],
    limits: {},
    file: null,
    previewUrl: null,
    controls: [], // {node, key, read(), initial, input}
    job: null, // status object of the job on show
    source: null, // EventSource
    pollTimer: null,
  };

  // Opened as /?token=...: the server has set its cookie (which images, downloads and
  // the event stream carry); fetch sends the token as a header as well. The token
  // then leaves the address bar, so it is not copied along with a link or a screenshot.
  const query = new URLSearchParams(location.search);
  const token = query.get("token") || "";
  if (token) {
    query.delete("token");
    const rest = query.toString();
    history.replaceState(null, "", location.pathname + (rest ? "?" + rest : "") + location.hash);
  }

  async function request(method, path, body) {
    const headers = { Accept: "application/json" };
    if (token) headers.Authorization = "Bearer " + token;
    const response = await fetch(path, { method, body, headers });
    let data = null;
    try {
      data = await response.json();
    } catch {
      data = null;
    }
    if (!response.ok) {
      const error = new Error(errorMessage(response, data));
      error.status = response.status;
      throw error;
    }
    return data;
  }

  function errorMessage(response, data) {
    const said = data && typeof data.error === "string" ? data.error : "";
    const detail = data && typeof data.detail === "string" ? data.detail : "";
    const text = said || detail;
    switch (response.status) {
      case 401:
      case 403:
        return "Not allowed: open the page with the link that includes the access token." +
          (text ? " (" + text + ")" : "");
      case 413:
        return "This photo is too large for the server. " + text;
      case 415:
        return "This file is not an image the server can read. " + text;
      case 422:
        return "The server did not accept the settings: " + (text || "invalid request");
      case 429: {
        const wait = response.headers.get("Retry-After");
        return "The server is busy" + (text ? " (" + text + ")" : "") +
          (wait ? ". Try again in " + wait + " seconds." : ". Try again in a moment.");
      }
      default:
        return text || "The server answered " + response.status + " " + response.statusText + ".";
    }
  }

  // ---- Photo -----------------------------------------------------------------------

  function setFile(file) {
    if (!file) return;
    state.file = file;
    const name = $("file-name");
    name.textContent = file.name + " · " + formatBytes(file.size);
    name.hidden = false;
    if (state.previewUrl) URL.revokeObjectURL(state.previewUrl);
    state.previewUrl = URL.createObjectURL(file);
    const preview = $("preview");
    preview.onerror = () => { preview.hidden = true; }; // e.g. TIFF: no preview, still fine
    preview.onload = () => { preview.hidden = false; };
    preview.src = state.previewUrl;
    $("drop-zone").classList.add("has-file");
    document.querySelector(".drop-label strong").textContent = "Choose another photo";
    hideError();
  }

  function formatBytes(bytes) {
    if (bytes < 1024) return bytes + " B";
    if (bytes < 1024 * 1024) return (bytes / 1024).toFixed(0) + " KB";
    return (bytes / 1024 / 1024).toFixed(1) + " MB";
  }

  function setUpDropZone() {
    const zone = $("drop-zone");
    const input = $("file");
    input.addEventListener("change", () => setFile(input.files && input.files[0]));
    for (const type of ["dragenter", "dragover"]) {
      zone.addEventListener(type, (event) => {
        event.preventDefault();
        zone.classList.add("dragging");
      });
    }
    for (const type of ["dragleave", "dragend"]) {
      zone.addEventListener(type, () => zone.classList.remove("dragging"));
    }
    zone.addEventListener("drop", (event) => {
      event.preventDefault();
      zone.classList.remove("dragging");
      const file = event.dataTransfer && event.dataTransfer.files[0];
      if (file) setFile(file);
    });
  }

  // ---- Pipelines and their generated controls ---------------------------------------

  async function loadPipelines() {
    const data = await request("GET", "/api/pipelines");
    const list = Array.isArray(data) ? data : data.pipelines || [];
    state.pipelines = list;
    state.limits = (data && data.limits) || {};
    const select = $("pipeline");
    select.replaceChildren();
    for (const pipeline of list) {
      const option = document.createElement("option");
      option.value = pipeline.name;
      option.textContent = pipelineTitle(pipeline);
      select.append(option);
    }
    const wanted = data && data.default;
    if (wanted && list.some((p) => p.name === wanted)) select.value = wanted;
    fillMaxMegapixels();
    showPipeline();
  }

  // A title that is a file name (old-photo) reads better as words (Old photo).
  function pipelineTitle(pipeline) {
    const title = pipeline.title || pipeline.name;
    return /\s/.test(title) ? title : humanize(title);
  }

  function fillMaxMegapixels() {
    const select = $("max-mp");
    select.replaceChildren();
    let choices = state.limits.max_megapixels_choices;
    if (!Array.isArray(choices) || choices.length === 0) choices = [null];
    for (const choice of choices) {
      const option = document.createElement("option");
      option.value = choice === null ? "" : String(choice);
      option.textContent = choice === null ? "Original resolution" : "Fit to " + choice + " MP";
      select.append(option);
    }
    const preset = state.limits.max_megapixels_default;
    if (preset !== undefined) select.value = preset === null ? "" : String(preset);
    select.dataset.initial = select.value;
  }

  function currentPipeline() {
    return state.pipelines.find((p) => p.name === $("pipeline").value);
  }

  function showPipeline() {
    const pipeline = currentPipeline();
    $("pipeline-help").textContent = pipeline ? plain(pipeline.description || "") : "";
    const box = $("controls");
    box.replaceChildren();
    state.controls = [];
    if (!pipeline) return;
    for (const node of pipeline.nodes || []) box.append(nodeFieldset(node));
  }

  function nodeFieldset(node) {
    const id = node.id;
    const schema = node.schema || node.params_schema || node.parameters || {};
    const values = node.params || node.values || {};
    const fieldset = document.createElement("fieldset");
    fieldset.className = "node";
    const legend = document.createElement("legend");
    legend.textContent = node.title || humanize(id);
    fieldset.append(legend);

    if (node.optional) {
      const initial = node.enabled !== false;
      const row = document.createElement("div");
      row.className = "switch";
      const input = document.createElement("input");
      input.type = "checkbox";
      input.id = "ctl-" + id + "-enabled";
      input.checked = initial;
      input.setAttribute("role", "switch");
      const label = document.createElement("label");
      label.htmlFor = input.id;
      label.textContent = "Use this step";
      row.append(input, label);
      fieldset.append(row);
      state.controls.push({ node: id, key: "enabled", read: () => input.checked, initial, input });
      fieldset.classList.toggle("off", !initial);
      input.addEventListener("change", () => fieldset.classList.toggle("off", !input.checked));
    }
    const only = { grayscale: "black-and-white", color: "colour" }[node.when];
    if (only) {
      const note = document.createElement("p");
      note.className = "help about";
      note.textContent = "Runs on " + only + " photos only.";
      fieldset.append(note);
    }

    const fields = [];
    for (const [key, raw] of Object.entries(schema.properties || {})) {
      const prop = resolve(raw, schema);
      if (!prop) continue; // arrays, objects: not settable from the page
      const initial = key in values ? values[key] : prop.default;
      fields.push({ key, prop, initial });
    }
    let primary = fields.filter((f) => PRIMARY.test(f.key) && isNumber(f.prop)).slice(0, MAX_PRIMARY);
    if (primary.length === 0) primary = fields.filter((f) => isNumber(f.prop)).slice(0, 1);
    if (primary.length === 0) primary = fields.slice(0, 1);
    const rest = fields.filter((f) => !primary.includes(f));

    for (const field of primary) fieldset.append(control(id, field));
    // What the step does (written for developers, so folded away) and its other settings.
    const summary = node.summary || node.description || "";
    if (rest.length || summary) {
      const details = document.createElement("details");
      const title = document.createElement("summary");
      title.textContent = rest.length ? "More settings (" + rest.length + ")" : "About this step";
      details.append(title);
      if (summary) {
        const help = document.createElement("p");
        help.className = "help about";
        help.textContent = plain(summary);
        details.append(help);
      }
      for (const field of rest) details.append(control(id, field));
      fieldset.append(details);
    }
    return fieldset;
  }

  // A scalar JSON Schema (after $ref, allOf and nullable anyOf), or null for what the page skips.
  function resolve(prop, root) {
    let p = prop;
    if (p.$ref) p = { ...lookup(p.$ref, root), ...withoutKeys(p, ["$ref"]) };
    if (Array.isArray(p.allOf) && p.allOf.length === 1) {
      p = { ...resolve(p.allOf[0], root), ...withoutKeys(p, ["allOf"]) };
    }
    if (Array.isArray(p.anyOf)) {
      const branches = p.anyOf.filter((b) => b.type !== "null");
      if (branches.length !== 1) return null;
      const inner = resolve(branches[0], root);
      if (!inner) return null;
      p = { ...inner, ...withoutKeys(p, ["anyOf"]), nullable: true };
    }
    if (p.const !== undefined && !p.enum) p = { ...p, enum: [p.const] };
    if (p.enum) return p;
    if (["boolean", "number", "integer", "string"].includes(p.type)) return p;
    return null;
  }

  function lookup(ref, root) {
    const parts = ref.replace(/^#\//, "").split("/");
    let at = root;
    for (const part of parts) at = at && at[part];
    return at || {};
  }

  function withoutKeys(object, keys) {
    const copy = { ...object };
    for (const key of keys) delete copy[key];
    return copy;
  }

  function isNumber(prop) {
    return (prop.type === "number" || prop.type === "integer") && !prop.enum;
  }

  function control(nodeId, { key, prop, initial }) {
    const wrap = document.createElement("div");
    wrap.className = "field";
    const id = "ctl-" + nodeId + "-" + key;
    const label = document.createElement("label");
    label.htmlFor = id;
    label.textContent = prop.title || humanize(key);
    let input;
    let read;
    let output = null;

    if (prop.enum) {
      input = document.createElement("select");
      for (const value of prop.enum) {
        const option = document.createElement("option");
        option.value = JSON.stringify(value);
        option.textContent = value === null ? "None" : humanize(String(value));
        input.append(option);
      }
      if (initial !== undefined) input.value = JSON.stringify(initial);
      read = () => JSON.parse(input.value);
    } else if (prop.type === "boolean") {
      wrap.className = "field check";
      input = document.createElement("input");
      input.type = "checkbox";
      input.checked = Boolean(initial);
      read = () => input.checked;
    } else if (isNumber(prop)) {
      const low = prop.minimum ?? prop.exclusiveMinimum;
      const high = prop.maximum ?? prop.exclusiveMaximum;
      const integer = prop.type === "integer";
      input = document.createElement("input");
      if (low !== undefined && high !== undefined && initial !== null) {
        input.type = "range";
        const step = integer ? 1 : niceStep(high - low);
        const min = prop.minimum ?? low + step;
        const max = prop.maximum ?? high - step;
        input.min = String(min);
        input.max = String(max);
        input.step = String(step);
        input.value = String(initial ?? min);
        output = document.createElement("output");
        output.htmlFor = id;
        const digits = integer ? 0 : decimals(step);
        const show = () => { output.textContent = Number(input.value).toFixed(digits); };
        show();
        input.addEventListener("input", show);
        read = () => Number(input.value);
      } else {
        input.type = "number";
        input.step = integer ? "1" : "any";
        if (low !== undefined) input.min = String(low);
        if (high !== undefined) input.max = String(high);
        if (initial !== undefined && initial !== null) input.value = String(initial);
        read = () => (input.value === "" ? null : Number(input.value));
      }
    } else {
      input = document.createElement("input");
      input.type = "text";
      input.value = initial ?? "";
      read = () => (input.value === "" && prop.nullable ? null : input.value);
    }
    input.id = id;

    if (prop.description) {
      const help = document.createElement("p");
      help.className = "help";
      help.id = id + "-help";
      help.textContent = plain(prop.description);
      input.setAttribute("aria-describedby", help.id);
      if (prop.type === "boolean" && !prop.enum) wrap.append(input, label, help);
      else wrap.append(labelRow(label, output), input, help);
    } else if (prop.type === "boolean" && !prop.enum) {
      wrap.append(input, label);
    } else {
      wrap.append(labelRow(label, output), input);
    }
    state.controls.push({ node: nodeId, key, read, initial: read(), input });
    return wrap;
  }

  function labelRow(label, output) {
    const row = document.createElement("div");
    row.className = "label-row";
    row.append(label);
    if (output) row.append(output);
    return row;
  }

  function niceStep(range) {
    const raw = range / 100;
    const power = 10 ** Math.floor(Math.log10(raw));
    for (const m of [1, 2, 5, 10]) if (raw <= m * power) return m * power;
    return 10 * power;
  }

  function decimals(step) {
    const text = String(step);
    return text.includes(".") ? text.split(".")[1].length : 0;
  }

  function humanize(name) {
    const text = String(name).replace(/[_.-]+/g, " ").trim();
    return text.charAt(0).toUpperCase() + text.slice(1);
  }

  // Summaries are written for Markdown: drop the backticks.
  function plain(text) {
    return String(text).replace(/`/g, "");
  }

  function changedParams() {
    const params = {};
    for (const c of state.controls) {
      const value = c.read();
      if (JSON.stringify(value) === JSON.stringify(c.initial)) continue;
      (params[c.node] = params[c.node] || {})[c.key] = value;
    }
    return params;
  }

  // ---- Submitting and following a job ------------------------------------------------

  async function submit(event) {
    event.preventDefault();
    hideError();
    if (!state.file) {
      showError("Choose a photo first.");
      $("file").focus();
      return;
    }
    const body = new FormData();
    body.append("file", state.file, state.file.name);
    body.append("pipeline", $("pipeline").value);
    body.append("params", JSON.stringify(changedParams()));
    const mp = $("max-mp").value;
    if (mp !== "") body.append("max_megapixels", mp);
    const button = $("submit");
    button.disabled = true;
    setStatus("Uploading " + state.file.name + "…");
    try {
      const created = await request("POST", "/api/jobs", body);
      openJob(created.id, { status: "queued", id: created.id, input_name: state.file.name });
      refreshRecent();
    } catch (error) {
      setStatus("The photo was not sent.");
      showError(error.message);
    } finally {
      button.disabled = false;
    }
  }

  function openJob(id, first) {
    stopFollowing();
    state.job = first || { id, status: "queued" };
    history.replaceState(null, "", "#job=" + encodeURIComponent(id));
    $("viewer").hidden = true;
    render(state.job);
    follow(id);
  }

  function follow(id) {
    if (typeof EventSource === "undefined") {
      poll(id);
      return;
    }
    const source = new EventSource("/api/jobs/" + encodeURIComponent(id) + "/events");
    state.source = source;
    source.onmessage = (message) => {
      let status;
      try {
        status = JSON.parse(message.data);
      } catch {
        return;
      }
      if (state.job && state.job.id !== id) return;
      render(status);
      if (TERMINAL.has(status.status)) stopFollowing();
    };
    source.onerror = () => {
      if (state.source !== source) return;
      // The stream broke off before the job ended: ask now and then instead.
      stopFollowing();
      poll(id);
    };
  }

  function poll(id) {
    const tick = async () => {
      if (!state.job || state.job.id !== id) return;
      try {
        const status = await request("GET", "/api/jobs/" + encodeURIComponent(id));
        render(status);
        if (TERMINAL.has(status.status)) return;
      } catch (error) {
        if (error.status === 404) {
          setStatus("This job is no longer on the server.");
          $("progress-row").hidden = true;
          return;
        }
      }
      state.pollTimer = setTimeout(tick, 1000);
    };
    tick();
  }

  function stopFollowing() {
    if (state.source) {
      state.source.close();
      state.source = null;
    }
    if (state.pollTimer) {
      clearTimeout(state.pollTimer);
      state.pollTimer = null;
    }
  }

  function render(status) {
    const previous = state.job;
    state.job = { ...(previous && previous.id === status.id ? previous : {}), ...status };
    const job = state.job;
    const name = job.input_name ? "“" + job.input_name + "”" : "Your photo";
    const running = job.status === "queued" || job.status === "running";
    $("progress-row").hidden = !running;
    $("cancel").disabled = false;
    const bar = $("progress");
    switch (job.status) {
      case "queued": {
        const position = job.queue_position;
        bar.removeAttribute("value"); // indeterminate while waiting
        setStatus(position === null || position === undefined
          ? name + ": waiting for its turn…"
          : "Waiting: position " + position + " in the queue");
        break;
      }
      case "running": {
        const progress = Math.max(0, Math.min(1, Number(job.progress) || 0));
        bar.value = progress;
        const stage = job.stage ? stageName(job.pipeline, job.stage) : "starting";
        setStatus("Working on " + name + ": " + stage + " · " + Math.round(progress * 100) + " %");
        break;
      }
      case "succeeded":
        setStatus(name + " is restored.");
        showResult(job);
        break;
      case "failed":
        setStatus("Restoring " + name + " failed.");
        showError(job.error || "The job failed.");
        break;
      case "canceled":
        setStatus("Restoring " + name + " was canceled.");
        break;
      default:
        setStatus(name + ": " + String(job.status));
    }
    if (TERMINAL.has(job.status) && previous && previous.id === job.id &&
        !TERMINAL.has(previous.status)) {
      refreshRecent();
    }
  }

  function stageName(pipelineName, stageId) {
    const pipeline = state.pipelines.find((p) => p.name === pipelineName) || currentPipeline();
    const node = pipeline && (pipeline.nodes || []).find((n) => n.id === stageId);
    return node && node.title ? node.title : humanize(stageId);
  }

  async function cancel() {
    if (!state.job) return;
    $("cancel").disabled = true;
    try {
      const status = await request("DELETE", "/api/jobs/" + encodeURIComponent(state.job.id));
      if (status && status.status) render(status);
    } catch (error) {
      showError(error.message);
      $("cancel").disabled = false;
    }
  }

  // ---- Result: compare, mask, download ----------------------------------------------

  function showResult(job) {
    const base = "/api/jobs/" + encodeURIComponent(job.id);
    const shown = $("viewer").dataset.job;
    $("viewer").hidden = false;
    if (shown === job.id) return;
    $("viewer").dataset.job = job.id;
    $("no-preview").hidden = true;
    $("before-img").src = base + "/input";
    $("after-img").src = base + "/result";
    $("download").href = base + "/result";
    const hasMask = (job.outputs || []).includes("mask");
    $("view-choice").hidden = !hasMask;
    if (hasMask) $("mask-img").src = base + "/result?port=mask";
    else $("mask-img").removeAttribute("src");
    $("view-compare").checked = true;
    showView();
    $("result-size").textContent = job.width && job.height ? job.width + " × " + job.height + " px" : "";
    setSplit(50);
    $("split").value = "50";
  }

  function setSplit(percent) {
    const p = Math.max(0, Math.min(100, Number(percent)));
    // The original shows on the left of the split, the restored photo on the right.
    $("before-img").style.clipPath = "inset(0 " + (100 - p) + "% 0 0)";
    $("divider").style.left = p + "%";
    $("split").setAttribute("aria-valuetext", Math.round(p) + " % original");
  }

  function showView() {
    const mask = $("view-mask").checked;
    $("compare").hidden = mask || !$("no-preview").hidden;
    $("mask-view").hidden = !mask;
  }

  function cannotShow() {
    if (!$("before-img").getAttribute("src")) return;
    $("no-preview").hidden = false;
    showView();
  }

  // Dragging on the photo moves the split too (the range input stays the accessible way).
  function setUpCompare() {
    const split = $("split");
    split.addEventListener("input", () => setSplit(split.value));
    const frame = document.querySelector(".compare-frame");
    let dragging = false;
    const move = (event) => {
      const box = frame.getBoundingClientRect();
      const percent = ((event.clientX - box.left) / box.width) * 100;
      split.value = String(Math.round(percent));
      setSplit(split.value);
    };
    $("before-img").addEventListener("error", cannotShow);
    $("after-img").addEventListener("error", cannotShow);
    frame.addEventListener("pointerdown", (event) => {
      dragging = true;
      frame.setPointerCapture(event.pointerId);
      move(event);
    });
    frame.addEventListener("pointermove", (event) => { if (dragging) move(event); });
    frame.addEventListener("pointerup", () => { dragging = false; });
    frame.addEventListener("pointercancel", () => { dragging = false; });
    for (const radio of document.querySelectorAll('input[name="view"]')) {
      radio.addEventListener("change", showView);
    }
  }

  // ---- Recent jobs ------------------------------------------------------------------

  async function refreshRecent() {
    let data;
    try {
      data = await request("GET", "/api/jobs");
    } catch {
      return;
    }
    const jobs = (data && data.jobs) || [];
    const list = $("recent");
    list.replaceChildren();
    $("recent-empty").hidden = jobs.length > 0;
    for (const job of jobs) {
      const item = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      button.className = "recent-job";
      const title = document.createElement("span");
      title.className = "recent-name";
      title.textContent = job.input_name || job.id;
      const meta = document.createElement("span");
      meta.className = "recent-meta";
      const pipeline = state.pipelines.find((p) => p.name === job.pipeline);
      const restoration = pipeline ? pipelineTitle(pipeline) : humanize(job.pipeline || "");
      meta.textContent = [restoration, when(job.created)].filter(Boolean).join(" · ");
      const badge = document.createElement("span");
      badge.className = "badge badge-" + String(job.status);
      badge.textContent = statusWord(job.status);
      button.append(title, meta, badge);
      button.addEventListener("click", () => {
        openJob(job.id, job);
        $("result-heading").scrollIntoView({ behavior: "smooth", block: "start" });
      });
      item.append(button);
      list.append(item);
    }
  }

  function statusWord(status) {
    return {
      queued: "Waiting",
      running: "Working",
      succeeded: "Done",
      failed: "Failed",
      canceled: "Canceled",
    }[status] || String(status);
  }

  function when(created) {
    if (created === undefined || created === null) return "";
    const date = typeof created === "number" ? new Date(created * 1000) : new Date(created);
    if (Number.isNaN(date.getTime())) return "";
    const sameDay = date.toDateString() === new Date().toDateString();
    return sameDay
      ? date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })
      : date.toLocaleDateString([], { day: "numeric", month: "short" });
  }

  // ---- Messages ---------------------------------------------------------------------

  function setStatus(text) {
    $("status").textContent = text;
  }

  function showError(text) {
    const box = $("form-error");
    box.textContent = text;
    box.hidden = false;
  }

  function hideError() {
    $("form-error").hidden = true;
    $("form-error").textContent = "";
  }

  function resetSettings() {
    showPipeline();
    $("max-mp").value = $("max-mp").dataset.initial || "";
  }

  // ---- Start ------------------------------------------------------------------------

  async function start() {
    setUpDropZone();
    setUpCompare();
    $("job-form").addEventListener("submit", submit);
    $("pipeline").addEventListener("change", showPipeline);
    $("reset").addEventListener("click", resetSettings);
    $("cancel").addEventListener("click", cancel);
    try {
      await loadPipelines();
    } catch (error) {
      showError("Could not load the restorations: " + error.message);
    }
    await refreshRecent();
    const match = /^#job=(.+)$/.exec(location.hash);
    if (match) openJob(decodeURIComponent(match[1]));
    document.body.dataset.ready = "true";
  }

  start();
})();
