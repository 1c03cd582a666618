"""The plug-in examples of docs/adding_a_model.md work as written, in a fresh virtual environment:
a throw-away distribution with an entry point is really pip-installed (no ``sys.path`` edits),
and a distribution whose plug-in fails to import only warns."""
from __future__ import annotations

import json
import re
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import pytest

pytest_plugins = ("conftest_tasks",)  # the tiny_world fixture

DOC = Path(__file__).resolve().parents[1] / "docs" / "adding_a_model.md"


def doc_blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", DOC.read_text(), flags=re.S)


def make_distribution(folder: Path, name: str, module: str, code: str, entry: str) -> Path:
    folder.mkdir(parents=True)
    (folder / f"{module}.py").write_text(code)
    (folder / "pyproject.toml").write_text(textwrap.dedent(f"""\
        [build-system]
        requires = ["setuptools"]
        build-backend = "setuptools.build_meta"

        [project]
        name = "{name}"
        version = "0.1"

        [tool.setuptools]
        py-modules = ["{module}"]
        """) + entry)
    return folder


@pytest.fixture(scope="module")
def fresh_venv(tmp_path_factory) -> Path:
    """A new virtual environment that sees this one's packages (mcnbench, torch) through a
    ``.pth`` file, so that installing into it takes seconds; what is pip-installed into it is its
    own, not this environment's."""
    venv = tmp_path_factory.mktemp("venv") / "env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    py = venv / "bin" / "python"
    site = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    # addsitedir (not a bare path line): the parent's own .pth files, mcnbench's editable-install
    # finder among them, are processed too
    parent = sysconfig.get_paths()["purelib"]
    (Path(site) / "_parent_env.pth").write_text(f"import site; site.addsitedir({parent!r})\n")
    return py


def pip_install(py: Path, folder: Path) -> None:
    subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                    "--no-index", str(folder)], check=True, capture_output=True, text=True)


def mcnbench(py: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(py), "-m", "mcnbench", *args], capture_output=True, text=True,
                          cwd=cwd, env={"TQDM_DISABLE": "1", "PATH": "/usr/bin:/bin",
                                        "MCNBENCH_CACHE": str(cwd / "cache")})


@pytest.mark.slow
def test_documented_plugin_installs_and_evaluates(fresh_venv, tiny_world, tmp_path):
    model_code = doc_blocks("python")[0]
    entry = doc_blocks("toml")[0]
    assert "[project.entry-points.\"mcnbench.models\"]" in entry
    pip_install(fresh_venv, make_distribution(tmp_path / "dist", "mymodels", "mymodels",
                                              model_code, entry))
    listed = mcnbench(fresh_venv, "list", "models", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert "mean-word" in listed.stdout and "entry point mymodels:mean_word" in listed.stdout
    done = mcnbench(fresh_venv, "eval", "--model", "mean-word", "--tasks", "youcook2,msrvtt",
                    "--data-root", str(tiny_world), "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    records = sorted((tmp_path / "out").rglob("seed0.json"))
    assert len(records) == 2
    record = json.loads(records[0].read_text())
    assert record["model"]["name"] == "mean-word" and record["model"]["config"] == {"dim": 64}
    assert 0.0 <= record["metrics"]["R@10"] <= 100.0


def test_module_factory_next_to_the_command(tiny_world, tmp_path):
    """``--model mymodels:mean_word`` beside ``mymodels.py``, as docs/adding_a_model.md says."""
    (tmp_path / "mymodels.py").write_text(doc_blocks("python")[0])
    done = subprocess.run([str(Path(sys.executable).with_name("mcnbench")), "eval", "--model",
                           "mymodels:mean_word", "--tasks", "msrvtt", "--data-root", str(tiny_world),
                           "--out", str(tmp_path / "out")], capture_output=True, text=True,
                          cwd=tmp_path, env={"TQDM_DISABLE": "1", "PATH": "/usr/bin:/bin",
                                             "MCNBENCH_CACHE": str(tmp_path / "cache")})
    assert done.returncode == 0, done.stderr
    assert len(list((tmp_path / "out").rglob("seed0.json"))) == 1


@pytest.mark.slow
def test_broken_plugin_warns_once_and_every_command_works(fresh_venv, tmp_path):
    code = "raise ImportError('this plug-in is broken on purpose')\n"
    entry = '[project.entry-points."mcnbench.models"]\nbroken-model = "brokenplug:factory"\n'
    pip_install(fresh_venv, make_distribution(tmp_path / "dist", "brokenplug", "brokenplug",
                                              code, entry))
    listed = mcnbench(fresh_venv, "list", "models", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert "mcn" in listed.stdout and "broken-model" not in listed.stdout
    warned = [line for line in listed.stderr.splitlines() if "broken-model" in line]
    assert len(warned) == 1 and "warning" in warned[0] and "brokenplug" in warned[0]
    assert "Traceback" not in listed.stderr
    tasks = mcnbench(fresh_venv, "list", "tasks", cwd=tmp_path)
    assert tasks.returncode == 0 and "youcook2" in tasks.stdout


def test_import_tasks_fails_outside_the_repository(tmp_path):
    """``tasks`` and ``baselines`` are installed as ``mcnbench.tasks`` / ``mcnbench.baselines``."""
    for name in ("tasks", "baselines"):
        done = subprocess.run([sys.executable, "-c", f"import {name}"], cwd=tmp_path,
                              capture_output=True, text=True)
        assert done.returncode != 0 and "No module named" in done.stderr
    done = subprocess.run([sys.executable, "-c", "import mcnbench.tasks.youcook2, mcnbench.baselines.nce"],
                          cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_every_package_folder_is_installed():
    """pyproject lists the packages explicitly (tasks/ and baselines/ are mapped into mcnbench):
    a new folder of mcnbench/ that is not listed would be missing from a real install."""
    import tomllib

    repo = Path(__file__).resolve().parents[1]
    listed = set(tomllib.loads((repo / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(repo).parts) for p in (repo / "mcnbench").rglob("__init__.py")}
    assert found | {"mcnbench.tasks", "mcnbench.baselines"} == listed
