// Almanac's own GraphQL explorer: a query editor, variables, headers (a bearer
// token), a run button, the result, and the schema's documentation read by
// introspection. Everything it loads comes from this server; it calls only
// the endpoint it was served from (POST, or a graphql-transport-ws socket for
// subscriptions).
(function () {
  "use strict";
  var endpoint = location.pathname.replace(/\/+$/, "") || "/graphql";
  var $ = function (id) { return document.getElementById(id); };
  var query = $("query"), variables = $("variables"), headers = $("headers");
  var token = $("token"), result = $("result"), status = $("status");
  var socket = null;

  var params = new URLSearchParams(location.search);
  query.value = params.get("query") || localStorage.getItem("almanac.query") ||
    "{\n  entities(first: 5) {\n    totalCount\n    nodes { ref name }\n  }\n}\n";
  if (params.get("variables")) variables.value = params.get("variables");
  token.value = sessionStorage.getItem("almanac.token") || "";

  function setStatus(text, isError) {
    status.textContent = text;
    status.className = isError ? "error" : "";
  }

  function parseJson(text, what) {
    if (!text.trim()) return {};
    try { return JSON.parse(text); } catch (e) { throw new Error(what + " are not valid JSON: " + e.message); }
  }

  function requestHeaders() {
    var extra = parseJson(headers.value, "Headers");
    var all = { "content-type": "application/json", accept: "application/graphql-response+json, application/json" };
    if (token.value.trim()) all.authorization = "Bearer " + token.value.trim();
    Object.keys(extra).forEach(function (k) { all[k] = String(extra[k]); });
    return all;
  }

  function post(body) {
    return fetch(endpoint, { method: "POST", headers: requestHeaders(), body: JSON.stringify(body) })
      .then(function (response) {
        return response.text().then(function (text) {
          var json;
          try { json = JSON.parse(text); } catch (e) { json = text; }
          return { status: response.status, json: json };
        });
      });
  }

  function isSubscription(text) {
    return /^\s*(#[^\n]*\n\s*)*subscription\b/.test(text);
  }

  function show(value) {
    result.textContent = typeof value === "string" ? value : JSON.stringify(value, null, 2);
  }

  function run() {
    var body;
    try {
      body = { query: query.value, variables: parseJson(variables.value, "Variables") };
      requestHeaders();
    } catch (e) { setStatus(e.message, true); return; }
    localStorage.setItem("almanac.query", query.value);
    sessionStorage.setItem("almanac.token", token.value);
    if (socket) { socket.close(); socket = null; }
    if (isSubscription(query.value)) { subscribe(body); return; }
    setStatus("Running...");
    var started = performance.now();
    post(body).then(function (answer) {
      setStatus("HTTP " + answer.status + " in " + Math.round(performance.now() - started) + " ms",
        answer.status >= 400);
      show(answer.json);
    }, function (e) { setStatus("The request failed: " + e.message, true); });
  }

  // graphql-transport-ws: the token goes in connection_init's payload, since
  // a browser cannot set headers on a WebSocket.
  function subscribe(body) {
    var scheme = location.protocol === "https:" ? "wss:" : "ws:";
    var ws = new WebSocket(scheme + "//" + location.host + endpoint, "graphql-transport-ws");
    var events = [];
    socket = ws;
    setStatus("Connecting...");
    show("");
    ws.onopen = function () {
      var payload = {};
      if (token.value.trim()) payload.Authorization = "Bearer " + token.value.trim();
      ws.send(JSON.stringify({ type: "connection_init", payload: payload }));
    };
    ws.onmessage = function (message) {
      var data = JSON.parse(message.data);
      if (data.type === "connection_ack") {
        setStatus("Subscribed; events appear as they happen");
        ws.send(JSON.stringify({ id: "1", type: "subscribe", payload: body }));
      } else if (data.type === "ping") {
        ws.send(JSON.stringify({ type: "pong" }));
      } else if (data.type === "next" || data.type === "error") {
        events.unshift(data.payload);
        show(events.slice(0, 100));
      } else if (data.type === "complete") {
        setStatus("The subscription ended");
      }
    };
    ws.onclose = function (event) {
      if (socket === ws) setStatus("Socket closed (" + event.code + (event.reason ? ": " + event.reason : "") + ")", event.code !== 1000);
    };
  }

  // --- Documentation, from introspection -----------------------------------
  var INTROSPECTION = "query Introspection { __schema { queryType { name } mutationType { name } subscriptionType { name } " +
    "types { kind name description fields(includeDeprecated: true) { name description isDeprecated deprecationReason " +
    "args { name description type { ...T } defaultValue } type { ...T } } inputFields { name description type { ...T } defaultValue } " +
    "interfaces { name } possibleTypes { name } enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason } } } } " +
    "fragment T on __Type { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } }";
  var types = {}, roots = [], trail = [];
  var docs = $("docs-body"), path = $("docs-path");

  function el(tag, text, cls) {
    var node = document.createElement(tag);
    if (text) node.textContent = text;
    if (cls) node.className = cls;
    return node;
  }

  function typeLink(type) {
    var span = el("span");
    if (type.kind === "NON_NULL") { span.appendChild(typeLink(type.ofType)); span.appendChild(document.createTextNode("!")); return span; }
    if (type.kind === "LIST") { span.appendChild(document.createTextNode("[")); span.appendChild(typeLink(type.ofType)); span.appendChild(document.createTextNode("]")); return span; }
    var a = el("a", type.name);
    a.onclick = function () { open(type.name, true); };
    span.appendChild(a);
    return span;
  }

  function describe(parent, item) {
    if (item.description) parent.appendChild(el("div", item.description, "description"));
    if (item.isDeprecated) parent.appendChild(el("div", "Deprecated: " + (item.deprecationReason || ""), "deprecated"));
  }

  function field(f) {
    var row = el("div", null, "field");
    var head = el("code");
    head.appendChild(el("strong", f.name));
    if (f.args && f.args.length) {
      head.appendChild(document.createTextNode("("));
      f.args.forEach(function (arg, i) {
        if (i) head.appendChild(document.createTextNode(", "));
        head.appendChild(document.createTextNode(arg.name + ": "));
        head.appendChild(typeLink(arg.type));
        if (arg.defaultValue !== null && arg.defaultValue !== undefined) head.appendChild(document.createTextNode(" = " + arg.defaultValue));
      });
      head.appendChild(document.createTextNode(")"));
    }
    head.appendChild(document.createTextNode(": "));
    head.appendChild(typeLink(f.type));
    row.appendChild(head);
    describe(row, f);
    return row;
  }

  function open(name, push) {
    var type = types[name];
    if (!type) return;
    if (push) trail.push(name);
    docs.textContent = "";
    docs.appendChild(el("h3", type.name + " (" + type.kind.toLowerCase().replace("_", " ") + ")"));
    describe(docs, type);
    if (type.interfaces && type.interfaces.length) {
      var implementsRow = el("div", "Implements ");
      type.interfaces.forEach(function (i) { implementsRow.appendChild(typeLink({ kind: "OBJECT", name: i.name })); implementsRow.appendChild(document.createTextNode(" ")); });
      docs.appendChild(implementsRow);
    }
    (type.fields || []).concat(type.inputFields || []).forEach(function (f) { docs.appendChild(field(f)); });
    (type.enumValues || []).forEach(function (v) { var row = el("div", null, "field"); row.appendChild(el("code", v.name)); describe(row, v); docs.appendChild(row); });
    if (type.possibleTypes && type.possibleTypes.length) {
      docs.appendChild(el("h4", "Possible types"));
      type.possibleTypes.forEach(function (p) { var row = el("div"); row.appendChild(typeLink({ kind: "OBJECT", name: p.name })); docs.appendChild(row); });
    }
    renderTrail();
  }

  function home() {
    trail = [];
    docs.textContent = "";
    docs.appendChild(el("h3", "Schema"));
    roots.forEach(function (root) {
      var row = el("div", null, "field");
      row.appendChild(typeLink({ kind: "OBJECT", name: root }));
      docs.appendChild(row);
    });
    docs.appendChild(el("h4", "All types"));
    Object.keys(types).sort().filter(function (n) { return n.indexOf("__") !== 0; }).forEach(function (n) {
      var row = el("div");
      row.appendChild(typeLink({ kind: "OBJECT", name: n }));
      docs.appendChild(row);
    });
    renderTrail();
  }

  function renderTrail() {
    path.textContent = "";
    var top = el("a", "Schema");
    top.onclick = home;
    path.appendChild(top);
    trail.forEach(function (name, i) {
      path.appendChild(document.createTextNode(" / "));
      var a = el("a", name);
      a.onclick = function () { trail = trail.slice(0, i + 1); open(name, false); };
      path.appendChild(a);
    });
  }

  function search(text) {
    text = text.trim().toLowerCase();
    if (!text) { home(); return; }
    docs.textContent = "";
    Object.keys(types).sort().forEach(function (n) {
      if (n.indexOf("__") === 0) return;
      var type = types[n];
      if (n.toLowerCase().indexOf(text) >= 0) {
        var row = el("div");
        row.appendChild(typeLink({ kind: "OBJECT", name: n }));
        docs.appendChild(row);
      }
      (type.fields || []).forEach(function (f) {
        if (f.name.toLowerCase().indexOf(text) >= 0) {
          var row = el("div");
          row.appendChild(typeLink({ kind: "OBJECT", name: n }));
          row.appendChild(document.createTextNode("." + f.name));
          docs.appendChild(row);
        }
      });
    });
  }

  function loadSchema() {
    var body = { query: INTROSPECTION, operationName: "Introspection" };
    var ask;
    try { ask = post(body); } catch (e) { docs.textContent = e.message; return; }
    ask.then(function (answer) {
      var schema = answer.json && answer.json.data && answer.json.data.__schema;
      if (!schema) { docs.textContent = "The schema could not be read (HTTP " + answer.status + "); set a token and reload the docs."; return; }
      types = {};
      schema.types.forEach(function (t) { types[t.name] = t; });
      roots = [schema.queryType, schema.mutationType, schema.subscriptionType]
        .filter(Boolean).map(function (t) { return t.name; });
      home();
    }, function (e) { docs.textContent = "The schema could not be read: " + e.message; });
  }

  $("run").onclick = run;
  $("docs-toggle").onclick = function () { $("docs").classList.toggle("hidden"); };
  $("docs-search").oninput = function (e) { search(e.target.value); };
  token.onchange = function () { sessionStorage.setItem("almanac.token", token.value); loadSchema(); };
  document.addEventListener("keydown", function (e) {
    if ((e.ctrlKey || e.metaKey) && e.key === "Enter") { e.preventDefault(); run(); }
  });
  [query, variables, headers].forEach(function (area) {
    area.addEventListener("keydown", function (e) {
      if (e.key === "Tab" && !e.shiftKey) {
        e.preventDefault();
        var at = area.selectionStart;
        area.value = area.value.slice(0, at) + "  " + area.value.slice(area.selectionEnd);
        area.selectionStart = area.selectionEnd = at + 2;
      }
    });
  });
  loadSchema();
})();
