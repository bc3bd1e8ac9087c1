"""The apps' import order, kept by a test (see README, *Layout*).

common <- clients <- scheduling <- billing <- messaging <- automation, campaigns <- monitoring,
dashboard <- fitcrm

A module may import from its own app and from the layers below it. Admin modules
are the one exception: an app's admin may show inlines of the apps built on it.
Migrations and tests are not app code.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

LAYER = {
    "common": 0,
    "clients": 1,
    "scheduling": 2,
    # Money follows what was booked (credits spent by sessions, no-show fees); booking
    # never needs to know what it costs.
    "billing": 3,
    "messaging": 4,
    "automation": 5,
    "campaigns": 5,
    # Health checks read every app below (messages, heartbeat, scan state).
    "monitoring": 6,
    # The home page reads every app below (sessions, money, inbox, delivery, the forecast).
    "dashboard": 6,
    "fitcrm": 7,
}


def _is_admin_module(path: Path) -> bool:
    return path.name in ("admin.py", "admin_scoping.py") or "admin" in path.parent.name


def app_modules():
    for app in LAYER:
        for path in sorted((ROOT / app).rglob("*.py")):
            parts = path.relative_to(ROOT).parts
            if "migrations" in parts:
                continue
            yield app, path


def imported_apps(path: Path):
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        for name in names:
            top = name.split(".")[0]
            if top in LAYER:
                yield node.lineno, top
    # Dotted strings handed to django-q2 or settings are imports too, by another road.
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            top = node.value.split(".")[0]
            if top in LAYER and node.value.count(".") >= 2 and " " not in node.value:
                yield node.lineno, top


def violations():
    found = []
    for app, path in app_modules():
        if _is_admin_module(path):
            continue
        for lineno, target in imported_apps(path):
            if target != app and LAYER[target] >= LAYER[app]:
                found.append(f"{path.relative_to(ROOT)}:{lineno} imports {target}")
    return found


def test_no_module_imports_a_layer_above_or_beside_its_own():
    assert violations() == []


@pytest.mark.parametrize(
    ("app", "target", "allowed"),
    [
        ("messaging", "automation", False),
        ("clients", "scheduling", False),
        ("scheduling", "billing", False),
        ("automation", "messaging", True),
        ("fitcrm", "campaigns", True),
    ],
)
def test_the_layer_order_itself(app, target, allowed):
    assert (target == app or LAYER[target] < LAYER[app]) is allowed
