// The Live events page: one EventSource on /dashboard/events/stream with the page's filters; each event a
// list item built with textContent (never HTML from the stream); breaker and host events update #health.
(function () {
  "use strict";
  const MAX_SHOWN = 500; // the page keeps the newest; the gateway's buffer is bounded too
  const state = document.getElementById("stream-state");
  const list = document.getElementById("events");
  const health = document.getElementById("health-list");
  if (!state || !list || !health) return;
  const params = new URLSearchParams();
  for (const name of ["api_id", "event"]) {
    const select = document.querySelector('#filters select[name="' + name + '"]');
    if (select && select.value) params.set(name, select.value);
  }
  const url = state.dataset.stream + (params.toString() ? "?" + params.toString() : "");
  const source = new EventSource(url);
  source.addEventListener("open", () => { state.textContent = "Live: new events appear at the top."; });
  source.addEventListener("error", () => { state.textContent = "Disconnected: reconnecting…"; });

  function cell(text, className) {
    const span = document.createElement("span");
    span.className = className;
    span.textContent = text;
    return span;
  }

  function show(item) {
    const li = document.createElement("li");
    li.className = "event";
    li.dataset.event = item.event;
    li.dataset.apiId = item.api_id;
    const time = document.createElement("time");
    const moment = new Date(item.time * 1000);
    time.dateTime = moment.toISOString();
    time.textContent = moment.toLocaleTimeString();
    li.append(time, " ", cell(item.event, "type"), " ", cell(item.api_id || "(gateway)", "api"));
    if (item.key) li.append(" key ", cell(item.key, "key"));
    li.append(" ", cell(item.message, "message"));
    list.prepend(li);
    while (list.children.length > MAX_SHOWN) list.lastElementChild.remove();
  }

  function track(item) {
    const breaker = item.event === "BreakerTripped" || item.event === "BreakerReset";
    const name = breaker ? "breaker " + item.api_id + " " + item.path : "host " + item.host;
    const status = { BreakerTripped: "open", BreakerReset: "closed", HostDown: "down", HostUp: "up" }[item.event];
    const empty = document.getElementById("health-empty");
    if (empty) empty.remove();
    let entry = Array.from(health.children).find((li) => li.dataset.name === name);
    if (!entry) {
      entry = document.createElement("li");
      entry.dataset.name = name;
      health.append(entry);
    }
    entry.dataset.state = status;
    entry.className = "health-" + status;
    entry.textContent = (breaker ? "Breaker on " + (item.api_id || "?") + " " + (item.path || "") : "Host " + item.host) + ": " + status;
  }

  source.addEventListener("message", (message) => {
    let item;
    try { item = JSON.parse(message.data); } catch (e) { return; }
    if (item.listed) show(item);
    if (["BreakerTripped", "BreakerReset", "HostDown", "HostUp"].includes(item.event)) track(item);
  });
})();
