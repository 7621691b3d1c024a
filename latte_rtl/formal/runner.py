"""Running the proof tasks of `prove` in parallel (at most `jobs` SymbiYosys runs, each one solver process):
a block that does not close alone is tried inside its enclosing modules, as is the glue between blocks; a top's
protocol task in context waits for them and runs only if something is left unproven, without the streams proven
unbounded."""

from __future__ import annotations

import dataclasses
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait


@dataclasses.dataclass
class Outcome:
    """A finished task: its verdict and the report line."""
    task: object  # cli.Task
    verdict: object  # sby.Verdict
    line: str


class _Top:
    """One top's protocol: its block tasks and glue tasks (each tried where it is planned, then inside the
    enclosing modules) and its protocol task in context (held: it runs only if something is left unproven, or a
    wrapper adds assertions)."""

    def __init__(self, context, open_tasks: int):
        self.context, self.open = context, open_tasks
        self.proven: list[str] = []  # blocks whose output streams are proven
        self.proven_glue: list[tuple[str, str]] = []
        self.unproven = False

    def after(self, task, verdict) -> tuple[list, int]:
        """(the tasks to run now that `task` has ended, how many planned tasks are not needed)."""
        if verdict.status == "PASS":
            self.proven += [task.block] if task.block else []
            self.proven_glue += task.glue
        elif task.ancestors:
            return [task.escalated()], 0
        else:
            self.unproven = True
        self.open -= 1
        if self.open:
            return [], 0
        if self.unproven or self.context.wrapper is not None:  # without what is proven (glue: neither way)
            return [dataclasses.replace(self.context, proven=tuple(self.proven), free=tuple(self.proven_glue))], 0
        return [], 1


def _tops(tasks: list) -> dict:
    held = {t.top: t for t in tasks if t.name == "protocol" and not t.falls_back
            and any(b.top == t.top and b.falls_back for b in tasks)}
    return {top: _Top(context, sum(1 for b in tasks if b.top == top and b.falls_back))
            for top, context in held.items()}


def _key(task) -> tuple:
    """What a task has in common with the planned task it comes from (escalated, or with proven blocks)."""
    return task.top, task.name, task.block, task.glue


def run_all(tasks: list, run, report, jobs: int, progress) -> list[Outcome]:
    """Run `tasks` with `run(task) -> verdict` on `jobs` threads; `report(task, verdict) -> line` is printed
    through `progress` (a latte_rtl.progress.Progress) as each ends. A block whose protocol does not close
    alone (or glue that does not close where it is) is tried inside the enclosing modules, parent first; the
    top's protocol task in context runs only if something is left unproven. Returns the outcomes in task order
    (a block's tries one after the other)."""
    tops = _tops(tasks)
    held = {id(top.context) for top in tops.values()}
    done: list[Outcome] = []
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        running = {pool.submit(run, t): t for t in tasks if id(t) not in held}
        while running:
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                task = running.pop(future)
                verdict = future.result()
                done.append(Outcome(task, verdict, report(task, verdict)))
                progress.print(done[-1].line)
                follow, dropped = tops[task.top].after(task, verdict) if task.top in tops and task.falls_back \
                    else ([], 0)
                progress.add(sum(1 for t in follow if t.falls_back))
                progress.advance(f"{task.top} {task.label}")
                progress.advance("", dropped)
                running.update({pool.submit(run, t): t for t in follow})
    order = {_key(t): i for i, t in reversed(list(enumerate(tasks)))}
    return sorted(done, key=lambda o: (order.get(_key(o.task), len(order)), -len(o.task.ancestors)))


def json_report(outcomes: list[Outcome], seconds: float) -> dict:
    """What `prove --json` writes: one entry per task (status, mode, depth, unbounded, seconds, failures)."""
    return {"seconds": round(seconds, 1),
            "all_hold": not any(o.task.failed(o.verdict) for o in outcomes),
            "tasks": [{"top": o.task.top, "proof": o.task.name, "block": o.task.block, "within": o.task.within,
                       "glue": [f"{m}.{s}" for m, s in o.task.glue], "mode": o.task.mode,
                       "depth": o.task.depth, "status": o.verdict.status, "failure": o.task.failed(o.verdict),
                       "unbounded": o.task.mode == "prove" and o.verdict.status == "PASS",
                       "seconds": round(o.verdict.seconds, 1), "scope": o.task.scope,
                       "proven_blocks": len(o.task.proven),
                       "failed": [{"property": p, "cycle": c} for p, c in o.verdict.failed]}
                      for o in outcomes]}


def summary(outcomes: list[Outcome], seconds: float) -> str:
    """The closing line: blocks proven (alone, inside an enclosing module), glue streams proven, the other proofs
    unbounded."""
    unbounded = sum(o.task.mode == "prove" and o.verdict.status == "PASS" and not o.task.falls_back for o in outcomes)
    proofs = sum(not o.task.falls_back for o in outcomes)
    blocks = {(o.task.top, o.task.block) for o in outcomes if o.task.block}
    proven = [o for o in outcomes if o.task.block and o.verdict.status == "PASS"]
    inside = sum(1 for o in proven if o.task.within)
    glue = {(o.task.top, s) for o in outcomes if o.task.glue for s in o.task.glue}
    glued = {(o.task.top, s) for o in outcomes if o.task.glue and o.verdict.status == "PASS" for s in o.task.glue}
    parts = [f"stream protocol of {len(proven)} of {len(blocks)} block(s) unbounded ({len(proven) - inside} alone, "
             f"{inside} inside an enclosing module)"] if blocks else []
    parts += [f"{len(glued)} of {len(glue)} glue stream(s)"] if glue else []
    parts += [f"{unbounded} of {proofs} {'other ' if blocks else ''}proof(s) unbounded"] if proofs else []
    return "; ".join(parts + [f"{seconds:.1f} s"])
