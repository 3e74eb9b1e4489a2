"""`doccat serve`: the real server process on a loopback port, spoken to over HTTP (and by a browser)."""
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

httpx = pytest.importorskip("httpx")
pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

KEY = "s3cret-key"
LIMITS = {"max_texts": 5, "max_text_bytes": 300, "max_request_bytes": 3000, "max_explain_words": 40, "body_seconds": 2}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, run_dir, *extra, env=None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "doccat", "serve", str(run_dir), "--port", str(self.port), *map(str, extra)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, **(env or {})})
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.proc.stderr.read()}")
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("server never became healthy")

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


@pytest.fixture(scope="module")
def server(small_run):
    s = Server(small_run, *[x for k, v in LIMITS.items() for x in (f"--{k.replace('_', '-')}", v)])
    yield s
    s.stop()


@pytest.fixture(scope="module")
def keyed_server(small_run):
    s = Server(small_run, env={"DOCCAT_API_KEY": KEY})  # the key from the environment
    yield s
    s.stop()


def post(server, path, body, **kw):
    return httpx.post(server.url + path, json=body, timeout=30, **kw)


TEXTS = ["goal match team today", "market stock shares profit", "space nasa telescope", "the of and", ""]


def test_predictions_equal_doccat_predict(server, small_run):
    cli = subprocess.run([sys.executable, "-m", "doccat", "predict", str(small_run), *TEXTS, "-k", "3"],
                         capture_output=True, text=True, check=True).stdout.splitlines()
    expected = [json.loads(line) for line in cli]
    r = post(server, "/predict", {"texts": TEXTS, "k": 3})
    assert r.status_code == 200, r.text
    got = r.json()["predictions"]
    assert len(got) == len(expected) and not any("value" in g for g in got)  # a classifier's answers hold no value
    for g, e in zip(got, expected):
        assert g["labels"] == e["labels"]
        assert g["probs"] == pytest.approx(e["probs"], abs=1e-6)
    one = post(server, "/predict", {"text": TEXTS[0], "k": 3}).json()["predictions"]  # one text, same numbers
    assert one[0]["labels"] == got[0]["labels"] and one[0]["probs"] == pytest.approx(got[0]["probs"], abs=1e-6)
    kept = post(server, "/predict", {"text": TEXTS[0], "k": 3, "threshold": 0.5}).json()["predictions"][0]
    assert kept["labels"] == got[0]["labels"][:1] and kept["probs"][0] >= 0.5


def test_the_page_says_which_run_it_serves(server, small_run):
    page = httpx.get(server.url + "/", timeout=10).text
    assert f"Serving <b>{small_run.name}: classify, 3 classes</b>" in page


def test_explain_health_model(server, small_run):
    import doccat
    from doccat.explain import explain
    e = post(server, "/explain", {"text": "goal match team", "top": 3}).json()
    assert e["label"] == "sports" and set(e["probs"]) == {"business", "science", "sports"} and len(e["words"]) == 3
    assert e == explain(doccat.load(small_run), "goal match team", top=3)  # the same view as the CLI's --json
    assert e["method"] == "exact" and e["words"][0]["contribution"] > 0
    assert httpx.get(server.url + "/health").json()["status"] == "ok"
    m = httpx.get(server.url + "/model").json()
    manifest = json.loads((small_run / "manifest.json").read_text())["files"]
    assert m["artifacts"] == manifest and "model.safetensors" in m["artifacts"]
    assert m["labels"] == ["business", "science", "sports"]
    assert m["config"]["model"]["embed_dim"] == 16 and "valid" in m["metrics"]
    schema = httpx.get(server.url + "/openapi.json").json()
    assert {"/predict", "/explain", "/health", "/model"} <= set(schema["paths"])
    for path, method in (("/predict", "post"), ("/explain", "post"), ("/health", "get"), ("/model", "get")):
        documented = set(schema["paths"][path][method]["responses"])
        assert {"200", "401", "408", "413", "500", "503"} <= documented, (path, documented)
    assert "422" in schema["paths"]["/predict"]["post"]["responses"]


def test_a_regression_run_serves_values_clipped_to_its_training_range(tmp_path):
    import doccat
    texts = [" ".join(["great"] * (i % 5) + ["awful"] * (i % 3) + ["the", "film"]) for i in range(120)]
    values = [float(i % 5 - i % 3) for i in range(120)]  # -2 to 4: the count of great minus the count of awful
    doccat.train(texts, values, ngrams=1, out=tmp_path / "reg", log=lambda *a: None)
    texts_in = ["great " * 30 + "film", "great awful the film"]
    raw = [p.value for p in doccat.train(texts, values, ngrams=1, clip_predictions=False, log=lambda *a: None)
           .predict(texts_in)]
    low, high = doccat.load(tmp_path / "reg").target_range_
    assert raw[0] > high + 0.5 and low < raw[1] < high  # the range is left without clipping
    server = Server(tmp_path / "reg")
    try:
        got = post(server, "/predict", {"texts": texts_in}).json()["predictions"]
    finally:
        server.stop()
    assert got[0]["value"] == high and got[1]["value"] == pytest.approx(raw[1])


def _json_error(r, status):
    assert r.status_code in status, (r.status_code, r.text)
    assert r.headers["content-type"].startswith("application/json")
    assert "detail" in r.json()


def test_limits_get_413_with_json(server):
    _json_error(post(server, "/predict", {"texts": ["a"] * (LIMITS["max_texts"] + 1)}), {413})
    _json_error(post(server, "/predict", {"texts": ["ok", "é" * 151]}), {413})  # 302 bytes > 300
    _json_error(post(server, "/explain", {"text": "x" * 301}), {413})
    _json_error(post(server, "/predict", {"text": "x " * 2000}), {413})  # body over 3000 bytes
    # a body with no Content-Length (chunked): counted as it arrives
    chunks = (b'{"text": "' + b"x" * 1000, b"y" * 1000, b"z" * 1000, b'"}')
    r = httpx.post(server.url + "/predict", content=iter(chunks), headers={"content-type": "application/json"})
    _json_error(r, {413})
    assert post(server, "/predict", {"texts": ["a"] * LIMITS["max_texts"]}).status_code == 200  # at the limit
    _json_error(post(server, "/explain", {"text": " ".join(f"w{i}" for i in range(41))}), {413})  # 41 distinct words
    assert post(server, "/explain", {"text": " ".join(f"w{i}" for i in range(40))}).status_code == 200


def test_a_body_that_never_arrives_gets_408_within_the_body_timeout(server):
    import socket
    import time
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        t0 = time.monotonic()
        sock.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 2000\r\n\r\n{\"text\": ")  # announces 2,000 bytes, sends 9
        reply = sock.recv(4096)
        waited = time.monotonic() - t0
        head, _, body = reply.partition(b"\r\n\r\n")
        length = int(next(line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")))
        while len(body) < length:  # the body may come in a segment of its own
            body += sock.recv(4096)
        reply = head + b"\r\n\r\n" + body
    assert reply.startswith(b"HTTP/1.1 408") and b"did not arrive within 2 s" in reply
    assert LIMITS["body_seconds"] <= waited < LIMITS["body_seconds"] + 5
    assert post(server, "/predict", {"text": "goal"}).status_code == 200  # and the server goes on


MALFORMED = [b"{bad json", b"", b"[1, 2]", b"null", b'"text"', b"{}", b'{"text": 5}', b'{"texts": []}',
             b'{"texts": "not a list"}', b'{"text": "a", "texts": ["b"]}', b'{"text": "a", "k": 0}',
             b'{"text": "a", "k": "two"}', b'{"text": "a", "threshold": NaN}', b'{"text": "a", "threshold": 2}',
             b'{"text": "a", "extra": 1}', b'{"text": "a", "k": true}', b'{"text": "a", "threshold": "0.5"}',
             b'{"text": "a", "k": 1.0}', b'{"text": "\\ud800"}', b"\xff\xfe{", b'{"text": "a"' + b"]" * 50]


@pytest.mark.parametrize("path", ["/predict", "/explain"])
def test_malformed_bodies_get_4xx_with_json(server, path):
    for body in MALFORMED:
        r = httpx.post(server.url + path, content=body, headers={"content-type": "application/json"})
        _json_error(r, {400, 413, 422})
    r = httpx.post(server.url + path, content=b'{"text": "a"}', headers={"content-type": "text/plain"})
    _json_error(r, {400, 415, 422})


def test_api_key_required(keyed_server):
    s = keyed_server
    for path in ("/model", "/openapi.json"):
        _json_error(httpx.get(s.url + path), {401})
        _json_error(httpx.get(s.url + path, headers={"X-API-Key": "wrong"}), {401})
    _json_error(post(s, "/predict", {"text": "goal"}), {401})
    _json_error(post(s, "/predict", {"text": "goal"}, headers={"X-API-Key": KEY + "x"}), {401})
    _json_error(post(s, "/explain", {"text": "goal"}, headers={"Authorization": "Bearer nope"}), {401})
    assert post(s, "/predict", {"text": "goal"}, headers={"X-API-Key": KEY}).status_code == 200
    assert post(s, "/explain", {"text": "goal"}, headers={"Authorization": f"Bearer {KEY}"}).status_code == 200
    assert httpx.get(s.url + "/").status_code == 200 and httpx.get(s.url + "/health").status_code == 200


def test_concurrent_clients_all_answered(server):
    with ThreadPoolExecutor(16) as pool:
        codes = list(pool.map(lambda i: post(server, "/predict", {"texts": TEXTS[:4], "k": 2}).status_code,
                              range(64)))
    assert codes == [200] * 64


def test_non_loopback_without_key_warns(small_run, monkeypatch):
    import uvicorn
    from doccat.serve import is_loopback, serve
    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: None)  # build everything, bind nothing
    said = []
    serve(small_run, host="0.0.0.0", log=said.append)
    assert "WARNING" in said[0] and "API key" in said[0]
    said.clear()
    serve(small_run, host="0.0.0.0", api_key="k", log=said.append)
    serve(small_run, log=said.append)
    assert not any("WARNING" in s for s in said)
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("example.org")


def test_serve_refuses_a_bad_run_and_explains_a_missing_extra(tmp_path, monkeypatch):
    out = subprocess.run([sys.executable, "-m", "doccat", "serve", str(tmp_path), "--port", str(free_port())],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "doccat: error:" in out.stderr and "manifest" in out.stderr
    from doccat.config import ConfigError
    from doccat.serve import create_app
    monkeypatch.setitem(sys.modules, "fastapi", None)  # as if not installed
    with pytest.raises(ConfigError, match=r"pip install 'doccat\[serve\]'"):
        create_app(tmp_path)


@pytest.mark.skipif(shutil.which("st") is None and not (Path(sys.executable).parent / "st").exists(),
                    reason="needs schemathesis")
def test_schemathesis_finds_no_server_error(server, tmp_path):
    st = shutil.which("st") or str(Path(sys.executable).parent / "st")
    out = subprocess.run([st, "run", server.url + "/openapi.json", "--checks", "not_a_server_error",
                          "--max-examples", "40", "--seed", "1", "--workers", "2"],
                         capture_output=True, text=True, timeout=120, cwd=tmp_path)  # its cache dir goes there
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]


@pytest.fixture(scope="module")
def regression_server(tmp_path_factory):
    import doccat
    from conftest import make_corpus
    texts, labels = make_corpus(30, seed=1)
    run = tmp_path_factory.mktemp("regression") / "run"
    doccat.train(texts, [{"sports": 1.0, "business": 5.0, "science": 9.0}[y] for y in labels], task="regression",
                 out=run, log=lambda *a: None)
    s = Server(run)
    yield s
    s.stop()


def test_regression_explain_is_a_value_and_the_page_says_so(regression_server, browser):
    e = post(regression_server, "/explain", {"text": "market stock shares"}).json()
    assert e["task"] == "regression" and "probs" not in e and "label" not in e
    assert e["value"] == pytest.approx(e["score"]["total"]) and abs(e["value"] - 5) < 2  # business's 5
    page = browser.new_page()
    page.goto(regression_server.url + "/", wait_until="load")
    page.fill("#text", "market stock shares")
    page.click("#go")
    page.wait_for_selector("#result:not([hidden])")
    assert page.text_content("#what") == "Predicted value" and page.text_content("#label") == f"{e['value']:.4f}"
    assert page.locator("#probs").is_hidden() and page.locator("#words .w").count() == 3
    assert "predicted value" in page.text_content("#measure")


def test_page_in_headless_chromium(keyed_server, tmp_path, browser):
    from matplotlib.image import imread
    shot = tmp_path / "page.png"
    page = browser.new_page(viewport={"width": 1000, "height": 800})
    external = []
    page.on("request", lambda req: None if req.url.startswith(keyed_server.url) else external.append(req.url))
    page.goto(keyed_server.url + "/", wait_until="load")
    page.fill("#text", "market stock shares profit bank")
    page.click("#go")  # no key yet: the server's 401 is shown
    page.wait_for_function("document.getElementById('error').textContent.includes('401')")
    page.fill("#key", KEY)
    page.click("#go")
    page.wait_for_selector("#result:not([hidden])")
    assert page.text_content("#label") == "business"
    rows = page.eval_on_selector_all(
        "#bars .row", "rs => rs.map(r => [r.dataset.class, r.querySelector('.bar').getBoundingClientRect().width])")
    assert sorted(c for c, _ in rows) == ["business", "science", "sports"]
    assert rows[0][0] == "business" and rows[0][1] > rows[1][1] >= 0  # longest bar first
    assert page.locator("#words .w").count() > 0
    page.screenshot(path=str(shot))
    assert external == []
    pixels = imread(shot)
    assert pixels.shape[:2] == (800, 1000)
    assert pixels[..., :3].std() > 0.05  # not a blank page


def test_a_linear_run_is_served_without_torch_until_explained(tmp_path):
    import doccat
    from conftest import make_corpus
    doccat.train(*make_corpus(40, seed=5), out=tmp_path / "run", log=lambda *a: None)  # the default: linear
    code = ("import json, sys\nfrom fastapi.testclient import TestClient\nfrom doccat.serve import create_app\n"
            "client = TestClient(create_app(sys.argv[1]))\n"
            "r = client.post('/predict', json={'texts': json.loads(sys.argv[2]), 'k': 3})\n"
            "assert r.status_code == 200, r.text\nassert 'torch' not in sys.modules, 'torch was imported'\n"
            "m = client.get('/model').json()\n"
            "e = client.post('/explain', json={'text': 'goal match team', 'top': 3})\n"
            "assert e.status_code == 200, e.text\n"
            "print(json.dumps({'predict': r.json(), 'model': m, 'explain': e.json()}))\n")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "run"), json.dumps(TEXTS)], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout)
    full = doccat.load(tmp_path / "run", device="cpu")
    for g, e in zip(got["predict"]["predictions"], full.predict(TEXTS, k=3), strict=True):
        assert g["labels"] == e.labels and g["probs"] == pytest.approx(e.probs, abs=1e-6)
    assert got["model"]["metrics"] == json.loads((tmp_path / "run" / "metrics.json").read_text())
    from doccat.explain import explain
    assert got["explain"] == explain(full, "goal match team", top=3)
