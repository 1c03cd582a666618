"""The registries: registration, lookup, suggestions, duplicates and plug-ins."""
from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from mcnbench.registry import Entry, Registry, RegistryError


@pytest.fixture
def reg() -> Registry:
    return Registry("model", "mcnbench.test-nonexistent-group")


def test_register_and_get(reg):
    @reg.register("contrastive-only", description="MMS only", version="2")
    def factory(ctx):
        return "model"

    entry = reg.get("contrastive-only")
    assert entry.obj is factory and entry.version == "2" and entry.description == "MMS only"
    assert reg.names() == ["contrastive-only"]
    assert "contrastive-only" in reg


def test_unknown_name_suggests_close_matches(reg):
    reg.register("mcn", description="MCN")(lambda ctx: None)
    reg.register("mil-nce", description="MIL-NCE")(lambda ctx: None)
    with pytest.raises(RegistryError) as err:
        reg.get("mnc")
    message = str(err.value)
    assert "unknown model 'mnc'" in message
    assert "Did you mean 'mcn'" in message
    assert "Known models: mcn, mil-nce" in message


def test_duplicate_name_is_an_error(reg):
    reg.register("mcn", description="first")(lambda ctx: 1)
    with pytest.raises(RegistryError, match="duplicate model name 'mcn'"):
        reg.register("mcn", description="second")(lambda ctx: 2)


def test_registering_the_same_object_twice_is_harmless(reg):
    def f(ctx):
        return None

    reg.register("a", description="A")(f)
    reg.add(Entry("a", f, "A", "1"))
    assert reg.names() == ["a"]


def test_description_required(reg):
    with pytest.raises(RegistryError, match="one-line description"):
        reg.register("x", description="")


def test_module_factory_string(tmp_path, monkeypatch, reg):
    (tmp_path / "myplugin_str.py").write_text(textwrap.dedent('''
        def build(ctx, **kw):
            """My plug-in model: returns a marker."""
            return ("built", kw)
    '''))
    monkeypatch.syspath_prepend(str(tmp_path))
    entry = reg.get("myplugin_str:build")
    assert entry.obj(None, a=1) == ("built", {"a": 1})
    assert entry.description == "My plug-in model: returns a marker."
    with pytest.raises(RegistryError, match="cannot load model 'myplugin_str:nope'"):
        reg.get("myplugin_str:nope")


def test_entry_point_plugin_is_discovered(tmp_path):
    """A tiny installed distribution that declares an ``mcnbench.models`` entry point."""
    pkg = tmp_path / "site"
    (pkg / "tinyplug").mkdir(parents=True)
    (pkg / "tinyplug" / "__init__.py").write_text(textwrap.dedent('''
        def factory(ctx, **kw):
            """A tiny plug-in model from an entry point."""
            return None
    '''))
    dist = pkg / "tinyplug-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: tinyplug\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[mcnbench.models]\ntiny-plug = tinyplug:factory\n")
    code = textwrap.dedent(f'''
        import sys
        sys.path.insert(0, {str(pkg)!r})
        from mcnbench.registry import Registry
        reg = Registry("model", "mcnbench.models")
        e = reg.get("tiny-plug")
        print(e.source, "|", e.description)
    ''')
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "entry point tinyplug:factory | A tiny plug-in model from an entry point." in out.stdout
