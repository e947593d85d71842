"""Run inside a generated project: GET every URL of its manifest through Django's test client.

Usage: python url_probe.py PROJECT_DIR  →  prints JSON {"checked": N, "failures": {url: status or error}}.
"""

import json
import os
import sys


def main(project: str) -> int:
    os.chdir(project)
    sys.path.insert(0, project)
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    import django

    django.setup()
    from django.test import Client

    urls = json.load(open("manifest.json"))["urls"]
    client = Client(HTTP_HOST="localhost", raise_request_exception=False)
    failures = {}
    for url in urls:
        response = client.get(url)
        if response.status_code != 200:
            failures[url] = response.status_code
    print(json.dumps({"checked": len(urls), "failures": failures}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
