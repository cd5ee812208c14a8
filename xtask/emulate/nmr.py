"""The Network Module Registrar as this harness serves it to emulated drivers: the nine
`NETIO.SYS` `Nmr*` functions, written from the NMR contract (`spec/nmr-contract.md`, rule ids
cited), plus the little of `ntoskrnl.exe` the drivers import (pool, `DbgPrint`, `KeBugCheckEx`,
`ExQueueWorkItem`, stack probes).

It is its own code, not a port of npi-runtime's host NMR: one thread, no locks, and every
contract breach a module commits stops the run with a `Failure` naming it, where the host NMR
records violations. Choices where the contract leaves room (§7): proposals in registration
order (OQ-2), client detach before provider detach and client cleanup first (OQ-3, R22),
`STATUS_PENDING` from every deregistration (OQ-4, R24), a wait lasts until the cleanups
returned (OQ-5), distinct never-reused handles per kind (OQ-17).

A wait that cannot finish runs the queued work items first (the worker thread gets the CPU
while the waiter blocks); with none left it is a `hang` that names the binding and the half it
waits for.
"""

from kernel import Call, Failure

STATUS_SUCCESS = 0
STATUS_PENDING = 0x103
STATUS_INVALID_PARAMETER = 0xC000000D
STATUS_INSUFFICIENT_RESOURCES = 0xC000009A
STATUS_NOINTERFACE = 0xC00002B9

NAMES = {
    STATUS_SUCCESS: "STATUS_SUCCESS",
    STATUS_PENDING: "STATUS_PENDING",
    STATUS_INVALID_PARAMETER: "STATUS_INVALID_PARAMETER",
    STATUS_INSUFFICIENT_RESOURCES: "STATUS_INSUFFICIENT_RESOURCES",
    STATUS_NOINTERFACE: "STATUS_NOINTERFACE",
}

NPI_DRIVER_PANIC = int.from_bytes(b"NPI!", "big")


def status_name(value):
    value &= 0xFFFFFFFF
    return NAMES.get(value, f"{value:#010x}")


def is_error(value):
    return (value & 0xFFFFFFFF) >= 0x80000000


class Registration:
    def __init__(self, kind, handle, chars, context, image, fields):
        self.kind = kind  # "client" | "provider"
        self.handle = handle
        self.chars = chars
        self.context = context
        self.image = image
        self.attach, self.detach, self.cleanup, self.instance, self.npi_id, self.number = fields
        self.deregistering = False
        self.waited = False
        self.bindings = []

    def label(self):
        return f"{self.image}:{self.kind}"


class Binding:
    def __init__(self, handle, client, provider):
        self.handle = handle
        self.client = client
        self.provider = provider
        self.attached = False  # NmrClientAttachProvider succeeded
        self.attaching = True  # inside ClientAttachProvider
        self.established = False
        self.client_ctx = 0
        self.client_dispatch = 0
        self.provider_ctx = 0
        self.provider_dispatch = 0
        self.detaching = False
        # per half: None (not asked), "running" (callback on the stack), "pending", "done"
        self.half = {"client": None, "provider": None}
        self.early = {"client": False, "provider": False}
        self.cleaning = False
        self.gone = False


class Nmr:
    def __init__(self, kernel):
        self.k = kernel
        self.registrations = {}
        self.bindings = {}
        self.order = []  # registrations in registration order
        self.serial = 0
        self.events = []
        self.work_queue = []
        self.work_items_run = 0
        self.completions_from_work_items = 0
        self.in_work_item = False
        base = 0x4E4D_5200_0000 if kernel.arch.x64 else 0x4E000000
        self.handle_base = {"client": base + 0x100000, "provider": base + 0x200000,
                            "binding": base + 0x300000}
        self._serve()

    # -- bookkeeping ----------------------------------------------------------------------

    def _handle(self, kind):
        self.serial += 1
        return self.handle_base[kind] + 16 * self.serial

    def event(self, text):
        self.events.append(text)

    def caller_image(self):
        image = self.k.image_of(self.k.caller)
        if image:
            return image.name
        if self.k.frames:  # a tail call: the import returns straight to the kernel
            return self.k.frames[-1].role.split()[0] + " (tail call)"
        return "?"

    def breach(self, rule, text):
        raise Failure("contract breach", f"{text} [{rule}]")

    def _serve(self):
        k = self.k
        for name, fn, pop in [
            ("NmrRegisterClient", self.register_client, 12),
            ("NmrDeregisterClient", self.deregister_client, 4),
            ("NmrWaitForClientDeregisterComplete", self.wait_client, 4),
            ("NmrClientAttachProvider", self.client_attach_provider, 20),
            ("NmrClientDetachProviderComplete", self.client_detach_complete, 4),
            ("NmrRegisterProvider", self.register_provider, 12),
            ("NmrDeregisterProvider", self.deregister_provider, 4),
            ("NmrWaitForProviderDeregisterComplete", self.wait_provider, 4),
            ("NmrProviderDetachClientComplete", self.provider_detach_complete, 4),
        ]:
            k.serve(f"NETIO.{name}", fn, pop)
        k.serve("ntoskrnl.ExAllocatePool2", self.ex_allocate_pool2, 16)
        k.serve("ntoskrnl.ExFreePoolWithTag", self.ex_free_pool_with_tag, 8)
        k.serve("ntoskrnl.DbgPrint", self.dbg_print, None)
        k.serve("ntoskrnl.KeBugCheckEx", self.ke_bug_check_ex, 20)
        k.serve("ntoskrnl.ExQueueWorkItem", self.ex_queue_work_item, 8)
        k.serve("ntoskrnl.__chkstk", lambda args: 0, 0)
        k.serve("ntoskrnl._chkstk", lambda args: 0, 0)

    # -- registration (R1-R8) ---------------------------------------------------------------

    def _read_characteristics(self, kind, chars):
        k, p = self.k, self.k.arch.ptr
        if chars == 0:
            self.breach("OQ-6", f"{self.caller_image()}: Nmr register with NULL characteristics")
        length = k.read_u16(chars + 2)
        if length < 9 * p:
            self.breach("OQ-6", f"{kind} characteristics Length {length} < {9 * p}")
        attach, detach, cleanup = (k.read_ptr(chars + p * i) for i in (1, 2, 3))
        instance = chars + 4 * p
        size = k.read_u16(instance + 2)
        if size < 5 * p:
            self.breach("OQ-6", f"{kind} registration instance Size {size} < {5 * p}")
        npi_id_ptr = k.read_ptr(instance + p)
        module_id = k.read_ptr(instance + 2 * p)
        if not attach or not detach or not npi_id_ptr or not module_id:
            self.breach("OQ-6", f"{kind} characteristics with a NULL callback, NpiId or ModuleId")
        number = k.read_u32(instance + 3 * p)
        return attach, detach, cleanup, instance, k.read(npi_id_ptr, 16), number

    def _register(self, kind, args):
        chars, context, out = args[0], args[1], args[2]
        fields = self._read_characteristics(kind, chars)
        handle = self._handle(kind)
        reg = Registration(kind, handle, chars, context, self.caller_image(), fields)
        self.registrations[handle] = reg
        self.order.append(reg)
        self.k.write_ptr(out, handle)
        self.event(f"{reg.label()} registers")
        # R4/R5/R7: every matching counterpart, in registration order, inside this call.
        for other in list(self.order):
            if other.kind == kind or other.deregistering or other.npi_id != reg.npi_id:
                continue
            if other is reg:
                continue
            client, provider = (reg, other) if kind == "client" else (other, reg)
            yield from self._propose(client, provider)
        return STATUS_SUCCESS

    def register_client(self, args):
        return (yield from self._register("client", args))

    def register_provider(self, args):
        return (yield from self._register("provider", args))

    # -- attach (R9-R16) --------------------------------------------------------------------

    def _propose(self, client, provider):
        binding = Binding(self._handle("binding"), client, provider)
        self.bindings[binding.handle] = binding
        rv = yield Call(client.attach, [binding.handle, client.context, provider.instance],
                        f"{client.image} ClientAttachProvider")
        binding.attaching = False
        rv &= 0xFFFFFFFF
        if binding.attached and rv == STATUS_SUCCESS:
            binding.established = True
            client.bindings.append(binding)
            provider.bindings.append(binding)
            self.event(f"bound {client.image} -> {provider.image}")
            if client.deregistering or provider.deregistering:  # R28: a late comer
                yield from self._start_detach(binding)
        elif binding.attached:
            self.breach("OQ-7", f"{client.image} ClientAttachProvider returned {status_name(rv)} "
                        f"after NmrClientAttachProvider succeeded")
        elif rv == STATUS_SUCCESS:
            self.breach("OQ-8/R11", f"{client.image} ClientAttachProvider returned STATUS_SUCCESS "
                        f"without a successful NmrClientAttachProvider")
        else:
            self.event(f"{client.image} attach to {provider.image} not made: {status_name(rv)}")
            del self.bindings[binding.handle]

    def _watch(self, binding):
        """Counts the dispatch calls both ways (EXNPI tables: Version, Length, one function)."""
        k, p = self.k, self.k.arch.ptr
        if binding.provider_dispatch:
            k.watch_dispatch(k.read_ptr(binding.provider_dispatch + p),
                             f"{binding.provider.image}.ProviderFunction")
        if binding.client_dispatch:
            k.watch_dispatch(k.read_ptr(binding.client_dispatch + p),
                             f"{binding.client.image}.ClientNotify")

    def client_attach_provider(self, args):
        handle, cbc, cdisp, out_pbc, out_pd = args[:5]
        binding = self.bindings.get(handle)
        if binding is None or not binding.attaching or binding.attached:
            self.breach("OQ-9/R29", f"{self.caller_image()}: NmrClientAttachProvider with "
                        f"{'an unknown handle' if binding is None else 'a handle whose attach is over'} "
                        f"{handle:#x}")
        provider = binding.provider
        scratch = self.k.alloc_scratch(2 * self.k.arch.ptr)
        rv = yield Call(provider.attach,
                        [handle, provider.context, binding.client.instance, cbc, cdisp, scratch,
                         scratch + self.k.arch.ptr],
                        f"{provider.image} ProviderAttachClient")
        rv &= 0xFFFFFFFF
        if rv == STATUS_SUCCESS:  # R10: only then are the out-parameters copied
            binding.attached = True
            binding.client_ctx, binding.client_dispatch = cbc, cdisp
            binding.provider_ctx = self.k.read_ptr(scratch)
            binding.provider_dispatch = self.k.read_ptr(scratch + self.k.arch.ptr)
            self.k.write_ptr(out_pbc, binding.provider_ctx)
            self.k.write_ptr(out_pd, binding.provider_dispatch)
            self._watch(binding)
        return rv

    # -- detach (R17-R23) -------------------------------------------------------------------

    def _start_detach(self, binding):
        if binding.detaching:
            return  # R19: once per binding
        binding.detaching = True
        for side, reg, ctx, role in (
            ("client", binding.client, binding.client_ctx, "ClientDetachProvider"),
            ("provider", binding.provider, binding.provider_ctx, "ProviderDetachClient"),
        ):
            binding.half[side] = "running"
            rv = yield Call(reg.detach, [ctx], f"{reg.image} {role}")
            rv &= 0xFFFFFFFF
            if rv == STATUS_SUCCESS:
                if binding.early[side]:
                    self.breach("R20", f"{reg.image} {role} returned STATUS_SUCCESS after "
                                f"completing its detach")
                binding.half[side] = "done"
                self.event(f"{reg.image} {role} -> SUCCESS")
            elif rv == STATUS_PENDING:
                binding.half[side] = "done" if binding.early[side] else "pending"  # R21
                self.event(f"{reg.image} {role} -> PENDING")
            else:
                self.breach("OQ-10", f"{reg.image} {role} returned {status_name(rv)}")
        yield from self._maybe_cleanup(binding)

    def _maybe_cleanup(self, binding):
        if binding.half["client"] != "done" or binding.half["provider"] != "done":
            return
        if binding.cleaning or binding.gone:
            return
        binding.cleaning = True
        for reg, ctx, role in (
            (binding.client, binding.client_ctx, "ClientCleanupBindingContext"),
            (binding.provider, binding.provider_ctx, "ProviderCleanupBindingContext"),
        ):
            if reg.cleanup:
                yield Call(reg.cleanup, [ctx], f"{reg.image} {role}")
        binding.gone = True
        self.event(f"cleaned up {binding.client.image} -> {binding.provider.image}")
        for reg in (binding.client, binding.provider):
            reg.bindings.remove(binding)
        del self.bindings[binding.handle]

    def _complete(self, side, args):
        handle = args[0]
        binding = self.bindings.get(handle)
        role = "NmrClientDetachProviderComplete" if side == "client" else \
            "NmrProviderDetachClientComplete"
        who = self.caller_image()
        if binding is None:
            self.breach("OQ-11", f"{who}: {role} with an unknown or stale handle {handle:#x} "
                        f"(a detach completed twice, after its cleanup?)")
        state = binding.half[side]
        if state == "done" or binding.early[side]:
            self.breach("R20/OQ-11", f"{who}: {role} called twice, or after its detach "
                        f"callback returned STATUS_SUCCESS (binding {handle:#x})")
        if state is None:
            self.breach("OQ-11", f"{who}: {role} before its detach callback was called")
        if state == "running":
            binding.early[side] = True  # R21: counted; the callback's PENDING will not reopen it
            self.event(f"{who} {role} (inside its detach callback)")
            return 0
        binding.half[side] = "done"
        where = " from a work item" if self.in_work_item else ""
        if self.in_work_item:
            self.completions_from_work_items += 1
        self.event(f"{who} {role}{where}")
        yield from self._maybe_cleanup(binding)
        return 0

    def client_detach_complete(self, args):
        return (yield from self._complete("client", args))

    def provider_detach_complete(self, args):
        return (yield from self._complete("provider", args))

    # -- deregistration (R24-R27) -----------------------------------------------------------

    def _deregister(self, kind, args):
        handle = args[0]
        reg = self.registrations.get(handle)
        if reg is None or reg.kind != kind or reg.deregistering:
            self.breach("OQ-14", f"{self.caller_image()}: Nmr deregister {kind} with "
                        f"{'an unknown' if reg is None or reg.kind != kind else 'an already deregistered'} "
                        f"handle {handle:#x}")
        reg.deregistering = True
        self.event(f"{reg.label()} deregisters")
        for binding in list(reg.bindings):
            yield from self._start_detach(binding)
        return STATUS_PENDING  # R24: always

    def deregister_client(self, args):
        return (yield from self._deregister("client", args))

    def deregister_provider(self, args):
        return (yield from self._deregister("provider", args))

    def _wait(self, kind, args):
        handle = args[0]
        reg = self.registrations.get(handle)
        if reg is None or reg.kind != kind or not reg.deregistering or reg.waited:
            self.breach("R25/OQ-14", f"{self.caller_image()}: Nmr wait for {kind} with handle "
                        f"{handle:#x} before its deregistration, twice, or unknown")
        while reg.bindings:
            if self.work_queue:
                # One CPU: while this thread blocks, the worker thread runs.
                yield from self._run_one_work_item()
                continue
            binding = reg.bindings[0]
            halves = [f"{side} half ({binding.client.image if side == 'client' else binding.provider.image}) "
                      f"{binding.half[side] or 'not asked'}" for side in ("client", "provider")]
            raise Failure("hang", f"detach never completes: {reg.label()} waits for binding "
                          f"{binding.client.image} -> {binding.provider.image}: "
                          + ", ".join(halves) + "; no work item is queued that could complete it")
        reg.waited = True
        del self.registrations[handle]
        self.order.remove(reg)
        self.event(f"{reg.label()} deregistered")
        return STATUS_SUCCESS

    def wait_client(self, args):
        return (yield from self._wait("client", args))

    def wait_provider(self, args):
        return (yield from self._wait("provider", args))

    # -- work items ---------------------------------------------------------------------------

    def ex_queue_work_item(self, args):
        item = args[0]
        p = self.k.arch.ptr
        routine, parameter = self.k.read_ptr(item + 2 * p), self.k.read_ptr(item + 3 * p)
        self.work_queue.append((routine, parameter, self.caller_image()))
        self.event(f"{self.caller_image()} queues a work item")
        return 0

    def _run_one_work_item(self):
        routine, parameter, image = self.work_queue.pop(0)
        self.work_items_run += 1
        outer = self.in_work_item
        self.in_work_item = True
        yield Call(routine, [parameter], f"{image} work item")
        self.in_work_item = outer

    def run_work_items(self):
        """After a top-level call returned: the worker thread runs what was queued."""
        while self.work_queue:
            routine, parameter, image = self.work_queue.pop(0)
            self.work_items_run += 1
            self.in_work_item = True
            try:
                self.k.call(routine, [parameter], f"{image} work item")
            finally:
                self.in_work_item = False

    # -- ntoskrnl -------------------------------------------------------------------------------

    def ex_allocate_pool2(self, args):
        k = self.k
        if k.arch.x64:
            flags, size, tag = args[0], args[1], args[2] & 0xFFFFFFFF
        else:
            flags, size, tag = args[0] | (args[1] << 32), args[2], args[3]
        k.pool_serial += 1
        serial = k.pool_serial
        caller = k.describe(k.caller)
        tag_text = tag.to_bytes(4, "little").decode("latin-1")
        if k.pool_fail_at == serial:
            k.pool_log.append((serial, size, tag_text, caller, "failed (injected)"))
            self.event(f"pool allocation #{serial} ({size} bytes, {tag_text}) fails (injected)")
            return 0
        pages = (size + 16 + 0xFFF) & ~0xFFF
        base = k._map(pages, f"npi.pool.{serial}")
        addr = base + pages - ((size + 15) & ~15)
        if not flags & 0x2:  # POOL_FLAG_UNINITIALIZED not set: zeroed
            k.write(addr, b"\0" * size)
        else:
            k.write(addr, b"\xa5" * size)
        k.pool[addr] = (size, tag_text, serial, base, pages, caller)
        k.pool_log.append((serial, size, tag_text, caller, f"{addr:#x}"))
        return addr

    def ex_free_pool_with_tag(self, args):
        k = self.k
        addr, tag = args[0], args[1] & 0xFFFFFFFF
        tag_text = tag.to_bytes(4, "little").decode("latin-1")
        block = k.pool.get(addr)
        who = k.describe(k.caller)
        if block is None:
            freed = k.freed.get(addr)
            if freed:
                raise Failure("pool misuse", f"{who} frees pool block #{freed[2]} twice "
                              f"(first freed by {freed[3]})")
            raise Failure("pool misuse", f"{who} frees {addr:#x}, which is no pool block")
        if tag_text != block[1]:
            raise Failure("pool misuse", f"{who} frees block #{block[2]} with tag {tag_text!r}, "
                          f"allocated with {block[1]!r}")
        for binding in self.bindings.values():
            if binding.gone or binding.cleaning or not binding.established:
                continue
            for side, ctx in (("client", binding.client_ctx), ("provider", binding.provider_ctx)):
                if ctx == addr:
                    self.breach("R22", f"{who} frees the {side} binding context of "
                                f"{binding.client.image} -> {binding.provider.image} before its "
                                f"cleanup callback (freed in detach?)")
        del k.pool[addr]
        k.uc.mem_unmap(block[3], block[4])
        k.freed[addr] = (block[0], block[1], block[2], who)
        return 0

    def dbg_print(self, args):
        k = self.k
        fmt = k.read_cstr(args[0])
        values = iter(args[1:])
        out, i = [], 0
        while i < len(fmt):
            c = fmt[i]
            if c != "%":
                out.append(c)
                i += 1
                continue
            j = i + 1
            while j < len(fmt) and fmt[j] in "0123456789-lhI6":
                j += 1
            conv = fmt[j] if j < len(fmt) else ""
            if conv == "%":
                out.append("%")
            elif conv in "udxXpc":
                v = next(values, 0)
                if conv in "ud":
                    v &= 0xFFFFFFFF
                    if conv == "d" and v >= 0x80000000:
                        v -= 1 << 32
                    out.append(str(v))
                elif conv == "c":
                    out.append(chr(v & 0xFF))
                else:
                    out.append(f"{v:x}")
            elif conv == "s":
                out.append(k.read_cstr(next(values, 0)))
            i = j + 1
        line = "".join(out).rstrip("\n")
        image = k.image_of(k.caller)
        k.trace.append(f"[{image.name if image else '?'}] {line}")
        return len(line)

    def ke_bug_check_ex(self, args):
        k = self.k
        code = args[0] & 0xFFFFFFFF
        where = k.describe(k.caller)
        if code == NPI_DRIVER_PANIC:
            try:
                file = k.read(args[1], min(args[2], 300)).decode("utf-8", "replace")
            except Exception:  # noqa: BLE001 - a bad pointer in a bugcheck is still a bugcheck
                file = "?"
            raise Failure("bugcheck", f"KeBugCheckEx(NPI_DRIVER_PANIC 'NPI!') from {where}: a "
                          f"panic at {file}:{args[3]}:{args[4]}")
        raise Failure("bugcheck", f"KeBugCheckEx({code:#x}, {args[1]:#x}, {args[2]:#x}, "
                      f"{args[3]:#x}, {args[4]:#x}) from {where}")

    # -- checks -------------------------------------------------------------------------------

    def left_by(self, image):
        return [r for r in self.registrations.values() if r.image == image]
