#!/usr/bin/env python3
"""Links and instantiates the component in a real wasmtime with ONLY the host
interfaces runwasi's containerd-shim-wasmtime provides (WASI p2 + wasi:http),
then prints one JSON report on stdout for test/engine.test.ts to judge.

Usage: engine-check.py <component.wasm> [--serial]

--serial compiles on one thread (the test suite's choice, so parallel suites keep a core);
without it Cranelift uses every core, as the shim does.

Why a separate engine: jco/preview2-shim (the local host) supplies every WASI
interface it knows, so a component that imports something the shim lacks
(e.g. wasi:cli/exit.exit-with-code from WASI 0.2.12) still runs locally and
only fails on the cluster. This linker set reproduces the cluster's.
"""
import json
import statistics
import sys
import time

from wasmtime import Config, Engine, Store, WasiConfig
from wasmtime.component import Component, ComponentInstanceType, Linker


INSTANTIATIONS = 20


def interface_functions(engine, component_type):
    """{import name: sorted function names} for every imported instance."""
    result = {}
    for name, item in component_type.imports(engine).items():
        item_type = item.ty
        if isinstance(item_type, ComponentInstanceType):
            result[name] = sorted(item_type.exports(engine).keys())
        else:
            result[name] = []
    return result


def main(path, serial):
    with open(path, "rb") as f:
        wasm = f.read()

    config = Config()
    config.parallel_compilation = not serial
    engine = Engine(config)

    started = time.perf_counter()
    component = Component(engine, wasm)
    compile_ms = (time.perf_counter() - started) * 1000

    # The shim caches exactly this artefact (the precompiled component) in containerd's content store.
    serialized_bytes = len(component.serialize())

    component_type = component.type
    imports = interface_functions(engine, component_type)
    exports = sorted(component_type.exports(engine).keys())

    linker = Linker(engine)
    linker.add_wasip2()
    linker.add_wasi_http()

    store = Store(engine)
    store.set_wasi(WasiConfig())
    store.set_wasi_http()

    link_error = None
    instantiate_ms = None
    started = time.perf_counter()
    try:
        linker.instantiate(store, component)
        instantiate_ms = (time.perf_counter() - started) * 1000
    except Exception as error:  # the message names the import that failed to link
        link_error = str(error)

    # The shim makes a fresh store and instance for every request: that is the per-request cost.
    per_request_ms = None
    if link_error is None:
        samples = []
        for _ in range(INSTANTIATIONS):
            fresh = Store(engine)
            fresh.set_wasi(WasiConfig())
            fresh.set_wasi_http()
            started = time.perf_counter()
            linker.instantiate(fresh, component)
            samples.append((time.perf_counter() - started) * 1000)
        per_request_ms = statistics.median(samples)

    print(json.dumps({
        "component_bytes": len(wasm),
        "compile_ms": round(compile_ms),
        "serialized_bytes": serialized_bytes,
        "instantiate_ms": instantiate_ms,
        "instantiate_median_ms": per_request_ms,
        "instantiations": INSTANTIATIONS,
        "link_error": link_error,
        "imports": imports,
        "exports": exports,
    }))


if __name__ == "__main__":
    args = sys.argv[1:]
    if len(args) not in (1, 2) or (len(args) == 2 and args[1] != "--serial"):
        sys.exit("usage: engine-check.py <component.wasm> [--serial]")
    main(args[0], serial=len(args) == 2)
