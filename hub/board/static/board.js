// Lifeline board: live incidents from the hub's events feed (Server-Sent Events).
// Plain JavaScript, no build step, no library. Everything a device or a person wrote is
// put on the page as text (textContent, never innerHTML); the only markup inserted is the
// zone map and sparklines, SVG the server builds from numbers and escaped names.
"use strict";
(() => {
  const GRADES = { blue: 1, yellow: 2, orange: 3, red: 4 };
  const LEVELS = { blue: "IV", yellow: "III", orange: "II", red: "I" };
  const ACTIVE = new Set(["open", "acknowledged"]);
  const state = {
    incidents: new Map(), resolved: [], parents: {}, last: 0, keepalive: 15,
    selected: new Set(), cursor: null, me: null, csrf: null, loginAllowed: false,
    filters: { zone: "", hazard: "", grade: "", status: "" }, group: "", lastMessage: Date.now(),
    detailId: null, mapZones: new Set(), source: null, badge: "connecting", audio: null,
  };
  const $ = (id) => document.getElementById(id);

  // Control characters a device may send (terminal escapes, bidi overrides) are shown as
  // \x1b, as the hub's terminal output shows them (hub/render.py's shown), never obeyed.
  const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
  function shown(text) {
    return String(text).replace(CONTROL, (c) => {
      const code = c.charCodeAt(0);
      return code < 0x100 ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u${code.toString(16).padStart(4, "0")}`;
    });
  }

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") node.className = value;
      else if (key.startsWith("data-") || key === "title" || key === "type") node.setAttribute(key, value);
      else node[key] = value;
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : shown(child));  // strings become text
    }
    return node;
  }

  // -- time ---------------------------------------------------------------------------
  const ms = (iso) => (iso ? Date.parse(iso) : NaN);
  function duration(fromIso) {
    let s = Math.max(0, Math.floor((Date.now() - ms(fromIso)) / 1000));
    const d = Math.floor(s / 86400); s -= d * 86400;
    const h = Math.floor(s / 3600); s -= h * 3600;
    const m = Math.floor(s / 60); s -= m * 60;
    const pad = (n) => String(n).padStart(2, "0");
    return (d ? `${d}d ` : "") + `${pad(h)}:${pad(m)}:${pad(s)}`;
  }
  function clock(value) {
    const t = typeof value === "number" ? value * 1000 : ms(value);
    if (Number.isNaN(t)) return "";
    return new Date(t).toISOString().replace("T", " ").slice(0, 19);
  }

  // -- filters (kept in the URL) -------------------------------------------------------
  function readFilters() {
    const q = new URLSearchParams(location.search);
    for (const key of Object.keys(state.filters)) state.filters[key] = q.get(key) || "";
    state.group = q.get("group") === "zone" ? "zone" : "";
    if (q.get("kiosk")) document.body.classList.add("kiosk");
    if (q.get("theme")) setTheme(q.get("theme"), false);
  }
  function writeFilters() {
    const q = new URLSearchParams(location.search);
    for (const [key, value] of Object.entries(state.filters)) {
      if (value) q.set(key, value); else q.delete(key);
    }
    if (state.group) q.set("group", state.group); else q.delete("group");
    const text = q.toString();
    history.replaceState(null, "", text ? `?${text}` : location.pathname);
  }
  function ancestors(zone) {
    const chain = [zone];
    while (state.parents[chain[chain.length - 1]] && !chain.includes(state.parents[chain[chain.length - 1]])) {
      chain.push(state.parents[chain[chain.length - 1]]);
    }
    return chain;
  }
  function zonesOf(inc) { return (inc.zones && inc.zones.length ? inc.zones : [inc.zone]); }
  function wanted(inc) {
    const f = state.filters;
    if (f.hazard && inc.hazard !== f.hazard) return false;
    if (f.grade && GRADES[inc.grade] < GRADES[f.grade]) return false;
    if (f.status === "latched" ? !inc.latched : f.status && inc.status !== f.status) return false;
    if (f.zone && !zonesOf(inc).some((z) => ancestors(z).includes(f.zone))) return false;
    return true;
  }
  function sorted() {
    return [...state.incidents.values()].sort((a, b) =>
      GRADES[b.grade] - GRADES[a.grade] || ms(a.opened_at) - ms(b.opened_at) || (a.id < b.id ? -1 : 1));
  }

  // -- rendering ----------------------------------------------------------------------
  let pending = false;
  function schedule() {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => { pending = false; render(); });
  }
  function chip(inc) {
    return el("span", { class: `chip g-${inc.grade}` }, `${inc.grade.toUpperCase()} ${LEVELS[inc.grade] || ""}`);
  }
  function statusCell(inc) {
    const cell = el("td", { class: "status" }, inc.status);
    if (inc.latched) cell.append(el("span", { class: "tag latched", title: "red: stays until an operator resolves it" }, "latched"));
    if (inc.flapping) cell.append(el("span", { class: "tag" }, "flapping"));
    if (inc.assignee) cell.append(el("div", { class: "muted" }, `→ ${inc.assignee}`));
    if (inc.owner) cell.append(el("div", { class: "muted owner", title: "owning department" },
      inc.owner + (inc.acknowledge_by ? ` · ack by ${clock(inc.acknowledge_by)}` : "")
      + (inc.escalation_level ? ` · escalated ${inc.escalation_level}` : "")));
    return cell;
  }
  function render() {
    const rows = sorted().filter(wanted);
    const tbody = $("rows");
    const shownIds = new Set(rows.map((r) => r.id));
    for (const id of [...state.selected]) if (!shownIds.has(id)) state.selected.delete(id);
    if (state.cursor && !shownIds.has(state.cursor)) state.cursor = rows.length ? rows[0].id : null;
    const fresh = rows.map((inc) => {
      const devices = inc.devices || [];
      const more = (inc.device_count || devices.length) - Math.min(devices.length, 3);
      const tr = el("tr", {
        class: `g-${inc.grade}${inc.status === "open" ? " unacked" : ""}${state.cursor === inc.id ? " cursor" : ""}`,
        "data-id": inc.id,
      },
      el("td", { class: "operator" }, el("input", { type: "checkbox", class: "pick", checked: state.selected.has(inc.id), title: "select" })),
      el("td", { class: "gcell" }, chip(inc)),
      el("td", { class: "id" }, inc.id),
      el("td", {}, inc.hazard),
      el("td", { class: "zone-cell" }, zonesOf(inc).join(", ")),
      statusCell(inc),
      el("td", { class: "acked" }, inc.acked_by ? `${inc.acked_by} ` : "", inc.acked_by ? el("span", { class: "when" }, clock(inc.acked_at)) : ""),
      el("td", { class: "running", "data-opened": inc.opened_at }, duration(inc.opened_at)),
      el("td", { class: "num" }, inc.alert_count),
      el("td", { class: "devices" }, devices.slice(0, 3).join(", ") + (more > 0 ? ` +${more}` : "")));
      return tr;
    });
    tbody.replaceChildren(...(state.group === "zone" ? grouped(rows, fresh) : fresh));
    $("empty").hidden = rows.length > 0;
    $("empty").textContent = state.incidents.size ? "No active incident matches the filters." : "No active incidents.";
    const all = [...state.incidents.values()];
    const red = all.filter((i) => i.grade === "red").length;
    const unacked = all.filter((i) => i.status === "open").length;
    $("counts").textContent = `${all.length} active · ${red} red · ${unacked} unacknowledged` +
      (rows.length !== all.length ? ` · ${rows.length} shown` : "");
    $("bulk-ack").disabled = state.selected.size === 0;
    $("bulk-ack").textContent = `acknowledge selected (${state.selected.size})`;
    $("resolved").replaceChildren(...state.resolved.map((inc) => el("li", {
      class: `g-${inc.grade}`, "data-id": inc.id, title: `resolved ${clock(inc.resolved_at)} UTC`,
    }, `${inc.id} ${inc.hazard} ${inc.zone} `, el("span", { class: "when" }, clock(inc.resolved_at)))));
    colourMap();
    fillZoneFilter();
  }
  // Grouped by zone: a header row per zone (its worst grade, how many), zones in the order of
  // their worst incident; within a zone the board's order.
  function grouped(rows, trs) {
    const groups = new Map();
    rows.forEach((inc, i) => {
      if (!groups.has(inc.zone)) groups.set(inc.zone, []);
      groups.get(inc.zone).push([inc, trs[i]]);
    });
    const out = [];
    for (const [zone, members] of groups) {
      const worst = members[0][0].grade;  // rows come sorted: the first is the worst
      const unacked = members.filter(([inc]) => inc.status === "open").length;
      out.push(el("tr", { class: `group g-${worst}`, "data-zone": zone },
        el("td", { colSpan: 10 }, el("span", { class: `chip g-${worst}` }, worst.toUpperCase()),
          ` ${zone} · ${members.length} incident${members.length === 1 ? "" : "s"}` +
          (unacked ? ` · ${unacked} unacknowledged` : ""))));
      for (const [, tr] of members) out.push(tr);
    }
    return out;
  }
  function tick() {
    for (const cell of document.querySelectorAll("td.running")) cell.textContent = duration(cell.dataset.opened);
    const quiet = (Date.now() - state.lastMessage) / 1000;
    if (state.badge === "live" && quiet > state.keepalive * 2.5) setBadge("stale");
  }
  function setBadge(which) {
    state.badge = which;
    const badge = $("badge");
    badge.className = `badge badge-${which}`;
    badge.textContent = which.toUpperCase();
    badge.title = which === "stale" ? `nothing from the board for ${Math.round((Date.now() - state.lastMessage) / 1000)} s` : "";
  }

  // -- zone map -----------------------------------------------------------------------
  function worstByZone() {
    const worst = {};
    for (const inc of state.incidents.values()) {
      for (const zone of zonesOf(inc)) {
        for (const up of ancestors(zone)) {
          if (!worst[up] || GRADES[inc.grade] > GRADES[worst[up]]) worst[up] = inc.grade;
        }
      }
    }
    return worst;
  }
  function colourMap() {
    const worst = worstByZone();
    let missing = false;
    for (const zone of Object.keys(worst)) if (!state.mapZones.has(zone)) missing = true;
    for (const node of document.querySelectorAll("#map .zone")) {
      const zone = node.dataset.zone;
      node.setAttribute("class", `zone g-${worst[zone] || "none"}${state.filters.zone === zone ? " active" : ""}`);
    }
    if (missing) loadMap();
  }
  let mapLoading = false;
  async function loadMap() {
    if (mapLoading) return;
    mapLoading = true;
    try {
      const data = await getJSON("/api/map");
      setMap(data.map);
    } catch (err) { /* the next change tries again */ }
    setTimeout(() => { mapLoading = false; }, 2000);
  }
  function setMap(svgText) {
    $("map").innerHTML = svgText;  // server-built SVG: names escaped, the rest numbers
    state.mapZones = new Set([...document.querySelectorAll("#map .zone")].map((n) => n.dataset.zone));
    colourMap();
  }
  function fillZoneFilter() {
    const select = $("f-zone");
    const zones = new Set([...state.mapZones, ...Object.keys(state.parents)]);
    if (state.filters.zone) zones.add(state.filters.zone);
    const have = new Set([...select.options].map((o) => o.value));
    for (const zone of [...zones].sort()) if (!have.has(zone)) select.append(el("option", { value: zone }, zone));
    select.value = state.filters.zone;
  }

  // -- data ---------------------------------------------------------------------------
  async function getJSON(url) {
    const response = await fetch(url, { credentials: "same-origin", cache: "no-store" });
    if (!response.ok) throw new Error(`${url}: ${response.status}`);
    return response.json();
  }
  function rowFrom(inc, old) {
    const row = Object.assign({}, inc);
    row.level = LEVELS[inc.grade];
    row.acked_by = old ? old.acked_by : null;
    row.acked_at = old ? old.acked_at : null;
    if (row.status !== "acknowledged") { row.acked_by = null; row.acked_at = null; }
    return row;
  }
  async function loadSnapshot() {
    const data = await getJSON("/api/board");
    state.incidents = new Map(data.incidents.map((r) => [r.id, r]));
    state.resolved = data.resolved;
    state.parents = data.parents || {};
    state.last = data.last_event;
    state.keepalive = data.keepalive_s || 15;
    setMap(data.map);
    schedule();
  }
  function apply(change, eventAt) {
    const inc = change.incident;
    if (!inc) return;
    const old = state.incidents.get(inc.id);
    const row = rowFrom(inc, old);
    if (change.kind === "acknowledged") { row.acked_by = change.by || null; row.acked_at = eventAt; }
    if (ACTIVE.has(row.status)) state.incidents.set(row.id, row); else state.incidents.delete(row.id);
    if (change.absorbed) state.incidents.delete(change.absorbed);
    if (row.status === "resolved") {
      state.resolved = [row, ...state.resolved.filter((r) => r.id !== row.id)].slice(0, 10);
    } else if (ACTIVE.has(row.status)) {
      state.resolved = state.resolved.filter((r) => r.id !== row.id);
    }
    if (["opened", "grade_changed", "reopened"].includes(change.kind) && GRADES[row.grade] >= 3 &&
        (!old || GRADES[old.grade] < GRADES[row.grade] || change.kind !== "grade_changed")) {
      beep(row.grade);
      notify(row, change);
    }
    if (state.detailId === row.id) refreshDetail();
    schedule();
  }
  function touch() {
    state.lastMessage = Date.now();
    if (state.badge !== "live") setBadge("live");
  }
  function connect() {
    if (state.source) state.source.close();
    const source = new EventSource(`/events?last=${encodeURIComponent(state.last)}`);
    state.source = source;
    source.addEventListener("open", touch);
    source.addEventListener("hello", touch);
    source.addEventListener("heartbeat", touch);
    source.addEventListener("change", (e) => {
      touch();
      const data = JSON.parse(e.data);
      state.last = Number(e.lastEventId) || state.last;
      apply(data, data.at);
    });
    source.addEventListener("reset", async (e) => {
      touch();
      state.last = Number(e.lastEventId) || 0;
      try { await loadSnapshot(); } catch (err) { /* the stream goes on; the next reset retries */ }
    });
    source.addEventListener("error", () => {
      setBadge("reconnecting");
      if (source.readyState === EventSource.CLOSED) {  // refused (503): try again ourselves
        setTimeout(() => { if (state.source === source) connect(); }, 3000);
      }
    });
  }

  // -- detail panel ---------------------------------------------------------------------
  async function openDetail(id) {
    state.detailId = id;
    state.cursor = id;
    schedule();
    await refreshDetail();
  }
  let detailTimer = null;
  function refreshDetail() {
    clearTimeout(detailTimer);
    return new Promise((resolve) => {
      detailTimer = setTimeout(async () => {
        const id = state.detailId;
        if (!id) return resolve();
        try {
          const data = await getJSON(`/api/incidents/${encodeURIComponent(id)}`);
          if (state.detailId === id) showDetail(data);
        } catch (err) { toast(`cannot load ${id}: ${err.message}`, true); }
        resolve();
      }, 150);
    });
  }
  function describe(e) {
    const parts = [];
    if (e.by) parts.push(`by ${e.by}`);
    if (e.assignee) parts.push(`to ${e.assignee}`);
    if (e.previous_grade) parts.push(`${e.previous_grade} → ${e.incident.grade}`);
    if (e.why) parts.push(`(${e.why})`);
    if (e.text) parts.push(`“${e.text}”`);
    if (e.alert) {
      const a = e.alert;
      const value = a.value === null || a.value === undefined ? "" : `=${a.value}${a.unit ? " " + a.unit : ""}`;
      parts.push(`${a.device}/${a.sensor} ${a.channel}${value} ${a.reason} ${a.grade}: ${a.message || ""}`);
    }
    return parts.join(" ");
  }
  function showDetail(data) {
    const inc = data.incident;
    const panel = $("detail");
    panel.hidden = false;
    const dl = el("dl", {});
    const add = (k, v) => { dl.append(el("dt", {}, k), el("dd", {}, v)); };
    add("status", `${inc.status}${inc.latched ? " (latched)" : ""}${inc.flapping ? " (flapping)" : ""}`);
    add("zones", zonesOf(inc).join(", "));
    add("opened", `${clock(inc.opened_at)} UTC, running ${duration(inc.opened_at)}`);
    if (inc.acked_by) add("acknowledged", `${inc.acked_by} at ${clock(inc.acked_at)} UTC`);
    add("owner", inc.owner || "-");
    if (inc.acknowledge_by || inc.resolve_by) add("deadlines", [
      inc.acknowledge_by ? `acknowledge by ${clock(inc.acknowledge_by)} UTC` : "",
      inc.resolve_by ? `resolve by ${clock(inc.resolve_by)} UTC` : ""].filter(Boolean).join(", ")
      + (inc.escalation_level ? `; escalated ${inc.escalation_level}` : ""));
    add("assignee", inc.assignee || "-");
    add("alerts", String(inc.alert_count));
    add("devices", (inc.devices || []).join(", ") + ((inc.device_count || 0) > (inc.devices || []).length ? ` (+${inc.device_count - inc.devices.length})` : ""));
    add("grade because", (inc.reasons || []).join("; ") || "-");
    $("detail-head").replaceChildren(
      el("div", { class: "title" }, chip(inc), ` ${inc.id} ${inc.hazard} in ${inc.zone}`),
      dl, el("button", { type: "button", id: "detail-close" }, "close"));
    $("detail-close").addEventListener("click", closeDetail);
    const active = ACTIVE.has(inc.status);
    const actions = [];
    if (inc.status === "open") actions.push(el("button", { type: "button", "data-act": "ack" }, "acknowledge"));
    if (active) actions.push(el("button", { type: "button", "data-act": "resolve" }, "resolve…"));
    if (inc.status !== "merged") {
      actions.push(el("button", { type: "button", "data-act": "assign" }, "assign…"));
      actions.push(el("button", { type: "button", "data-act": "comment" }, "comment…"));
    }
    $("detail-actions").replaceChildren(...actions);
    const sensors = data.sensors.map((s) => {
      const picture = el("div", { class: "spark-box" });
      picture.innerHTML = s.svg;  // server-built SVG of numbers; its title is escaped
      return el("li", {}, el("span", {}, `${s.key} `, el("span", { class: "muted" }, `${s.span} (${s.count} alert${s.count === 1 ? "" : "s"})`)),
        picture, el("div", { class: "msg" }, s.message));
    });
    $("sensors").replaceChildren(...(sensors.length ? sensors : [el("li", { class: "muted" }, "(none)")]));
    const lines = data.timeline.map((e) => el("li", { "data-kind": e.kind },
      el("span", { class: "when" }, clock(e.at)), " ", el("span", { class: "kind" }, e.kind), " ", describe(e)));
    if (data.timeline_total > data.timeline.length) {
      lines.unshift(el("li", { class: "muted" }, `… ${data.timeline_total - data.timeline.length} earlier events (lifeline-hub incidents show ${inc.id})`));
    }
    $("timeline").replaceChildren(...lines);
  }
  function closeDetail() {
    state.detailId = null;
    $("detail").hidden = true;
  }

  // -- actions ------------------------------------------------------------------------
  async function post(url, body) {
    const response = await fetch(url, {
      method: "POST", credentials: "same-origin", cache: "no-store",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": state.csrf || "" },
      body: JSON.stringify(body),
    });
    let data = {};
    try { data = await response.json(); } catch (err) { data = {}; }
    if (!response.ok) throw new Error(data.error || `refused (${response.status})`);
    return data;
  }
  function askNote(title, required) {
    return new Promise((resolve) => {
      const dialog = $("note-dialog");
      $("note-title").textContent = title;
      $("note-text").value = "";
      $("note-text").required = required;
      dialog.returnValue = "";
      dialog.addEventListener("close", () => {
        const text = $("note-text").value.trim();
        resolve(dialog.returnValue === "ok" && (text || !required) ? text : null);
      }, { once: true });
      dialog.showModal();
      $("note-text").focus();
    });
  }
  async function act(action, ids) {
    if (!state.me) { toast("Read-only: log in as an operator to act on incidents.", true); return; }
    let body = {};
    if (action === "resolve") {
      const why = await askNote(`Resolve ${ids.join(", ")}: why? (required)`, true);
      if (why === null) return;
      body = { why };
    } else if (action === "assign") {
      const who = await askNote(`Assign ${ids.join(", ")} to:`, true);
      if (who === null) return;
      body = { who };
    } else if (action === "comment") {
      const text = await askNote(`Comment on ${ids.join(", ")}:`, true);
      if (text === null) return;
      body = { text };
    }
    let done = 0;
    const failed = [];
    for (const id of ids) {
      try {
        await post(`/api/incidents/${encodeURIComponent(id)}/${action}`, body);
        done += 1;
      } catch (err) { failed.push(`${id}: ${err.message}`); }
    }
    if (failed.length) toast(failed.join("\n"), true);
    else toast(`${action} ${done === 1 ? ids[0] : done + " incidents"}: done`);
    if (action === "ack") state.selected.clear();
    schedule();
  }
  // A resident's report (a call to the hotline), filed by the logged-in operator through the
  // same endpoint a hotline system uses (POST /api/citizen-reports, with the CSRF token). The
  // incident it joins or opens then arrives on the feed as any other change; the answer names
  // the incident, never the contact. A refusal stays in the dialog, so nothing typed is lost.
  function knownZones() {
    return [...new Set([...Object.keys(state.parents), ...state.mapZones])].sort();
  }
  function openCitizen() {
    if (!state.me) { toast("Read-only: log in as an operator to file a citizen's report.", true); return; }
    $("citizen-zones").replaceChildren(...knownZones().map((zone) => el("option", { value: zone })));
    if (!$("citizen-zone").value && state.filters.zone) $("citizen-zone").value = state.filters.zone;
    $("citizen-error").hidden = true;
    $("citizen-dialog").showModal();
    $("citizen-zone").focus();
  }
  async function fileCitizen(event) {
    event.preventDefault();
    const button = $("citizen-submit");
    const error = $("citizen-error");
    const body = {
      zone: $("citizen-zone").value.trim(), hazard: $("citizen-hazard").value,
      text: $("citizen-text").value.trim(), contact: $("citizen-contact").value.trim(),
    };
    button.disabled = true;
    error.hidden = true;
    try {
      const data = await post("/api/citizen-reports", body);
      const opened = (data.changes || []).some((c) => c.kind === "opened");
      const confirmed = (data.changes || []).some((c) => c.kind === "confirmed");
      $("citizen-form").reset();
      $("citizen-dialog").close();
      toast(`citizen's report ${opened ? "opened" : "joined"} ${data.incident}` +
        (confirmed ? " (now confirmed: sensors saw it too)" : ""));
      openDetail(data.incident);
    } catch (err) {
      error.textContent = `Not filed: ${err.message}`;
      error.hidden = false;
    } finally {
      button.disabled = false;
    }
  }

  let toastTimer = null;
  function toast(text, error) {
    const box = $("toast");
    box.textContent = text;
    box.className = error ? "error" : "";
    box.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { box.hidden = true; }, error ? 8000 : 3000);
  }

  // -- session ------------------------------------------------------------------------
  function showSession() {
    document.body.classList.toggle("operator-on", Boolean(state.me));
    $("who").textContent = state.me ? `operator: ${state.me}` : (state.loginAllowed ? "read-only" : "read-only board");
    $("login").hidden = Boolean(state.me) || !state.loginAllowed;
    $("logout").hidden = !state.me;
    if (!state.me && $("citizen-dialog").open) $("citizen-dialog").close();
  }
  async function loadSession() {
    try {
      const data = await getJSON("/api/session");
      state.me = data.user; state.csrf = data.csrf; state.loginAllowed = data.login;
    } catch (err) { state.me = null; }
    showSession();
  }
  async function login(event) {
    event.preventDefault();
    try {
      const data = await post("/api/login", { user: $("login-user").value, password: $("login-password").value });
      state.me = data.user; state.csrf = data.csrf;
      $("login-password").value = "";
      toast(`logged in as ${data.user}`);
    } catch (err) { toast(err.message, true); }
    showSession();
    schedule();
    if (state.detailId) refreshDetail();
  }
  async function logout() {
    try { await post("/api/logout", {}); } catch (err) { /* the session ends here anyway */ }
    state.me = null; state.csrf = null;
    showSession();
  }

  // -- theme and sound ----------------------------------------------------------------------
  function setTheme(theme, remember) {
    document.documentElement.dataset.theme = theme === "light" ? "light" : "dark";
    $("theme").textContent = theme === "light" ? "dark" : "light";
    if (remember) try { localStorage.setItem("lifeline-theme", theme); } catch (err) { /* private mode */ }
  }
  function initialTheme() {
    let saved = null;
    try { saved = localStorage.getItem("lifeline-theme"); } catch (err) { saved = null; }
    const light = window.matchMedia && window.matchMedia("(prefers-color-scheme: light)").matches;
    setTheme(saved || (light ? "light" : "dark"), false);
  }
  function beep(grade) {
    if (!$("sound").checked || !state.audio) return;
    // how many alarms sounded, and the last grade: what a test (or a curious operator) can read
    document.body.dataset.beeps = String(Number(document.body.dataset.beeps || 0) + 1);
    document.body.dataset.lastBeep = grade;
    const ctx = state.audio;
    const count = grade === "red" ? 3 : 2;
    const freq = grade === "red" ? 880 : 660;
    for (let i = 0; i < count; i += 1) {
      const osc = ctx.createOscillator();
      const gain = ctx.createGain();
      osc.frequency.value = freq;
      gain.gain.value = 0.15;
      osc.connect(gain).connect(ctx.destination);
      const start = ctx.currentTime + i * 0.25;
      osc.start(start);
      osc.stop(start + 0.15);
    }
  }
  // Desktop notifications (opt-in): orange and red incidents opened or regraded, seen also when
  // the board is behind other windows; one per incident (tag), replaced as it changes; a red
  // one stays until it is clicked away.
  function notify(row, change) {
    if (!$("notify").checked || !window.Notification || Notification.permission !== "granted") return;
    const what = change.kind === "grade_changed" ? "now" : "new";
    const alert = change.alert || {};
    new Notification(shown(`${row.grade.toUpperCase()} ${LEVELS[row.grade]}: ${what} ${row.hazard} incident in ${row.zone}`), {
      body: shown(`${row.id} · ${alert.message || ""}`), tag: row.id, requireInteraction: row.grade === "red",
    });
    document.body.dataset.notified = String(Number(document.body.dataset.notified || 0) + 1);
  }
  async function notifyToggled() {
    const box = $("notify");
    if (!box.checked) return;
    if (!window.Notification) { box.checked = false; toast("This browser shows no desktop notifications.", true); return; }
    const answer = Notification.permission === "granted" ? "granted" : await Notification.requestPermission();
    if (answer !== "granted") { box.checked = false; toast("Desktop notifications were not allowed.", true); }
  }
  function soundToggled() {
    const on = $("sound").checked;
    try { localStorage.setItem("lifeline-sound", on ? "1" : ""); } catch (err) { /* private mode */ }
    if (on && !state.audio && window.AudioContext) state.audio = new AudioContext();  // needs this click
    if (on) beep("orange");  // a sample, so the operator hears the volume
  }

  // -- keyboard and clicks --------------------------------------------------------------
  function shownIds() { return [...document.querySelectorAll("#rows tr[data-id]")].map((tr) => tr.dataset.id); }
  function move(step) {
    const ids = shownIds();
    if (!ids.length) return;
    const at = ids.indexOf(state.cursor);
    state.cursor = ids[Math.max(0, Math.min(ids.length - 1, at < 0 ? 0 : at + step))];
    render();
    const row = document.querySelector(`#rows tr.cursor`);
    if (row) row.scrollIntoView({ block: "nearest" });
  }
  function keydown(event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const target = event.target;
    if ($("note-dialog").open || $("citizen-dialog").open ||
        ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName)) return;
    const key = event.key;
    if (key === "j") move(1);
    else if (key === "k") move(-1);
    else if (key === "Enter" && state.cursor) openDetail(state.cursor);
    else if (key === "Escape") closeDetail();
    else if (key === "x" && state.cursor) {
      if (state.selected.has(state.cursor)) state.selected.delete(state.cursor); else state.selected.add(state.cursor);
      render();
    } else if (key === "a") {
      const ids = state.selected.size ? [...state.selected] : (state.cursor ? [state.cursor] : []);
      if (ids.length) act("ack", ids);
    } else if (key === "r" && state.cursor) act("resolve", [state.cursor]);
    else return;
    event.preventDefault();
  }
  function rowsClicked(event) {
    const tr = event.target.closest("tr[data-id]");
    if (!tr) return;
    const id = tr.dataset.id;
    if (event.target.classList.contains("pick")) {
      if (event.target.checked) state.selected.add(id); else state.selected.delete(id);
      state.cursor = id;
      schedule();
      return;
    }
    openDetail(id);
  }
  function mapClicked(event) {
    const node = event.target.closest(".zone");
    if (!node) return;
    state.filters.zone = state.filters.zone === node.dataset.zone ? "" : node.dataset.zone;
    writeFilters();
    schedule();
  }

  function init() {
    initialTheme();
    readFilters();
    for (const key of Object.keys(state.filters)) {
      const select = $(`f-${key}`);
      if (key !== "zone") select.value = state.filters[key];
      select.addEventListener("change", () => { state.filters[key] = select.value; writeFilters(); schedule(); });
    }
    $("f-group").value = state.group;
    $("f-group").addEventListener("change", () => { state.group = $("f-group").value; writeFilters(); schedule(); });
    $("f-clear").addEventListener("click", () => {
      for (const key of Object.keys(state.filters)) { state.filters[key] = ""; $(`f-${key}`).value = ""; }
      writeFilters(); schedule();
    });
    $("rows").addEventListener("click", rowsClicked);
    $("resolved").addEventListener("click", (e) => { const li = e.target.closest("li"); if (li) openDetail(li.dataset.id); });
    $("map").addEventListener("click", mapClicked);
    $("map").addEventListener("keydown", (e) => { if (e.key === "Enter") mapClicked(e); });
    $("select-all").addEventListener("change", (e) => {
      for (const id of shownIds()) { if (e.target.checked) state.selected.add(id); else state.selected.delete(id); }
      schedule();
    });
    $("bulk-ack").addEventListener("click", () => act("ack", [...state.selected]));
    $("detail-actions").addEventListener("click", (e) => {
      const button = e.target.closest("button");
      if (button && state.detailId) act(button.dataset.act, [state.detailId]);
    });
    $("theme").addEventListener("click", () => setTheme(document.documentElement.dataset.theme === "light" ? "dark" : "light", true));
    $("sound").addEventListener("change", soundToggled);
    $("notify").addEventListener("change", notifyToggled);
    $("login").addEventListener("submit", login);
    $("logout").addEventListener("click", logout);
    $("citizen-open").addEventListener("click", openCitizen);
    $("citizen-form").addEventListener("submit", fileCitizen);
    $("citizen-cancel").addEventListener("click", () => $("citizen-dialog").close());
    document.addEventListener("keydown", keydown);
    setInterval(tick, 1000);
    loadSession();
    loadSnapshot().then(connect, (err) => { toast(`cannot load the board: ${err.message}`, true); connect(); });
  }
  init();
})();
