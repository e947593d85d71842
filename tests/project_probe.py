"""Run inside a generated project (its own interpreter): everything a test wants to know, as one JSON line.

Usage: python project_probe.py PROJECT_DIR
Checks (`check` at WARNING level, `makemigrations --check`, `migrate --check`), GETs every manifest URL through
Django's test client, and POSTs a few edit forms back unchanged (a redirect is the expected answer).
"""

import io
import json
import os
import sys

POSTED_FORMS = 5


def _form_data(form) -> dict:
    data = {}
    for name in form.fields:
        value = form[name].value()
        if value is None or value is False:
            continue
        data[name] = [str(v) for v in value] if isinstance(value, list | tuple) else str(value)
    return data


def main(project: str) -> int:
    os.chdir(project)
    sys.path.insert(0, project)
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client
    from django.test.utils import setup_test_environment

    report = {"problems": []}
    try:
        call_command("check", fail_level="WARNING", stdout=io.StringIO())
    except Exception as exc:  # SystemCheckError lists every issue
        report["problems"].append(f"check: {exc}")
    for command, options in (
        ("makemigrations", {"check": True, "dry_run": True}),
        ("migrate", {"check": True}),
    ):
        try:
            call_command(command, **options, stdout=io.StringIO())
        except SystemExit as exc:
            report["problems"].append(f"{command} --check exited {exc.code}")

    setup_test_environment()
    with open("manifest.json") as handle:
        manifest = json.load(handle)
    client = Client(HTTP_HOST="localhost", raise_request_exception=False)
    failures = {}
    posted = 0
    for url in manifest["urls"]:
        response = client.get(url)
        if response.status_code != 200:
            failures[url] = response.status_code
        elif url.endswith("/edit/") and posted < POSTED_FORMS:
            posted += 1
            answer = client.post(url, _form_data(response.context["form"]))
            if answer.status_code != 302:
                errors = answer.context["form"].errors.as_json() if answer.context else ""
                failures[f"POST {url}"] = f"{answer.status_code} {errors}"
    report.update(checked=len(manifest["urls"]), posted=posted, failures=failures)
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
