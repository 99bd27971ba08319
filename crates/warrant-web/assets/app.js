// The approval page. Plain JavaScript, no dependencies: everything it
// shows comes from the daemon's JSON API and is put in the page as text
// (never as HTML). It never receives a secret's value: the daemon holds
// names only.
"use strict";

const state = {
  csrf: null,
  view: "pending",
  seen: null, // ids of pending grants already shown (for notifications)
  events: null,
  keys: false,
};

const $ = (id) => document.getElementById(id);

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") node.className = value;
    else if (name === "text") node.textContent = value;
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// ---- the API --------------------------------------------------------------

async function api(method, path, body) {
  const headers = {};
  if (method !== "GET") headers["X-CSRF-Token"] = state.csrf || "";
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "same-origin",
    cache: "no-store",
  });
  const data = await response.json().catch(() => ({}));
  if (response.status === 401) signedOut();
  if (!response.ok) {
    const error = new Error(data.message || response.statusText);
    error.code = data.code;
    error.hint = data.hint;
    throw error;
  }
  return data;
}

function describe(error) {
  return error.hint ? `${error.message} (${error.hint})` : error.message;
}

function toast(text) {
  const node = $("toast");
  node.textContent = text;
  node.classList.add("shown");
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => node.classList.remove("shown"), 4000);
}

// ---- signing in -----------------------------------------------------------

async function start() {
  const session = await api("GET", "/api/session");
  if (session.signed_in) {
    state.csrf = session.csrf;
    signedIn();
  } else {
    signedOut();
  }
}

function signedOut() {
  state.csrf = null;
  if (state.events) state.events.close();
  state.events = null;
  $("tabs").hidden = true;
  $("tools").hidden = true;
  for (const view of document.querySelectorAll(".view")) view.hidden = true;
  $("signin").hidden = false;
  $("signin-pass").focus();
}

function signedIn() {
  $("signin").hidden = true;
  $("tabs").hidden = false;
  $("tools").hidden = false;
  $("notify").hidden = !("Notification" in window) || Notification.permission !== "default";
  show(location.hash.slice(1) || state.view);
  listen();
  loadKeys();
}

$("signin-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const input = $("signin-pass");
  const button = event.submitter || event.target.querySelector("button");
  button.disabled = true;
  $("signin-error").textContent = "";
  try {
    const session = await api("POST", "/api/session", { passphrase: input.value });
    state.csrf = session.csrf;
    input.value = "";
    signedIn();
  } catch (error) {
    $("signin-error").textContent = describe(error);
    input.select();
  } finally {
    button.disabled = false;
  }
});

$("sign-out").addEventListener("click", async () => {
  try {
    await api("DELETE", "/api/session");
  } catch (_) {
    // Signed out either way.
  }
  signedOut();
});

// ---- views ----------------------------------------------------------------

function show(view) {
  if (!["pending", "active", "audit", "keys"].includes(view)) view = "pending";
  state.view = view;
  for (const tab of document.querySelectorAll(".tab")) {
    const current = tab.dataset.view === view;
    tab.setAttribute("aria-current", current ? "page" : "false");
  }
  for (const section of document.querySelectorAll(".view")) {
    section.hidden = section.id !== `view-${view}`;
  }
  if (location.hash.slice(1) !== view) history.replaceState(null, "", `#${view}`);
  if (view === "audit") loadAudit();
  if (view === "keys") loadKeys();
}

for (const tab of document.querySelectorAll(".tab")) {
  tab.addEventListener("click", () => show(tab.dataset.view));
}

// 1-4 switch views when no field has the focus.
document.addEventListener("keydown", (event) => {
  if (!state.csrf || event.altKey || event.ctrlKey || event.metaKey) return;
  const target = event.target;
  if (target && ["INPUT", "SELECT", "TEXTAREA"].includes(target.tagName)) return;
  const view = { 1: "pending", 2: "active", 3: "audit", 4: "keys" }[event.key];
  if (view) {
    show(view);
    $(`${view}-title`).focus?.();
  }
});

// ---- live grants ----------------------------------------------------------

function listen() {
  if (state.events) return;
  const events = new EventSource("/api/events");
  state.events = events;
  events.addEventListener("open", () => setLive(true));
  events.addEventListener("error", () => setLive(false));
  events.addEventListener("grants", (event) => render(JSON.parse(event.data)));
  events.addEventListener("signed_out", () => signedOut());
}

function setLive(live) {
  const node = $("live");
  node.textContent = live ? "live" : "reconnecting…";
  node.classList.toggle("off", !live);
}

function render(data) {
  state.keys = data.keys;
  const pending = data.grants.filter((g) => g.status === "pending");
  const active = data.grants.filter((g) => g.status === "active");
  notifyNew(pending);
  sync($("pending-list"), pending, pendingCard, updatePending);
  sync($("active-list"), active, activeCard, updateActive);
  $("pending-empty").hidden = pending.length > 0;
  $("active-empty").hidden = active.length > 0;
  $("count-pending").textContent = pending.length;
  $("count-active").textContent = active.length;
  document.title = pending.length ? `(${pending.length}) warrant approvals` : "warrant approvals";
  tick();
}

// Keeps each grant's card (and whatever is typed in it) across updates.
function sync(list, grants, build, update) {
  const ids = new Set(grants.map((g) => g.id));
  for (const card of [...list.children]) {
    if (!ids.has(card.dataset.grant)) card.remove();
  }
  for (const grant of grants) {
    let card = list.querySelector(`[data-grant="${CSS.escape(grant.id)}"]`);
    if (!card) {
      card = build(grant);
      list.append(card);
    }
    update(card, grant);
  }
}

function notifyNew(pending) {
  const first = state.seen === null;
  const seen = state.seen || new Set();
  for (const grant of pending) {
    if (!first && !seen.has(grant.id) && "Notification" in window && Notification.permission === "granted") {
      new Notification(`${grant.actor} asks for ${grant.secrets.join(", ")}`, {
        body: grant.reason,
        tag: grant.id,
      });
    }
    seen.add(grant.id);
  }
  state.seen = seen;
}

$("notify").addEventListener("click", async () => {
  await Notification.requestPermission();
  $("notify").hidden = Notification.permission !== "default";
});

function duration(secs) {
  secs = Math.max(0, Math.round(secs));
  const h = Math.floor(secs / 3600);
  const m = Math.floor((secs % 3600) / 60);
  const s = secs % 60;
  if (h) return `${h}h ${String(m).padStart(2, "0")}m`;
  if (m) return `${m}m ${String(s).padStart(2, "0")}s`;
  return `${s}s`;
}

function commands(grant) {
  const scopes = grant.commands.filter((scope) => scope.length);
  return scopes.length ? scopes.map((scope) => scope.join(" | ")).join("; and ") : "any command";
}

function facts(pairs) {
  const list = el("dl", { class: "facts" });
  for (const [term, value, name] of pairs) {
    list.append(el("dt", { text: term }), el("dd", { text: value, "data-field": name }));
  }
  return list;
}

function heading(grant) {
  return el(
    "h3",
    {},
    el("span", { class: "actor", text: grant.actor }),
    grant.status === "active" ? " holds " : " asks for ",
    el("span", { class: "secrets", text: grant.secrets.join(", ") }),
    grant.hardware_key ? el("span", { class: "badge", text: "security key" }) : null,
  );
}

function field(id, label, input, help) {
  return el("div", { class: "field" }, el("label", { for: id, text: label }), input, help ? el("small", { text: help }) : null);
}

function pendingCard(grant) {
  const id = grant.id;
  const card = el("li", { class: "card pending", "data-grant": id, "aria-labelledby": `h-${id}` });
  const title = heading(grant);
  title.id = `h-${id}`;
  const ttlMinutes = Math.max(1, Math.round(grant.ttl_secs / 60));
  const approve = el(
    "form",
    { class: "decide", "aria-label": `Approve ${id}` },
    field(`ttl-${id}`, "Approve for (minutes)", el("input", { id: `ttl-${id}`, name: "ttl", type: "number", min: 1, max: ttlMinutes, placeholder: ttlMinutes, inputmode: "numeric" }), `asked: ${duration(grant.ttl_secs)}`),
    field(`uses-${id}`, "Uses", el("input", { id: `uses-${id}`, name: "uses", type: "number", min: 1, max: grant.max_uses || null, placeholder: grant.max_uses || "no limit", inputmode: "numeric" }), grant.max_uses ? `policy: at most ${grant.max_uses}` : "policy: no limit"),
    field(`pass-${id}`, "Approver passphrase", el("input", { id: `pass-${id}`, name: "passphrase", type: "password", autocomplete: "current-password", required: true })),
    el("div", { class: "actions" }, el("button", { type: "submit", class: "approve", text: grant.hardware_key ? "Approve with security key" : "Approve" })),
  );
  const deny = el(
    "form",
    { class: "deny", "aria-label": `Deny ${id}` },
    field(`deny-${id}`, "Reason to deny", el("input", { id: `deny-${id}`, name: "reason", maxlength: 1000, placeholder: "optional" })),
    el("div", { class: "actions" }, el("button", { type: "submit", class: "danger", text: "Deny" })),
  );
  const error = el("p", { class: "error", role: "alert" });
  approve.addEventListener("submit", (event) => decideApprove(event, grant, error));
  deny.addEventListener("submit", (event) => decide(event, id, "deny", error));
  card.append(
    title,
    facts([
      ["Reason", grant.reason],
      ["Task", grant.task || "none (asked outside a task)"],
      ["Secrets", grant.secrets.join(", ")],
      ["Commands", commands(grant)],
      ["Hosts", grant.hosts.length ? grant.hosts.join(", ") : "none"],
      ["Requested TTL", duration(grant.ttl_secs)],
      ["Uses", grant.max_uses ? `at most ${grant.max_uses}` : "no limit"],
      ["Waits until", "", "deadline"],
      ["Grant", id],
    ]),
    el("div", { class: "forms" }, approve, deny),
    error,
  );
  return card;
}

function updatePending(card, grant) {
  card.dataset.expires = Date.now() + grant.remaining_secs * 1000;
}

function activeCard(grant) {
  const id = grant.id;
  const card = el("li", { class: "card active", "data-grant": id, "aria-labelledby": `h-${id}` });
  const title = heading(grant);
  title.id = `h-${id}`;
  const error = el("p", { class: "error", role: "alert" });
  const revoke = el(
    "form",
    { class: "deny", "aria-label": `Revoke ${id}` },
    field(`revoke-${id}`, "Reason to revoke", el("input", { id: `revoke-${id}`, name: "reason", maxlength: 1000, placeholder: "optional" })),
    el("div", { class: "actions" }, el("button", { type: "submit", class: "danger", text: "Revoke" })),
  );
  revoke.addEventListener("submit", (event) => decide(event, id, "revoke", error));
  card.append(
    title,
    el("p", { class: "countdown" }, el("span", { class: "left", "data-field": "left", role: "timer", "aria-label": "time left" }), " left"),
    facts([
      ["Uses", "", "uses"],
      ["Processes running", "", "processes"],
      ["Reason", grant.reason],
      ["Task", grant.task || "none"],
      ["Commands", commands(grant)],
      ["Hosts", grant.hosts.length ? grant.hosts.join(", ") : "none"],
      ["Approved by", grant.approved_by || "", "approved"],
      ["Grant", id],
    ]),
    revoke,
    error,
  );
  return card;
}

function updateActive(card, grant) {
  card.dataset.expires = Date.now() + grant.remaining_secs * 1000;
  const set = (name, text) => {
    card.querySelector(`[data-field="${name}"]`).textContent = text;
  };
  set("uses", grant.max_uses ? `${grant.uses} of ${grant.max_uses} used, ${grant.max_uses - grant.uses} left` : `${grant.uses} used, no limit`);
  set("processes", String(grant.processes));
  set("approved", grant.approved_by || "");
}

function tick() {
  for (const card of document.querySelectorAll(".card[data-expires]")) {
    const left = (Number(card.dataset.expires) - Date.now()) / 1000;
    const target = card.querySelector('[data-field="left"]') || card.querySelector('[data-field="deadline"]');
    if (target) target.textContent = card.classList.contains("active") ? duration(left) : `${duration(left)} from now`;
  }
}
setInterval(tick, 1000);

async function decide(event, id, what, error) {
  event.preventDefault();
  const form = event.target;
  const button = form.querySelector("button");
  button.disabled = true;
  error.textContent = "";
  try {
    await api("POST", `/api/grants/${encodeURIComponent(id)}/${what}`, { reason: form.reason.value || null });
    toast(`${id} ${what === "deny" ? "denied" : "revoked"}`);
  } catch (e) {
    error.textContent = describe(e);
  } finally {
    button.disabled = false;
  }
}

async function decideApprove(event, grant, error) {
  event.preventDefault();
  const form = event.target;
  const button = form.querySelector("button");
  button.disabled = true;
  error.textContent = "";
  try {
    const body = {
      passphrase: form.passphrase.value,
      ttl_secs: form.ttl.value ? Number(form.ttl.value) * 60 : null,
      max_uses: form.uses.value ? Number(form.uses.value) : null,
    };
    if (grant.hardware_key) {
      const options = await api("POST", `/api/grants/${encodeURIComponent(grant.id)}/challenge`);
      body.assertion = await assert(options);
    }
    await api("POST", `/api/grants/${encodeURIComponent(grant.id)}/approve`, body);
    form.passphrase.value = "";
    toast(`${grant.id} approved`);
  } catch (e) {
    error.textContent = describe(e);
  } finally {
    form.passphrase.value = "";
    button.disabled = false;
  }
}

// ---- security keys (WebAuthn) ---------------------------------------------

function bytes(text) {
  const b64 = text.replace(/-/g, "+").replace(/_/g, "/");
  const raw = atob(b64 + "===".slice((b64.length + 3) % 4));
  return Uint8Array.from(raw, (c) => c.charCodeAt(0)).buffer;
}

function b64url(buffer) {
  if (!buffer) return null;
  let raw = "";
  for (const byte of new Uint8Array(buffer)) raw += String.fromCharCode(byte);
  return btoa(raw).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function keyError(error) {
  if (error && error.name === "NotAllowedError") {
    return new Error("no security key answered (it was not touched, the request timed out, or no key is present)");
  }
  return error;
}

async function assert(options) {
  const key = options.publicKey;
  key.challenge = bytes(key.challenge);
  for (const c of key.allowCredentials || []) c.id = bytes(c.id);
  let credential;
  try {
    credential = await navigator.credentials.get({ publicKey: key });
  } catch (e) {
    throw keyError(e);
  }
  return {
    id: credential.id,
    rawId: b64url(credential.rawId),
    type: credential.type,
    extensions: credential.getClientExtensionResults(),
    response: {
      authenticatorData: b64url(credential.response.authenticatorData),
      clientDataJSON: b64url(credential.response.clientDataJSON),
      signature: b64url(credential.response.signature),
      userHandle: b64url(credential.response.userHandle),
    },
  };
}

async function create(options) {
  const key = options.publicKey;
  key.challenge = bytes(key.challenge);
  key.user.id = bytes(key.user.id);
  for (const c of key.excludeCredentials || []) c.id = bytes(c.id);
  let credential;
  try {
    credential = await navigator.credentials.create({ publicKey: key });
  } catch (e) {
    throw keyError(e);
  }
  return {
    id: credential.id,
    rawId: b64url(credential.rawId),
    type: credential.type,
    extensions: credential.getClientExtensionResults(),
    response: {
      attestationObject: b64url(credential.response.attestationObject),
      clientDataJSON: b64url(credential.response.clientDataJSON),
      transports: credential.response.getTransports ? credential.response.getTransports() : undefined,
    },
  };
}

async function loadKeys() {
  try {
    const keys = await api("GET", "/api/keys");
    const list = $("keys-list");
    list.replaceChildren(
      ...(keys.length
        ? keys.map((k) => el("li", {}, el("strong", { text: k.name }), ` added ${new Date(k.added).toLocaleString()} · credential ${k.credential}…`))
        : [el("li", { class: "muted", text: "No security key is registered." })]),
    );
    state.keys = keys.length > 0;
  } catch (_) {
    // Shown again on the next try.
  }
}

$("key-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const button = event.target.querySelector("button");
  button.disabled = true;
  $("key-error").textContent = "";
  const pass = $("key-pass");
  try {
    const body = { passphrase: pass.value };
    if (state.keys) body.assertion = await assert(await api("POST", "/api/keys/challenge"));
    const options = await api("POST", "/api/keys/register/start", body);
    const credential = await create(options);
    const key = await api("POST", "/api/keys/register/finish", { name: $("key-name").value, credential });
    toast(`security key ${key.name} added`);
    $("key-name").value = "";
    await loadKeys();
  } catch (e) {
    $("key-error").textContent = describe(e);
  } finally {
    pass.value = "";
    button.disabled = false;
  }
});

// ---- the audit log --------------------------------------------------------

$("audit-filter").addEventListener("submit", (event) => {
  event.preventDefault();
  loadAudit();
});

function who(record) {
  return record.actor || record.by || record.user || "";
}

function secretsOf(record) {
  const names = [];
  for (const field of ["name", "secrets", "env_secrets", "file_secrets"]) {
    const value = record[field];
    if (typeof value === "string") names.push(value);
    else if (Array.isArray(value)) names.push(...value);
  }
  return [...new Set(names)].join(", ");
}

const SHOWN = new Set(["seq", "time", "user", "pid", "event", "prev", "hash", "actor", "by", "grant", "name", "secrets", "env_secrets", "file_secrets"]);

function details(record) {
  return Object.entries(record)
    .filter(([key, value]) => !SHOWN.has(key) && value !== null && value !== "" && !(Array.isArray(value) && !value.length))
    .map(([key, value]) => `${key}: ${typeof value === "object" ? JSON.stringify(value) : value}`)
    .join(" · ");
}

async function loadAudit() {
  const form = $("audit-filter");
  const query = new URLSearchParams();
  for (const name of ["actor", "secret", "event", "since", "until"]) {
    if (form[name].value) query.set(name, form[name].value);
  }
  $("audit-error").textContent = "";
  try {
    const data = await api("GET", `/api/audit?${query}`);
    const chain = $("chain");
    chain.classList.toggle("bad", !data.verification.ok);
    chain.textContent = data.verification.ok
      ? `Chain verified: ${data.verification.records} records, head ${String(data.verification.head || "").slice(0, 16)}…`
      : `Chain broken: ${data.verification.error}`;
    const select = $("f-event");
    const chosen = select.value;
    select.replaceChildren(el("option", { value: "", text: "any" }), ...data.kinds.map((k) => el("option", { value: k, text: k })));
    select.value = chosen;
    $("audit-summary").textContent = `${data.matched} of ${data.total} records match${data.matched > data.records.length ? ` (newest ${data.records.length} shown)` : ""}.`;
    $("audit-table").tBodies[0].replaceChildren(
      ...data.records.map((r) =>
        el(
          "tr",
          { "data-event": r.event },
          el("td", { text: r.seq }),
          el("td", {}, el("time", { datetime: r.time, text: new Date(r.time).toLocaleString() })),
          el("td", { text: r.event }),
          el("td", { text: who(r) }),
          el("td", { text: r.grant || "" }),
          el("td", { text: secretsOf(r) }),
          el("td", { class: "details", text: details(r) }),
        ),
      ),
    );
  } catch (e) {
    $("audit-error").textContent = describe(e);
  }
}

start().catch((e) => toast(describe(e)));
