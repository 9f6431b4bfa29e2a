// The browser side of examples/fastapi_backend.py: it knows /api/chat, never a key.
"use strict";

const log = document.getElementById("log");
const form = document.getElementById("composer");
const input = document.getElementById("message");
const sendButton = document.getElementById("send");

function show(role, text) {
  const item = document.createElement("li");
  item.className = role;
  item.dataset.role = role;
  item.textContent = text; // text, never HTML: a reply cannot inject markup
  log.append(item);
  item.scrollIntoView({ block: "end" });
}

let pending = 0; // messages (and the autosend queue) still waiting; "idle" only at 0

function setBusy(busy) {
  pending += busy ? 1 : -1;
  document.body.dataset.state = pending > 0 ? "busy" : "idle";
  sendButton.disabled = pending > 0;
}

async function send(message) {
  show("user", message);
  setBusy(true);
  try {
    const response = await fetch("/api/chat", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ message }),
    });
    const data = await response.json().catch(() => ({}));
    if (response.ok) {
      show("assistant", data.reply);
    } else {
      show("error", data.error?.message ?? `The server answered ${response.status}.`);
    }
  } catch {
    show("error", "Cannot reach the server.");
  } finally {
    setBusy(false);
  }
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  const message = input.value.trim();
  if (!message) return;
  input.value = "";
  send(message);
});

document.getElementById("new").addEventListener("click", async () => {
  await fetch("/api/new-conversation", { method: "POST" });
  log.replaceChildren();
  input.focus();
});

// ?autosend=Hello&autosend=Again sends those messages in order on load (used by the
// browser test, and handy for a link that opens the chat with a question).
async function start() {
  setBusy(true);
  for (const message of new URLSearchParams(location.search).getAll("autosend")) {
    await send(message);
  }
  setBusy(false);
}

start();
