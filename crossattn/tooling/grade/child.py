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
    if isinstance(value, (np.integer, np.floating, np.bool_)):  # before float: np.float64 is a float too
        key = f"a{len(arrays)}"
        arrays[key] = np.asarray(value)
        return {"t": "npscalar", "k": key}
    if isinstance(value, bool):
        return {"t": "bool", "v": value}
    if isinstance(value, int):
        return {"t": "int", "v": value} if abs(value) < 2**62 else {"t": "int", "v": str(value), "big": True}
    if isinstance(value, float):
        return {"t": "float", "v": repr(float(value))}
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


def drive_tcall(fn, args, state):
    """fn(*args) with every NumPy array argument given as a torch tensor; whether any was changed in place."""
    import numpy as np
    import torch

    tensors = [torch.from_numpy(a.copy()) if isinstance(a, np.ndarray) else a for a in args]
    value = fn(*tensors)
    changed = [i for i, (a, t) in enumerate(zip(args, tensors))
               if isinstance(a, np.ndarray) and not (isinstance(t, torch.Tensor) and np.array_equal(t.numpy(), a))]
    return value, {"changed": changed}


def drive_cross_attention(fn, args, state):
    """fn(attn, x (B, m, d_model), memory (B, n, d_model), mask or None) for an attention module built from a spec."""
    import torch

    spec, x, memory, mask = args
    mask = None if mask is None else torch.from_numpy(mask)
    with torch.no_grad():
        return fn(_attention(spec), torch.from_numpy(x), torch.from_numpy(memory), mask), {}


def leak_probes(table, mix):
    """Four tiny 'models' predict(src (B, n), tgt_in (B, m)) -> logits (B, m, V), m = len(mix), with known leaks.

    "peeks": target position k reads source positions j <= k (source token k: a leak); "peeks_ahead":
    j <= k + 1; "honest": j < k and its own input token (never the future); "shifts": the source tokens
    j >= k add one amount to every logit at k (the probabilities do not change). ``table`` (tokens, V)
    holds one logit vector per token id, ``mix`` (m, n) positive weights. The grader uses the same ones.
    """
    import torch

    table, mix = torch.as_tensor(table), torch.as_tensor(mix)
    m = mix.shape[0]

    def reads(src, bounds):
        rows = []
        for k in range(m):
            lo, hi = bounds(k)
            hi = min(hi, src.shape[1])
            if hi > lo:
                rows.append((table[src[:, lo:hi]] * mix[k, lo:hi, None]).sum(1))  # (B, V)
            else:
                rows.append(torch.zeros(src.shape[0], table.shape[1], dtype=table.dtype))
        return torch.stack(rows, dim=1)  # (B, m, V)

    def peeks(src, tgt_in):
        return reads(src, lambda k: (0, k + 1))

    def peeks_ahead(src, tgt_in):
        return reads(src, lambda k: (0, k + 2))

    def honest(src, tgt_in):
        return reads(src, lambda k: (0, k)) + table[tgt_in]

    def shifts(src, tgt_in):
        future = torch.stack([src[:, k:].to(table.dtype).sum(1) for k in range(m)], dim=1)  # (B, m)
        return table[tgt_in] + future[:, :, None]

    return {"peeks": peeks, "peeks_ahead": peeks_ahead, "honest": honest, "shifts": shifts}


def drive_influence(fn, args, state):
    """fn(predict, src, tgt_in, i, fresh) for one of the :func:`leak_probes`; whether src was changed."""
    import torch

    name, table, mix, src, tgt_in, i, fresh = args
    src_t = torch.from_numpy(src.copy())
    value = fn(leak_probes(table, mix)[name], src_t, torch.from_numpy(tgt_in.copy()), i, torch.from_numpy(fresh.copy()))
    return value, {"changed_src": not torch.equal(src_t, torch.from_numpy(src))}


def order_attend(kind, table):
    """Plain attention O (m, d_v) of (Q, K, V) ("blind" to the order of the source rows), or with a fixed code
    per row index added to the keys ("aware"), or that output negated ("flipped")."""
    import numpy as np

    def attend(Q, K, V):
        if kind != "blind":
            K = K + table
        s = Q @ K.T / np.sqrt(Q.shape[-1])  # (m, n)
        e = np.exp(s - s.max(axis=-1, keepdims=True))
        out = (e / e.sum(axis=-1, keepdims=True)) @ V  # (m, d_v)
        return -out if kind == "flipped" else out

    return attend


def drive_perm_gap(fn, args, state):
    """fn(attend, Q, K, V) for an attend function of :func:`order_attend`."""
    kind, table, Q, K, V = args
    return fn(order_attend(kind, table), Q.copy(), K.copy(), V.copy()), {}


def drive_share_kv(fn, args, state):
    """fn(enc_self, dec_self, cross) on three attention modules; what is shared afterwards, as facts."""
    import torch

    specs = args[0]
    mods = [_attention(spec) for spec in specs]
    before = {(i, w): (getattr(mod, f"w_{w}"), getattr(mod, f"w_{w}").weight.detach().clone())
              for i, mod in enumerate(mods) for w in "qkvo"}
    value = fn(*mods)
    enc = mods[0]
    facts = {}
    for w in "kv":
        module, weight = before[(0, w)]
        facts[f"enc_{w}_kept"] = getattr(enc, f"w_{w}") is module and torch.equal(module.weight.detach(), weight)
    for i, who in ((1, "dec"), (2, "cross")):
        for w in "kvqo":
            facts[f"{who}_{w}_shared"] = any(getattr(mods[i], f"w_{w}").weight is getattr(other, f"w_{w}").weight
                                             for j, other in enumerate(mods) if j != i and (w in "qo" or j == 0))
        facts[f"{who}_swapped"] = (getattr(mods[i], "w_k").weight is enc.w_v.weight
                                   or getattr(mods[i], "w_v").weight is enc.w_k.weight)
    facts["held"] = sum(p.numel() for p in torch.nn.ModuleList(mods).parameters())
    return value, facts


def drive_sample(fn, args, state):
    """fn(model, words (B, T), x (B, P, patch_dim), steps) on a TinyDenoiser built from its config and weights;
    how often the blocks' cross-attention W_K ran, and which caches each call of the model got."""
    import torch

    from crossattn.experiments.text_to_image import TextToImageConfig, TinyDenoiser

    cfg, weights, words, x, steps = args
    model = TinyDenoiser(TextToImageConfig(**cfg)).eval()
    model.load_state_dict({name: torch.from_numpy(w.copy()) for name, w in weights.items()})
    projected = []
    for block in model.blocks:
        block.cross_attn.w_k.register_forward_hook(lambda module, inputs, output: projected.append(1))
    calls, kept = [], []  # per call of the model: None (no caches), or (id, static) of each cache
    original = model.forward

    def spy(*a, **kw):
        caches = kw.get("caches", a[3] if len(a) > 3 else None)
        kept.append(caches)  # alive to the end, so that no two caches share an id
        calls.append(None if caches is None else tuple((id(c), bool(getattr(c, "static", False))) for c in caches))
        return original(*a, **kw)

    model.forward = spy
    with torch.no_grad():
        value = fn(model, torch.from_numpy(words.copy()), torch.from_numpy(x.copy()), steps)
    cached = [c for c in calls if c is not None]
    return value, {"projected": len(projected), "calls": len(calls), "uncached_calls": len(calls) - len(cached),
                   "all_static": all(static for c in cached for _, static in c),
                   "one_per_block": all(len({i for i, _ in c}) == len(c) for c in cached),
                   "same_caches": len({tuple(i for i, _ in c) for c in cached}) <= 1}


DRIVERS = {"call": drive_call, "self_steps": drive_self_steps, "cross_steps": drive_cross_steps,
           "beams": drive_beams, "tcall": drive_tcall, "cross_attention": drive_cross_attention,
           "influence": drive_influence, "perm_gap": drive_perm_gap, "share_kv": drive_share_kv,
           "sample": drive_sample}


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
