"""The grader's child process: runs a student's functions on given inputs and sends back what they return.

This file is copied into a fresh temporary folder and run there by :mod:`crossattn.tooling.grade.sandbox`
as ``python -I -S child.py JOB RESULT_FD PACKAGE_DIR SITE_DIRS``. It never decides a score: it loads the student's code
(pieces the grader's static check let through: imports, literal constants, function definitions),
calls each function on the inputs of the job, and writes every result as a length-prefixed ``.npz``
frame (arrays and a JSON description, never a pickle) to the pipe ``RESULT_FD``. The grader
compares them with answers it computed itself, in its own process.

Before any student code runs, the child:

- puts the package functions that solve an exercise behind tripwires (every module that holds the
  function object, and the class for a method), so a call to one is recorded and stopped;
- lowers its limits (``resource.setrlimit``): address space (its size after imports plus the
  memory budget), CPU seconds, and file size 0, so it cannot write to any regular file;
- sends its own stdout and stderr to /dev/null: prints and warnings cost nothing.

It imports only the standard library, NumPy, torch when the lab needs it, and the copy of the
package parts the job names (never ``crossattn.checks`` or ``crossattn.tooling``).
"""
import builtins
import io
import json
import os
import pickle
import resource
import signal
import struct
import sys
import traceback

MAX_ARRAY_BYTES = 64 * 2**20  # a returned array larger than this is reported, not sent


class Tripped(BaseException):
    """A package function that solves the exercise was called; BaseException so `except Exception` cannot hide it."""


def _describe_error(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0][:200]}" if text else type(err).__name__


class Channel:
    def __init__(self, fd: int) -> None:
        self.fd = fd

    def send(self, meta: dict, arrays: dict) -> None:
        import numpy as np

        buf = io.BytesIO()
        payload = dict(arrays)
        payload["__meta__"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
        np.savez(buf, **payload)
        data = buf.getvalue()
        os.write(self.fd, struct.pack(">Q", len(data)))
        view = memoryview(data)
        while view:
            written = os.write(self.fd, view)
            view = view[written:]


def encode(value, arrays: dict, depth: int = 0):
    """A JSON description of ``value``; its arrays go into ``arrays`` (never pickled)."""
    import numpy as np

    torch = sys.modules.get("torch")
    if depth > 4:
        return {"t": "other", "type": "nested too deep"}
    if value is None:
        return {"t": "none"}
    if isinstance(value, bool):
        return {"t": "bool", "v": value}
    if isinstance(value, int):
        return {"t": "int", "v": value} if abs(value) < 2**62 else {"t": "int", "v": str(value), "big": True}
    if isinstance(value, float):
        return {"t": "float", "v": repr(value)}
    if isinstance(value, (np.integer, np.floating, np.bool_)):
        key = f"a{len(arrays)}"
        arrays[key] = np.asarray(value)
        return {"t": "npscalar", "k": key}
    if isinstance(value, (tuple, list)):
        return {"t": type(value).__name__, "items": [encode(v, arrays, depth + 1) for v in value[:16]],
                "n": len(value)}
    if torch is not None and isinstance(value, torch.Tensor):
        t = value.detach().cpu()
        if t.numel() * t.element_size() > MAX_ARRAY_BYTES:
            return {"t": "other", "type": f"tensor too large {tuple(t.shape)}"}
        key = f"a{len(arrays)}"
        arrays[key] = t.numpy().copy() if t.dtype != torch.bfloat16 else t.float().numpy()
        return {"t": "tensor", "k": key, "dtype": str(t.dtype).replace("torch.", "")}
    if isinstance(value, np.ndarray):
        if value.dtype == object or value.dtype.kind not in "biufc":
            return {"t": "other", "type": f"ndarray of dtype {value.dtype}"}
        if value.nbytes > MAX_ARRAY_BYTES:
            return {"t": "other", "type": f"ndarray too large {value.shape}"}
        key = f"a{len(arrays)}"
        arrays[key] = value
        return {"t": "array", "k": key}
    return {"t": "other", "type": type(value).__name__}


# --- drivers: how each kind of exercise is called (the grader names one per case) ---------------

def drive_call(fn, args, state):
    """fn(*args): the returned value, and whether any array argument was changed in place."""
    import numpy as np

    before = [a.copy() if isinstance(a, np.ndarray) else None for a in args]
    value = fn(*args)
    changed = [i for i, (a, b) in enumerate(zip(args, before)) if b is not None and not np.array_equal(a, b)]
    return value, {"changed": changed}


def _attention(spec):
    import torch

    from crossattn.nn.layers import MultiheadAttention

    attn = MultiheadAttention(spec["d_model"], spec["h"]).double()
    with torch.no_grad():
        for name in ("w_q", "w_k", "w_v", "w_o"):
            getattr(attn, name).weight.copy_(torch.from_numpy(spec[name]))
    return attn.eval()


def drive_self_steps(fn, args, state):
    """Feed x (B, T, d_model) one position at a time to fn(attn, x_new, cache) with a growing cache."""
    import torch

    from crossattn.nn.cache import KVCache

    spec, x = args
    attn, cache = _attention(spec), KVCache()
    x = torch.from_numpy(x)
    outs, rows = [], []
    for t in range(x.shape[1]):
        outs.append(fn(attn, x[:, t:t + 1], cache))
        rows.append(cache.length)
    return tuple(outs), {"rows": rows, "cache_k": None if cache.k is None else cache.k.detach().numpy().copy()}


def drive_cross_steps(fn, args, state):
    """Feed x (B, T, d_model) one position at a time to fn(attn, x_new, cache, s, mask): s at step 0, then None."""
    import torch

    from crossattn.nn.cache import KVCache

    spec, x, s, mask = args
    attn, cache = _attention(spec), KVCache(static=True)
    calls = []
    attn.w_k.register_forward_hook(lambda module, inputs, output: calls.append(tuple(inputs[0].shape)))
    x, s, mask = torch.from_numpy(x), torch.from_numpy(s), torch.from_numpy(mask)
    outs, rows = [], []
    for t in range(x.shape[1]):
        outs.append(fn(attn, x[:, t:t + 1], cache, s if t == 0 else None, mask))
        rows.append(cache.length)
    return tuple(outs), {"rows": rows, "w_k_calls": len(calls),
                         "cache_k": None if cache.k is None else cache.k.detach().numpy().copy()}


def drive_beams(fn, args, state):
    """fn(k, beams) for k (1, h, n, d_head): the result, whether it shares k's memory, whether k changed."""
    import torch

    k_np, beams = args
    k = torch.from_numpy(k_np.copy())
    value = fn(k, beams)
    extra = {"k_changed": not torch.equal(k, torch.from_numpy(k_np))}
    if isinstance(value, torch.Tensor):
        extra["shares_memory"] = value.untyped_storage().data_ptr() == k.untyped_storage().data_ptr()
        extra["bytes_of_its_own"] = 0 if extra["shares_memory"] else value.untyped_storage().nbytes()
    return value, extra


DRIVERS = {"call": drive_call, "self_steps": drive_self_steps, "cross_steps": drive_cross_steps,
           "beams": drive_beams}


# --- setting up -----------------------------------------------------------------------------

def _tripwire(name, original, state):
    def tripwire(*args, **kwargs):
        if name in state["allowed"]:
            return original(*args, **kwargs)
        state["tripped"].append(name)
        raise Tripped(name)

    return tripwire


def install_tripwires(names, state):
    """Replace each package function in ``names`` by a tripwire; return the names that could not be found."""
    import importlib

    missing = []
    for qualified in names:
        parts = qualified.split(".")
        obj, module, i = None, None, len(parts)
        while i > 0:
            try:
                module = importlib.import_module(".".join(parts[:i]))
                break
            except ImportError:
                i -= 1
        if module is None:
            missing.append(qualified)
            continue
        owner, obj = None, module
        try:
            for attr in parts[i:]:
                owner, obj = obj, getattr(obj, attr)
        except AttributeError:
            missing.append(qualified)
            continue
        if owner is None:
            missing.append(qualified)
            continue
        original = obj
        tripwire = _tripwire(qualified, original, state)
        if isinstance(owner, type):
            setattr(owner, parts[-1], tripwire)
        else:  # every module that holds this very function, under any name
            for mod in list(sys.modules.values()):
                namespace = getattr(mod, "__dict__", None)
                if not isinstance(namespace, dict):
                    continue
                for key, value in list(namespace.items()):
                    if value is original:
                        namespace[key] = tripwire
    return missing


def vm_bytes() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


def set_limits(memory_bytes: int, cpu_seconds: int) -> dict:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead of killing
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))
    base = vm_bytes()
    resource.setrlimit(resource.RLIMIT_AS, (base + memory_bytes, base + memory_bytes))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    return {"vm_base": base}


def silence() -> None:
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    sys.stdout = io.StringIO()
    sys.stderr = io.StringIO()
    import warnings

    warnings.simplefilter("ignore")


def main() -> None:
    job_path, fd, package_dir, site_dirs = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    channel = Channel(fd)
    sys.path[:0] = [package_dir]
    sys.path += site_dirs.split(os.pathsep)
    with open(job_path, "rb") as f:
        job = pickle.load(f)  # written by the grader (it holds NumPy arrays); no student code has run yet
    import numpy  # noqa: F401

    for module in job["imports"]:
        __import__(module)
    state = {"allowed": set(), "tripped": []}
    missing = install_tripwires(job["tripwires"], state)
    limits = set_limits(job["memory_bytes"], job["cpu_seconds"])
    silence()
    channel.send({"kind": "ready", "missing_tripwires": missing, **limits}, {})

    namespace = {"__name__": "submission", "__builtins__": builtins}
    load_errors = {}
    for piece in job["pieces"]:
        try:
            exec(compile(piece["source"], piece["where"], "exec"), namespace)
        except BaseException as err:  # noqa: BLE001 - an import that fails, a default that raises
            for name in piece["defines"]:
                load_errors[name] = f"{piece['where']}: {_describe_error(err)}"
    channel.send({"kind": "loaded", "errors": load_errors}, {})

    for task in job["tasks"]:
        fn = namespace.get(task["function"])
        state["allowed"] = set(task["allowed"])
        for index, case in enumerate(task["cases"]):
            meta = {"kind": "case", "exercise": task["exercise"], "case": index}
            arrays = {}
            if not callable(fn):
                meta.update(status="missing")
                channel.send(meta, arrays)
                continue
            del state["tripped"][:]
            try:
                value, extra = DRIVERS[case["driver"]](fn, case["args"], state)
                extra_desc = {k: encode(v, arrays) for k, v in extra.items()}
                meta.update(status="ok", value=encode(value, arrays), extra=extra_desc)
            except Tripped:
                meta.update(status="tripped")
            except MemoryError:
                meta.update(status="memory")
            except BaseException as err:  # noqa: BLE001 - SystemExit and KeyboardInterrupt are answers too
                meta.update(status="raised", error=_describe_error(err))
            meta["tripped"] = sorted(set(state["tripped"]))
            channel.send(meta, arrays)
    channel.send({"kind": "done"}, {})


if __name__ == "__main__":
    try:
        main()
    except BaseException:  # noqa: BLE001 - tell the grader, whatever happened
        try:
            os.write(2, traceback.format_exc().encode())
        finally:
            os._exit(3)
