"""Run one PEP 517 hook of a build backend: sanctuary's hook runner.

    python -I -c <this file> RESULT BACKEND HOOK OUTPUT_DIR [BACKEND_PATH ...]

BACKEND is `module` or `module:object`; the BACKEND_PATH directories (absolute) go first on
sys.path, and a backend that names them must be loaded from one of them. The backend owns
stdout and stderr (stderr joins stdout here, so that they read in order). The result goes to
the file RESULT as JSON:

    {"value": ...}           what the hook returned
    {"missing": true}        the backend does not define this (optional) hook
    {"unavailable": "..."}   the backend cannot be imported (the traceback is printed too)

An exception raised by the hook is printed with its traceback, and the runner exits 1.

sanctuary starts the runner as the leader of a process group of its own (so that a timeout
kills the compilers a backend starts too); the terminal's Ctrl-C then reaches sanctuary but
not the group. So the runner watches its parent: when sanctuary is gone, it kills its group,
and no build goes on in the background.
"""

import importlib
import json
import os
import sys
import threading
import time
import traceback


def watch_parent():
    """Kill this process group when the process that started the runner is gone."""
    if not hasattr(os, "killpg") or os.getpgrp() != os.getpid():
        return
    parent = os.getppid()

    def watch():
        while True:
            time.sleep(0.25)
            if os.getppid() != parent:
                try:
                    os.killpg(0, 9)
                finally:
                    os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


def write_result(path, result):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(result, f)


def load_backend(spec, backend_path):
    module_name, _, object_path = spec.partition(":")
    sys.path[:0] = backend_path
    backend = importlib.import_module(module_name.strip())
    origin = getattr(backend, "__file__", None)
    if backend_path and origin:
        origin = os.path.realpath(origin)
        roots = [os.path.join(os.path.realpath(p), "") for p in backend_path]
        if not any(origin.startswith(root) for root in roots):
            raise ImportError(
                f"backend-path is {backend_path}, but `{module_name}` was loaded from {origin}"
            )
    for name in filter(None, object_path.strip().split(".")):
        backend = getattr(backend, name)
    return backend


def call(hook, function, output_dir):
    if hook.startswith("get_requires_for_build_"):
        return function(None)
    if hook.startswith("prepare_metadata_for_build_"):
        return function(output_dir, None)
    return function(output_dir, None, None)


def main(result_path, spec, hook, output_dir, *backend_path):
    watch_parent()
    os.dup2(sys.stdout.fileno(), sys.stderr.fileno())
    sys.stdout.reconfigure(line_buffering=True)
    try:
        backend = load_backend(spec, list(backend_path))
    except Exception as e:
        traceback.print_exc()
        write_result(result_path, {"unavailable": f"{type(e).__name__}: {e}"})
        return 1
    function = getattr(backend, hook, None)
    if function is None:
        write_result(result_path, {"missing": True})
        return 0
    value = call(hook, function, output_dir)
    write_result(result_path, {"value": value})
    return 0


sys.exit(main(*sys.argv[1:]))
