"""`cargo xtask emulate`'s runner: every pairing of the EXNPI drivers in an emulated kernel per
architecture and profile, the broken images (each must fail for its reason), and the
allocation sweep. Reads a manifest (JSON) written by `xtask/src/emulate.rs`; prints a report;
exits non-zero when anything is not as it must be.

    python run.py manifest.json [--only x64] [--verbose]
"""

import json
import sys
import time

from kernel import Failure, Kernel
from nmr import STATUS_SUCCESS, Nmr, is_error, status_name

# Stack budget per top-level call chain (DriverEntry, DriverUnload, a work item, with every
# NMR callback and dispatch call nested in it): x64 release 2 KiB, dev 8 KiB; x86 half.
BUDGET = {("x64", "release"): 2048, ("x64", "dev"): 8192,
          ("x86", "release"): 1024, ("x86", "dev"): 4096}

PAIRINGS = [
    ("Rust client - Rust provider", "rust-client", "rust-provider"),
    ("Rust client - C provider", "rust-client", "c-provider"),
    ("C client - Rust provider", "c-client", "rust-provider"),
]


class Scenario:
    """One run: both drivers loaded in `load` order, unloaded in `unload` order."""

    def __init__(self, kernel, nmr, client, provider, load, unload, strict=True):
        self.k = kernel
        self.nmr = nmr
        self.client = client
        self.provider = provider
        self.load_order = load
        self.unload_order = unload
        self.strict = strict  # False in the sweep: error statuses are the point
        self.outcome = []  # what happened, in the sweep's words

    def driver_entry(self, name):
        k = self.k
        image = k.images[name]
        k.map_image(image)
        p = k.arch.ptr
        image.driver_object = k.alloc_scratch(0x150)
        registry = k.alloc_scratch(4 * p)
        status = k.call(image.pe.base + image.pe.ep, [image.driver_object, registry],
                        f"{name} DriverEntry") & 0xFFFFFFFF
        self.nmr.run_work_items()
        if is_error(status):
            if self.strict:
                raise Failure("error status", f"{name} DriverEntry returned {status_name(status)} "
                              f"where STATUS_SUCCESS is due")
            self.outcome.append(f"{name} DriverEntry -> {status_name(status)}")
            self.check_gone(name, "a failed DriverEntry")
            return False
        image.unload_routine = k.read_ptr(image.driver_object + (0x68 if k.arch.x64 else 0x34))
        if not image.unload_routine:
            raise Failure("error status", f"{name} DriverEntry succeeded without an unload routine")
        return True

    def driver_unload(self, name):
        k = self.k
        image = k.images[name]
        k.call(image.unload_routine, [image.driver_object], f"{name} DriverUnload")
        self.nmr.run_work_items()
        self.check_gone(name, "DriverUnload")

    def check_gone(self, name, after):
        """The image is about to be unmapped: nothing of it may stay registered or allocated."""
        k = self.k
        image = k.images[name]
        left = self.nmr.left_by(name)
        if left:
            raise Failure("unload left a registration",
                          f"after {after} of {name}, the NMR still holds "
                          + ", ".join(f"its {r.kind} registration {r.handle:#x}"
                                      f"{' (deregistering)' if r.deregistering else ''}"
                                      for r in left)
                          + ": it would call into the unmapped image")
        blocks = [(addr, b) for addr, b in k.pool.items() if image.contains_caller(b[5])]
        if blocks:
            raise Failure("leak", f"after {after} of {name}: "
                          + ", ".join(f"pool block #{b[2]} ({b[0]} bytes, tag {b[1]!r}, "
                                      f"allocated by {b[5]})" for _, b in blocks)
                          + " never freed")
        k.unwatch_image(image)
        k.unmap_image(image)

    def run(self):
        loaded = []
        for name in self.load_order:
            if self.driver_entry(name):
                loaded.append(name)
        nmr = self.nmr
        if len(loaded) == 2:
            bound = [b for b in nmr.bindings.values() if b.established
                     and b.client.image == self.client and b.provider.image == self.provider]
            if not bound:
                if self.strict:
                    raise Failure("error status", f"{self.client} and {self.provider} are both "
                                  f"loaded but not bound: {'; '.join(nmr.events[-3:])}")
                self.outcome.append("not bound")
            elif self.strict:
                for label in (f"{self.provider}.ProviderFunction", f"{self.client}.ClientNotify"):
                    if not self.k.dispatch_calls.get(label):
                        raise Failure("error status", f"no call through {label}: the dispatch "
                                      f"tables were not used both ways")
        for name in self.unload_order:
            if name in loaded:
                self.driver_unload(name)
        self.final_check()

    def final_check(self):
        nmr, k = self.nmr, self.k
        if nmr.registrations or nmr.bindings:
            raise Failure("unload left a registration",
                          f"after both unloads the NMR still holds {len(nmr.registrations)} "
                          f"registrations and {len(nmr.bindings)} bindings")
        if k.pool:
            raise Failure("leak", ", ".join(f"pool block #{b[2]} ({b[0]} bytes, tag {b[1]!r}, "
                                             f"by {b[5]})" for b in k.pool.values()))
        if nmr.work_queue:
            raise Failure("leak", f"{len(nmr.work_queue)} work items still queued after unload")


def new_kernel(arch, profile, images, names):
    paths = [(n, images[n]["sys"], images[n].get("map")) for n in names]
    kernel = Kernel(arch, paths, BUDGET[(arch, profile)])
    for image in kernel.images.values():
        image.contains_caller = (lambda img: lambda text: text.startswith(img.name))(image)
    return kernel, Nmr(kernel)


def summary_of(nmr, kernel):
    events = []
    for e in nmr.events:
        if not events or events[-1] != e:
            events.append(e)
    calls = ", ".join(f"{label} x{n}" for label, n in sorted(kernel.dispatch_calls.items()))
    return events, calls


def run_matrix(manifest, verbose, only):
    failures = []
    peaks = {}  # (arch, profile, chain role) -> bytes
    report = []
    for config in manifest["configs"]:
        arch, profile, images = config["arch"], config["profile"], config["images"]
        if only and arch not in only:
            continue
        started = time.time()
        # One emulated kernel per architecture and profile: every pairing in it, one after the
        # other, each image mapped afresh at each load and unmapped at each unload.
        kernel, nmr = new_kernel(arch, profile, images, list(images))
        for title, client, provider in [p for p in PAIRINGS if p[1] in images and p[2] in images]:
            for load in ((provider, client), (client, provider)):
                for unload in ((client, provider), (provider, client)):
                    label = (f"{arch} {profile}: {title}: load {load[0]} first, "
                             f"unload {unload[0]} first")
                    nmr.events.clear()
                    kernel.dispatch_calls.clear()
                    kernel.trace.clear()
                    before = nmr.completions_from_work_items
                    try:
                        Scenario(kernel, nmr, client, provider, load, unload).run()
                        if nmr.completions_from_work_items == before:
                            raise Failure("error status", "no detach was completed from a work item")
                        events, calls = summary_of(nmr, kernel)
                        report.append((label, "ok", events, calls))
                        if verbose:
                            print("\n".join("      " + line for line in kernel.trace))
                    except Failure as failure:
                        failures.append(f"{label}: {failure}")
                        report.append((label, f"FAIL {failure}", list(nmr.events), ""))
                        # A failed run leaves the kernel in an unknown state: start anew.
                        kernel, nmr = new_kernel(arch, profile, images, list(images))
        for role, used in kernel.stack_peaks:
            key = (arch, profile, role)
            peaks[key] = max(peaks.get(key, 0), used)
        print(f"== {arch} {profile}: {len(PAIRINGS) * 4} runs in {time.time() - started:.1f}s")
    return failures, peaks, report


def run_broken(manifest, only):
    failures, rows = [], []
    for broken in manifest["broken"]:
        arch, profile = broken["arch"], broken["profile"]
        if only and arch not in only:
            continue
        images = dict(broken["images"])
        kernel, nmr = new_kernel(arch, profile, images, list(images))
        client, provider = broken["client"], broken["provider"]
        load = (provider, client) if broken.get("provider_first", True) else (client, provider)
        unload = (client, provider) if broken.get("client_unloads_first", True) else (provider, client)
        try:
            Scenario(kernel, nmr, client, provider, load, unload).run()
            got, message = None, "the run passed"
        except Failure as failure:
            got, message = failure.kind, failure.message
        ok = got == broken["expect"]
        rows.append((broken["name"], arch, profile, broken["expect"], got, message, ok))
        if not ok:
            failures.append(f"broken image {broken['name']} ({arch} {profile}): expected "
                            f"'{broken['expect']}', got '{got}': {message}")
    return failures, rows


def run_sweep(manifest, only):
    """Each pool allocation of a run fails in turn; every run must end gracefully."""
    failures, rows = [], []
    sweeps = []
    for config in manifest["configs"]:
        if config["profile"] != "release" or (only and config["arch"] not in only):
            continue
        for title, client, provider in PAIRINGS:
            for provider_first in (True, False):
                sweeps.append({"name": f"{config['arch']} {config['profile']} {title}, "
                               f"{'provider' if provider_first else 'client'} loads first",
                               "arch": config["arch"], "profile": config["profile"],
                               "images": config["images"], "client": client,
                               "provider": provider, "provider_first": provider_first})
    for sweep in sweeps:
        arch, profile = sweep["arch"], sweep["profile"]
        images = sweep["images"]
        client, provider = sweep["client"], sweep["provider"]
        load = (provider, client) if sweep["provider_first"] else (client, provider)
        unload = (client, provider)
        kernel, nmr = new_kernel(arch, profile, images, [client, provider])
        Scenario(kernel, nmr, client, provider, load, unload).run()
        sites = list(kernel.pool_log)
        for serial, size, tag, caller, _ in sites:
            kernel, nmr = new_kernel(arch, profile, images, [client, provider])
            kernel.pool_fail_at = serial
            scenario = Scenario(kernel, nmr, client, provider, load, unload, strict=False)
            try:
                scenario.run()
                outcome = "; ".join(scenario.outcome) or "no effect"
                nmr_bad = [e for e in nmr.events if "not made" in e]
                if nmr_bad:
                    outcome = "; ".join(scenario.outcome + nmr_bad)
                graceful = True
            except Failure as failure:
                outcome = f"{failure.kind}: {failure.message}"
                graceful = False
            rows.append((sweep["name"], serial, size, tag, caller, outcome, graceful))
            if not graceful:
                failures.append(f"sweep {sweep['name']}: allocation #{serial} ({caller}): {outcome}")
    return failures, rows


def main():
    args = sys.argv[1:]
    verbose = "--verbose" in args
    only = None
    if "--only" in args:
        only = args[args.index("--only") + 1].split(",")
    with open(args[0], encoding="utf-8") as f:
        manifest = json.load(f)
    started = time.time()
    failures, peaks, report = run_matrix(manifest, verbose, only)
    print("\n== pairings (trace summary: NMR events; dispatch calls counted at the functions)")
    for label, result, events, calls in report:
        print(f"-- {label}: {result}")
        print(f"   {' | '.join(events)}")
        if calls:
            print(f"   dispatch: {calls}")
    print("\n== stack peaks per top-level call chain (bytes; budget in brackets)")
    for (arch, profile, role), used in sorted(peaks.items()):
        print(f"   {arch:<4} {profile:<8} {role:<32} {used:>6}  [{BUDGET[(arch, profile)]}]")
    broken_failures, rows = run_broken(manifest, only)
    print("\n== broken images (each must fail for its reason)")
    for name, arch, profile, expect, got, message, ok in rows:
        print(f"   {'ok  ' if ok else 'FAIL'} {name} ({arch} {profile}): expected '{expect}', "
              f"reported '{got}': {message}")
    sweep_failures, sweep_rows = run_sweep(manifest, only)
    print("\n== allocation sweep (each pool allocation of a run fails in turn)")
    for name, serial, size, tag, caller, outcome, graceful in sweep_rows:
        print(f"   {'ok  ' if graceful else 'FAIL'} {name} #{serial} ({size} bytes, {tag}, "
              f"{caller}): {outcome}")
    failures += broken_failures + sweep_failures
    print(f"\n== emulation: {time.time() - started:.1f}s, {len(failures)} failure(s)")
    for failure in failures:
        print(f"FAIL {failure}")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
