"""The API reference page at /docs, rendered from /openapi.json by a same-origin script (no CDN asset, CSP-clean)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

router = APIRouter(include_in_schema=False)

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>trimtab service API</title>
<link rel="stylesheet" href="/docs/docs.css">
<script src="/docs/docs.js" defer></script>
</head>
<body>
<header><h1 id="title">trimtab service API</h1><p id="about"></p>
<p>Every <code>/api</code> route needs <code>Authorization: Bearer &lt;token&gt;</code>; controls need the admin token.
Machine-readable: <a href="/openapi.json">/openapi.json</a>.</p></header>
<main id="routes"><p>Loading…</p></main>
</body>
</html>
"""

SCRIPT = """"use strict";
const el = (tag, text, cls) => { const e = document.createElement(tag); if (text) e.textContent = text;
  if (cls) e.className = cls; return e; };
const ref = (s) => (s && s.$ref ? s.$ref.split("/").pop() : (s && s.type) || "");
async function main() {
  const spec = await (await fetch("/openapi.json")).json();
  document.getElementById("title").textContent = `${spec.info.title} ${spec.info.version}`;
  document.getElementById("about").textContent = spec.info.description || "";
  const root = document.getElementById("routes");
  root.replaceChildren();
  const byTag = new Map();
  for (const [path, ops] of Object.entries(spec.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      const tag = (op.tags || ["other"])[0];
      if (!byTag.has(tag)) byTag.set(tag, []);
      byTag.get(tag).push({ path, method, op });
    }
  }
  for (const [tag, routes] of byTag) {
    const section = el("section");
    section.append(el("h2", tag));
    for (const { path, method, op } of routes) {
      const item = el("article", "", "route");
      const head = el("h3");
      head.append(el("span", method.toUpperCase(), `method ${method}`), el("code", path));
      item.append(head, el("p", op.summary || ""));
      const params = (op.parameters || [])
        .map((p) => `${p.name} (${p.in}${p.required ? ", required" : ""}) ${ref(p.schema)}`);
      if (params.length) item.append(el("p", "Parameters: " + params.join("; "), "params"));
      const body = op.requestBody && op.requestBody.content && op.requestBody.content["application/json"];
      if (body) item.append(el("p", "JSON body: " + ref(body.schema), "params"));
      section.append(item);
    }
    root.append(section);
  }
}
main().catch((err) => { document.getElementById("routes").textContent = `Cannot load /openapi.json: ${err}`; });
"""

STYLE = """body{font:15px/1.45 system-ui,sans-serif;margin:0 auto;max-width:60rem;padding:1rem 1.5rem;color:#1d2430}
h2{border-bottom:1px solid #d8dde6;padding-bottom:.2rem;text-transform:capitalize}
.route{margin:.6rem 0 1rem}.route h3{margin:0;font-size:1rem}.route p{margin:.2rem 0}
.method{display:inline-block;min-width:3.6rem;margin-right:.5rem;font-weight:600}
.get{color:#1f6feb}.post{color:#1a7f37}.put{color:#9a6700}.params{color:#57606a;font-size:.9rem}
"""


@router.get("/docs")
def docs_page() -> HTMLResponse:
    return HTMLResponse(PAGE)


@router.get("/docs/docs.js")
def docs_script() -> Response:
    return Response(SCRIPT, media_type="text/javascript")


@router.get("/docs/docs.css")
def docs_style() -> Response:
    return Response(STYLE, media_type="text/css")
