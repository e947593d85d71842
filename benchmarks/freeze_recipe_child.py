"""Run in a generated project's interpreter: load and warm it like a pre-fork master, freeze by one recipe, fork.

    python freeze_recipe_child.py PROJECT_DIR RECIPE REQUESTS URL [URL ...]

RECIPE: ``none`` (prewarm: the collector on throughout), ``collect-freeze`` (the lab's prewarm-freeze: collector
off while loading, ``gc.collect()`` then ``gc.freeze()`` before fork) or ``freeze`` (Python's gc documentation:
collector off while loading, ``gc.freeze()`` before fork, no collection). One worker, collector on, serves
REQUESTS requests over the URLs; prints one JSON line with its private memory (USS) after serving and after a
full collection. Standard library and the project only: nothing of the lab is loaded into the master.
"""

import gc
import io
import json
import os
import sys


def uss_mb() -> float:
    private = 0
    with open("/proc/self/smaps_rollup") as handle:
        for line in handle:
            if line.startswith(("Private_Clean:", "Private_Dirty:")):
                private += int(line.split()[1])
    return private / 1024


def get(application, url: str) -> str:
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": url,
        "QUERY_STRING": "",
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
        "HTTP_HOST": "localhost",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    status = []
    body = application(environ, lambda code, headers, exc_info=None: status.append(code))
    try:
        for _chunk in body:
            pass
    finally:
        getattr(body, "close", lambda: None)()
    return status[0]


def serve(application, urls: list[str], requests: int, out) -> None:
    gc.enable()
    for number in range(requests):
        get(application, urls[number % len(urls)])
    after_traffic = uss_mb()
    gc.collect()
    out.write(
        json.dumps({"uss_mb": round(after_traffic, 1), "uss_collected_mb": round(uss_mb(), 1)}).encode()
    )


def main(project: str, recipe: str, requests: int, urls: list[str]) -> int:
    if recipe != "none":
        gc.disable()
    os.chdir(project)
    sys.path.insert(0, project)
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    from config.wsgi import application
    from django.db import connections

    for url in urls:
        get(application, url)
    connections.close_all()
    if recipe == "collect-freeze":
        gc.collect()
    if recipe != "none":
        gc.freeze()
    master = uss_mb()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.close(read)
            with os.fdopen(write, "wb") as out:
                serve(application, urls, requests, out)
            code = 0
        finally:
            os._exit(code)
    os.close(write)
    with os.fdopen(read, "rb") as handle:
        report = handle.read()
    _, status = os.waitpid(pid, 0)
    if status != 0 or not report:
        print(json.dumps({"error": f"worker exited with status {status}"}))
        return 1
    print(json.dumps({"recipe": recipe, "master_uss_mb": round(master, 1), **json.loads(report)}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4:]))
