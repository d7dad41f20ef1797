// Yishi local demo: a small messenger over the fake Telegram Bot API's /_fake/ control routes.
// Every visible text comes from /demo/state's `ui` dict (translated by the backend); the English
// below is only the fallback, identical to the catalog's msgid.
"use strict";

// [key, English]. The first block is the agreed contract; the second lists keys this page adds.
const UI_KEYS = [
  ["title", "Yishi local room"],
  ["acting_as", "Acting as"],
  ["rooms", "Rooms"],
  ["private_chat", "Private chat with the bot"],
  ["type_message", "Type a message or a command, e.g. /help"],
  ["send", "Send"],
  ["language", "Language"],
  ["invite_code", "Invite code on your notice"],
  ["empty_refused", "A message cannot be empty."],
  ["split_notice", "Long message sent in {n} parts, as Telegram does."],
  ["edited", "edited"],
  ["offline", "Connection lost, retrying…"],
  ["no_messages", "No messages yet."],
  // Extra keys used by this page:
  ["ok", "OK"],
  ["request_failed", "That did not work: {error}"],
];
const FALLBACK = Object.fromEntries(UI_KEYS);

const MAX_TEXT = 4096; // Telegram's limit, in UTF-16 code units (what JS string length counts)
const POLL_SECONDS = 25;

const $ = (id) => document.getElementById(id);
const dom = {
  personaSelect: $("persona-select"), langSelect: $("lang-select"), invite: $("invite"),
  inviteValue: $("invite-value"), roomList: $("room-list"), chatTitle: $("chat-title"),
  chatSub: $("chat-sub"), offline: $("offline"), messages: $("messages"), empty: $("no-messages"),
  form: $("composer-form"), composer: $("composer"), error: $("composer-error"),
  notice: $("composer-notice"), toast: $("toast"), backdrop: $("alert-backdrop"),
  alertText: $("alert-text"), alertOk: $("alert-ok"),
};

const app = {
  state: null, // /demo/state result
  personaId: null,
  chatId: null,
  since: 0, // last event id seen
  unread: new Map(), // chat id -> count of messages that arrived while the chat was not open
  nodes: new Map(), // message id -> {sig, el} for the open chat, so re-renders only touch changes
};

// ------------------------------------------------------------------------------------- helpers

function t(key, params = {}) {
  const text = (app.state && app.state.ui && app.state.ui[key]) || FALLBACK[key] || key;
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in params ? String(params[name]) : whole));
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") node.className = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) if (child !== null && child !== undefined) node.append(child);
  return node;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// One fetch helper for the control API and /demo routes: both answer {"ok", "result"|"description"}.
async function api(method, path, body, timeoutMs = 15000) {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), timeoutMs);
  try {
    const headers = body ? { "Content-Type": "application/json" } : {};
    const init = { method, headers, body: body ? JSON.stringify(body) : undefined, cache: "no-store", signal: abort.signal };
    const response = await fetch(path, init);
    const data = await response.json().catch(() => ({ ok: false, description: `HTTP ${response.status}` }));
    if (!data.ok) throw Object.assign(new Error(data.description || `HTTP ${response.status}`), { status: response.status });
    return data.result;
  } finally {
    clearTimeout(timer);
  }
}

const persona = () => app.state.personas.find((p) => p.id === app.personaId);

// The persona's private chat with the bot comes first (its id is the user's id, as on Telegram).
function roomsOf(who) {
  const titles = new Map(app.state.rooms.map((room) => [room.chat_id, room]));
  const groups = (who.rooms || []).map((id) => {
    const room = titles.get(id) || { chat_id: id, title: String(id) };
    return { id, title: room.title, sub: room.scope || "", group: true };
  });
  const bot = app.state.bot;
  return [{ id: who.id, title: t("private_chat"), sub: `${bot.name} @${bot.username}`, group: false }, ...groups];
}

const currentRoom = () => roomsOf(persona()).find((room) => room.id === app.chatId);

function senderName(from) {
  if (from.id === app.state.bot.id) return app.state.bot.name;
  const known = app.state.personas.find((p) => p.id === from.id);
  return known ? known.name : [from.first_name, from.last_name].filter(Boolean).join(" ");
}

// The selection lives in the URL hash so a reload (or a shared link) keeps persona and chat.
function saveSelection() {
  history.replaceState(null, "", `#p=${app.personaId}&c=${app.chatId}`);
}

function readSelection() {
  const params = new URLSearchParams(location.hash.slice(1));
  return { personaId: Number(params.get("p")) || null, chatId: Number(params.get("c")) || null };
}

// ------------------------------------------------------------------------------- state and UI

async function loadState(lang) {
  app.state = await api("GET", "/demo/state" + (lang ? `?lang=${encodeURIComponent(lang)}` : ""));
  const wanted = app.personaId ? { personaId: app.personaId, chatId: app.chatId } : readSelection();
  const who = app.state.personas.find((p) => p.id === wanted.personaId) || app.state.personas[0];
  app.personaId = who ? who.id : null;
  applyUi();
  renderPersonas();
  if (who) selectChat(roomsOf(who).some((room) => room.id === wanted.chatId) ? wanted.chatId : who.id);
}

// Static page text is marked with data-ui / data-ui-placeholder and filled from state.ui.
function applyUi() {
  document.documentElement.lang = app.state.lang === "en" ? "en" : "zh-CN";
  document.title = t("title");
  for (const node of document.querySelectorAll("[data-ui]")) node.textContent = t(node.dataset.ui);
  for (const node of document.querySelectorAll("[data-ui-placeholder]")) {
    node.placeholder = t(node.dataset.uiPlaceholder);
    node.setAttribute("aria-label", node.placeholder);
  }
  dom.langSelect.value = app.state.lang;
}

function renderPersonas() {
  const label = (p) => (p.role ? `${p.name} · ${p.role}` : p.name);
  dom.personaSelect.replaceChildren(...app.state.personas.map((p) => el("option", { value: p.id }, label(p))));
  dom.personaSelect.value = app.personaId;
  const code = persona() && persona().code;
  dom.invite.hidden = !code;
  dom.inviteValue.textContent = code || "";
}

function renderRooms() {
  const items = roomsOf(persona()).map((room) => {
    const unread = app.unread.get(room.id) || 0;
    const initial = Array.from(room.group ? room.title : app.state.bot.name)[0] || "?";
    const attrs = {
      type: "button", class: `room ${room.group ? "room-group" : "room-private"}`, "data-testid": `room-${room.id}`,
      "data-chat-id": room.id, "aria-current": room.id === app.chatId ? "true" : null, onclick: () => selectChat(room.id),
    };
    return el("li", {}, el("button", attrs,
      el("span", { class: "avatar", "aria-hidden": "true" }, initial),
      el("span", { class: "room-text" }, el("span", { class: "room-title" }, room.title), el("span", { class: "room-sub" }, room.sub)),
      unread ? el("span", { class: "badge", "data-testid": "unread" }, String(unread)) : null));
  });
  dom.roomList.replaceChildren(...items);
}

function selectChat(chatId) {
  if (chatId !== app.chatId) {
    app.chatId = chatId;
    app.nodes.clear();
    dom.messages.replaceChildren();
    clearComposerMessages();
  }
  app.unread.delete(chatId);
  const room = currentRoom();
  dom.chatTitle.textContent = room ? room.title : "";
  dom.chatSub.textContent = room ? room.sub : "";
  renderRooms();
  saveSelection();
  refreshChat({ toBottom: true });
}

function selectPersona(personaId) {
  app.personaId = personaId;
  renderPersonas();
  // Staying in a shared group makes "now co-sign as the neighbour" a one-click test.
  const keep = roomsOf(persona()).some((room) => room.group && room.id === app.chatId);
  selectChat(keep ? app.chatId : personaId);
}

async function switchLanguage(lang) {
  try {
    await api("POST", "/demo/lang", { lang });
    await loadState(lang);
  } catch (error) {
    dom.langSelect.value = app.state.lang;
    showToast(t("request_failed", { error: error.message }));
  }
}

// ---------------------------------------------------------------------------------- messages

// Coalesces refreshes: events arriving while a fetch runs cause exactly one more fetch.
let refreshing = null;
let refreshAgain = false;
let forceBottom = false;

function refreshChat({ toBottom = false } = {}) {
  forceBottom = forceBottom || toBottom;
  if (refreshing) {
    refreshAgain = true;
    return refreshing;
  }
  refreshing = (async () => {
    do {
      refreshAgain = false;
      await loadMessages().catch((error) => console.warn("messages:", error));
    } while (refreshAgain);
  })().finally(() => (refreshing = null));
  return refreshing;
}

async function loadMessages() {
  const chatId = app.chatId;
  let messages;
  try {
    messages = await api("GET", `/_fake/chats/${chatId}/messages?after=0`);
  } catch (error) {
    if (error.status !== 404) throw error;
    messages = []; // the private chat does not exist until the persona first writes to the bot
  }
  if (chatId !== app.chatId) return; // the user switched chats meanwhile
  const list = dom.messages;
  const atBottom = forceBottom || list.scrollHeight - list.scrollTop - list.clientHeight < 48;
  forceBottom = false;
  renderMessages(messages.filter((m) => typeof m.text === "string")); // service messages have no text
  if (atBottom) list.scrollTop = list.scrollHeight;
}

// Keyed re-render: unchanged bubbles keep their DOM node (and any pressed-button state).
function renderMessages(messages) {
  const next = new Map();
  const nodes = messages.map((message) => {
    const sig = JSON.stringify([message.text, message.reply_markup, message.edit_date, app.personaId, app.state.lang]);
    const old = app.nodes.get(message.message_id);
    const node = old && old.sig === sig ? old.el : renderMessage(message);
    next.set(message.message_id, { sig, el: node });
    return node;
  });
  nodes.forEach((node, index) => {
    if (dom.messages.children[index] !== node) dom.messages.insertBefore(node, dom.messages.children[index] || null);
  });
  while (dom.messages.children.length > nodes.length) dom.messages.lastElementChild.remove();
  app.nodes = next;
  dom.empty.hidden = nodes.length > 0;
}

function renderMessage(message) {
  const from = message.from || {};
  const own = from.id === app.personaId;
  const kind = own ? "out" : from.is_bot ? "bot" : "in";
  const time = new Date(message.date * 1000);
  const hhmm = `${String(time.getHours()).padStart(2, "0")}:${String(time.getMinutes()).padStart(2, "0")}`;
  const reply = message.reply_to_message;
  const bubble = el("div", { class: "bubble" },
    own ? null : el("div", { class: "sender" }, senderName(from)),
    reply ? el("div", { class: "quote" }, el("b", {}, senderName(reply.from || {})), el("span", {}, reply.text || "")) : null,
    el("div", { class: "text", "data-testid": "message-text" }, richText(message.text, from.is_bot)),
    el("div", { class: "meta" },
      message.edit_date ? el("span", { class: "edited", "data-testid": "edited" }, t("edited")) : null,
      el("time", { datetime: time.toISOString() }, hhmm)));
  const attrs = { class: `message ${kind}`, "data-testid": "message", "data-message-id": message.message_id, "data-chat-id": message.chat.id };
  return el("li", attrs, bubble, renderKeyboard(message));
}

// Links and, in bot messages, /commands become tappable, as in Telegram clients.
const TOKEN_RE = /(https?:\/\/[^\s<>"'，。！？、）]+)|(?<!\S)(\/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?)(?![A-Za-z0-9_/])/g;

function richText(text, fromBot) {
  const parts = [];
  let last = 0;
  for (const match of text.matchAll(TOKEN_RE)) {
    let [token, url, command] = match;
    if (command && !fromBot) continue;
    if (url) token = url = url.replace(/[.,!?;:)\]]+$/, ""); // trailing punctuation is not the link
    parts.push(text.slice(last, match.index));
    parts.push(url
      ? el("a", { href: url, target: "_blank", rel: "noopener", onclick: (event) => onLink(event, url) }, url)
      : el("a", { href: "#", class: "command", onclick: (event) => (event.preventDefault(), sendFromUi(command)) }, command));
    last = match.index + token.length;
  }
  parts.push(text.slice(last));
  return parts;
}

function renderKeyboard(message) {
  const rows = (message.reply_markup && message.reply_markup.inline_keyboard) || [];
  if (!rows.length) return null;
  const renderButton = (button) => el("button", {
    type: "button", class: button.url ? "kb-button kb-link" : "kb-button", "data-testid": "button",
    "data-callback": button.callback_data, "data-url": button.url,
    onclick: (event) => onButton(event.currentTarget, message, button),
  }, button.text);
  return el("div", { class: "keyboard" }, rows.map((row) => el("div", { class: "kb-row" }, row.map(renderButton))));
}

// ------------------------------------------------------------------------- buttons and links

async function onButton(node, message, button) {
  if (button.url) return openUrl(button.url);
  if (button.callback_data === undefined || node.classList.contains("busy")) return;
  node.classList.add("busy"); // Telegram shows a spinner on the button until the bot answers
  try {
    const press = { user_id: app.personaId, chat_id: message.chat.id, message_id: message.message_id, callback_data: button.callback_data };
    const pressed = await api("POST", "/_fake/press_button", press);
    const answer = await api("GET", `/_fake/callback_answers/${pressed.callback_query_id}?timeout=10`, null, 15000);
    if (answer && answer.text) (answer.show_alert ? showAlert : showToast)(answer.text);
  } catch (error) {
    showToast(t("request_failed", { error: error.message }));
  } finally {
    node.classList.remove("busy");
  }
}

function onLink(event, url) {
  if (deepLinkStart(url) === null) return; // ordinary links open in a new tab
  event.preventDefault();
  openUrl(url);
}

// https://t.me/<our bot>?start=<param> (or tg://resolve?domain=...&start=...): the start parameter,
// or null for any other URL.
function deepLinkStart(url) {
  let parsed;
  try {
    parsed = new URL(url);
  } catch {
    return null;
  }
  const telegramHost = /^(www\.)?(t|telegram)\.me$/i.test(parsed.hostname);
  const name = parsed.protocol === "tg:" ? parsed.searchParams.get("domain") : telegramHost ? parsed.pathname.slice(1) : null;
  if (!name || name.toLowerCase() !== app.state.bot.username.toLowerCase()) return null;
  return parsed.searchParams.get("start") || "";
}

// A deep link never leaves the page: like Telegram, it opens the private chat and sends /start.
function openUrl(url) {
  const start = deepLinkStart(url);
  if (start === null) return void window.open(url, "_blank", "noopener");
  selectChat(app.personaId);
  sendFromUi(start ? `/start ${start}` : "/start");
}

// ---------------------------------------------------------------------------------- composer

// Splits like Telegram clients: at most MAX_TEXT code units per part, preferring a line break or a
// space near the end, never inside a surrogate pair; the parts concatenate back to the text.
function splitMessage(text) {
  const parts = [];
  let rest = text;
  while (rest.length > MAX_TEXT) {
    let cut = MAX_TEXT;
    const code = rest.charCodeAt(cut - 1);
    if (code >= 0xd800 && code <= 0xdbff) cut -= 1;
    const head = rest.slice(0, cut);
    const soft = Math.max(head.lastIndexOf("\n"), head.lastIndexOf(" "));
    if (soft >= cut * 0.75) cut = soft + 1;
    parts.push(rest.slice(0, cut));
    rest = rest.slice(cut);
  }
  parts.push(rest);
  return parts.filter((part) => part.trim()); // Telegram never sends a blank part
}

// Sends queue up so parts and quick successive messages keep their order.
let sendQueue = Promise.resolve();

function sendFromUi(text) {
  clearComposerMessages();
  if (!text.trim()) {
    showComposerLine(dom.error, t("empty_refused"));
    return false;
  }
  const parts = splitMessage(text);
  if (parts.length > 1) showComposerLine(dom.notice, t("split_notice", { n: parts.length }));
  const [userId, chatId] = [app.personaId, app.chatId]; // fixed now: the user may switch while it sends
  sendQueue = sendQueue.then(async () => {
    for (let i = 0; i < parts.length; i++) {
      try {
        await sendText(userId, chatId, parts[i]);
      } catch (error) {
        showComposerLine(dom.error, t("request_failed", { error: error.message }));
        if (!dom.composer.value) dom.composer.value = parts.slice(i).join(""); // keep what was not sent
        return;
      }
      if (chatId === app.chatId) refreshChat({ toBottom: true });
    }
  });
  return true;
}

function sendText(userId, chatId, text) {
  const body = { user_id: userId, chat_id: chatId, text };
  if (chatId === userId) body.bot = app.state.bot.username; // creates the private chat if new
  return api("POST", "/_fake/send_text", body);
}

function submitComposer() {
  if (sendFromUi(dom.composer.value)) {
    dom.composer.value = "";
    autosize();
  }
  dom.composer.focus();
}

function showComposerLine(node, text) {
  node.textContent = text;
  node.hidden = false;
}

function clearComposerMessages() {
  dom.error.hidden = dom.notice.hidden = true;
}

function autosize() {
  dom.composer.style.height = "auto";
  dom.composer.style.height = Math.min(dom.composer.scrollHeight + 2, window.innerHeight * 0.35) + "px";
}

// ------------------------------------------------------------------------------ toast / alert

let toastTimer = null;

function showToast(text) {
  dom.toast.textContent = text;
  dom.toast.hidden = false;
  clearTimeout(toastTimer);
  // Long enough to read slowly: 3 s plus a little per character, at most 8 s.
  toastTimer = setTimeout(() => (dom.toast.hidden = true), Math.min(3000 + 60 * text.length, 8000));
}

function showAlert(text) {
  dom.alertText.textContent = text;
  dom.backdrop.hidden = false;
  dom.alertOk.focus();
}

function closeAlert() {
  dom.backdrop.hidden = true;
  dom.composer.focus();
}

// ------------------------------------------------------------------------------ live updates

let stateReload = null;

// Membership changes and group upgrades can change the room list, which only the backend knows.
function reloadStateSoon() {
  clearTimeout(stateReload);
  stateReload = setTimeout(() => loadState(app.state.lang).catch(() => {}), 300);
}

function handleEvent(event) {
  const chatId = event.chat_id ?? (event.chat && event.chat.id);
  if (["member", "migrate"].includes(event.type)) reloadStateSoon();
  if (!["message", "edit", "delete", "chat", "migrate"].includes(event.type)) return;
  if (chatId === app.chatId || event.old_chat_id === app.chatId) return void refreshChat();
  const from = event.message && event.message.from;
  const mine = roomsOf(persona()).some((room) => room.id === chatId);
  if (event.type === "message" && mine && from && from.id !== app.personaId) {
    app.unread.set(chatId, (app.unread.get(chatId) || 0) + 1);
    renderRooms();
  }
}

// Long-polls the fake's event log. After a failure, or when the ids went backwards (the demo server
// restarted), it re-reads everything instead of trusting the old cursor.
async function eventLoop() {
  let delay = 1000;
  let synced = false;
  for (;;) {
    try {
      if (!synced) await resync();
      synced = true;
      const result = await api("GET", `/_fake/events?since=${app.since}&timeout=${POLL_SECONDS}`, null, (POLL_SECONDS + 10) * 1000);
      delay = 1000;
      if (result.last_id < app.since) synced = false;
      else {
        app.since = result.last_id;
        result.events.forEach(handleEvent);
      }
    } catch (error) {
      console.warn("events:", error);
      synced = false;
      setOffline(true);
      await sleep(delay);
      delay = Math.min(delay * 2, 15000); // back off, but keep trying: the demo server may restart
    }
  }
}

async function resync() {
  // The event cursor comes first so nothing that happens during the render is missed.
  app.since = (await api("GET", "/_fake/state")).last_event_id;
  await loadState(); // no lang: the backend answers in the demo's current language
  setOffline(false);
}

function setOffline(offline) {
  dom.offline.hidden = !offline;
}

// ------------------------------------------------------------------------------------- start

function bindControls() {
  dom.personaSelect.addEventListener("change", () => selectPersona(Number(dom.personaSelect.value)));
  dom.langSelect.addEventListener("change", () => switchLanguage(dom.langSelect.value));
  dom.form.addEventListener("submit", (event) => (event.preventDefault(), submitComposer()));
  dom.composer.addEventListener("keydown", (event) => {
    // Enter sends, Shift+Enter is a new line; Enter that confirms a Chinese IME candidate is neither.
    if (event.key !== "Enter" || event.shiftKey || event.isComposing || event.keyCode === 229) return;
    event.preventDefault();
    submitComposer();
  });
  dom.composer.addEventListener("input", () => {
    autosize();
    if (dom.composer.value.trim()) dom.error.hidden = true;
  });
  dom.alertOk.addEventListener("click", closeAlert);
  document.addEventListener("keydown", (event) => event.key === "Escape" && !dom.backdrop.hidden && closeAlert());
}

bindControls();
eventLoop();
