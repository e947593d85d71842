"""Lay out the real projects that calibrate the `realistic` profile, each with its SQLite database.

Run after ``pip install -e '.[calibration]'`` (``make calibration-projects`` does both). Writes under
``generated/calibration/`` by default:

- ``oscarshop/``: a django-oscar shop set up as Oscar's "Building your own shop" guide says (the settings, URLconf and
  WSGI glue are in ``calibration/projects/oscarshop``; every app is Oscar's), migrated.
- ``pretalx/``: pretalx, the conference-schedule tool by pretix's authors, used as shipped and deployed as its
  administrator guide says: a ``pretalx.cfg`` naming the data and static directories (absolute: ``rebuild`` hands
  the static one to a Node build that runs elsewhere) on SQLite with debug off; migrated, its static files built
  with ``pretalx rebuild`` (collectstatic and the schedule editor's ``npm ci`` + build), an administrator and an
  organiser made by ``pretalx init``, and content by its own ``create_test_event``: DemoCon with a published
  schedule, talks and speakers. pretalx draws a talk's and a speaker's code at random, so one scheduled talk and its
  speaker then get fixed codes for the sweep to name. pretalx pins older lines than pretix does (Markdown 3.10,
  Django REST framework 3.16, celery 5.5, …), so it gets a virtual environment of its own, ``venvs/pretalx/``, as
  the wiki does (below), with freezegun, which ``create_test_event`` needs.
- ``pretix/``: pretix, the ticket shop, used as shipped: only a ``pretix.cfg`` naming the data directory; migrated,
  and its static files compiled with ``pretix rebuild`` as a deployment does.
- ``wagtailsite/``: a Wagtail CMS, the project ``wagtail start`` writes, run with its own production settings; the
  only addition is the ``settings/local.py`` those settings import for a deployment's secret key and host names
  (``calibration/projects/wagtailsite/local.py``). Migrated (which creates the home page), static files collected
  (its production settings use a manifest), and three pages added and published as an editor would.
- ``wikisite/``: a django-wiki, with the settings and URLconf its installation guide asks for
  (``calibration/projects/wikisite``), migrated, with a root article and three more written in its Markdown.
  django-wiki 0.13 caps Markdown below 3.10 where pretix pins 3.11, so it lives in a virtual environment of its
  own, ``venvs/wikisite/`` (with this lab installed beside it, which brings the servers); its sweep names that
  interpreter (``python:``).
- ``nautobot/``: Nautobot 3.2.7, the network source of truth (186 models outside django.contrib), in its own
  environment ``venvs/nautobot/``, configured by ``calibration/projects/nautobot/nautobot_config.py`` (Nautobot's
  own settings without Redis). It runs on PostgreSQL only: migrated on the lab's throwaway cluster, static files
  collected, a small network entered through its models, and the database kept as ``nautobot/nautobot.dump``,
  which ``calibration/nautobot_db.py`` restores around every command that runs Nautobot. Needs PostgreSQL's
  server programs (``initdb``, ``postgres``, ``pg_dump``, ``pg_restore``).

A project is rebuilt only when its directory lacks the ``.prepared`` stamp. A failure removes the half-made directory.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
STAMP = ".prepared"

PRETIX_CONFIG = """\
[pretix]
instance_name=calibration
url=http://127.0.0.1
datadir=data
[django]
debug=off
[database]
backend=sqlite3
"""


# pretalx's configuration as its administrator guide lays it out, the paths filled in by prepare_pretalx.
PRETALX_CONFIG = """\
[filesystem]
data = {target}/data
static = {target}/static
[site]
debug = False
url = http://127.0.0.1
[database]
backend = sqlite3
"""
# What `pretalx init --no-input` reads: the administrator and the first organiser.
PRETALX_INIT = {
    "DJANGO_SUPERUSER_EMAIL": "admin@example.org",
    "DJANGO_SUPERUSER_PASSWORD": "calibration",
    "PRETALX_INIT_ORGANISER_NAME": "Calibration",
    "PRETALX_INIT_ORGANISER_SLUG": "calibration",
}
# The first talk of DemoCon's published schedule and its first speaker get the codes the sweep names.
PRETALX_CODES = """\
from pretalx.event.models import Event

event = Event.objects.get(slug="democon")
slot = event.current_schedule.talks.filter(is_visible=True).order_by("start", "room__position").first()
submission, speaker = slot.submission, slot.submission.speakers.order_by("pk").first()
submission.code, speaker.code = "TALKAA", "SPEAKR"
submission.save(update_fields=["code"])
speaker.save(update_fields=["code"])
"""

# Pages an editor would add, through Wagtail's own page API (the home page comes from the template's migration).
WAGTAIL_PAGES = """\
from home.models import HomePage

home = HomePage.objects.get(slug="home")
for slug, title in (("about", "About us"), ("news", "News"), ("contact", "Contact")):
    home.add_child(instance=HomePage(title=title, slug=slug)).save_revision().publish()
"""

# Articles a writer would add, through django-wiki's own API: the root article, then three in a small tree.
WIKI_ARTICLES = """\
from wiki.models import URLPath

ARTICLES = [
    ("", "Calibration wiki", "[TOC]\\n\\n# Welcome\\n\\n* [Getting started](/getting-started/)\\n* [Handbook](/handbook/)\\n"),
    ("getting-started", "Getting started", "# Getting started\\n\\n1. Read the [handbook](/handbook/).\\n\\n```python\\nprint(1)\\n```\\n"),
    ("handbook", "Handbook", "[TOC]\\n\\n# Handbook\\n\\n| a | b |\\n|---|---|\\n| 1 | 2 |\\n\\nSee [style](/handbook/style/).\\n"),
    ("handbook/style", "Style", "# Style\\n\\n> Write short sentences.\\n\\n[article_list depth:2]\\n"),
]
URLPath.create_root(title=ARTICLES[0][1], content=ARTICLES[0][2])
for path, title, content in ARTICLES[1:]:
    parent, _, slug = path.rpartition("/")
    URLPath.create_urlpath(URLPath.get_by_path(parent), slug, title=title, content=content)
"""

# A small network an operator would enter, through Nautobot's own models, with fixed ids so that the sweep can name
# detail pages: 3 sites, 6 racks, 24 devices with 4 interfaces each, 15 prefixes, 36 addresses, 3 VLANs, 6 circuits.
NAUTOBOT_INVENTORY = """\
import uuid

from django.contrib.contenttypes.models import ContentType

from nautobot.circuits.models import Circuit, CircuitType, Provider
from nautobot.dcim.models import Device, DeviceType, Interface, Location, LocationType, Manufacturer, Rack
from nautobot.extras.models import Role, Status
from nautobot.ipam.models import IPAddress, Namespace, Prefix, VLAN
from nautobot.tenancy.models import Tenant


def uid(n):
    return uuid.UUID(f"00000000-0000-4000-8000-{n:012d}")


active = Status.objects.get(name="Active")
models = [Device, Rack, Prefix, IPAddress, VLAN, Circuit, Interface, Location]
for model in models:
    active.content_types.add(ContentType.objects.get_for_model(model))
site = LocationType.objects.create(name="Site")
site.content_types.add(*[ContentType.objects.get_for_model(m) for m in (Device, Rack, Prefix, VLAN)])
tenants = [Tenant.objects.create(id=uid(100 + i), name=f"Tenant {i}") for i in range(3)]
locations = [
    Location.objects.create(id=uid(200 + i), name=f"Site {i}", location_type=site, status=active, tenant=tenants[i])
    for i in range(3)
]
role = Role.objects.create(name="Leaf switch")
role.content_types.add(ContentType.objects.get_for_model(Device))
vendor = Manufacturer.objects.create(name="Acme Networks")
model = DeviceType.objects.create(manufacturer=vendor, model="AX-48")
namespace = Namespace.objects.get(name="Global")
racks = [
    Rack.objects.create(id=uid(300 + i), name=f"Rack {i}", location=locations[i % 3], status=active)
    for i in range(6)
]
for i in range(24):
    device = Device.objects.create(
        id=uid(400 + i), name=f"leaf-{i:02d}", device_type=model, role=role, location=locations[i % 3],
        rack=racks[i % 6], status=active, tenant=tenants[i % 3],
    )
    for port in range(4):
        Interface.objects.create(device=device, name=f"eth{port}", type="1000base-t", status=active)
for i in range(3):
    Prefix.objects.create(id=uid(500 + i), prefix=f"10.{i}.0.0/16", namespace=namespace, status=active, type="container")
    for j in range(4):
        Prefix.objects.create(prefix=f"10.{i}.{j}.0/24", namespace=namespace, status=active, type="network")
        for host in range(1, 4):
            IPAddress.objects.create(address=f"10.{i}.{j}.{host}/24", namespace=namespace, status=active)
    VLAN.objects.create(vid=100 + i, name=f"vlan-{100 + i}", status=active)
carrier = Provider.objects.create(name="Carrier One")
transit = CircuitType.objects.create(name="Transit")
for i in range(6):
    Circuit.objects.create(id=uid(600 + i), cid=f"C-{i:04d}", provider=carrier, circuit_type=transit, status=active)
print(Device.objects.count(), "devices")
"""

# Projects whose pins conflict with the calibration extra: each gets a virtual environment of its own.
OWN_ENVIRONMENT = {
    "pretalx": ["pretalx==2025.2.2", "freezegun==1.5.5"],
    "wikisite": ["wiki==0.13.0"],
    "nautobot": ["nautobot==3.2.7"],
}


def _run(args: list[str], cwd: Path, env: dict[str, str] | None = None, stdin: str | None = None) -> None:
    subprocess.run(
        args,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        check=True,
        input=stdin,
        text=True,
        stdin=None if stdin is not None else subprocess.DEVNULL,
    )


def interpreter(name: str, out: Path) -> str:
    """The Python that runs project ``name``: this one, or its own environment (made and filled on first use,
    with this lab installed beside the project so that its ``run-experiments`` can measure it)."""
    if name not in OWN_ENVIRONMENT:
        return sys.executable
    venv = out / "venvs" / name
    python = venv / "bin" / "python"
    if not (venv / STAMP).is_file():
        shutil.rmtree(venv, ignore_errors=True)
        print(f"{name}: installing {' '.join(OWN_ENVIRONMENT[name])} into {venv} …", flush=True)
        try:
            _run([sys.executable, "-m", "venv", str(venv)], cwd=REPO)
            _run(
                [str(python), "-m", "pip", "install", "--quiet", *OWN_ENVIRONMENT[name], "-e", str(REPO)],
                cwd=REPO,
            )
        except BaseException:
            shutil.rmtree(venv, ignore_errors=True)
            raise
        (venv / STAMP).write_text("")
    return str(python)


def _copy_glue(name: str, target: Path) -> None:
    shutil.copytree(
        HERE / "projects" / name, target, ignore=shutil.ignore_patterns("__pycache__", "*.sqlite3")
    )


def prepare_oscarshop(target: Path, python: str) -> None:
    _copy_glue("oscarshop", target)
    _run([python, "manage.py", "migrate", "--no-input", "-v0"], cwd=target)


def prepare_pretix(target: Path, python: str) -> None:
    target.mkdir(parents=True)
    (target / "data").mkdir()
    (target / "pretix.cfg").write_text(PRETIX_CONFIG)
    env = {"PRETIX_CONFIG_FILE": str(target / "pretix.cfg")}
    _run([python, "-m", "pretix", "migrate", "--no-input", "-v0"], cwd=target, env=env)
    _run([python, "-m", "pretix", "rebuild"], cwd=target, env=env)


def prepare_pretalx(target: Path, python: str) -> None:
    target.mkdir(parents=True)
    (target / "data").mkdir()
    (target / "pretalx.cfg").write_text(PRETALX_CONFIG.format(target=target.resolve()))
    env = {"PRETALX_CONFIG_FILE": str(target / "pretalx.cfg")}
    _run([python, "-m", "pretalx", "migrate", "--no-input", "-v0"], cwd=target, env=env)
    _run([python, "-m", "pretalx", "rebuild", "--silent"], cwd=target, env=env)
    _run([python, "-m", "pretalx", "init", "--no-input"], cwd=target, env={**env, **PRETALX_INIT})
    _run([python, "-m", "pretalx", "create_test_event", "--seed", "5"], cwd=target, env=env)
    _run(
        [python, "-m", "pretalx", "shell", "--event", "democon", "-v0"],
        cwd=target,
        env=env,
        stdin=PRETALX_CODES,
    )


def prepare_wagtailsite(target: Path, python: str) -> None:
    target.mkdir(parents=True)
    _run([str(Path(python).parent / "wagtail"), "start", "wagtailsite", str(target)], cwd=target.parent)
    shutil.copyfile(
        HERE / "projects" / "wagtailsite" / "local.py", target / "wagtailsite" / "settings" / "local.py"
    )
    env = {"DJANGO_SETTINGS_MODULE": "wagtailsite.settings.production"}
    _run([python, "manage.py", "migrate", "--no-input", "-v0"], cwd=target, env=env)
    _run([python, "manage.py", "collectstatic", "--no-input", "-v0"], cwd=target, env=env)
    _run([python, "manage.py", "shell", "-v0"], cwd=target, env=env, stdin=WAGTAIL_PAGES)


def prepare_wikisite(target: Path, python: str) -> None:
    _copy_glue("wikisite", target)
    _run([python, "manage.py", "migrate", "--no-input", "-v0"], cwd=target)
    _run([python, "manage.py", "shell", "-v0"], cwd=target, stdin=WIKI_ARTICLES)


def prepare_nautobot(target: Path, python: str) -> None:
    from nautobot_db import dump_database, nautobot_database  # beside this file, on sys.path[0]

    _copy_glue("nautobot", target)
    server = [str(Path(python).parent / "nautobot-server"), "--config", str(target / "nautobot_config.py")]
    with nautobot_database(dump=None) as env:
        _run([*server, "migrate", "--no-input", "-v0"], cwd=target, env=env)
        _run([*server, "collectstatic", "--no-input", "-v0"], cwd=target, env=env)
        _run([*server, "shell", "-v0"], cwd=target, env=env, stdin=NAUTOBOT_INVENTORY)
        dump_database(env, target / "nautobot.dump")


PROJECTS = {
    "oscarshop": prepare_oscarshop,
    "pretalx": prepare_pretalx,
    "pretix": prepare_pretix,
    "wagtailsite": prepare_wagtailsite,
    "wikisite": prepare_wikisite,
    "nautobot": prepare_nautobot,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "generated" / "calibration")
    parser.add_argument("projects", nargs="*", help=f"any of {', '.join(PROJECTS)} (default: all)")
    args = parser.parse_args(argv)
    unknown = [name for name in args.projects if name not in PROJECTS]
    if unknown:
        parser.error(f"unknown project {unknown[0]!r}; choose from {', '.join(PROJECTS)}")
    for name in args.projects or PROJECTS:
        target = args.out / name
        if (target / STAMP).is_file():
            print(f"{name}: ready in {target}")
            continue
        shutil.rmtree(target, ignore_errors=True)
        print(f"{name}: preparing in {target} …", flush=True)
        try:
            PROJECTS[name](target, interpreter(name, args.out))
        except BaseException:
            shutil.rmtree(target, ignore_errors=True)
            raise
        (target / STAMP).write_text("")
        print(f"{name}: ready in {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
