"""`doccat serve`: a trained run behind an HTTP API (FastAPI + uvicorn) and a one-page web UI.

    POST /predict  {"texts": [...]} or {"text": "..."}, k, threshold -> top-k labels and probabilities
    POST /explain  {"text": "...", "top": 10}                      -> doccat.explain's view as JSON
    GET  /health   200 once the model is loaded and its checksums verified
    GET  /model    labels, config, metrics, artifact hashes (manifest.json)
    GET  /         the page: a text box, the category, a bar per class, the words that decided
    GET  /openapi.json

Safety: loopback by default; with an API key (X-API-Key or `Authorization: Bearer`) every path but
`/` and `/health` needs it; request limits are checked before any model work and answered with 413
or 422 and a JSON body. fastapi and uvicorn are optional (`pip install 'doccat[serve]'`), imported here only.
"""

import contextlib
import ctypes
import functools
import hmac
import html
import ipaddress
import json
import logging
import os
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from .config import ConfigError

LOG = logging.getLogger(__name__)

SETTINGS_ENV = "DOCCAT_SERVE_SETTINGS"  # how `--workers N` hands the settings to each worker process
PUBLIC_PATHS = {"/", "/health"}
# Every status the server answers besides 200, as the OpenAPI schema documents it (FastAPI adds 422 itself).
ERRORS = {
    400: "a Content-Length that is not a number",
    401: "missing or wrong API key (when the server has one); /health and / need none",
    408: "the request body did not arrive within the body timeout (--body-seconds)",
    413: "too large: the body, a text, the number of texts, or an /explain text's distinct words",
    500: "internal error (logged by the server, never a traceback to the client)",
    503: "too many connections at once (--max-connections), or the model still loading (/health)",
}


@dataclass
class Limits:
    max_texts: int = 256  # texts per /predict request
    max_text_bytes: int = 100_000  # UTF-8 bytes per text
    max_request_bytes: int = 2_000_000  # the whole request body
    max_explain_words: int = 1_000  # distinct words of an /explain text: leaving each out costs a pass over the rest
    body_seconds: float = 10.0  # a request's body must arrive within this (else 408): a slow sender holds nothing
    max_connections: int = 200  # open connections and requests at once; more are answered 503 (uvicorn)


def _require():
    try:
        import fastapi  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as e:
        raise ConfigError(f"doccat serve needs fastapi and uvicorn ({e.name} is missing): "
                          "pip install 'doccat[serve]'") from None


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _json_error(status: int, detail: str, headers: dict | None = None):
    from fastapi.responses import JSONResponse
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


class _GuardMiddleware:
    """Plain ASGI: the API key, then the body size (Content-Length, then the bytes actually sent).

    The body is read here, at most `max_bytes` of it, and replayed to the app, so an oversized or
    endless upload costs no more than the limit and never reaches JSON parsing.
    """

    def __init__(self, app, api_key: str | None, max_bytes: int, body_seconds: float):
        self.app, self.api_key, self.max_bytes, self.body_seconds = app, api_key, max_bytes, body_seconds

    def _authorized(self, headers: dict) -> bool:
        given = headers.get(b"x-api-key", b"")
        auth = headers.get(b"authorization", b"")
        if not given and auth[:7].lower() == b"bearer ":
            given = auth[7:].strip()
        return hmac.compare_digest(given, self.api_key.encode())

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope["headers"])
        if self.api_key and scope["path"] not in PUBLIC_PATHS and not self._authorized(headers):
            return await _json_error(401, "missing or wrong API key (send it as X-API-Key)",
                                     {"WWW-Authenticate": "Bearer"})(scope, receive, send)
        length = headers.get(b"content-length")
        if length is not None:
            if not length.isdigit():
                return await _json_error(400, "bad Content-Length")(scope, receive, send)
            if int(length) > self.max_bytes:
                return await _json_error(413, f"request body over {self.max_bytes} bytes")(scope, receive, send)
        import asyncio  # here, not at the top: `doccat predict` imports this module for its Limits
        body, more, deadline = bytearray(), True, asyncio.get_running_loop().time() + self.body_seconds
        while more:
            try:
                message = await asyncio.wait_for(receive(), max(deadline - asyncio.get_running_loop().time(), 0))
            except asyncio.TimeoutError:
                return await _json_error(408, f"the request body did not arrive within {self.body_seconds:g} s")(
                    scope, receive, send)
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > self.max_bytes:
                return await _json_error(413, f"request body over {self.max_bytes} bytes")(scope, receive, send)
        sent = False

        async def replay():
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}
            return await receive()  # after the body: wait for the disconnect
        await self.app(scope, replay, send)


def create_app(run_dir: str | Path, api_key: str | None = None, limits: Limits | None = None, threads: int = 0):
    """The FastAPI app serving the run in `run_dir`, loaded (checksums verified) before it is returned.

    Raises ConfigError without fastapi/uvicorn and ArtifactError for a missing or altered run.
    """
    _require()
    from fastapi import FastAPI

    from . import linear

    limits = limits or Limits()
    run_dir = Path(run_dir)
    # verified against manifest.json; a linear model without torch, as `doccat predict` loads it (its /explain
    # loads the torch model when first asked)
    clf = linear.load(run_dir) if linear.saved_config(run_dir) is not None else torch_model(run_dir, threads)
    app = FastAPI(title="doccat", version="1", lifespan=_returning_memory, description=f"Document classifier serving run {run_dir.name!r} "
                  f"({len(clf.classes_)} classes).")
    app.state.ready = True  # set only after load() above succeeded
    _add_error_handlers(app)
    _add_routes(app, clf, run_dir, limits, threads)
    app.add_middleware(_GuardMiddleware, api_key=api_key or None, max_bytes=limits.max_request_bytes,
                       body_seconds=limits.body_seconds)
    return app


def torch_model(run_dir: Path, threads: int = 0):
    """classifier.load's model, with `threads` intra-op threads (0: torch's default)."""
    import torch

    from .classifier import load
    if threads:
        torch.set_num_threads(threads)
    return load(run_dir)


TRIM_SECONDS = 5.0  # how often freed memory is handed back to the system
M_ARENA_MAX = -8  # glibc's mallopt parameter number (malloc.h)


@contextlib.asynccontextmanager
async def _returning_memory(app):
    """glibc keeps what the request threads free in their own heaps (arenas) instead of returning it, so the
    RSS after a burst of large requests stayed at its peak (1.59x the start, bench/abuse_serve.py):
    malloc_trim hands the free pages back every few seconds (a few ms; it runs without the GIL)."""
    import asyncio
    libc = ctypes.CDLL(None)
    trim = getattr(libc, "malloc_trim", None)  # glibc only (not musl, macOS): elsewhere nothing to do
    if trim:
        libc.mallopt(M_ARENA_MAX, 2)  # not one heap per request thread (8 per core by default), each kept

    async def loop():
        while trim:
            await asyncio.sleep(TRIM_SECONDS)
            await asyncio.to_thread(trim, 0)
    task = asyncio.create_task(loop())
    yield
    task.cancel()


def _schemas():
    """The request and response bodies (pydantic models, made when the app is)."""
    from pydantic import BaseModel, ConfigDict, Field, model_validator

    class PredictRequest(BaseModel):
        model_config = ConfigDict(extra="forbid", strict=True)  # strict: true is no 1, "0.5" no 0.5
        texts: list[str] | None = Field(None, min_length=1, description="texts to classify (or give `text`)")
        text: str | None = Field(None, description="one text to classify (or give `texts`)")
        k: int | None = Field(None, ge=1, le=10_000, description="classes per text, most probable first "
                              "(default 1; multilabel: every label reaching the threshold)")
        threshold: float | None = Field(None, ge=0.0, le=1.0, allow_inf_nan=False,
                                        description="drop classes below this probability (default 0; "
                                                    "multilabel: the model's threshold)")

        @model_validator(mode="after")
        def _one_of(self):
            if (self.texts is None) == (self.text is None):
                raise ValueError("give exactly one of `text` and `texts`")
            return self

    class Prediction(BaseModel):
        labels: list[str | int]  # class names, or the integers a model trained on integer labels was given
        probs: list[float]
        value: float | None = None  # regression models: the predicted number

    class PredictResponse(BaseModel):
        predictions: list[Prediction]

    class ExplainRequest(BaseModel):
        model_config = ConfigDict(extra="forbid", strict=True)
        text: str
        top: int = Field(10, ge=1, le=1000, description="how many words and features to rank")

    return PredictRequest, PredictResponse, ExplainRequest


def _add_error_handlers(app) -> None:
    from fastapi import Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):
        # JSON decode errors and schema errors alike: 422 with the (JSON-safe) list of problems
        errors = [{"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": str(e.get("type", ""))}
                  for e in exc.errors()]
        return JSONResponse({"detail": errors}, status_code=422)

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception):  # never a traceback to the client
        LOG.error(f"internal error: {exc!r}")
        return JSONResponse({"detail": "internal error"}, status_code=500)


def _check_texts(texts: list[str], limits: Limits) -> None:
    from fastapi import HTTPException
    if len(texts) > limits.max_texts:
        raise HTTPException(413, f"{len(texts)} texts in one request; the limit is {limits.max_texts}")
    for i, t in enumerate(texts):
        try:
            size = len(t.encode("utf-8"))
        except UnicodeEncodeError:  # a lone surrogate escape such as "\ud800"
            raise HTTPException(422, f"text {i} is not valid Unicode") from None
        if size > limits.max_text_bytes:
            raise HTTPException(413, f"text {i} is {size} bytes; the limit is {limits.max_text_bytes}")


def _check_explained(text: str, limits: Limits) -> None:
    """/explain's cost grows with the text's distinct words (a network's leave-one-out runs the model without
    each in turn; a linear model's exact attribution splits each feature among them), which is bounded."""
    from fastapi import HTTPException

    from .text import tokenize
    words = len(set(tokenize(text)))
    if words > limits.max_explain_words:
        raise HTTPException(413, f"the text has {words} distinct words; /explain takes up to "
                                 f"{limits.max_explain_words} (each is attributed, or left out in turn)")


def _add_routes(app, clf, run_dir: Path, limits: Limits, threads: int = 0) -> None:
    import anyio
    from fastapi.concurrency import run_in_threadpool
    from fastapi.responses import JSONResponse

    from .config import to_dict

    PredictRequest, PredictResponse, ExplainRequest = _schemas()
    errors = {status: {"description": text, "content": {"application/json": {"example": {"detail": text}}}}
              for status, text in ERRORS.items()}
    manifest = json.loads((run_dir / "manifest.json").read_text())
    model_info = {"run": run_dir.name, "labels": clf.classes_, "config": to_dict(clf.config),
                  "metrics": clf.metrics_, "artifacts": manifest["files"]}

    explained = explainer(clf, run_dir, threads)

    @app.post("/predict", response_model=PredictResponse, response_model_exclude_none=True, responses=errors)
    async def predict(req: PredictRequest):
        """Top-`k` classes of each text with their softmax probabilities; one batch through the model."""
        texts = req.texts if req.texts is not None else [req.text]
        _check_texts(texts, limits)
        preds = await run_in_threadpool(inference, clf.predict, texts, k=req.k, threshold=req.threshold)
        return {"predictions": [{"labels": p.labels, "probs": p.probs, "value": p.value} for p in preds]}

    explaining = anyio.CapacityLimiter(1)  # one /explain at a time: the others wait, /predict does not

    @app.post("/explain", responses=errors)
    async def explain_view(req: ExplainRequest) -> dict:
        """Tokens, n-grams, logits, probabilities per class, and the words and features that decided."""
        _check_texts([req.text], limits)
        _check_explained(req.text, limits)
        return await anyio.to_thread.run_sync(lambda: explained(req.text, req.top), limiter=explaining)

    @app.get("/health", responses=errors)
    async def health():
        if not app.state.ready:
            return JSONResponse({"status": "loading"}, status_code=503)
        return {"status": "ok", "run": run_dir.name, "classes": len(clf.classes_)}

    @app.get("/model", responses=errors)
    async def model() -> dict:
        """Labels, the run's config and metrics, and the SHA-256 of each artifact (manifest.json)."""
        return model_info

    _add_page(app, f"{run_dir.name}: {clf.task}" + (f", {len(clf.classes_)} classes" if clf.task != "regression" else ""))


def inference(fn, *args, **kw):
    """fn(*args, **kw) under torch.inference_mode (per thread: no autograd bookkeeping); as it is where torch was
    never imported (a linear model's numpy: nothing to turn off, and no second of torch's import)."""
    if "torch" not in sys.modules:
        return fn(*args, **kw)
    import torch
    with torch.inference_mode():
        return fn(*args, **kw)


def explainer(clf, run_dir: Path, threads: int = 0):
    """/explain's function of (text, top): doccat.explain's view, which takes the torch model; a linear model
    served without torch loads it when first asked."""
    from . import linear
    model = functools.cache(lambda: torch_model(run_dir, threads) if isinstance(clf, linear.LinearModel) else clf)

    def explained(text: str, top: int) -> dict:
        from .explain import explain
        return inference(explain, model(), text, top=top)
    return explained


def _add_page(app, served: str) -> None:
    """The web page, headed by the run it serves (its folder name, task and classes)."""
    from fastapi.responses import HTMLResponse

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def page():
        heading = f"<h1>doccat</h1><p>Serving <b>{html.escape(served)}</b></p>"
        return HTMLResponse(PAGE.replace("<h1>doccat</h1>", heading), headers={
            # everything is inline; nothing may be fetched from elsewhere
            "Content-Security-Policy": "default-src 'none'; script-src 'unsafe-inline'; "
                                       "style-src 'unsafe-inline'; connect-src 'self'; img-src data:"})


def _app_from_env():
    """uvicorn factory for `--workers N`: each worker process builds its own app from the settings."""
    s = json.loads(os.environ[SETTINGS_ENV])
    return create_app(s["run_dir"], s["api_key"], Limits(**s["limits"]), s["threads"])


def serve(run_dir: str | Path, host: str = "127.0.0.1", port: int = 8000, workers: int = 1,
          api_key: str | None = None, limits: Limits | None = None, log=LOG.info) -> None:
    """Load and verify the run, then serve it until interrupted."""
    _require()
    import uvicorn
    limits = limits or Limits()
    api_key = api_key or None
    if not is_loopback(host) and not api_key:
        bar = "!" * 78
        log(f"{bar}\nWARNING: serving on {host}, reachable from other machines, WITHOUT an API key.\n"
            f"Anyone who can reach port {port} can use this model. Give --api-key or set DOCCAT_API_KEY.\n{bar}")
    # one intra-op thread per model call: concurrency comes from the thread pool running many calls at once
    # (and from --workers); several threads per call oversubscribe the cores under load (measured: slower)
    threads = 1
    if workers > 1:
        create_app(run_dir, api_key, limits, threads)  # fail here, once, on a bad run directory
        os.environ[SETTINGS_ENV] = json.dumps({"run_dir": str(run_dir), "api_key": api_key,
                                               "limits": asdict(limits), "threads": threads})
        uvicorn.run("doccat.serve:_app_from_env", factory=True, host=host, port=port, workers=workers,
                    log_level="warning", limit_concurrency=limits.max_connections)
    else:
        app = create_app(run_dir, api_key, limits, threads)
        log(f"doccat serve: {Path(run_dir).name} verified and loaded; http://{host}:{port}/")
        uvicorn.run(app, host=host, port=port, log_level="warning", limit_concurrency=limits.max_connections)


PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>doccat</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font-family:system-ui,sans-serif;max-width:52rem;margin:2rem auto;padding:0 1rem;color:#222}
textarea{width:100%;height:9rem;font:inherit;padding:.5rem;box-sizing:border-box}
button{font:inherit;padding:.4rem 1.2rem;margin-top:.5rem;cursor:pointer}
#key{font:inherit;width:18rem}
#label{font-size:1.6rem;font-weight:bold;margin:.8rem 0}
.row{display:flex;align-items:center;gap:.5rem;margin:.2rem 0}
.name{width:12rem;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.track{flex:1;background:#eee;height:1.1rem;border-radius:3px}
.bar{background:#3a6ea5;height:100%;border-radius:3px;min-width:1px}
.bar.top{background:#d9822b}
.pct{width:4.5rem;text-align:right;font-variant-numeric:tabular-nums}
#error{color:#b00020}
.w{display:inline-block;margin:.15rem;padding:.1rem .4rem;border-radius:3px;background:#e8f0e8}
.w.neg{background:#f5e3e3}
</style></head><body>
<h1>doccat</h1>
<p><label>API key (if the server needs one): <input id="key" type="password" autocomplete="off"></label></p>
<textarea id="text" placeholder="Paste or type a text to classify"></textarea><br>
<button id="go">Classify</button>
<p id="error"></p>
<div id="result" hidden>
  <div><span id="what">Category</span>: <span id="label"></span></div>
  <div id="probs"><h3>Probability per class</h3><div id="bars"></div></div>
  <h3>Words that pushed the decision</h3>
  <p><small id="measure"></small></p><div id="words"></div>
</div>
<script>
const $ = id => document.getElementById(id);
$("key").value = sessionStorage.getItem("doccat-key") || "";
async function classify() {
  $("error").textContent = "";
  const key = $("key").value;
  sessionStorage.setItem("doccat-key", key);
  const headers = {"Content-Type": "application/json"};
  if (key) headers["X-API-Key"] = key;
  let r, body;
  try {
    r = await fetch("explain", {method: "POST", headers, body: JSON.stringify({text: $("text").value, top: 12})});
    body = await r.json();
  } catch (e) { $("error").textContent = "request failed: " + e; return; }
  if (!r.ok) {
    const d = body.detail;
    $("error").textContent = r.status + ": " + (typeof d === "string" ? d : JSON.stringify(d));
    return;
  }
  // regression: the value, no probabilities; multilabel: the labels at or above the threshold
  const what = {classify: "Category", multilabel: "Labels", regression: "Predicted value"}[body.task];
  $("what").textContent = what;
  $("label").textContent = body.task === "regression" ? body.value.toFixed(4)
    : body.task === "multilabel" ? (body.labels.join(", ") || "(none at or above " + body.threshold + ")") : body.label;
  $("probs").hidden = body.task === "regression";
  $("measure").textContent = body.measure;
  const bars = $("bars"); bars.replaceChildren();
  const classes = Object.keys(body.probs || {}).sort((a, b) => body.probs[b] - body.probs[a]);
  for (const c of classes) {
    const p = body.probs[c];
    const row = document.createElement("div"); row.className = "row"; row.dataset.class = c;
    const name = document.createElement("span"); name.className = "name"; name.textContent = c; name.title = c;
    const track = document.createElement("div"); track.className = "track";
    const bar = document.createElement("div"); bar.className = "bar" + (c === body.label ? " top" : "");
    bar.style.width = (100 * p).toFixed(2) + "%";
    track.append(bar);
    const pct = document.createElement("span"); pct.className = "pct"; pct.textContent = (100 * p).toFixed(1) + "%";
    row.append(name, track, pct); bars.append(row);
  }
  const words = $("words"); words.replaceChildren();
  for (const w of body.words) {
    const v = body.method === "exact" ? w.contribution : w.drop;
    const s = document.createElement("span"); s.className = "w" + (v < 0 ? " neg" : "");
    s.textContent = w.word + " " + (v >= 0 ? "+" : "") + v.toFixed(3);
    words.append(s);
  }
  $("result").hidden = false;
}
$("go").addEventListener("click", classify);
$("text").addEventListener("keydown", e => { if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) classify(); });
</script></body></html>
"""
