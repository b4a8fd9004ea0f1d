"""The in-tree PEP 517 / PEP 660 build backend of sanctuary's test sdists and projects.

Written into every buildable source tree as `_backend/sanctuary_test_backend.py` by
`tests/support/sdistgen.rs`, beside its settings `_backend/sanctuary_test_backend.json`
(name, version, metadata texts, sources, failures, imports; see `BuildSpec` in
`tests/support/scenario.rs`). Pure stdlib. Hooks run with the source tree as the current
directory (PEP 517) and read the package sources from it at build time.

When `SANCTUARY_TEST_HOOK_LOG` names a file, every hook call appends one JSON line to it.
"""

import base64
import gzip
import hashlib
import importlib
import io
import json
import os
import sys
import tarfile
import zipfile

_HERE = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(_HERE, "sanctuary_test_backend.json"), encoding="utf-8") as _f:
    CONFIG = json.load(_f)

# Variables the hook log records when set, besides every PIP_* and SANCTUARY_* one.
_ENV = [
    "MAX_JOBS",
    "CMAKE_BUILD_PARALLEL_LEVEL",
    "NVCC_THREADS",
    "TORCH_CUDA_ARCH_LIST",
    "CUDA_HOME",
    "CUDA_PATH",
    "PYTHONPATH",
    "PYTHONNOUSERSITE",
    "PYTHONHOME",
    "VIRTUAL_ENV",
    "SOURCE_DATE_EPOCH",
]
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


def _dist_info():
    return "%s-%s.dist-info" % (CONFIG["dist"], CONFIG["version"])


def _wheel_name():
    return "%s-%s-%s.whl" % (CONFIG["dist"], CONFIG["version"], CONFIG["wheel_tag"])


def _env():
    names = set(_ENV) | set(CONFIG.get("record_env", []))
    return {
        k: v
        for k, v in sorted(os.environ.items())
        if k in names or k.startswith("PIP_") or k.startswith("SANCTUARY_")
    }


def _log(record):
    path = os.environ.get("SANCTUARY_TEST_HOOK_LOG")
    if not path:
        return
    line = (json.dumps(record, sort_keys=True) + "\n").encode("utf-8")
    # One write on an O_APPEND descriptor: concurrent builds never interleave lines.
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def _run(hook, config_settings, body, metadata_directory=None):
    """Runs one hook's `body(record)` and logs it, whether it returns or raises."""
    record = {
        "hook": hook,
        "name": CONFIG["name"],
        "version": CONFIG["version"],
        "imports": {},
        "env": _env(),
        "python": sys.executable,
        "prefix": sys.prefix,
        "sys_path": list(sys.path),
        "cwd": os.getcwd(),
        "config_settings": config_settings,
        "metadata_directory": metadata_directory,
        "outcome": None,
        "error": None,
        "result": None,
    }
    print("backend: %s for %s %s" % (hook, CONFIG["name"], CONFIG["version"]))
    try:
        result = body(record)
    except BaseException as e:
        record["outcome"] = "failed"
        record["error"] = "%s: %s" % (type(e).__name__, e)
        _log(record)
        raise
    record["outcome"] = "ok"
    record["result"] = result
    _log(record)
    return result


def _fail(message):
    print(message, file=sys.stderr)
    sys.stderr.flush()
    raise RuntimeError(message)


def _import(module):
    try:
        m = importlib.import_module(module)
    except Exception as e:  # ImportError, or whatever a broken module raises
        return {"error": "%s: %s" % (type(e).__name__, e)}
    return {
        "file": getattr(m, "__file__", None),
        "version": getattr(m, "__version__", None),
    }


def _import_build_requires(record):
    for module in CONFIG["build_imports"]:
        result = _import(module)
        record["imports"][module] = result
        if "error" in result:
            _fail(
                "backend: build requirement %s is not importable: %s"
                % (module, result["error"])
            )


def _import_for_build(record):
    _import_build_requires(record)
    for module in CONFIG["requires_import"]:
        result = _import(module)
        record["imports"][module] = result
        if "error" in result and CONFIG["strict_imports"]:
            _fail("backend: cannot import %s: %s" % (module, result["error"]))
    if CONFIG["fail"]:
        _fail(CONFIG["fail_message"])


def _wheel_file():
    text = "Wheel-Version: 1.0\nGenerator: sanctuary_test_backend (0.1)\n"
    text += "Root-Is-Purelib: true\n"
    for tag in CONFIG["wheel_tags"]:
        text += "Tag: %s\n" % tag
    return text.encode("utf-8")


def _metadata_files(metadata):
    """The dist-info's files (relative names) but `RECORD`."""
    files = {"METADATA": metadata.encode("utf-8"), "WHEEL": _wheel_file()}
    if CONFIG["entry_points"]:
        files["entry_points.txt"] = CONFIG["entry_points"].encode("utf-8")
    return files


def _copied_metadata(metadata_directory):
    files = {}
    for root, _dirs, names in os.walk(metadata_directory):
        for name in names:
            path = os.path.join(root, name)
            rel = os.path.relpath(path, metadata_directory).replace(os.sep, "/")
            if rel != "RECORD":
                with open(path, "rb") as f:
                    files[rel] = f.read()
    files["WHEEL"] = _wheel_file()
    return files


def _record_hash(data):
    digest = hashlib.sha256(data).digest()
    return "sha256=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _write_wheel(directory, files, dist_info_files):
    """Writes the wheel: `files` sorted, then the dist-info (sorted), `RECORD` last."""
    dist_info = _dist_info()
    entries = sorted(files.items())
    entries += sorted((dist_info + "/" + k, v) for k, v in dist_info_files.items())
    record = "".join("%s,%s,%d\n" % (n, _record_hash(d), len(d)) for n, d in entries)
    record += "%s/RECORD,,\n" % dist_info
    entries.append((dist_info + "/RECORD", record.encode("utf-8")))
    name = _wheel_name()
    with zipfile.ZipFile(os.path.join(directory, name), "w") as z:
        for arcname, data in entries:
            info = zipfile.ZipInfo(arcname, _ZIP_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, data)
    return name


def _dist_info_for_build(metadata_directory):
    if metadata_directory and not CONFIG["ignore_metadata_directory"]:
        return _copied_metadata(metadata_directory)
    return _metadata_files(CONFIG["built_metadata"])


def _sources():
    files = {}
    for rel in CONFIG["sources"]:
        with open(rel.replace("/", os.sep), "rb") as f:
            files[rel] = f.read()
    return files


def _marker(hook, record):
    text = 'BUILT_BY = "sanctuary_test_backend"\n'
    text += "HOOK = %r\n" % hook
    text += "IMPORTS = %r\n" % (record["imports"],)
    return text.encode("utf-8")


def get_requires_for_build_wheel(config_settings=None):
    return _run("get_requires_for_build_wheel", config_settings, lambda r: [])


def get_requires_for_build_editable(config_settings=None):
    return _run("get_requires_for_build_editable", config_settings, lambda r: [])


def get_requires_for_build_sdist(config_settings=None):
    return _run("get_requires_for_build_sdist", config_settings, lambda r: [])


def _prepare_metadata(hook, metadata_directory, config_settings):
    def body(record):
        _import_build_requires(record)
        if CONFIG["fail_metadata"]:
            _fail(CONFIG["fail_message"])
        target = os.path.join(metadata_directory, _dist_info())
        os.makedirs(target, exist_ok=True)
        for rel, data in _metadata_files(CONFIG["metadata"]).items():
            with open(os.path.join(target, rel), "wb") as f:
                f.write(data)
        return _dist_info()

    return _run(hook, config_settings, body)


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    return _prepare_metadata(
        "prepare_metadata_for_build_wheel", metadata_directory, config_settings
    )


def prepare_metadata_for_build_editable(metadata_directory, config_settings=None):
    return _prepare_metadata(
        "prepare_metadata_for_build_editable", metadata_directory, config_settings
    )


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    def body(record):
        _import_for_build(record)
        files = _sources()
        files["%s/_built.py" % CONFIG["package"]] = _marker("build_wheel", record)
        return _write_wheel(
            wheel_directory, files, _dist_info_for_build(metadata_directory)
        )

    return _run("build_wheel", config_settings, body, metadata_directory)


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    def body(record):
        _import_for_build(record)
        pth = "__editable__.%s-%s.pth" % (CONFIG["dist"], CONFIG["version"])
        files = {pth: (os.path.abspath(os.getcwd()) + "\n").encode("utf-8")}
        return _write_wheel(
            wheel_directory, files, _dist_info_for_build(metadata_directory)
        )

    return _run("build_editable", config_settings, body, metadata_directory)


def build_sdist(sdist_directory, config_settings=None):
    def body(record):
        _import_build_requires(record)
        stem = "%s-%s" % (CONFIG["dist"], CONFIG["version"])
        out = os.path.abspath(sdist_directory)
        members = {}
        for root, dirs, names in os.walk("."):
            dirs[:] = sorted(
                d
                for d in dirs
                if d not in (".git", "__pycache__")
                and os.path.abspath(os.path.join(root, d)) != out
            )
            for name in names:
                rel = os.path.relpath(os.path.join(root, name), ".").replace(os.sep, "/")
                with open(os.path.join(root, name), "rb") as f:
                    members[rel] = f.read()
        members.setdefault("PKG-INFO", CONFIG["pkg_info"].encode("utf-8"))
        name = stem + ".tar.gz"
        with open(os.path.join(out, name), "wb") as raw, gzip.GzipFile(
            filename="", fileobj=raw, mode="wb", mtime=0
        ) as gz:
            with tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
                for rel, data in sorted(members.items()):
                    info = tarfile.TarInfo(stem + "/" + rel)
                    info.size = len(data)
                    info.mode = 0o644
                    info.mtime = 0
                    tar.addfile(info, io.BytesIO(data))
        return name

    return _run("build_sdist", config_settings, body)


if not CONFIG["prepare_metadata"]:
    del prepare_metadata_for_build_wheel
    del prepare_metadata_for_build_editable
if not CONFIG["editable"]:
    del build_editable
    del get_requires_for_build_editable
    if CONFIG["prepare_metadata"]:
        del prepare_metadata_for_build_editable
